"""Credentials: a daemon with --auth (password from SEIFLOW_DB_PASSWORD), TLS, mongodb+srv; no password leaks."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow
from pymongo import MongoClient

from seiflow import store
from seiflow.cli.main import main
from seiflow.controller.workers import LocalWorkers
from seiflow.dataset.frames import FrameStore
from seiflow.db import embedded
from seiflow.settings import load_settings
from seiflow.testing.flows import add, grow, make_array
from tests.dataset.test_frames import make_frame
from tests.security.servers import (
    PASSWORD,
    USER,
    make_certs,
    own_server,
    start_with_auth,
    write_settings,
)

TINY = Path(__file__).parents[1] / "controller" / "tiny_campaign.yaml"
LIGHT_WORKER = Path(__file__).parents[2] / "seiflow" / "data" / "workers" / "light" / "my_fworker.yaml"


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the real CLI; (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def use(settings_file: Path, monkeypatch, password: str | None) -> None:
    monkeypatch.setenv("SEIFLOW_CONFIG", str(settings_file))
    if password is None:
        monkeypatch.delenv("SEIFLOW_DB_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("SEIFLOW_DB_PASSWORD", password)
    store.reset_connections()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    cfg = own_server(tmp_path_factory.mktemp("auth"))
    start_with_auth(cfg)
    yield cfg
    store.reset_connections()
    embedded.stop(cfg)


def _auth_launchpad(cfg, name: str) -> dict:
    # no password in the file: it comes from SEIFLOW_DB_PASSWORD
    return {"host": cfg.host, "port": cfg.port, "name": name, "username": USER, "authsource": "admin"}


def _scan_all_documents(cfg) -> int:
    """Every document of every database on the server, searched for the password; returns the count."""
    client: MongoClient = MongoClient(cfg.host, cfg.port, username=USER, password=PASSWORD,
                                      authSource="admin", directConnection=True)
    n = 0
    try:
        for db_name in client.list_database_names():
            for coll in client[db_name].list_collection_names():
                for doc in client[db_name][coll].find():
                    n += 1
                    text = json.dumps(doc, default=str)
                    assert PASSWORD not in text, (db_name, coll)
    finally:
        client.close()
    return n


def test_auth_from_env_through_launchpad_jobstore_framestore_and_workers(
    auth_server, tmp_path, monkeypatch, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    use(write_settings(tmp_path, _auth_launchpad(auth_server, "authdb"), auth_server), monkeypatch, PASSWORD)
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    frame_id, inserted = FrameStore().add(make_frame(3))
    assert inserted
    # a jobflow flow (JobStore docs + GridFS data) run by a real rlaunch worker subprocess
    first = add(1, 2)
    flow = Flow([first, make_array(500), grow(first.output, 5)])
    flow.update_config({"manager_config": {"_category": "light"}})  # local workers take categorised jobs
    lp.add_wf(flow_to_workflow(flow, store=store.get_jobstore()))
    workers = LocalWorkers(load_settings(), tmp_path / "workers", n=1, sleep_s=1)
    try:
        workers.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and lp.fireworks.count_documents({"state": {"$ne": "COMPLETED"}}):
            time.sleep(1)
    finally:
        workers.stop()
    logs = "".join(f.read_text(errors="replace")[-1500:] for f in (tmp_path / "workers").rglob("rlaunch.log"))
    n_done = lp.fireworks.count_documents({"state": "COMPLETED"})
    assert n_done == 4, logs  # add, make_array, grow 3->4, grow 4->5 (added at run time)
    assert PASSWORD not in repr(lp) and PASSWORD not in str(lp)
    js = store.get_jobstore()
    js.connect()
    assert js.get_output(first.uuid) == 3
    code, out, err = cli(["submit", str(TINY), "--json"], capsys)
    assert code == 0, err
    for argv in (["status", "--json"], ["status", "tiny", "--json"], ["status", "tiny"]):
        code, out, err = cli(argv, capsys)
        assert code == 0, err
        assert PASSWORD not in out + err
    assert json.loads(cli(["status", "tiny", "--json"], capsys)[1])["state"] == "running"
    assert _scan_all_documents(auth_server) > 10
    logs = [p.read_text(errors="replace") for p in (tmp_path / "workers").rglob("*.log")]
    assert logs and not any(PASSWORD in text for text in logs)
    assert PASSWORD not in caplog.text
    # the workers got the password through SEIFLOW_DB_PASSWORD (seiflow-rlaunch): no file seiflow wrote
    # for them or in its work dir holds it, and their launchpad.yaml is readable by the owner only
    assert "password" not in yaml.safe_load((tmp_path / "workers" / "launchpad.yaml").read_text())
    assert (tmp_path / "workers" / "launchpad.yaml").stat().st_mode & 0o077 == 0
    assert files_holding(PASSWORD, tmp_path / "workers", tmp_path / "runs") == []


def files_holding(secret: str, *roots: Path) -> list[Path]:
    """Every file under ``roots`` whose bytes contain ``secret`` (links are not followed)."""
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
                found.append(path)
    return found


def test_seiflow_rlaunch_takes_the_password_from_the_environment(auth_server, tmp_path, monkeypatch):
    """FireWorks' rlaunch needs the password in launchpad.yaml; seiflow-rlaunch takes SEIFLOW_DB_PASSWORD."""
    use(write_settings(tmp_path, _auth_launchpad(auth_server, "rlaunchdb"), auth_server), monkeypatch, PASSWORD)
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    job = add(2, 5)
    job.update_config({"manager_config": {"_category": "light"}})
    lp.add_wf(flow_to_workflow(Flow([job]), store=store.get_jobstore()))
    bin_dir = Path(sys.executable).parent
    (tmp_path / "w").mkdir()
    args = ["-l", str(tmp_path / "launchpad.yaml"), "-w", str(LIGHT_WORKER), "rapidfire", "--nlaunches", "1"]
    plain = subprocess.run([str(bin_dir / "rlaunch"), *args], cwd=tmp_path / "w", capture_output=True,
                           text=True, timeout=120)
    assert plain.returncode != 0 and lp.fireworks.count_documents({"state": "COMPLETED"}) == 0
    ours = subprocess.run([str(bin_dir / "seiflow-rlaunch"), *args], cwd=tmp_path / "w", capture_output=True,
                          text=True, timeout=300)
    assert ours.returncode == 0, ours.stdout[-2000:] + ours.stderr[-2000:]
    assert lp.fireworks.count_documents({"state": "COMPLETED"}) == 1
    js = store.get_jobstore()
    js.connect()
    assert js.get_output(job.uuid) == 7
    assert PASSWORD not in ours.stdout + ours.stderr
    assert files_holding(PASSWORD, tmp_path) == []


@pytest.mark.parametrize("password", ["wrong-password-123", None])
def test_wrong_or_missing_password_is_a_clear_error(auth_server, tmp_path, monkeypatch, capsys, password):
    use(write_settings(tmp_path, _auth_launchpad(auth_server, "authdb2"), auth_server), monkeypatch, password)
    code, out, err = cli(["status", "--json"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    if password is None:
        assert "A password is required" in err and "SEIFLOW_DB_PASSWORD" in err
    else:
        assert "cannot reach the LaunchPad" in err and "credentials" in err
        assert "authentication failed" in err.lower()
        assert password not in err
    assert PASSWORD not in err and out == ""
    with pytest.raises(store.StoreUnreachableError) as info:
        store.get_launchpad()
    assert PASSWORD not in str(info.value) and (password or PASSWORD) not in info.value.one_line()


def test_mongodb_srv_config_is_accepted_and_fails_clearly_offline(tmp_path, monkeypatch, capsys):
    host = f"mongodb+srv://{USER}:{PASSWORD}@cluster0.seiflow-test.invalid/?retryWrites=true"
    use(write_settings(tmp_path, {"host": host, "uri_mode": True, "name": "srvdb"}), monkeypatch, None)
    settings = load_settings()
    assert store.launchpad_config(settings)["uri_mode"] is True
    assert store.describe(store.launchpad_config(settings)) == "mongodb+srv://cluster0.seiflow-test.invalid/srvdb"
    code, out, err = cli(["status"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "cluster0.seiflow-test.invalid" in err and PASSWORD not in err and USER + ":" not in err


def test_credentials_in_a_plain_host_uri_are_redacted():
    config = {"host": f"mongodb://{USER}:{PASSWORD}@db.example.org", "port": 27017, "name": "x"}
    assert PASSWORD not in store.describe(config)
    assert store.redact(f"failed mongodb+srv://{USER}:{PASSWORD}@h/x") == "failed mongodb+srv://h/x"


def _start_tls_daemon(cfg, certs: dict[str, Path]) -> subprocess.Popen:
    """The daemon with TLS (embedded.start pings without TLS, so it is started directly here)."""
    storage = cfg.storage_path
    storage.mkdir(parents=True, exist_ok=True)
    cmd = [embedded._daemon_path(), "--host", cfg.host, "--port", str(cfg.port), "--storage-path", str(storage),
           "--log-level", "WARNING", "--tls-cert-file", str(certs["cert"]), "--tls-key-file", str(certs["key"]),
           "--tls-ca-file", str(certs["ca"])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=storage)
    client: MongoClient = MongoClient(cfg.host, cfg.port, tls=True, tlsCAFile=str(certs["ca"]),
                                      serverSelectionTimeoutMS=500, directConnection=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.admin.command("ping")
            client.close()
            return proc
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None:
                raise AssertionError(f"TLS daemon exited with {proc.returncode}") from None
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("TLS daemon did not answer")


def test_tls_with_a_self_signed_ca(tmp_path, monkeypatch, capsys):
    certs = make_certs(tmp_path / "certs")
    cfg = own_server(tmp_path)
    proc = _start_tls_daemon(cfg, certs)
    try:
        lp_conf = {"host": "localhost", "port": cfg.port, "name": "tlsdb",
                   "mongoclient_kwargs": {"tls": True, "tlsCAFile": str(certs["ca"])}}
        use(write_settings(tmp_path, lp_conf, cfg), monkeypatch, None)
        store.get_launchpad().reset("", require_password=False)
        assert FrameStore().add(make_frame(4))[1]
        code, out, err = cli(["status", "--json"], capsys)
        assert code == 0 and json.loads(out) == {"campaigns": []}, err
        # without the CA the server's certificate is refused: exit 2, one line
        (tmp_path / "noca").mkdir()
        lp_conf["mongoclient_kwargs"] = {"tls": True}
        use(write_settings(tmp_path / "noca", lp_conf, cfg), monkeypatch, None)
        code, out, err = cli(["status", "--json"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot reach the LaunchPad" in err, err
    finally:
        store.reset_connections()
        proc.terminate()
        proc.wait(timeout=30)
