"""Submitting: seiflow submit, or a workflow file for `lpad add`; duplicates refused with nothing changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from seiflow.cli.main import cli, main
from seiflow.records import campaigns
from seiflow.store import get_database, get_launchpad

TINY = Path(__file__).with_name("tiny_campaign.yaml")
BIN = Path(sys.executable).parent


def test_submit_to_a_fresh_database_and_refuse_a_duplicate(seiflow_env, capsys):
    result = CliRunner().invoke(cli, ["submit", str(TINY), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["campaign"] == "tiny" and out["n_jobs"] == 1
    lp = get_launchpad()
    fw = lp.fireworks.find_one({"fw_id": out["fw_ids"][0]})
    assert fw["spec"]["campaign"] == "tiny" and fw["state"] == "READY"
    assert campaigns.get(get_database(), "tiny")["state"] == "running"

    try:
        main(["submit", str(TINY)])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and "already in the store" in err and len(err.strip().splitlines()) == 1
    assert lp.fireworks.count_documents({}) == 1  # nothing added


def test_lpad_add_of_a_written_workflow_registers_the_campaign(seiflow_env, tmp_path):
    wf_file = tmp_path / "tiny_wf.yaml"
    result = CliRunner().invoke(cli, ["submit", str(TINY), "--write", str(wf_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["workflow_file"] == str(wf_file)
    text = wf_file.read_text()
    assert "password" not in text and str(seiflow_env.settings.embedded.port) not in text

    env = seiflow_env.subprocess_env()
    lp_file = str(seiflow_env.launchpad_file)
    get_launchpad().reset("", require_password=False)
    subprocess.run([BIN / "lpad", "-l", lp_file, "add", str(wf_file)], env=env, check=True,
                   capture_output=True, cwd=tmp_path, timeout=120)
    # start, then the structures job and the initial-data planner it adds
    subprocess.run([BIN / "rlaunch", "-l", lp_file, "rapidfire", "--nlaunches", "3"], env=env, check=True,
                   capture_output=True, cwd=tmp_path, timeout=600)
    db = get_database()
    assert campaigns.get(db, "tiny")["definition"]["name"] == "tiny"  # the start job registered it
    names = [fw["name"] for fw in get_launchpad().fireworks.find({}, {"name": 1})]
    assert any("reference md" in n for n in names) and any("close r0" in n for n in names)


def test_submit_with_config_writes_the_campaign_record_to_that_store(seiflow_env, tmp_path):
    """``seiflow --config X submit`` registers the campaign in X's database, not the default one."""
    import yaml

    other_db = f"{seiflow_env.db_name}_other"
    lp_file = tmp_path / "other_launchpad.yaml"
    lp_file.write_text(yaml.safe_dump({**yaml.safe_load(seiflow_env.launchpad_file.read_text()), "name": other_db}))
    cfg = yaml.safe_load(seiflow_env.settings_file.read_text()) | {"launchpad_file": str(lp_file)}
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(cfg))
    try:
        result = CliRunner().invoke(cli, ["--config", str(other), "submit", str(TINY), "--json"])
        assert result.exit_code == 0, result.output
        client = get_launchpad().connection
        assert client[other_db]["campaigns"].count_documents({"name": "tiny"}) == 1
        assert client[other_db]["fireworks"].count_documents({}) == 1
        assert get_database()["campaigns"].count_documents({"name": "tiny"}) == 0  # the default store
    finally:
        get_launchpad().connection.drop_database(other_db)
