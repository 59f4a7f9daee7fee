"""The store: LaunchPad and JobStore on the real server, jobflow flows through FireWorks."""

from __future__ import annotations

import subprocess
import sys

from fireworks.core.fworker import FWorker
from fireworks.core.rocket_launcher import rapidfire
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.constants import JOBSTORE_DATA_BUCKET, JOBSTORE_DOCS_COLLECTION
from seiflow.testing.flows import add, grow, make_array


def test_launchpad_and_database_share_the_server(seiflow_env):
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    db = store.get_database()
    assert db.name == seiflow_env.db_name == lp.db.name
    db.frames.insert_one({"x": 1})
    assert lp.db.frames.count_documents({}) == 1


def test_workflow_holds_no_connection_details(seiflow_env):
    flow = Flow([add(1, 2)])
    wf = flow_to_workflow(flow, store=store.get_jobstore())
    text = str(wf.to_dict())
    assert str(seiflow_env.settings.embedded.port) not in text
    assert "127.0.0.1" not in text
    assert "SettingsJobStore" in text


def test_response_addition_flow_runs_through_rapidfire(seiflow_env, tmp_path, monkeypatch):
    """A jobflow Flow whose job adds jobs, run by FireWorks; outputs read back with pymongo."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    first = add(1, 2)
    arr = make_array(2000)
    g = grow(first.output, 6)
    flow = Flow([first, arr, g])
    lp.add_wf(flow_to_workflow(flow, store=store.get_jobstore()))
    monkeypatch.chdir(tmp_path)
    rapidfire(lp, FWorker(), nlaunches=0)

    states = [fw["state"] for fw in lp.fireworks.find({}, {"state": 1})]
    assert states and set(states) == {"COMPLETED"}
    assert len(states) == 2 + 3  # add, make_array, grow x3 (4 -> 5 -> 6)

    db = store.get_database()
    docs = db[JOBSTORE_DOCS_COLLECTION]
    out = docs.find_one({"uuid": first.uuid})
    assert out["output"] == 3
    growth = sorted(d["output"] for d in docs.find({"name": "grow"}))
    assert growth == [4, 5, 6]
    # the large list went to GridFS; the document holds a reference
    arr_doc = docs.find_one({"uuid": arr.uuid})
    assert arr_doc["output"]["values"]["@class"] == "OutputReference" or "blob_uuid" in str(
        arr_doc["output"]["values"]
    )
    assert db[f"{JOBSTORE_DATA_BUCKET}.files"].count_documents({}) == 1
    js = store.get_jobstore()
    js.connect()
    assert js.get_output(arr.uuid, load=True)["values"][-1] == 1999


def test_rlaunch_subprocess_uses_worker_settings(seiflow_env, tmp_path):
    """A plain `rlaunch` process finds the JobStore through SEIFLOW_CONFIG only."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    job = add(20, 22)
    lp.add_wf(flow_to_workflow(Flow([job]), store=store.get_jobstore()))
    rlaunch = [sys.executable, "-m", "fireworks.scripts.rlaunch_run"]
    subprocess.run(
        [*rlaunch, "-l", str(seiflow_env.launchpad_file), "rapidfire"],
        cwd=tmp_path, env=seiflow_env.subprocess_env(), check=True, capture_output=True, timeout=300,
    )
    doc = store.get_database()[JOBSTORE_DOCS_COLLECTION].find_one({"uuid": job.uuid})
    assert doc["output"] == 42
