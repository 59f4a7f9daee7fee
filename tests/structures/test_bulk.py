"""Bundled bulks, the Materials Project fallback and CHGNet relaxation."""

from __future__ import annotations

import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from seiflow.errors import InputError
from seiflow.structures.bulk import (
    BULKS,
    DATA_DIR,
    fetch_bulk,
    get_bulk,
    load_bulk,
    prepare_bulks,
    relax_bulk,
    set_lattice_constant,
)


@pytest.mark.parametrize("name", list(BULKS))
def test_bundled_phases_load_with_their_space_group(name):
    structure = load_bulk(name)
    entry = BULKS[name]
    assert structure.reduced_formula == entry.formula
    assert SpacegroupAnalyzer(structure, symprec=0.01).get_space_group_symbol() == entry.space_group
    assert (DATA_DIR / "PROVENANCE.md").is_file()


def test_unknown_phase_is_a_clear_error():
    with pytest.raises(InputError, match="unknown bulk phase 'Li2O'"):
        load_bulk("Li2O")


def test_materials_project_without_key_errors_and_falls_back(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(InputError, match="MP_API_KEY is not set"):
        fetch_bulk("mp-135")
    structure, source = get_bulk("Li", "mp-135")
    assert source == "bundled" and structure.reduced_formula == "Li"


def test_fixed_lattice_constant():
    li = set_lattice_constant(load_bulk("Li"), 3.44)
    assert li.lattice.a == pytest.approx(3.44)
    with pytest.raises(InputError):
        prepare_bulks(["Li"], relax=False, lattice_constants={"In": 3.3})


def test_relax_with_chgnet_shrinks_li_and_keeps_li3incl6_symmetry():
    li = relax_bulk(load_bulk("Li"), "chgnet")
    assert 3.40 < li.lattice.a < 3.47  # experimental 3.51, PBE ~3.44
    lic = relax_bulk(load_bulk("Li3InCl6"), "chgnet")
    assert len(lic) == 20
    assert SpacegroupAnalyzer(lic, symprec=0.1).get_space_group_symbol() == "C2/m"
    assert lic.lattice.a == pytest.approx(6.43, abs=0.1)
