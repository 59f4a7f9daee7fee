"""A pretrained DeePMD checkpoint a campaign fine-tunes from: where it is, what it is, and its checks.

Read once when the campaign is loaded: the file's SHA-256, its type map and descriptor (from the training
script DeePMD-kit stores in the model), so the campaign document says exactly which checkpoint it started
from, and a checkpoint that cannot serve the campaign is refused before anything is submitted:

- TensorFlow fine-tunes a frozen ``.pb`` whose descriptor is ``se_atten``/``se_atten_v2`` with an ``ener``
  fitting (DeePMD-kit's rule); PyTorch fine-tunes a ``.pt`` checkpoint (a frozen ``.pth`` cannot be);
- every element of the campaign's ``type_map`` must be in the checkpoint's (the fine-tuned model keeps the
  checkpoint's type order; LAMMPS ``pair_coeff`` names elements, so the order never matters);
- a multi-task checkpoint needs ``branch`` (one of its heads);
- ``fitting: fresh`` (a new fitting net per member, from its own seed) needs a PyTorch checkpoint: TensorFlow
  fine-tuning always keeps the pretrained fitting net.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TF_FINETUNE_DESCRIPTORS = ("se_atten", "se_atten_v2")
SUFFIX_BACKEND = {".pb": "tensorflow", ".pt": "pytorch"}


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tf_script(path: Path) -> dict:
    from deepmd.tf.utils.graph import get_tensor_by_name

    try:
        return json.loads(get_tensor_by_name(str(path), "train_attr/training_script"))
    except Exception as exc:  # not a DeePMD graph, or one frozen without its training script
        raise ValueError(f"{path.name} holds no DeePMD training script ({type(exc).__name__}); freeze it "
                         "with DeePMD-kit >= 2.1.5") from None


def _pt_params(path: Path) -> dict:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        state = state.get("model", state)
        return state["_extra_state"]["model_params"]
    except Exception as exc:
        raise ValueError(f"{path.name} is not a DeePMD-kit PyTorch checkpoint ({type(exc).__name__})") from None


def read_checkpoint(path: Path, branch: str | None) -> tuple[str, dict]:
    """(backend, model section) of a checkpoint; ValueError saying why it cannot serve."""
    backend = SUFFIX_BACKEND.get(path.suffix)
    if backend is None:
        raise ValueError(f"{path.name}: fine-tuning starts from a TensorFlow .pb or a PyTorch .pt checkpoint")
    if backend == "tensorflow":
        model = _tf_script(path)["model"]
        if branch:
            raise ValueError("branch is for multi-task PyTorch checkpoints; a .pb has one head")
    else:
        params = _pt_params(path)
        heads = params.get("model_dict")
        if heads is not None:
            if branch not in heads:
                raise ValueError(f"{path.name} is a multi-task checkpoint: set branch to one of {sorted(heads)}")
            model = heads[branch]
        elif branch:
            raise ValueError(f"{path.name} has one head: unset branch")
        else:
            model = params
    descriptor = str(model.get("descriptor", {}).get("type", "?"))
    if backend == "tensorflow" and (descriptor not in TF_FINETUNE_DESCRIPTORS
                                    or model.get("fitting_net", {}).get("type", "ener") != "ener"):
        raise ValueError(f"{path.name} has descriptor {descriptor}: TensorFlow fine-tunes only se_atten or "
                         "se_atten_v2 models with an ener fitting (use a PyTorch .pt checkpoint)")
    return backend, model


class PretrainedModel(BaseModel):
    """The checkpoint round 1 (and a production model from scratch) fine-tunes from (dp train --finetune)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(..., description="Checkpoint file (.pb for tensorflow, .pt for pytorch), relative to the "
                       "campaign; seiflow submit copies it into the store, workers never read it.")
    branch: str | None = Field(None, description="Head of a multi-task PyTorch checkpoint (--model-branch).")
    fitting: Literal["pretrained", "fresh"] | None = Field(
        None, description="pretrained: every member starts from the checkpoint's fitting net; fresh: each "
        "starts a new fitting net from its own seed on the pretrained descriptor (DP-GEN2's committees; "
        "--model-branch RANDOM), so members fine-tuned from one checkpoint differ more (PyTorch only). Unset: "
        "fresh for a PyTorch checkpoint, pretrained for a TensorFlow one.")
    sha256: str | None = Field(None, description="Filled when the campaign is loaded: the file's SHA-256 (set "
                               "it to insist on one exact file).")
    type_map: list[str] = Field(default_factory=list, description="Filled when loaded: the checkpoint's types.")
    descriptor: str | None = Field(None, description="Filled when loaded: the checkpoint's descriptor type.")
    backend: str | None = Field(None, description="Filled when loaded: tensorflow (.pb) or pytorch (.pt).")
    model_params: dict[str, Any] = Field(
        default_factory=dict, description="Filled when loaded: the checkpoint's model section (type map, "
        "descriptor, fitting); the fine-tuned models' input.json carries it, so restarts rebuild the same net.")

    def inspect(self) -> PretrainedModel:
        """Fill sha256, type_map, descriptor and backend from the file (once); ValueError if it cannot serve."""
        if self.backend is not None and self.type_map:
            return self  # loaded before (a stored campaign): the file may be elsewhere now
        path = Path(self.model)
        if not path.is_file():
            raise ValueError(f"{self.model} does not exist")
        digest = sha256_of(path)
        if self.sha256 and self.sha256 != digest:
            raise ValueError(f"{path.name} has SHA-256 {digest[:12]}..., not the {self.sha256[:12]}... given")
        self.backend, self.model_params = read_checkpoint(path, self.branch)
        self.type_map = [str(t) for t in self.model_params.get("type_map", [])]
        self.descriptor = str(self.model_params.get("descriptor", {}).get("type", "?"))
        self.sha256 = digest
        if self.fitting is None:
            self.fitting = "fresh" if self.backend == "pytorch" else "pretrained"
        if self.fitting == "fresh" and self.backend != "pytorch":
            raise ValueError(f"fitting: fresh needs a PyTorch .pt checkpoint ({path.name} is {self.backend}, whose "
                             "fine-tuning keeps the pretrained fitting net): set fitting: pretrained")
        return self

    @property
    def model_branch(self) -> str | None:
        """The ``--model-branch`` of dp train: RANDOM for a fresh fitting net, else the head (or None)."""
        return "RANDOM" if self.fitting == "fresh" else self.branch

    @property
    def file_name(self) -> str:
        """The name a worker gives its copy (``pretrained.pb``/``.pt``)."""
        return f"pretrained{Path(self.model).suffix}"
