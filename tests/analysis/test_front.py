"""Reaction front on a constructed Li | Li3InCl6 sandwich whose reduced In advances with time."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from seiflow.analysis.front import metal_surface, reaction_front
from seiflow.errors import InputError
from tests.analysis import structures as S

CHEM = S.study_chemistry()


def _sandwich() -> Atoms:
    """A bcc Li slab (z < 10.5 Å) under four layers of isolated InCl6 octahedra (In every 6 Å)."""
    li = bulk("Li", "bcc", a=3.0, cubic=True).repeat((4, 4, 4))  # squeezed to a 12 Å square base
    octahedra = Atoms(cell=[12.0, 12.0, 40.0], pbc=True)
    for x in (3.0, 9.0):
        for y in (3.0, 9.0):
            for z in (15.0, 21.0, 27.0, 33.0):
                octahedra += Atoms("In", positions=[[x, y, z]])
                for axis in range(3):
                    for sign in (1, -1):
                        pos = np.array([x, y, z], dtype=float)
                        pos[axis] += 2.5 * sign
                        octahedra += Atoms("Cl", positions=[pos])
    li.set_cell(octahedra.cell, scale_atoms=False)
    return li + octahedra


def _reduce_in(atoms: Atoms, depth: float) -> Atoms:
    """Strip the Cl around In atoms that lie within ``depth`` Å above the Li surface."""
    surface = metal_surface(atoms, CHEM)
    sym = np.array(atoms.get_chemical_symbols())
    cl = np.flatnonzero(sym == "Cl")
    drop: set[int] = set()
    for k in np.flatnonzero((sym == "In") & (atoms.positions[:, 2] - surface < depth)):
        dist = atoms.get_distances(k, cl, mic=True)
        drop.update(cl[dist < 3.1].tolist())
    out = atoms.copy()
    del out[sorted(drop)]
    return out


def test_front_advances_linearly():
    base = _sandwich()
    frames = [_reduce_in(base, depth) for depth in (0.0, 8.0, 16.0)]
    result = reaction_front(frames, 1.0, CHEM, origin=metal_surface(base, CHEM))
    assert result.position_a[0] is None
    assert result.position_a[1] < result.position_a[2] <= 16.0
    assert result.growth_rate_a_ps > 0
    assert result.origin_a == pytest.approx(metal_surface(base, CHEM))


def test_front_errors():
    with pytest.raises(InputError):
        reaction_front([], 1.0, CHEM)
    with pytest.raises(InputError):
        reaction_front([S.li3incl6()], 1.0, CHEM, axis=3)
    with pytest.raises(InputError):
        metal_surface(S.li3incl6(), CHEM)
