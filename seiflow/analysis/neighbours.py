"""Periodic neighbour pairs by species, found by freud (see :mod:`seiflow.analysis.structure`).

freud's AABB-tree search replaced pymatgen's ``find_points_in_spheres`` (and ASE's ``neighbor_list``
for cells without a volume): on the known-answer structures it returns the same pairs, image offsets
and distances (to 1e-14 Å), except pairs at exactly the cutoff, which freud leaves out (``d < cutoff``).
Triclinic cells, cells smaller than twice the cutoff and non-periodic axes are handled by
:class:`~seiflow.analysis.structure.FreudFrame`.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from seiflow.analysis.structure import FreudFrame, Pairs, check_species, symbols_of

__all__ = ["Pairs", "count_neighbours", "pairs_between", "species_mask", "symbols_of"]


def species_mask(atoms: Atoms, species: str) -> np.ndarray:
    """Boolean mask of the atoms of one element; :class:`InputError` for an unknown symbol."""
    check_species(species)
    return symbols_of(atoms) == species


def pairs_between(atoms: Atoms, a: str, b: str, cutoff: float) -> Pairs:
    """All directed pairs (i of element ``a``, j of element ``b``) closer than ``cutoff`` Å.

    Only atoms of the two elements enter the neighbour search, so it costs little on big cells.
    """
    return FreudFrame.from_atoms(atoms, cutoff).pairs(a, b, cutoff)


def count_neighbours(atoms: Atoms, a: str, b: str, cutoff: float) -> np.ndarray:
    """For each atom of element ``a`` (in index order), how many ``b`` atoms lie within ``cutoff``."""
    return FreudFrame.from_atoms(atoms, cutoff).count(a, b, cutoff)
