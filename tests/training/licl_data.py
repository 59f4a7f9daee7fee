"""Tiny LiCl training data: CHGNet-labelled 2x2x2 rocksalt cells with random displacements (deepmd/npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TYPE_MAP = ["Li", "Cl"]
N_FRAMES = 30


def make_licl_system(out_dir: Path, n_frames: int = N_FRAMES, seed: int = 7) -> Path:
    """Write one deepmd/npy system of ``n_frames`` labelled LiCl frames (64 atoms) into ``out_dir``."""
    import dpdata
    from ase.build import bulk

    from seiflow.labelling.calculators import get_calculator

    rng = np.random.default_rng(seed)
    calc = get_calculator("chgnet")
    base = bulk("LiCl", "rocksalt", a=5.14, cubic=True).repeat((2, 2, 2))
    multi = dpdata.MultiSystems(type_map=TYPE_MAP)
    for _ in range(n_frames):
        atoms = base.copy()
        strain = np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))
        atoms.set_cell(atoms.cell @ ((strain + strain.T) / 2), scale_atoms=True)
        atoms.positions += rng.normal(0.0, 0.08, atoms.positions.shape)
        atoms.calc = calc
        atoms.get_potential_energy()
        multi.append(dpdata.LabeledSystem(atoms, fmt="ase/structure"))
    multi.to("deepmd/npy", str(out_dir))
    return out_dir


if __name__ == "__main__":
    import sys

    make_licl_system(Path(sys.argv[1]))
