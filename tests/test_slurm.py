"""Real one-node SLURM (scripts/slurm.sh): sbatch works, daemons stay on loopback, and
``qlaunch -r rapidfire`` runs seiflow jobflow jobs through SLURM jobs into the real store.

These tests FAIL (never skip) when SLURM is not running: start it with ``sudo scripts/slurm.sh start``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.constants import JOBSTORE_DOCS_COLLECTION
from seiflow.testing.flows import add, grow

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SLURM_SH = REPO / "scripts" / "slurm.sh"
DEFAULT_CONF = Path("/tmp/seiflow-slurm/slurm.conf")
LIGHT_WORKER = REPO / "seiflow" / "data" / "workers" / "light" / "my_fworker.yaml"
VENV_BIN = Path(sys.executable).parent
START_HINT = "start it with `sudo scripts/slurm.sh start` (then `export SLURM_CONF=...` as it prints)"


@pytest.fixture(scope="module")
def slurm_env() -> dict[str, str]:
    """Environment pointing SLURM's client commands at the running one-node cluster."""
    conf = Path(os.environ.get("SLURM_CONF") or DEFAULT_CONF)
    if shutil.which("sinfo") is None:
        pytest.fail(f"SLURM client commands are not installed: run scripts/install-system.sh, then {START_HINT}", pytrace=False)
    if not conf.is_file():
        pytest.fail(f"SLURM is not running: no {conf}; {START_HINT}", pytrace=False)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    res = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=30)
    states = res.stdout.split()
    if res.returncode != 0 or not {"idle", "mix", "alloc"} & set(states):
        why = res.stderr.strip() or f"node state {states}"
        pytest.fail(f"SLURM is not running or not usable ({why}); {START_HINT}", pytrace=False)
    return env


def _wait_for_jobs(env: dict[str, str], job_ids: list[str], limit_s: float = 180) -> None:
    """Poll squeue until none of ``job_ids`` is pending or running (bounded)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)],
            env=env, capture_output=True, text=True, timeout=30,
        ).stdout.split()
        if not set(out) & set(job_ids):
            return
        time.sleep(0.5)
    raise TimeoutError(f"SLURM jobs {job_ids} still queued after {limit_s} s")


def test_slurm_daemons_listen_on_loopback_only(slurm_env):
    res = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True)
    slurm_lines = [line for line in res.stdout.splitlines() if '"slurmctld"' in line or '"slurmd"' in line]
    assert slurm_lines, "no slurmctld/slurmd listening socket found"
    local = [line.split()[3] for line in slurm_lines]
    assert all(addr.startswith("127.0.0.1:") for addr in local), local


def test_start_is_idempotent(slurm_env):
    conf = Path(slurm_env["SLURM_CONF"])
    res = subprocess.run(
        ["bash", str(SLURM_SH), "start", str(conf.parent)],
        capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"export SLURM_CONF={conf}"


def test_sbatch_wrap_hostname(slurm_env, tmp_path):
    out = tmp_path / "hostname.out"
    res = subprocess.run(
        ["sbatch", "--parsable", "-o", str(out), "--wrap", "hostname"],
        env=slurm_env, capture_output=True, text=True, check=True, timeout=30,
    )
    _wait_for_jobs(slurm_env, [res.stdout.strip().split(";")[0]], limit_s=60)
    assert out.read_text().strip() == socket.gethostname()


def _write_qlaunch_files(env_root: Path, seiflow_env) -> tuple[Path, Path]:
    """A SLURM qadapter running ``rlaunch singleshot`` with the test's store, and FW_config.yaml."""
    qadapter = env_root / "my_qadapter.yaml"
    rlaunch = VENV_BIN / "rlaunch"
    qadapter.write_text(
        yaml.safe_dump(
            {
                "_fw_name": "CommonAdapter",
                "_fw_q_type": "SLURM",
                "rocket_launch": f"{rlaunch} -l {seiflow_env.launchpad_file} -w {LIGHT_WORKER} singleshot",
                "nodes": 1,
                "ntasks": 1,
                "cpus_per_task": 1,
                "walltime": "00:10:00",
                "job_name": "seiflow-test",
                "pre_rocket": (
                    f"export SEIFLOW_CONFIG={seiflow_env.settings_file}\n"
                    f"export PATH={VENV_BIN}:$PATH\nexport OMP_NUM_THREADS=1"
                ),
            }
        )
    )
    # qlaunch waits QUEUE_UPDATE_INTERVAL (5 s) after each submission; FireWorks reads ./FW_config.yaml
    (env_root / "FW_config.yaml").write_text("QUEUE_UPDATE_INTERVAL: 1\n")
    return qadapter, env_root / "launches"


def test_qlaunch_rapidfire_runs_seiflow_jobs_through_slurm(seiflow_env, slurm_env, tmp_path):
    """Four fireworks (a dependency and a Response addition) each run in its own SLURM job."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    first = add(1, 2)
    second = add(first.output, 10)
    growing = grow(0, 2)  # adds one grow job at run time; jobflow passes the category on to it
    flow = Flow([first, second, growing])
    flow.update_config({"manager_config": {"_category": "light"}})
    lp.add_wf(flow_to_workflow(flow, store=store.get_jobstore()))

    qadapter, launch_dir = _write_qlaunch_files(tmp_path, seiflow_env)
    launch_dir.mkdir()
    env = {**slurm_env, "PATH": f"{VENV_BIN}{os.pathsep}{slurm_env['PATH']}"}
    env.pop("SEIFLOW_CONFIG", None)  # the SLURM jobs get it from pre_rocket, not from qlaunch's environment
    cmd = [
        str(VENV_BIN / "qlaunch"), "-r", "-l", str(seiflow_env.launchpad_file), "-w", str(LIGHT_WORKER),
        "-q", str(qadapter), "--launch_dir", str(launch_dir),
        "rapidfire", "--nlaunches", "4", "--sleep", "1", "--timeout", "240",
    ]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr

    launches = list(lp.launches.find({}))
    job_ids = [str(h["reservation_id"]) for la in launches for h in la["state_history"] if "reservation_id" in h]
    assert len(job_ids) == 4, (job_ids, res.stdout + res.stderr)
    _wait_for_jobs(slurm_env, job_ids)

    fws = list(lp.fireworks.find({}, {"state": 1, "launches": 1, "spec._category": 1}))
    assert len(fws) == 4
    assert {fw["state"] for fw in fws} == {"COMPLETED"}, _job_logs(launch_dir)
    assert all(len(fw["launches"]) == 1 for fw in fws)
    assert lp.launches.count_documents({}) == 4
    assert sorted(str(fw["spec"].get("_category")) for fw in fws) == ["light"] * 4
    assert {la["host"] for la in lp.launches.find({})} == {socket.gethostname()}

    docs = store.get_database()[JOBSTORE_DOCS_COLLECTION]
    assert docs.find_one({"uuid": second.uuid})["output"] == 13
    assert sorted(d["output"] for d in docs.find({"name": "grow"})) == [1, 2]
    assert len(list(launch_dir.glob("block_*/launcher_*/FW_submit.script"))) == 4
    assert len(list(launch_dir.glob("block_*/launcher_*/*.out"))) == 4  # one SLURM job log per firework


def test_qlaunch_worker_takes_only_its_category(seiflow_env, slurm_env, tmp_path):
    """The light worker's qlaunch reserves nothing of category train."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    job = add(1, 1)
    job.update_config({"manager_config": {"_category": "train"}})
    lp.add_wf(flow_to_workflow(Flow([job]), store=store.get_jobstore()))
    assert not lp.run_exists(FWorker.from_file(str(LIGHT_WORKER)))
    qadapter, launch_dir = _write_qlaunch_files(tmp_path, seiflow_env)
    launch_dir.mkdir()
    cmd = [
        str(VENV_BIN / "qlaunch"), "-r", "-l", str(seiflow_env.launchpad_file), "-w", str(LIGHT_WORKER),
        "-q", str(qadapter), "--launch_dir", str(launch_dir), "rapidfire", "--nlaunches", "0",
    ]
    subprocess.run(cmd, cwd=tmp_path, env=slurm_env, capture_output=True, text=True, timeout=120, check=True)
    assert lp.launches.count_documents({}) == 0
    assert lp.fireworks.find_one({})["state"] == "READY"


def _job_logs(launch_dir: Path) -> str:
    """The SLURM jobs' stdout/stderr, for failure messages."""
    parts = []
    for path in sorted(launch_dir.glob("block_*/launcher_*/*")):
        if path.suffix in {".out", ".error"}:
            parts.append(f"--- {path.name}\n{path.read_text()[-2000:]}")
    return "\n".join(parts)
