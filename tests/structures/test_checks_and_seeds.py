"""Checks, writers (POSCAR, extxyz, LAMMPS data), perturbed seeds, the structures job and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import read
from click.testing import CliRunner
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from seiflow.cli.main import cli
from seiflow.errors import InputError
from seiflow.schemas.campaign import InterfaceConfig, campaign_from_dict
from seiflow.structures.bulk import load_bulk
from seiflow.structures.checks import check_structure, write_structure
from seiflow.structures.interface import build_interface
from seiflow.structures.jobs import PrepareStructuresMaker, StructuresDocument
from seiflow.structures.perturb import perturb

from .conftest import TYPE_MAP


def test_bad_structures_raise_and_write_nothing(tmp_path):
    overlap = Structure(Lattice.cubic(5.0), ["Li", "Cl"], [[0, 0, 0], [0.1, 0, 0]])
    with pytest.raises(InputError, match="overlap"):
        write_structure(overlap, tmp_path / "a", TYPE_MAP)
    with pytest.raises(InputError, match="type_map"):
        write_structure(load_bulk("LiCl"), tmp_path / "b", ["Li", "In"])
    charged = Structure(Lattice.cubic(6.0), ["Li", "Cl", "Cl"], [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0]])
    with pytest.raises(InputError, match="charge"):
        write_structure(charged, tmp_path / "c", TYPE_MAP)
    assert not any(tmp_path.iterdir())
    report = check_structure(load_bulk("Li3InCl6"), TYPE_MAP, min_distance=1.5)
    assert report.electrolyte_formula == "Li3InCl6" and report.electrolyte_charge == 0.0


def test_writers_give_lower_triangular_lammps_in_type_map_order(tmp_path, fixed_bulks):
    iface = build_interface(InterfaceConfig(), fixed_bulks).structure
    files = write_structure(iface, tmp_path, ["Cl", "Li", "In"], "iface")
    lmp = read(files["lammps"], format="lammps-data", atom_style="atomic", units="metal")
    cell = lmp.cell.array
    assert np.allclose(np.triu(cell, 1), 0.0)
    assert len(lmp) == len(iface) == 232
    assert (lmp.get_atomic_numbers()[:60] == 17).all()  # type 1 = Cl, first in the given type_map
    text = files["lammps"].read_text()
    assert "3 atom types" in text and "Masses" in text
    poscar = Structure.from_file(files["poscar"])
    assert poscar.composition == iface.composition
    xyz = read(files["extxyz"])
    assert set(xyz.arrays["interface_label"]) == {"substrate", "film"}


def test_perturb_is_reproducible_and_bounded():
    lic = load_bulk("Li3InCl6")
    a = perturb(lic, 3, cell_strain=0.02, displacement=0.05, seed=7)
    b = perturb(lic, 3, cell_strain=0.02, displacement=0.05, seed=7)
    c = perturb(lic, 3, cell_strain=0.02, displacement=0.05, seed=8)
    assert len(a) == 3
    assert all(np.allclose(x.cart_coords, y.cart_coords) for x, y in zip(a, b, strict=True))
    assert not np.allclose(a[0].cart_coords, c[0].cart_coords)
    for copy in a:
        ratios = np.array(copy.lattice.abc) / np.array(lic.lattice.abc)
        assert np.all(np.abs(ratios - 1) < 0.05) and copy.composition == lic.composition
        check_structure(copy, TYPE_MAP)
    with pytest.raises(InputError):
        perturb(lic, 1, cell_strain=-0.1)


def test_prepare_structures_job_with_fixed_lattice():
    campaign = campaign_from_dict(
        {
            "name": "t",
            "system": {"type_map": TYPE_MAP},
            "structures": {"bulks": ["Li", "Li3InCl6"], "relax": False, "lattice_constants": {"Li": 3.44}},
        }
    )
    job = PrepareStructuresMaker().make(campaign)
    doc = run_locally(job, store=JobStore(MemoryStore()), ensure_success=True)[job.uuid][1].output
    doc = StructuresDocument.model_validate(doc)
    assert doc.bulk_sources == {"Li": "bundled+a=3.44", "Li3InCl6": "bundled"}
    assert len(doc.interface) == doc.interface_report["natoms"] == 232
    assert {k: len(v) for k, v in doc.perturbed.items()} == {"interface": 2, "Li": 2, "Li3InCl6": 2}


def test_cli_interface_scale_up_perturb_and_errors(tmp_path):
    runner = CliRunner()
    out = runner.invoke(cli, ["structures", "list", "--json"])
    assert {p["name"] for p in json.loads(out.stdout)["phases"]} >= {"Li", "Li3InCl6", "In", "LiCl"}
    res = runner.invoke(cli, ["structures", "interface", "--out", str(tmp_path / "i"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["report"]["von_mises_strain"] < 0.02 and data["bulk_sources"]["Li"].endswith("chgnet")
    res = runner.invoke(
        cli, ["structures", "scale-up", "--no-relax", "--lattice", "Li=3.44", "--substrate-atoms", "600",
              "--film-fu", "80", "--out", str(tmp_path / "s"), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["report"]["achieved"]["film_formula_units"] == 80.0
    res = runner.invoke(
        cli, ["structures", "perturb", data["files"]["extxyz"], "-n", "2", "--out", str(tmp_path / "p"), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["files"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nsystem: {type_map: [Li, In, Cl]}\nstructures: {interface: {film: Li2O}, relax: false}\n")
    res = runner.invoke(cli, ["structures", "interface", str(bad), "--out", str(tmp_path / "x"), "--json"])
    assert res.exit_code != 0 and not (tmp_path / "x").exists()
    assert "Li2O is not a known phase" in str(res.exception)
