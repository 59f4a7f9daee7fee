"""Carved frames: boxes cut from a large cell, whose atoms near the cut weigh 0 in the force loss.

A carved box is a cube whose *core* (a cube of half-width ``carve_core_a`` about the box's centre) holds
the atoms with intact environments. The weights follow from the geometry alone, so they are recomputed
from any labelled frame of the box, whatever order the reference wrote its atoms in (VASP sorts them).

In the training data a carved frame trains forces only, through DeePMD's per-atom force prefactor:
each system of carved frames gets ``atom_pref.npy`` (1 on the core, 0 elsewhere) and has no
``energy.npy`` or ``virial.npy``, so DeePMD's ``find_energy`` and ``find_virial`` are 0 for it (the
box's energy and virial include the cut surface).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

CARVED_SUFFIX = "_carved"  # system folder name: <formula>_carved
ATOM_PREF_FILE = "atom_pref.npy"
TOLERANCE_A = 1e-6


def core_weights(positions: np.ndarray, cell: np.ndarray, core_a: float | Sequence[float]) -> np.ndarray:
    """Per-atom force weight of a carved box: 1 within ``core_a`` of its centre along each axis, else 0.

    ``core_a`` per axis for a box with an axis kept whole (its full length there: every atom is core).
    """
    cell = np.asarray(cell, dtype=float)
    centre = cell.sum(axis=0) / 2
    frac = np.linalg.solve(cell.T, (np.asarray(positions, dtype=float) - centre).T).T
    frac -= np.round(frac)
    d = frac @ cell
    return np.all(np.abs(d) <= np.asarray(core_a, dtype=float) + TOLERANCE_A, axis=1).astype(float)


def is_carved_system(path: Path) -> bool:
    """True for an exported system of carved frames."""
    return Path(path).name.endswith(CARVED_SUFFIX)


def finish_carved_system(path: Path, weights: np.ndarray) -> None:
    """Write ``atom_pref.npy`` (frames x atoms, type order) into each set of ``path``; drop energy and virial."""
    start = 0
    for set_dir in sorted(Path(path).glob("set.*")):
        n = np.load(set_dir / "box.npy").reshape(-1, 9).shape[0]
        np.save(set_dir / ATOM_PREF_FILE, weights[start:start + n])
        start += n
        for name in ("energy.npy", "virial.npy"):
            (set_dir / name).unlink(missing_ok=True)
    if start != len(weights):
        raise ValueError(f"{path}: {len(weights)} weight rows for {start} frames")


def weigh_all(systems: list[Path]) -> int:
    """Weights of 1 for every system without ``atom_pref.npy`` when carved systems are among ``systems``.

    DeePMD's weighted force term counts a system only when its ``find_atom_pref`` is 1. Returns how many
    carved systems there are (0: nothing written).
    """
    carved = [s for s in systems if is_carved_system(s)]
    if not carved:
        return 0
    for system in systems:
        natoms = len(np.loadtxt(Path(system) / "type.raw", dtype=int, ndmin=1))
        for set_dir in sorted(Path(system).glob("set.*")):
            if not (set_dir / ATOM_PREF_FILE).is_file():
                n = np.load(set_dir / "box.npy").reshape(-1, 9).shape[0]
                np.save(set_dir / ATOM_PREF_FILE, np.ones((n, natoms)))
    return len(carved)


def masked_force_loss(loss: dict) -> dict:
    """A DeePMD ``ener`` loss whose force term is weighted per atom: the force prefactors moved to ``pref_pf``.

    With every weight 1 the weighted term equals the plain one (DeePMD's mean of atom_pref x dF^2), so
    uncarved systems train as before; carved ones only on their core.
    """
    out = dict(loss)
    out["start_pref_pf"], out["limit_pref_pf"] = out.pop("start_pref_f"), out.pop("limit_pref_f")
    out["start_pref_f"] = out["limit_pref_f"] = 0.0
    return out
