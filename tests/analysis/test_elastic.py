"""Elastic constants with the local reference calculator (CHGNet) on rock-salt LiCl."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from seiflow.analysis.elastic import elastic_constants, isotropic_moduli
from seiflow.errors import InputError


def test_cubic_isotropic_moduli_formulae():
    c = np.zeros((6, 6))
    c[:3, :3] = 20.0
    c[np.arange(3), np.arange(3)] = 50.0
    c[np.arange(3, 6), np.arange(3, 6)] = 15.0
    m = isotropic_moduli(c)
    assert m["bulk_voigt_gpa"] == pytest.approx(30.0)
    assert m["bulk_reuss_gpa"] == pytest.approx(30.0)
    assert m["shear_voigt_gpa"] == pytest.approx((30 + 45) / 5)  # (C11 - C12 + 3 C44) / 5


def test_emt_copper_is_cubic_and_sensible():
    res = elastic_constants(bulk("Cu", "fcc", a=3.59, cubic=True), EMT())
    c = np.array(res.c_gpa)
    assert c[0, 0] == pytest.approx(c[1, 1], rel=1e-3)
    assert abs(c[0, 3]) < 1.0
    assert 100 < res.bulk_vrh_gpa < 200  # EMT Cu: ~134 GPa (experiment 140)


def test_licl_with_chgnet_in_sensible_range():
    from seiflow.labelling.calculators import get_calculator

    res = elastic_constants(bulk("LiCl", "rocksalt", a=5.13, cubic=True), get_calculator("chgnet"))
    c = np.array(res.c_gpa)
    # Experiment (LiCl, 295 K): C11 49, C12 23, C44 25 GPa; B 32 GPa.
    assert 25 < c[0, 0] < 90
    assert 5 < c[0, 1] < 45
    assert 5 < c[3, 3] < 45
    assert 15 < res.bulk_vrh_gpa < 55
    assert 0 < res.poisson_vrh < 0.5


def test_elastic_input_errors():
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True)
    with pytest.raises(InputError):
        elastic_constants(atoms, EMT(), strain=0.2)
    atoms.pbc = (True, True, False)
    with pytest.raises(InputError):
        elastic_constants(atoms, EMT())


def test_relaxed_ion_constants_start_from_the_calculators_own_minimum():
    """A strained, rattled start relaxes (cell and ions) to EMT's Cu before straining: the same C as there."""
    from seiflow.analysis.elastic import relax_reference

    start = bulk("Cu", "fcc", a=3.70, cubic=True).repeat(2)
    start.rattle(0.05, seed=1)
    relaxed = elastic_constants(start, EMT(), relax_ions=True, fmax=1e-3)
    at_minimum = relax_reference(bulk("Cu", "fcc", a=3.59, cubic=True), EMT(), fmax=1e-4)
    clamped = elastic_constants(at_minimum, EMT())  # perfect fcc: relaxed-ion = clamped-ion
    for k, j in ((0, 0), (0, 1), (3, 3)):
        assert relaxed.c_gpa[k][j] == pytest.approx(clamped.c_gpa[k][j], rel=0.03), (k, j)


def test_analyze_elastic_json_is_one_object_on_stdout(tmp_path):
    """CHGNet prints banner lines when its calculator is built: they go to stderr, not into --json."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "licl.cif"
    bulk("LiCl", "rocksalt", a=5.13, cubic=True).write(path)
    seiflow = Path(sys.executable).parent / "seiflow"
    out = subprocess.run([str(seiflow), "analyze", "elastic", str(path), "--calculator", "chgnet", "--json"],
                         capture_output=True, text=True, check=True, timeout=600)
    assert 15 < json.loads(out.stdout)["bulk_vrh_gpa"] < 55
