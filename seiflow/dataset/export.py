"""Export labelled frames to DeePMD's deepmd/npy format through dpdata, one system per composition."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dpdata
import numpy as np

from seiflow.dataset.convert import formula_of
from seiflow.errors import InputError
from seiflow.schemas.frame import LabelledFrame


def _sorted_by_type(frame: LabelledFrame, type_map: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Atom order sorted by type (stable), and the type index of each atom in that order."""
    try:
        types = np.array([type_map.index(s) for s in frame.species], dtype=int)
    except ValueError:
        missing = sorted(set(frame.species) - set(type_map))
        raise InputError(
            f"frame species {missing} are not in type_map {type_map}", "add them to system.type_map"
        ) from None
    order = np.argsort(types, kind="stable")
    return order, types[order]


def system_from_frames(frames: list[LabelledFrame], type_map: list[str]) -> dpdata.LabeledSystem:
    """One dpdata ``LabeledSystem`` from frames of the same composition (atoms sorted by type)."""
    order, types = _sorted_by_type(frames[0], type_map)
    data = {
        "atom_names": list(type_map),
        "atom_numbs": [int((types == i).sum()) for i in range(len(type_map))],
        "atom_types": types,
        "orig": np.zeros(3),
        "cells": np.array([f.cell for f in frames], dtype=float),
        "coords": np.array([np.asarray(f.positions)[_sorted_by_type(f, type_map)[0]] for f in frames]),
        "energies": np.array([f.energy for f in frames], dtype=float),
        "forces": np.array([np.asarray(f.forces)[_sorted_by_type(f, type_map)[0]] for f in frames]),
    }
    if all(f.virial is not None for f in frames):
        data["virials"] = np.array([f.virial for f in frames], dtype=float)
    if not all(frames[0].pbc):
        data["nopbc"] = True
    return dpdata.LabeledSystem(data=data)


def export_deepmd(
    frames: Iterable[LabelledFrame], out_dir: Path, type_map: list[str] | None = None
) -> list[Path]:
    """Write frames as deepmd/npy systems under ``out_dir``, one folder per composition.

    Frames without energy or forces are skipped. A composition whose frames do not all have a
    virial is split: frames without one go to ``<formula>_novirial``.
    """
    groups: dict[str, list[LabelledFrame]] = {}
    for frame in frames:
        if frame.energy is None or frame.forces is None:
            continue
        key = formula_of(frame.species) + ("" if frame.virial is not None else "_novirial")
        groups.setdefault(key, []).append(frame)
    if type_map is None:
        type_map = sorted({s for group in groups.values() for f in group for s in f.species})
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key in sorted(groups):
        path = out_dir / key
        system_from_frames(groups[key], type_map).to("deepmd/npy", str(path))
        paths.append(path)
    return paths
