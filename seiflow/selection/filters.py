"""Geometry sanity filters: atoms too close, a box too skewed, a box too long or thin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from seiflow.selection.base import Filter


def lammps_prism(lattice: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """LAMMPS' restricted triclinic box (lx, ly, lz, xy, xz, yz) of a lattice (rows a, b, c)."""
    a, b, c = (np.asarray(v, dtype=float) for v in lattice)
    lx = float(np.linalg.norm(a))
    ahat = a / lx
    xy = float(b @ ahat)
    ly = float(np.sqrt(max(b @ b - xy**2, 0.0)))
    xz = float(c @ ahat)
    yz = float((b @ c - xy * xz) / ly) if ly > 0 else 0.0
    lz = float(np.sqrt(max(c @ c - xz**2 - yz**2, 0.0)))
    return lx, ly, lz, xy, xz, yz


@dataclass
class MinDistanceFilter(Filter):
    """Rejects structures with two atoms closer than ``min_distance`` (Å)."""

    min_distance: float = 1.0
    name: str = "min_distance"

    def check(self, structure: Structure) -> str | None:
        _, _, _, dists = structure.get_neighbor_list(self.min_distance)  # self excluded, images kept
        if dists.size:
            return f"atoms {dists.min():.3f} Å apart (< {self.min_distance} Å)"
        return None


@dataclass
class BoxSkewFilter(Filter):
    """Rejects boxes whose tilt factors exceed ``max_skew`` times the box length they tilt along."""

    max_skew: float = 0.5
    name: str = "box_skew"

    def check(self, structure: Structure) -> str | None:
        lx, ly, _, xy, xz, yz = lammps_prism(structure.lattice.matrix)
        skew = max(abs(xy) / lx, abs(xz) / lx, abs(yz) / ly)
        if skew > self.max_skew:
            return f"box skew {skew:.3f} > {self.max_skew}"
        return None


@dataclass
class BoxLengthFilter(Filter):
    """Rejects boxes whose longest LAMMPS box length exceeds ``max_ratio`` times the shortest."""

    max_ratio: float = 5.0
    name: str = "box_length"

    def check(self, structure: Structure) -> str | None:
        lengths = lammps_prism(structure.lattice.matrix)[:3]
        ratio = max(lengths) / min(lengths)
        if ratio > self.max_ratio:
            return f"box length ratio {ratio:.2f} > {self.max_ratio}"
        return None


def apply_filters(filters: list[Filter], structure: Structure) -> str | None:
    """The first failing filter's ``name: reason``, or None when all pass."""
    for flt in filters:
        reason = flt.check(structure)
        if reason is not None:
            return f"{flt.name}: {reason}"
    return None
