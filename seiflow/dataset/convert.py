"""Conversions between structure-like objects (pymatgen, ASE, LabelledFrame) and plain arrays."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from seiflow.errors import InputError

if TYPE_CHECKING:
    from seiflow.schemas.frame import LabelledFrame


def structure_arrays(obj: Any) -> tuple[list[str], np.ndarray, np.ndarray, tuple[bool, bool, bool]]:
    """Species, Cartesian positions (N, 3) Å, cell (3, 3) Å and pbc of a structure-like object.

    Accepts a pymatgen ``Structure``, an ASE ``Atoms``, a :class:`LabelledFrame` or a mapping with
    ``species``, ``positions`` and ``cell`` keys.
    """
    from ase import Atoms
    from pymatgen.core import Structure

    from seiflow.schemas.frame import LabelledFrame

    if isinstance(obj, Structure):
        species = [site.specie.symbol for site in obj]
        return species, np.array(obj.cart_coords), np.array(obj.lattice.matrix), (True, True, True)
    if isinstance(obj, Atoms):
        pbc = tuple(bool(x) for x in obj.pbc)
        return obj.get_chemical_symbols(), obj.get_positions(), np.array(obj.cell[:]), pbc
    if isinstance(obj, LabelledFrame):
        return list(obj.species), np.asarray(obj.positions), np.asarray(obj.cell), tuple(obj.pbc)
    if isinstance(obj, dict) and {"species", "positions", "cell"} <= obj.keys():
        pbc = tuple(obj.get("pbc", (True, True, True)))
        return list(obj["species"]), np.asarray(obj["positions"]), np.asarray(obj["cell"]), pbc
    raise InputError(
        f"cannot read a structure from a {type(obj).__name__}",
        "pass a pymatgen Structure, an ASE Atoms or a LabelledFrame",
    )


def formula_of(species: list[str]) -> str:
    """Non-reduced composition with elements in alphabetical order, e.g. ``Cl6InLi3`` -> ``Cl6In1Li3``."""
    counts = Counter(species)
    return "".join(f"{el}{counts[el]}" for el in sorted(counts))


def to_atoms(frame: LabelledFrame):
    """An ASE ``Atoms`` of a frame's structure (no labels)."""
    from ase import Atoms

    return Atoms(frame.species, positions=frame.positions, cell=frame.cell, pbc=frame.pbc)
