"""Geometry sanity filters: atoms too close, a box too skewed, a box too long or thin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from pydantic import Field
from pymatgen.core import Structure

from seiflow.registry import FILTERS
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


@FILTERS.register("min_distance")
@dataclass
class MinDistanceFilter(Filter):
    """Rejects structures with two atoms closer than ``min_distance`` (Å)."""

    min_distance: Annotated[float, Field(gt=0)] = field(default=1.0, metadata={"description": "Closest allowed pair, Å."})
    name: str = "min_distance"

    def check(self, structure: Structure) -> str | None:
        """None when no two atoms are closer than ``min_distance``, else the closest distance."""
        _, _, _, dists = structure.get_neighbor_list(self.min_distance)  # self excluded, images kept
        if dists.size:
            return f"atoms {dists.min():.3f} Å apart (< {self.min_distance} Å)"
        return None


@FILTERS.register("box_skew")
@dataclass
class BoxSkewFilter(Filter):
    """Rejects boxes whose tilt factors exceed ``max_skew`` times the box length they tilt along."""

    max_skew: Annotated[float, Field(gt=0)] = field(default=0.5, metadata={"description": "Largest |xy|,|xz|,|yz| over the box length."})
    name: str = "box_skew"

    def check(self, structure: Structure) -> str | None:
        """None when the box tilt is within ``max_skew``, else the skew."""
        lx, ly, _, xy, xz, yz = lammps_prism(structure.lattice.matrix)
        skew = max(abs(xy) / lx, abs(xz) / lx, abs(yz) / ly)
        if skew > self.max_skew:
            return f"box skew {skew:.3f} > {self.max_skew}"
        return None


@FILTERS.register("box_length")
@dataclass
class BoxLengthFilter(Filter):
    """Rejects boxes whose longest LAMMPS box length exceeds ``max_ratio`` times the shortest."""

    max_ratio: Annotated[float, Field(gt=1)] = field(default=5.0, metadata={"description": "Largest longest/shortest box length."})
    name: str = "box_length"

    def check(self, structure: Structure) -> str | None:
        """None when the box length ratio is within ``max_ratio``, else the ratio."""
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
