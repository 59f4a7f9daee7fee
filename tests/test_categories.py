"""Worker categories: a job's ``_category`` decides which FireWorks workers pull it.

The shipped worker files (seiflow/data/workers/<node>/my_fworker.yaml) run real ``rlaunch`` workers on
the real database: each pulls only its own categories.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from jobflow import Flow, Job
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.cli.main import main
from seiflow.constants import JOBSTORE_DOCS_COLLECTION
from seiflow.controller.workers import ALL_CATEGORIES
from seiflow.testing.flows import add

REPO = Path(__file__).resolve().parents[1]
WORKERS = REPO / "seiflow" / "data" / "workers"
NODE_CATEGORY = {"vasp": "dft", "gpu": "train", "lammps": "lammps", "light": "light"}


def _worker(node: str) -> Path:
    return WORKERS / node / "my_fworker.yaml"


def _in(category: str, job: Job) -> Job:
    """Give ``job`` a FireWorks category (jobflow copies manager_config into the firework spec)."""
    job.update_config({"manager_config": {"_category": category}})
    return job


def _rlaunch(node: str, nlaunches: int, seiflow_env, cwd: Path) -> subprocess.Popen:
    cwd.mkdir()
    cmd = [
        str(Path(sys.executable).parent / "rlaunch"), "-l", str(seiflow_env.launchpad_file),
        "-w", str(_worker(node)), "rapidfire", "--nlaunches", str(nlaunches), "--sleep", "1",
        "--timeout", "150",
    ]
    return subprocess.Popen(
        cmd, cwd=cwd, env=seiflow_env.subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )


def _state_and_worker(lp) -> dict[str, tuple[str, str | None]]:
    """fw name -> (state, name of the worker that ran it)."""
    result = {}
    for fw in lp.fireworks.find({}):
        launch = lp.launches.find_one({"fw_id": fw["fw_id"]})
        result[fw["name"]] = (fw["state"], launch["fworker"]["name"] if launch else None)
    return result


def test_shipped_workers_cover_each_category():
    cats = {}
    for node, category in NODE_CATEGORY.items():
        worker = FWorker.from_file(str(_worker(node)))
        assert category in worker.category
        cats[node] = worker.category
        path = WORKERS / node / "my_qadapter.yaml"
        assert yaml.safe_load(path.read_text())["_fw_name"] == "CommonAdapter"
        qadapter = CommonAdapter.from_file(str(path))
        assert qadapter.q_type == "SLURM"
        assert f"workers/{node}/my_fworker.yaml" in qadapter["rocket_launch"]
        assert "singleshot" in qadapter["rocket_launch"]  # qlaunch -r needs it
        assert "SEIFLOW_CONFIG=" in qadapter["pre_rocket"]
    gpu = CommonAdapter.from_file(str(WORKERS / "gpu" / "my_qadapter.yaml"))
    assert "#SBATCH --gres=gpu:1" in gpu.get_script_str("/tmp")
    assert cats["light"] == ["light", None]  # the controller also takes uncategorised jobs
    root = yaml.safe_load((REPO / "my_fworker.yaml").read_text())
    assert set(root["category"]) == set(NODE_CATEGORY.values()) | {"production"}
    assert "production" in cats["gpu"]  # production segments run on the GPU nodes


def test_two_rlaunch_workers_pull_only_their_categories(seiflow_env, tmp_path):
    """A VASP worker and a GPU worker run at once; train waits for dft; lammps and light stay READY."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    d1 = _in("dft", add(1, 1))
    d1.name = "label-1"
    d2 = _in("dft", add(2, 2))
    d2.name = "label-2"
    train = _in("train", add(d1.output, d2.output))
    train.name = "train"
    md = _in("lammps", add(5, 5))
    md.name = "explore"
    light = _in("light", add(0, 0))
    light.name = "select"
    lp.add_wf(flow_to_workflow(Flow([d1, d2, train, md, light]), store=store.get_jobstore()))

    gpu = _rlaunch("gpu", 1, seiflow_env, tmp_path / "gpu")  # started first: it waits for the dft jobs
    vasp = _rlaunch("vasp", 0, seiflow_env, tmp_path / "vasp")
    logs = [p.communicate(timeout=240)[0] for p in (gpu, vasp)]
    assert gpu.returncode == 0 and vasp.returncode == 0, logs

    seen = _state_and_worker(lp)
    assert seen["label-1"] == ("COMPLETED", "vasp-node")
    assert seen["label-2"] == ("COMPLETED", "vasp-node")
    assert seen["train"] == ("COMPLETED", "gpu-node")
    assert seen["explore"] == ("READY", None)
    assert seen["select"] == ("READY", None)
    docs = store.get_database()[JOBSTORE_DOCS_COLLECTION]
    assert docs.find_one({"uuid": train.uuid})["output"] == 6


@pytest.mark.parametrize("node", sorted(NODE_CATEGORY))
def test_each_worker_takes_its_category_and_no_other(seiflow_env, tmp_path, monkeypatch, node):
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    jobs = []
    for category in sorted(set(NODE_CATEGORY.values())):
        job = _in(category, add(1, 2))
        job.name = category
        jobs.append(job)
    loose = add(3, 4)
    loose.name = "uncategorised"
    lp.add_wf(flow_to_workflow(Flow([*jobs, loose]), store=store.get_jobstore()))
    monkeypatch.chdir(tmp_path)
    worker = FWorker.from_file(str(_worker(node)))
    rapidfire(lp, worker, nlaunches=0, sleep_time=1)

    ran = {name for name, (state, _) in _state_and_worker(lp).items() if state == "COMPLETED"}
    expected = {NODE_CATEGORY[node]} | ({"uncategorised"} if node == "light" else set())
    assert ran == expected


def test_default_worker_takes_every_category(seiflow_env):
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    worker = FWorker.from_file(str(REPO / "my_fworker.yaml"))
    for category in sorted(set(NODE_CATEGORY.values())):
        lp.add_wf(flow_to_workflow(Flow([_in(category, add(1, 2))]), store=store.get_jobstore()))
    ready = {fw.spec["_category"] for fw in map(lp.get_fw_by_id, lp.get_fw_ids(worker.query))}
    assert ready == set(NODE_CATEGORY.values())


def _seiflow(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_workers_command_lists_shipped_nodes(capsys):
    code, out, _ = _seiflow(["workers", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"home", "workers", "written"}
    got = {w["node"]: w for w in data["workers"]}
    assert {n: got[n]["categories"][0] for n in got} == NODE_CATEGORY
    assert set(NODE_CATEGORY.values()) <= set(ALL_CATEGORIES)
    gpu = got["gpu"]
    assert set(gpu["files"]) == {"my_fworker.yaml", "my_qadapter.yaml"}
    assert gpu["commands"]["qlaunch"].startswith("qlaunch -r -l $HOME/seiflow/launchpad.yaml")
    assert "rapidfire" in gpu["commands"]["rlaunch"]


def test_workers_write_fills_in_home(tmp_path, capsys):
    home = tmp_path / "site"
    code, out, _ = _seiflow(["workers", "gpu", "light", "--write", "--home", str(home), "--json"], capsys)
    assert code == 0
    assert len(json.loads(out)["written"]) == 4
    qadapter = CommonAdapter.from_file(str(home / "workers" / "gpu" / "my_qadapter.yaml"))
    assert f"-w {home}/workers/gpu/my_fworker.yaml" in qadapter["rocket_launch"]
    assert f"SEIFLOW_CONFIG={home}/seiflow.yaml" in qadapter["pre_rocket"]
    assert FWorker.from_file(str(home / "workers" / "light" / "my_fworker.yaml")).name == "controller"
    code, _, err = _seiflow(["workers", "gpu", "--write", "--home", str(home)], capsys)
    assert code == 2 and "--force" in err


def test_workers_unknown_node_is_exit_2(capsys):
    code, out, err = _seiflow(["workers", "cray"], capsys)
    assert code == 2 and out == ""
    assert "unknown worker node 'cray'" in err and "vasp" in err
