"""Phases from the user: structure files, bundled names and Materials Project ids in a campaign file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ase.build import bulk
from ase.io import write
from pymatgen.core import Lattice, Structure

from seiflow.errors import InputError
from seiflow.schemas.campaign import load_campaign
from seiflow.schemas.phases import PhaseSource

NACL = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def campaign_file(tmp_path: Path, structures: dict, type_map=("Na", "Cl"), **extra) -> Path:
    path = tmp_path / "campaigns" / "c.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"name": "c", "system": {"type_map": list(type_map)},
                                    "structures": {"relax": False, "interface": None, **structures}, **extra}))
    return path


@pytest.mark.parametrize("fmt", ["cif", "poscar", "extxyz"])
def test_a_phase_from_a_file_relative_to_the_campaign_is_read_and_kept(tmp_path, fmt):
    name = {"cif": "nacl.cif", "poscar": "POSCAR_nacl", "extxyz": "nacl.extxyz"}[fmt]
    (tmp_path / "files").mkdir()
    if fmt == "extxyz":
        write(tmp_path / "files" / name, bulk("NaCl", "rocksalt", a=5.64, cubic=True), format="extxyz")
    else:
        NACL.to(filename=str(tmp_path / "files" / name), fmt=fmt)
    path = campaign_file(tmp_path, {"phases": {"rocksalt": f"../files/{name}"}, "bulks": ["rocksalt"]})
    c = load_campaign(path)
    source = c.structures.phases["rocksalt"]
    assert Path(source.file) == (tmp_path / "files" / name).resolve()
    assert c.structures.phase("rocksalt").composition.reduced_formula == "NaCl"
    assert c.structures.phase_source("rocksalt") == f"file:{name}"
    (tmp_path / "files" / name).unlink()  # a worker elsewhere has no file: the campaign carries the structure
    again = type(c).model_validate(c.model_dump(mode="json"))
    assert len(again.structures.phase("rocksalt")) == 8


def test_shorthands_bundled_and_mp(monkeypatch):
    assert PhaseSource.model_validate("LiCl").bundled == "LiCl"
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(ValueError, match="MP_API_KEY is not set"):
        PhaseSource.model_validate("mp-22862")


def test_partially_occupied_site_is_refused_with_the_site_named(tmp_path):
    disordered = Structure(Lattice.cubic(4.0), [{"Li": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    disordered.to(filename=str(tmp_path / "half.cif"))
    path = campaign_file(tmp_path, {"phases": {"half": str(tmp_path / "half.cif")}, "bulks": ["half"]},
                         type_map=("Li", "Cl"))
    with pytest.raises(InputError, match=r"structures.phases.half: .*site 0 \(Li:0.5.*partially occupied.*ordered"):
        load_campaign(path)


def test_type_map_is_checked_against_every_phase_used(tmp_path):
    NACL.to(filename=str(tmp_path / "nacl.cif"))
    path = campaign_file(tmp_path, {"phases": {"rocksalt": str(tmp_path / "nacl.cif")}, "bulks": ["rocksalt"]},
                         type_map=("Na",))
    with pytest.raises(InputError, match=r"system.type_map \['Na'\] lacks Cl needed by structures.bulks: rocksalt"):
        load_campaign(path)
    path = campaign_file(tmp_path, {"phases": {"rocksalt": str(tmp_path / "nacl.cif")}, "bulks": ["rocksalt"]},
                         chemistry={"products": ["NaF"]})
    with pytest.raises(InputError, match="chemistry.products: NaF is not a known phase: add it under structures.phases"):
        load_campaign(path)


def test_missing_file_names_the_phase_and_the_path(tmp_path):
    path = campaign_file(tmp_path, {"phases": {"x": "nowhere.cif"}, "bulks": ["x"]})
    with pytest.raises(InputError, match=r"structures.phases.x: .*nowhere.cif does not exist"):
        load_campaign(path)


def test_a_ready_made_interface_file_replaces_the_build(tmp_path):
    slab = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat((1, 1, 2))
    write(tmp_path / "iface.extxyz", slab, format="extxyz")
    NACL.to(filename=str(tmp_path / "nacl.cif"))
    path = campaign_file(tmp_path, {"phases": {"rocksalt": str(tmp_path / "nacl.cif")}, "bulks": ["rocksalt"],
                                    "interface": {"file": "../iface.extxyz"}},
                         chemistry={"electrolyte": "rocksalt"})
    c = load_campaign(path)
    assert len(c.structures.interface.from_file()) == 16
    assert c.electrolyte() == "rocksalt" and c.anode() is None


def test_a_campaign_decoded_by_jobflow_still_validates(tmp_path):
    """jobflow hands a job its arguments decoded: the embedded structure dicts come back as Structures."""
    import json

    from monty.json import MontyDecoder

    NACL.to(filename=str(tmp_path / "nacl.cif"))
    c = load_campaign(campaign_file(tmp_path, {"phases": {"rocksalt": str(tmp_path / "nacl.cif")},
                                               "bulks": ["rocksalt"]}))
    decoded = json.loads(json.dumps(c.model_dump(mode="json")), cls=MontyDecoder)
    assert isinstance(decoded["structures"]["phases"]["rocksalt"]["structure"], Structure)
    assert type(c).model_validate(decoded).structures.phase("rocksalt") == c.structures.phase("rocksalt")
