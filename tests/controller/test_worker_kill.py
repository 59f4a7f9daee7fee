"""Killing a worker mid-job: detect_lostruns re-runs that job only; nothing finished is redone."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from seiflow.constants import MODELS_COLLECTION
from seiflow.controller.flows import campaign_flow
from seiflow.controller.runner import ACTIVE_STATES, job_states
from seiflow.controller.submit import submit
from seiflow.controller.workers import LocalWorkers
from seiflow.schemas.campaign import load_campaign
from seiflow.store import get_database, get_launchpad

TINY = Path(__file__).with_name("tiny_campaign.yaml")


def _wait_for_running(lp, name_part: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fw = lp.fireworks.find_one({"state": "RUNNING", "name": {"$regex": name_part}})
        if fw is not None:
            return fw
        time.sleep(0.5)
    raise AssertionError(f"no {name_part!r} job started within {timeout_s} s")


def _kill_worker_running(lp, workers: LocalWorkers, fw: dict) -> None:
    launch = lp.launches.find_one({"launch_id": fw["launches"][-1]})
    worker_index = int(launch["fworker"]["name"].removeprefix("local"))
    os.killpg(workers.procs[worker_index].pid, signal.SIGKILL)
    workers.procs[worker_index].wait()


@pytest.mark.slow
def test_sigkill_during_labelling_and_training_recovers_without_redoing_work(seiflow_env):
    campaign = load_campaign(TINY).model_copy(update={"name": "killed"})
    campaign.convergence.max_rounds = 1
    lp = get_launchpad()
    db = get_database()
    submit(campaign, campaign_flow(campaign), lp)
    workers = LocalWorkers(seiflow_env.settings, seiflow_env.root / "workers", n=2, campaign="killed")
    killed = []
    try:
        workers.start()
        for name_part in ("reference md", "deepmd train"):
            fw = _wait_for_running(lp, name_part)
            time.sleep(3)  # mid-job
            fw = lp.fireworks.find_one({"fw_id": fw["fw_id"]})
            if fw["state"] != "RUNNING":
                continue  # it finished first; nothing to kill
            _kill_worker_running(lp, workers, fw)
            killed.append(fw["fw_id"])
            lost_launches, lost_fws, _ = lp.detect_lostruns(
                expiration_secs=0, rerun=True, query={"fw_id": fw["fw_id"]}
            )
            assert lost_fws == [fw["fw_id"]]
            workers.start()  # a new worker in place of the dead one
        deadline = time.monotonic() + 1500
        while job_states(lp, "killed") & set(ACTIVE_STATES) and time.monotonic() < deadline:
            time.sleep(2)
    finally:
        workers.stop()
    assert killed, "no job was killed mid-run"
    states = Counter(fw["state"] for fw in lp.fireworks.find({}, {"state": 1}))
    assert set(states) == {"COMPLETED"}, states
    # only the killed jobs ran twice; every finished job ran once
    for fw in lp.fireworks.find({}, {"fw_id": 1, "launches": 1, "archived_launches": 1, "name": 1}):
        runs = len(fw.get("launches", [])) + len(fw.get("archived_launches", []))
        assert runs == (2 if fw["fw_id"] in killed else 1), fw
    # no frame stored twice, no model trained twice
    frames = list(db.frames.find({"provenance.campaign": "killed"}, {"_id": 1}))
    assert len(frames) == len({f["_id"] for f in frames}) > 0
    models = Counter((m["round"], m["index"]) for m in db[MODELS_COLLECTION].find({"campaign": "killed"}))
    assert models and set(models.values()) == {1}, models
    assert db.campaigns.find_one({"name": "killed"})["state"] == "not_converged"
