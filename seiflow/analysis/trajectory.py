"""Reading trajectories for analysis (any format ASE reads; LAMMPS types named by a type_map)."""

from __future__ import annotations

from collections.abc import Sequence

from ase import Atoms

from seiflow.errors import InputError


def read_frames(path: str, every: int = 1, type_map: str | Sequence[str] | None = None) -> list[Atoms]:
    """Frames of a trajectory ASE can read (extxyz, LAMMPS dump, traj...); ``type_map`` names LAMMPS types."""
    from ase.io import read

    try:
        frames = read(path, index=f"::{max(every, 1)}")
    except Exception as exc:  # noqa: BLE001 - ASE raises many types for unreadable files
        raise InputError(f"cannot read trajectory {path}: {exc}", "pass a file ASE can read") from exc
    frames = frames if isinstance(frames, list) else [frames]
    if type_map:
        names = type_map.split(",") if isinstance(type_map, str) else list(type_map)
        for atoms in frames:
            types = atoms.get_array("type") if "type" in atoms.arrays else atoms.numbers
            if types.max() > len(names):
                raise InputError(f"type {types.max()} beyond --type-map {type_map}", "list every type")
            atoms.set_chemical_symbols([names[t - 1] for t in types])
    return frames
