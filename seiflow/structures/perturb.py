"""Exploration seeds: perturbed copies of a structure (random cell strain and atom displacements)."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

from seiflow.errors import InputError


def perturb(
    structure: Structure,
    n: int,
    cell_strain: float = 0.03,
    displacement: float = 0.05,
    seed: int = 0,
) -> list[Structure]:
    """``n`` strained and rattled copies of ``structure``.

    Each copy has a symmetric strain (components uniform in ±``cell_strain``) applied to the cell,
    fractional coordinates kept, then Gaussian moves of σ = ``displacement`` Å per Cartesian
    component. The same ``seed`` gives the same copies; site properties are kept.
    """
    if n < 0 or cell_strain < 0 or displacement < 0:
        raise InputError(
            f"perturb: n={n}, cell_strain={cell_strain}, displacement={displacement} must be >= 0",
            "give non-negative values (structures.perturb)",
        )
    if cell_strain >= 0.5:
        raise InputError(f"perturb: cell_strain {cell_strain} is too large", "use a fraction below 0.5")
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(n):
        upper = np.triu(rng.uniform(-cell_strain, cell_strain, size=(3, 3)))
        strain = upper + np.triu(upper, 1).T
        lattice = Lattice(structure.lattice.matrix @ (np.eye(3) + strain))
        moved = structure.copy()
        moved.lattice = lattice
        cart = moved.cart_coords + rng.normal(0.0, displacement, size=(len(moved), 3))
        copies.append(
            Structure(
                lattice, moved.species, cart, coords_are_cartesian=True,
                site_properties=moved.site_properties or None,
            )
        )
    return copies
