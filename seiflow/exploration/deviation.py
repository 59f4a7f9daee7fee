"""Read what an exploration run wrote: ``model_devi.out`` and the frames of the ``dump custom`` file."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.schemas.exploration import Deviation

# model_devi.out columns as LAMMPS' pair_style deepmd 3.2 writes them (no devi_e there).
COLUMNS = ("step", "max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f")


def read_model_devi(path: Path) -> Deviation:
    """Parse ``model_devi.out`` (7 columns, or 8 with ``devi_e`` from ``calc_model_devi``)."""
    rows = np.loadtxt(path, ndmin=2, comments="#")
    if rows.size == 0:
        return Deviation()
    if rows.shape[1] < len(COLUMNS):
        raise ValueError(f"{path} has {rows.shape[1]} columns, expected at least {len(COLUMNS)}")
    col = {name: rows[:, i] for i, name in enumerate(COLUMNS)}
    steps = col["step"].astype(int)
    _, first = np.unique(steps, return_index=True)  # a restarted run may repeat steps
    keep = np.sort(first)
    return Deviation(
        steps=steps[keep].tolist(),
        max_devi_f=col["max_devi_f"][keep].tolist(),
        avg_devi_f=col["avg_devi_f"][keep].tolist(),
        max_devi_v=col["max_devi_v"][keep].tolist(),
        devi_e=rows[keep, 7].tolist() if rows.shape[1] >= 8 else None,
    )


def dump_steps(path: Path) -> list[int]:
    """The timestep of each frame in a LAMMPS text dump, in file order."""
    steps, grab = [], False
    with open(path) as fh:
        for line in fh:
            if grab:
                steps.append(int(line.split()[0]))
                grab = False
            elif line.startswith("ITEM: TIMESTEP"):
                grab = True
    return steps


def read_dump(path: Path) -> dict[int, Atoms]:
    """All frames of a text dump with element names, keyed by timestep (a repeated step keeps the first)."""
    if not path.is_file() or path.stat().st_size == 0:
        return {}
    frames = ase.io.read(path, index=":", format="lammps-dump-text")
    out: dict[int, Atoms] = {}
    for step, atoms in zip(dump_steps(path), frames, strict=False):
        out.setdefault(step, atoms)
    return out


def to_structure(
    atoms: Atoms, task_id: str, step: int, max_devi_f: float | None = None, **deviations: float | None
) -> Structure:
    """A pymatgen Structure carrying the provenance the labelling makers record.

    ``max_devi_f`` (the ensemble's max force deviation at this step, eV/Å) and any other ``deviations``
    (``max_devi_v``, ``devi_e``: eV/atom) go with it, so the labelled frame can be paired with its true
    error (trust-level calibration).
    """
    structure = AseAtomsAdaptor.get_structure(atoms)
    provenance = {"source": "exploration", "origin": task_id, "frame_index": int(step)}
    for key, value in {"max_devi_f": max_devi_f, **deviations}.items():
        if value is not None:
            provenance[key] = float(value)
    structure.properties = {"provenance": provenance}
    return structure


def energy_deviation(model_files: list[Path], frames: list[Atoms]) -> np.ndarray:
    """Per-atom energy deviation (std over the ensemble) of each frame, with deepmd's Python API."""
    from deepmd.infer import DeepPot
    from deepmd.infer.model_devi import calc_model_devi

    if not frames:
        return np.array([])
    models = [DeepPot(str(m)) for m in model_files]
    model_types = models[0].get_type_map()
    by_size: dict[tuple[str, ...], list[int]] = {}
    for i, atoms in enumerate(frames):
        by_size.setdefault(tuple(atoms.get_chemical_symbols()), []).append(i)
    out = np.zeros(len(frames))
    for symbols, idx in by_size.items():
        coord = np.array([frames[i].positions.reshape(-1) for i in idx])
        box = np.array([frames[i].cell.array.reshape(-1) for i in idx])
        atype = np.array([model_types.index(s) for s in symbols])
        devi = calc_model_devi(coord, box, atype, models)  # fname None: nothing appended anywhere
        out[idx] = devi[:, 7]
    return out
