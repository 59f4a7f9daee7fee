"""The production cell: the interface (or a phase) repeated in-plane, near-square, close to the asked size."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure

from seiflow.production.cell import lateral_repeat


def _slab(a: float, b: float, n: int) -> Structure:
    return Structure(Lattice.orthorhombic(a, b, 30.0), ["Li"] * n, [[i / n, i / n, 0.5] for i in range(n)])


def test_the_repeat_keeps_the_cell_near_square_rather_than_hitting_the_count_exactly():
    square = _slab(12.0, 12.0, 116)
    assert lateral_repeat(square, 1972) == (4, 4)  # 1,856 atoms, not a 17 x 1 strip of exactly 1,972
    assert lateral_repeat(square, 116) == (1, 1)
    wide = _slab(24.0, 12.0, 116)  # a twice b: twice the repeats along b
    na, nb = lateral_repeat(wide, 116 * 8)
    assert (na, nb) == (2, 4)
