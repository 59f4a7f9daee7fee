"""Bulks for the structure tests: Li fixed at a = 3.44 Å (the PBE/CHGNet value) so no relaxation is needed."""

from __future__ import annotations

import pytest

from seiflow.structures.bulk import load_bulk, set_lattice_constant

TYPE_MAP = ["Li", "In", "Cl"]


@pytest.fixture(scope="session")
def fixed_bulks():
    """Li (a = 3.44 Å) and the bundled Li3InCl6."""
    return {"Li": set_lattice_constant(load_bulk("Li"), 3.44), "Li3InCl6": load_bulk("Li3InCl6")}
