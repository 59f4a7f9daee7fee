"""The production cell: the interface (or a phase) repeated in-plane, near-square, close to the asked size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_a_built_interface_is_scaled_up_with_more_layers_in_its_own_proportions():
    from seiflow.production.cell import production_cell
    from seiflow.schemas.campaign import load_campaign
    from seiflow.structures.bulk import prepare_bulks
    from seiflow.structures.interface import build_interface

    demo = load_campaign(Path(__file__).resolve().parents[2] / "workflows" / "li_li3incl6_demo.yaml")
    demo = demo.model_copy(update={"production": demo.production.model_copy(update={"atoms": 1000})})
    cfg = demo.structures
    names = [cfg.interface.substrate, cfg.interface.film]
    # the lattice constants a CHGNet relaxation gives (docs/study.md), instead of relaxing here
    bulks, _ = prepare_bulks(names, False, lattice_constants={"Li": 3.44, "Li3InCl6": 6.45}, config=cfg)
    small = build_interface(cfg.interface, bulks)
    cell, how = production_cell(demo, small.structure, small.report, bulks)
    assert how.startswith("interface scaled up") and abs(len(cell) - 1000) / 1000 < 0.2, (len(cell), how)
    ratio = small.report["natoms_substrate"] / small.report["natoms"]
    li_metal = sum(1 for label in cell.site_properties["interface_label"] if label == "substrate")
    assert abs(li_metal / len(cell) - ratio) < 0.1  # the small interface's proportions
    thick = np.ptp(cell.cart_coords[:, 2])
    assert thick > np.ptp(small.structure.cart_coords[:, 2]) + 3.0, "more layers, not only a wider slab"
    # without the matched bulks (a campaign recorded before them): the interface repeated in-plane
    cell, how = production_cell(demo, small.structure)
    assert how.startswith("interface x") and len(cell) % len(small.structure) == 0
