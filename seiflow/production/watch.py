"""The extrapolation watch: the converged ensemble's force deviation on the production cell.

LAMMPS writes the ensemble's max-atom force deviation every ``watch.every`` steps (``model_devi.out``, the
production model driving the MD, the others evaluated only then). A checked step above the level is
uncertain; for the first few uncertain dumped frames the atoms beyond the level are located (index,
element, position) with DeePMD-kit's Python API, so they can be cut out and labelled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from seiflow.exploration.deviation import read_model_devi
from seiflow.schemas.production import UncertainAtoms, WatchResult


def atom_force_deviation(models: list, atoms: Atoms) -> np.ndarray:
    """Per-atom force deviation of the ensemble (loaded ``DeepPot`` models), eV/Å.

    DeePMD-kit's own ``calc_model_devi_f``: what LAMMPS writes to model_devi.out, atom by atom.
    """
    from deepmd.infer.model_devi import calc_model_devi_f

    coords = atoms.positions.reshape(1, -1)
    cell = np.asarray(atoms.cell, dtype=float).reshape(1, 9)
    forces = []
    for model in models:
        types = model.get_type_map()
        atype = np.array([types.index(s) for s in atoms.get_chemical_symbols()])
        forces.append(np.asarray(model.eval(coords, cell, atype)[1]).reshape(1, -1, 3))
    return calc_model_devi_f(np.array(forces), atomic=True)[3][0]


def read_watch(devi_file: Path, start_step: int, end_step: int, level: float | None) -> WatchResult:
    """The checked steps of one segment and how many exceed ``level``.

    A segment's steps: ``start_step`` < step <= ``end_step`` (step 0 too in the first).
    """
    if level is None or not devi_file.is_file():
        return WatchResult(level=level)
    dev = read_model_devi(devi_file)
    lo = -1 if start_step == 0 else start_step
    keep = [(s, f) for s, f in zip(dev.steps, dev.max_devi_f, strict=True) if lo < s <= end_step]
    steps = [s for s, _ in keep]
    values = [float(f) for _, f in keep]
    uncertain = [s for s, f in keep if not f <= level]  # NaN counts as uncertain
    return WatchResult(
        level=level, n_checked=len(steps), n_uncertain=len(uncertain),
        fraction=len(uncertain) / len(steps) if steps else 0.0,
        max_devi_f=max(values) if values else None,
        first_uncertain_step=uncertain[0] if uncertain else None,
        steps=steps, max_devi_f_by_step=[round(v, 5) for v in values],
    )


def locate(watch: WatchResult, frames: dict[int, Atoms], model_files: list[Path], timestep_fs: float,
           max_located: int) -> WatchResult:
    """``watch`` with the atoms beyond its level in up to ``max_located`` uncertain dumped frames."""
    if watch.level is None or not watch.n_uncertain or max_located <= 0:
        return watch
    from deepmd.infer import DeepPot

    by_step = dict(zip(watch.steps, watch.max_devi_f_by_step, strict=True))
    steps = sorted(s for s in frames if s in by_step and not by_step[s] <= watch.level)[:max_located]
    models = [DeepPot(str(path)) for path in model_files] if steps else []  # loaded once for every frame
    located = []
    for step in steps:
        atoms = frames[step]
        devi = atom_force_deviation(models, atoms)
        idx = np.flatnonzero(~(devi <= watch.level))
        symbols = atoms.get_chemical_symbols()
        located.append(UncertainAtoms(
            step=step, time_ps=step * timestep_fs / 1000.0, max_devi_f=by_step[step], indices=idx.tolist(),
            elements=[symbols[i] for i in idx], positions=np.round(atoms.positions[idx], 4).tolist(),
            devi_f=np.round(devi[idx], 5).tolist(),
        ))
    return watch.model_copy(update={"located": located})
