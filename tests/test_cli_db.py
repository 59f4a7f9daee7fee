"""`seiflow db` and the LaunchPad CLI (lpad/rlaunch) against the embedded server, as a user runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env, cwd, check=True):
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def user_dir(tmp_path):
    """A user's working folder with its own settings, launchpad.yaml and data folder."""
    port = _free_port()
    (tmp_path / "launchpad.yaml").write_text(
        yaml.safe_dump({"host": "127.0.0.1", "port": port, "name": "seiflow", "strm_lvl": "WARNING"})
    )
    (tmp_path / "seiflow.yaml").write_text(
        yaml.safe_dump(
            {
                "launchpad_file": "launchpad.yaml",
                "embedded": {"port": port, "storage_path": str(tmp_path / "db")},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "SEIFLOW_CONFIG"}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    yield tmp_path, env
    subprocess.run([BIN / "seiflow", "db", "stop"], env=env, cwd=tmp_path, capture_output=True)


def test_db_start_lpad_rlaunch_stop_and_data_survives(user_dir):
    cwd, env = user_dir
    started = json.loads(run([BIN / "seiflow", "db", "start", "--json"], env, cwd).stdout)
    assert started["running"] and started["host"] == "127.0.0.1"
    assert json.loads(run([BIN / "seiflow", "db", "status", "--json"], env, cwd).stdout)["running"]

    lp = ["lpad", "-l", "launchpad.yaml"]
    run([*lp, "reset", "--password", date.today().isoformat()], env, cwd)
    run([*lp, "add_scripts", "echo hello", "-n", "hello"], env, cwd)
    run(["rlaunch", "-l", "launchpad.yaml", "rapidfire"], env, cwd)
    fws = json.loads(run([*lp, "get_fws", "-d", "more"], env, cwd).stdout)
    assert fws["state"] == "COMPLETED" and fws["name"] == "hello"

    stopped = json.loads(run([BIN / "seiflow", "db", "stop", "--json"], env, cwd).stdout)
    assert not stopped["running"]
    status = run([BIN / "seiflow", "db", "status", "--json"], env, cwd, check=False)
    assert status.returncode == 1 and not json.loads(status.stdout)["running"]

    run([BIN / "seiflow", "db", "start"], env, cwd)
    fws = json.loads(run([*lp, "get_fws", "-d", "more"], env, cwd).stdout)
    assert fws["state"] == "COMPLETED", "data must survive a restart of the embedded server"


def test_db_start_refuses_non_loopback(user_dir):
    cwd, env = user_dir
    env = {**env, "SEIFLOW_EMBEDDED__HOST": "0.0.0.0"}
    proc = run([BIN / "seiflow", "db", "start"], env, cwd, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "loopback" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_second_data_folder_on_the_same_port_is_refused_not_written_into(user_dir, tmp_path_factory):
    # another user folder (another HOME's demo) whose settings name the same port but other storage
    cwd, env = user_dir
    run([BIN / "seiflow", "db", "start"], env, cwd)
    other = tmp_path_factory.mktemp("other")
    settings = yaml.safe_load((cwd / "seiflow.yaml").read_text())
    settings["embedded"]["storage_path"] = str(other / "db")
    (other / "seiflow.yaml").write_text(yaml.safe_dump(settings))
    (other / "launchpad.yaml").write_text((cwd / "launchpad.yaml").read_text())
    proc = run([BIN / "seiflow", "status", "anything"], env, other, check=False)
    assert proc.returncode == 1 and "already used by a server that seiflow did not start" in proc.stderr, proc.stderr
    assert not (other / "db").exists()


def test_a_launchpad_at_another_folders_embedded_server_is_refused_whatever_the_port(user_dir, tmp_path_factory):
    # another HOME's demo with SEIFLOW_EMBEDDED__PORT set but the shipped launchpad.yaml in its working folder:
    # the launchpad points at the first folder's server, not at its own embedded port, and must not write there
    cwd, env = user_dir
    run([BIN / "seiflow", "db", "start"], env, cwd)
    first_port = yaml.safe_load((cwd / "launchpad.yaml").read_text())["port"]
    other = tmp_path_factory.mktemp("other")
    (other / "seiflow.yaml").write_text(yaml.safe_dump({"launchpad_file": "launchpad.yaml"}))
    (other / "launchpad.yaml").write_text((cwd / "launchpad.yaml").read_text())
    other_env = {**env, "HOME": str(other), "SEIFLOW_EMBEDDED__PORT": str(_free_port()),
                 "SEIFLOW_EMBEDDED__STORAGE_PATH": str(other / "db")}
    before = json.loads(run([BIN / "seiflow", "db", "status", "--json"], env, cwd).stdout)
    proc = run([BIN / "seiflow", "submit", str(Path(__file__).parent / "controller" / "tiny_campaign.yaml")],
               other_env, other, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert f"127.0.0.1:{first_port}" in err and str(cwd / "db") in err and "launchpad.yaml" in err, err
    from pymongo import MongoClient

    client = MongoClient("127.0.0.1", first_port, directConnection=True)
    try:
        assert client["seiflow"]["campaigns"].count_documents({}) == 0, "nothing written into the first store"
    finally:
        client.close()
    assert json.loads(run([BIN / "seiflow", "db", "status", "--json"], env, cwd).stdout)["running"] == before["running"]


def test_a_worker_may_pull_from_another_folders_embedded_server(user_dir, tmp_path_factory):
    # a container or node whose own settings are the defaults, pointed with -l at the host's `seiflow db start`
    cwd, env = user_dir
    run([BIN / "seiflow", "db", "start"], env, cwd)
    other = tmp_path_factory.mktemp("worker")
    other_env = {**env, "HOME": str(other), "SEIFLOW_EMBEDDED__PORT": str(_free_port()),
                 "SEIFLOW_EMBEDDED__STORAGE_PATH": str(other / "db")}
    proc = run([BIN / "seiflow-rlaunch", "-l", str(cwd / "launchpad.yaml"), "rapidfire", "--nlaunches", "0"],
               other_env, other, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "embedded server of" not in proc.stderr and not (other / "db").exists()
