"""Bad input through the real CLI: exit 2, one line naming the problem and its fix, nothing stored changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seiflow.cli.main import main
from seiflow.store import get_database

TINY = Path(__file__).parents[1] / "controller" / "tiny_campaign.yaml"


def _campaign(tmp_path: Path, change: dict) -> Path:
    data = yaml.safe_load(TINY.read_text())
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


CAMPAIGN_CASES = {
    "wrong type": ({"training.numb_steps": "lots"}, "training.numb_steps"),
    "unknown key": ({"training.speed": 3}, "training.speed: unknown key"),
    "unknown element": ({"system.type_map": ["Li", "Xx"]}, "unknown element 'Xx'"),
    "bad name": ({"name": "../etc"}, "name"),
}


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _snapshot() -> dict[str, int]:
    db = get_database()
    return {name: db[name].count_documents({}) for name in db.list_collection_names()}


def _assert_rejected(argv, capsys, *needles: str) -> str:
    before = _snapshot()
    code, out, err = _cli(argv, capsys)
    assert code == 2, (code, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "(fix: " in err, err
    for needle in needles:
        assert needle in err, err
    assert _snapshot() == before
    return err


@pytest.mark.parametrize("case", sorted(CAMPAIGN_CASES))
def test_bad_campaign_fields_are_refused_by_submit(seiflow_env, tmp_path, capsys, case):
    change, needle = CAMPAIGN_CASES[case]
    _assert_rejected(["submit", str(_campaign(tmp_path, change))], capsys, needle)


def test_malformed_yaml_and_missing_file(seiflow_env, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystem: {type_map: [Li, Cl]\n  broken")
    _assert_rejected(["submit", str(bad)], capsys, "not valid YAML")
    bad.write_text("- just\n- a list\n")
    _assert_rejected(["submit", str(bad)], capsys, "must be a YAML mapping")
    _assert_rejected(["submit", str(tmp_path / "nope.yaml")], capsys, "does not exist")


def test_overlapping_atoms_are_refused(seiflow_env, tmp_path, capsys, monkeypatch):
    xyz = tmp_path / "overlap.xyz"
    xyz.write_text('2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
                   "Li 0 0 0\nLi 0.3 0 0\n")
    monkeypatch.chdir(tmp_path)
    _assert_rejected(["structures", "perturb", str(xyz), "-n", "1", "--cell-strain", "0",
                      "--displacement", "0", "--type-map", "Li,Cl"], capsys, "atoms overlap")


def test_structures_without_a_campaign_outside_the_repository_are_refused(seiflow_env, tmp_path, capsys,
                                                                         monkeypatch):
    """No campaign named and no demo campaign in the working folder: an error, not a built-in chemistry."""
    monkeypatch.chdir(tmp_path)
    _assert_rejected(["structures", "interface", "--out", str(tmp_path / "i")], capsys,
                     "no CAMPAIGN_FILE given", "name the campaign")
    assert not (tmp_path / "i").exists()


def test_empty_dataset_is_refused(seiflow_env, tmp_path, capsys):
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    _assert_rejected(["frames", "import", str(empty), "--fmt", "extxyz"], capsys, "no labelled frames")


def test_unreachable_launchpad(seiflow_env, tmp_path, capsys):
    lp = tmp_path / "lp_dead.yaml"
    lp.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": 9, "name": "x"}))
    settings = tmp_path / "dead.yaml"
    settings.write_text(yaml.safe_dump({"launchpad_file": str(lp), "embedded": {"auto_start": False}}))
    code, out, err = _cli(["--config", str(settings), "status"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "cannot reach the LaunchPad at mongodb://127.0.0.1:9/x" in err and "(fix: " in err


def test_a_model_file_that_is_not_a_model_is_refused(seiflow_env, tmp_path, capsys):
    fake = tmp_path / "model.pb"
    fake.write_text("not a model\n")
    poscar = tmp_path / "LiCl.cif"
    from seiflow.structures.bulk import load_bulk

    load_bulk("LiCl").to(filename=str(poscar))
    _assert_rejected(["analyze", "production", str(poscar), str(fake), "--type-map", "Li,Cl",
                      "--out", str(tmp_path / "prod")], capsys, "is not a DeePMD model", "seiflow models get")
    assert not (tmp_path / "prod").exists()
    _assert_rejected(["analyze", "elastic", str(poscar), "--calculator", str(tmp_path / "missing.pb")],
                     capsys, "does not exist")
