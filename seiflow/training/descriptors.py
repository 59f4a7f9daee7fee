"""DeePMD descriptors as registered choices: se_e2_a, se_atten (DPA-1), DPA-2 and DPA-3.

Each is a settings model registered in :data:`seiflow.registry.MODEL_DESCRIPTORS` under DeePMD's own
``type`` name. It says which backends train it, whether ``dp compress`` can serve it (DeePMD-kit 3.2: se_e2_a
always; se_atten and DPA-2 only with ``tebd_input_mode: strip``, se_atten on TensorFlow only without attention
layers; DPA-3 never), and writes the ``descriptor``
section of ``input.json``. The radial settings every descriptor shares (``rcut``, ``rcut_smth``, ``sel``,
``descriptor_neurons``, ``axis_neuron``) stay in ``training``; a descriptor's own settings sit beside its
type, e.g. ``descriptor: {type: se_atten, attn_layer: 1}``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from seiflow.registry import MODEL_DESCRIPTORS

TF_AND_PT = ("tensorflow", "pytorch")


class ModelDescriptor(BaseModel):
    """The settings every descriptor shares, and what the training stage asks of it."""

    model_config = ConfigDict(extra="forbid")
    backends: ClassVar[tuple[str, ...]] = TF_AND_PT
    per_type_sel: ClassVar[bool] = False  # sel per element (se_e2_a) or one total (attention descriptors)

    def compressible(self, backend: str) -> str | None:
        """None when ``dp compress`` can compress it on ``backend``, else why not."""
        return None

    def section(self, shared: Any, sel: list[int], seed: int) -> dict[str, Any]:
        """The ``model.descriptor`` mapping; ``shared`` is the campaign's TrainingConfig."""
        raise NotImplementedError


def total_sel(sel: list[int]) -> int:
    """One neighbour count for type-blind descriptors: the per-element counts summed."""
    return int(sum(sel))


@MODEL_DESCRIPTORS.register("se_e2_a")
class SeE2A(ModelDescriptor):
    """DeePMD's two-body embedding descriptor (the default; compresses, trains on every backend)."""

    type: Literal["se_e2_a"] = "se_e2_a"
    per_type_sel: ClassVar[bool] = True

    def section(self, shared: Any, sel: list[int], seed: int) -> dict[str, Any]:
        """Its ``model.descriptor`` mapping."""
        return {"type": "se_e2_a", "rcut": shared.rcut, "rcut_smth": shared.rcut_smth, "sel": list(sel),
                "neuron": list(shared.descriptor_neurons), "axis_neuron": shared.axis_neuron,
                "resnet_dt": False, "seed": seed}


@MODEL_DESCRIPTORS.register("se_atten")
class SeAtten(ModelDescriptor):
    """DPA-1: se_e2_a's embedding with type embedding and self-attention over the neighbours."""

    type: Literal["se_atten"] = "se_atten"
    attn: int = Field(32, ge=1, description="Hidden size of the attention layers.")
    attn_layer: int = Field(2, ge=0, description="Attention layers (0: none).")
    attn_dotr: bool = Field(True, description="Gate the attention weights with the relative coordinates.")
    tebd_dim: int = Field(8, ge=1, description="Type-embedding size.")
    tebd_input_mode: Literal["strip", "concat"] = Field(
        "strip", description="strip: the type embedding enters a separate net (dp compress can compress it); "
        "concat: with the radial input (cannot be compressed)."
    )

    def compressible(self, backend: str) -> str | None:
        """None when dp compress can compress it, else why not."""
        if self.tebd_input_mode != "strip":
            return "se_atten compresses only with tebd_input_mode: strip"
        if backend == "tensorflow" and self.attn_layer:
            return "on tensorflow se_atten compresses only with attn_layer: 0 (pytorch keeps the attention uncompressed)"
        return None

    def section(self, shared: Any, sel: list[int], seed: int) -> dict[str, Any]:
        """Its ``model.descriptor`` mapping."""
        return {"type": "se_atten", "rcut": shared.rcut, "rcut_smth": shared.rcut_smth, "sel": total_sel(sel),
                "neuron": list(shared.descriptor_neurons), "axis_neuron": shared.axis_neuron,
                "attn": self.attn, "attn_layer": self.attn_layer, "attn_dotr": self.attn_dotr, "attn_mask": False,
                "tebd_dim": self.tebd_dim, "tebd_input_mode": self.tebd_input_mode, "resnet_dt": False,
                "seed": seed}


@MODEL_DESCRIPTORS.register("dpa2")
class Dpa2(ModelDescriptor):
    """DPA-2: a DPA-1-like ``repinit`` block at the full cut-off, then ``repformer`` layers at a shorter one."""

    type: Literal["dpa2"] = "dpa2"
    backends: ClassVar[tuple[str, ...]] = ("pytorch",)
    repformer_rcut: float = Field(4.0, gt=0, description="Cut-off of the repformer layers, Å.")
    repformer_rcut_smth: float = Field(3.5, ge=0, description="Where their smoothing starts, Å.")
    repformer_nsel: int = Field(40, ge=1, description="Neighbours of the repformer layers.")
    nlayers: int = Field(3, ge=1, description="Repformer layers.")
    g1_dim: int = Field(64, ge=1, description="Single-atom channel size.")
    g2_dim: int = Field(16, ge=1, description="Pair channel size.")
    tebd_dim: int = Field(8, ge=1, description="Type-embedding size.")
    tebd_input_mode: Literal["strip", "concat"] = Field(
        "strip", description="Of the repinit block; strip lets dp compress compress that block (only that one)."
    )

    def compressible(self, backend: str) -> str | None:
        """None when dp compress can compress it, else why not."""
        return None if self.tebd_input_mode == "strip" else "dpa2 compresses only with tebd_input_mode: strip"

    def section(self, shared: Any, sel: list[int], seed: int) -> dict[str, Any]:
        """Its ``model.descriptor`` mapping."""
        return {
            "type": "dpa2",
            "repinit": {"rcut": shared.rcut, "rcut_smth": shared.rcut_smth, "nsel": total_sel(sel),
                        "neuron": list(shared.descriptor_neurons), "axis_neuron": shared.axis_neuron,
                        "tebd_dim": self.tebd_dim, "tebd_input_mode": self.tebd_input_mode,
                        "three_body_sel": self.repformer_nsel},
            "repformer": {"rcut": self.repformer_rcut, "rcut_smth": self.repformer_rcut_smth,
                          "nsel": self.repformer_nsel, "nlayers": self.nlayers, "g1_dim": self.g1_dim,
                          "g2_dim": self.g2_dim, "axis_neuron": shared.axis_neuron},
            "add_tebd_to_repinit_out": False,
            "seed": seed,
        }


@MODEL_DESCRIPTORS.register("dpa3")
class Dpa3(ModelDescriptor):
    """DPA-3: message passing over edges and angles (``repflow`` layers); PyTorch only, never compressed."""

    type: Literal["dpa3"] = "dpa3"
    backends: ClassVar[tuple[str, ...]] = ("pytorch",)
    nlayers: int = Field(3, ge=1, description="Repflow layers.")
    n_dim: int = Field(64, ge=1, description="Node channel size.")
    e_dim: int = Field(32, ge=1, description="Edge channel size.")
    a_dim: int = Field(16, ge=1, description="Angle channel size.")
    a_rcut: float = Field(4.0, gt=0, description="Cut-off of the angles, Å.")
    a_rcut_smth: float = Field(3.5, ge=0, description="Where their smoothing starts, Å.")
    a_sel: int = Field(20, ge=1, description="Neighbours that form angles.")

    def compressible(self, backend: str) -> str | None:
        """None when dp compress can compress it, else why not."""
        return "DeePMD-kit cannot compress dpa3 at all"

    def section(self, shared: Any, sel: list[int], seed: int) -> dict[str, Any]:
        """Its ``model.descriptor`` mapping."""
        return {
            "type": "dpa3",
            "repflow": {"n_dim": self.n_dim, "e_dim": self.e_dim, "a_dim": self.a_dim, "nlayers": self.nlayers,
                        "e_rcut": shared.rcut, "e_rcut_smth": shared.rcut_smth, "e_sel": total_sel(sel),
                        "a_rcut": self.a_rcut, "a_rcut_smth": self.a_rcut_smth, "a_sel": self.a_sel,
                        "axis_neuron": shared.axis_neuron},
            "seed": seed,
        }
