"""The runner's two guards against a campaign that can no longer move: stale workflow locks, stuck jobs."""

from __future__ import annotations

import time

from fireworks import Firework, FWorker, ScriptTask, Workflow
from fireworks.core.rocket_launcher import launch_rocket

from seiflow.controller.runner import RunOutcome, StaleLockWatch, _stopped_line, job_states, stuck
from seiflow.controller.status import last_error
from seiflow.store import get_launchpad


def _two_step(lp, campaign: str) -> tuple[int, int]:
    first = Firework(ScriptTask.from_str("true"), spec={"campaign": campaign}, name="first")
    second = Firework(ScriptTask.from_str("true"), spec={"campaign": campaign}, name="second", parents=[first])
    lp.add_wf(Workflow([first, second]))
    return tuple(lp.get_fw_ids({"spec.campaign": campaign, "name": name})[0] for name in ("first", "second"))


def test_lock_held_across_polls_is_freed_and_a_brief_one_is_not(seiflow_env):
    lp = get_launchpad()
    lp.reset("", require_password=False)
    mine, child = _two_step(lp, "c")
    other, _ = _two_step(lp, "other")
    watch = StaleLockWatch(stale_s=0.5)
    lp.workflows.update_many({}, {"$set": {"locked": True}})
    assert watch.check(lp, "c") == []  # first seen now
    lp.workflows.update_one({"nodes": mine}, {"$unset": {"locked": True}})  # released by its holder
    assert watch.check(lp, "c") == [] and watch.first_seen == {}
    lp.workflows.update_one({"nodes": mine}, {"$set": {"locked": True}})
    watch.check(lp, "c")
    time.sleep(0.6)
    assert watch.check(lp, "c") in ([mine], [child])  # named by one of its fireworks
    assert lp.workflows.count_documents({"nodes": mine, "locked": True}) == 0
    assert lp.workflows.count_documents({"nodes": other, "locked": True}) == 1  # another campaign's


def test_stuck_only_when_the_waiting_jobs_wait_on_a_failed_one(seiflow_env):
    lp = get_launchpad()
    lp.reset("", require_password=False)
    first, _ = _two_step(lp, "c")
    assert not stuck(job_states(lp, "c"))  # first READY, second WAITING
    lp.fireworks.update_one({"fw_id": first}, {"$set": {"state": "RUNNING"}})
    assert not stuck(job_states(lp, "c"))
    lp.fireworks.update_one({"fw_id": first}, {"$set": {"state": "FIZZLED"}})
    assert stuck(job_states(lp, "c"))


def test_the_stop_line_names_the_failed_job_and_its_error(seiflow_env, monkeypatch):
    """``seiflow run`` ends on a failed job with its name and error, not only a pointer to ``seiflow status``."""
    lp = get_launchpad()
    lp.reset("", require_password=False)
    broken = Firework(ScriptTask.from_dict({"script": "exit 3", "fizzle_bad_rc": True}),
                      spec={"campaign": "c"}, name="label frame 7")
    lp.add_wf(Workflow([broken, Firework(ScriptTask.from_str("true"), spec={"campaign": "c"}, parents=[broken])]))
    monkeypatch.chdir(seiflow_env.root)
    launch_rocket(lp, FWorker())
    assert stuck(job_states(lp, "c"))
    line = _stopped_line({"last_error": last_error(lp, "c")})
    assert line.startswith("stopped: the jobs left wait on a failed job: fw ")
    assert "label frame 7 failed: " in line and "3" in line.rsplit("failed: ", 1)[1], line
    assert _stopped_line({"last_error": None}).endswith("(seiflow status shows which)")
    assert RunOutcome("c", "failed", 1.0, {"last_error": last_error(lp, "c")}).error == line.rsplit("failed: ", 1)[1]
    assert RunOutcome("c", "converged", 1.0, {"last_error": None}).error is None
