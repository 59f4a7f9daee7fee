"""The DeePMD-kit training input (``input.json``) built from a campaign's :class:`TrainingConfig`.

``sel`` is either given or computed from the training data: the largest number of neighbours of each
type found within ``rcut`` over all frames, times a safety margin, rounded up to a multiple of 4 (what
``dp neighbor-stat`` and DeePMD's ``"auto"`` do, without importing TensorFlow in the worker).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seiflow.errors import InputError
from seiflow.schemas.campaign import TrainingConfig

SEL_MARGIN = 1.1
CHECKPOINT = "model.ckpt"
LCURVE = "lcurve.out"


def read_system(path: Path) -> tuple[list[str], np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """(type_map, atom types, coordinate and box arrays per set) of one deepmd/npy system."""
    path = Path(path)
    type_map = (path / "type_map.raw").read_text().split() if (path / "type_map.raw").is_file() else []
    types = np.loadtxt(path / "type.raw", dtype=int, ndmin=1)
    sets = sorted(p for p in path.glob("set.*") if p.is_dir())
    if not sets:
        raise InputError(f"{path} holds no set.* folder", "export the data as deepmd/npy")
    coords = [np.load(s / "coord.npy").reshape(-1, len(types), 3) for s in sets]
    boxes = [np.load(s / "box.npy").reshape(-1, 3, 3) for s in sets]
    return type_map, types, coords, boxes


def max_neighbours(systems: Sequence[Path], type_map: list[str], rcut: float) -> list[int]:
    """Largest count of neighbours of each type within ``rcut`` around any atom of any frame."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    best = np.zeros(len(type_map), dtype=int)
    for system in systems:
        sys_map, types, coords, boxes = read_system(system)
        # map the system's own type indices onto the model's type_map
        if sys_map:
            unknown = set(sys_map) - set(type_map)
            if unknown:
                raise InputError(
                    f"training data {system} has elements {sorted(unknown)} not in type_map",
                    "add them to system.type_map",
                )
            types = np.array([type_map.index(sys_map[t]) for t in types])
        for coord, box in zip(np.concatenate(coords), np.concatenate(boxes), strict=True):
            atoms = Atoms(numbers=np.ones(len(types)), positions=coord, cell=box, pbc=True)
            i, j = neighbor_list("ij", atoms, rcut)
            counts = np.zeros((len(types), len(type_map)), dtype=int)
            np.add.at(counts, (i, types[j]), 1)
            best = np.maximum(best, counts.max(axis=0))
    return [int(n) for n in best]


def auto_sel(systems: Sequence[Path], type_map: list[str], rcut: float) -> list[int]:
    """``sel`` from the data: max neighbours x 1.1, rounded up to a multiple of 4 (at least 4)."""
    counts = max_neighbours(systems, type_map, rcut)
    return [max(4, 4 * math.ceil(math.ceil(n * SEL_MARGIN) / 4)) for n in counts]


def build_input(
    config: TrainingConfig,
    type_map: list[str],
    train_systems: Sequence[str | Path],
    sel: list[int],
    seed: int,
    numb_steps: int,
    save_freq: int = 100,
    disp_freq: int = 100,
    resumed: bool = False,
) -> dict[str, Any]:
    """The DeePMD ``input.json`` mapping for one model of the ensemble.

    ``resumed``: the run starts from the last round's frozen model (``init_frz_model``). It then starts at
    ``resume_start_lr`` with ``resume_loss`` (DP-GEN's ``training_reuse_*``): restarting a trained model at
    the first round's learning rate and force-heavy prefactors throws away much of what it learned.
    """
    if len(sel) != len(type_map):  # per element here; attention descriptors sum them (descriptors.total_sel)
        raise InputError(
            f"training.sel has {len(sel)} entries but type_map has {len(type_map)}",
            "give one sel value per element, or sel: auto",
        )
    if not train_systems:
        raise InputError("no training data systems", "label frames before training")
    reuse = resumed and config.resume_start_lr is not None
    loss = {"type": "ener", **(config.resume_loss if reuse else config.loss).model_dump()}
    start_lr = config.resume_start_lr if reuse else config.start_lr
    return {
        "model": {
            "type_map": list(type_map),
            "descriptor": config.descriptor.section(config, list(sel), seed),
            "fitting_net": {"neuron": list(config.fitting_neurons), "resnet_dt": True, "seed": seed},
        },
        "learning_rate": {
            "type": "exp",
            "start_lr": start_lr,
            "stop_lr": min(config.stop_lr, start_lr),
            # at least 4 decays over the run, however short (a resumed round has few steps)
            "decay_steps": max(1, min(config.decay_steps, numb_steps // 4)),
        },
        "loss": loss,
        "training": {
            "training_data": {"systems": [str(s) for s in train_systems], "batch_size": "auto"},
            "numb_steps": numb_steps,
            "seed": seed,
            "disp_file": LCURVE,
            "disp_freq": max(1, min(disp_freq, numb_steps)),
            "save_freq": max(1, min(save_freq, numb_steps)),
            "save_ckpt": CHECKPOINT,
        },
    }
