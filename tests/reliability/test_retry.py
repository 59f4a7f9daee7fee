"""retry_call's backoff, and a workflow lock left by a worker killed inside complete_launch."""

from __future__ import annotations

import pytest
from fireworks import Firework, ScriptTask, Workflow
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError

from seiflow.controller.runner import unlock_if_stale
from seiflow.retry import backoff_delays, retry_call
from seiflow.store import get_launchpad


def test_retry_call_retries_transient_errors_then_succeeds():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ServerSelectionTimeoutError("down")
        return "ok"

    assert retry_call(flaky, deadline_s=10, base_s=0.01) == "ok" and len(calls) == 3


def test_retry_call_gives_up_after_the_deadline_and_never_retries_other_errors():
    calls = []

    def down():
        calls.append(1)
        raise AutoReconnect("down")

    with pytest.raises(AutoReconnect):
        retry_call(down, deadline_s=0.2, base_s=0.05)
    assert 2 <= len(calls) <= 6

    def denied():
        calls.append(1)
        raise OperationFailure("auth", code=18)

    calls.clear()
    with pytest.raises(OperationFailure):
        retry_call(denied, deadline_s=5)
    assert len(calls) == 1


def test_backoff_doubles_up_to_the_cap():
    gen = backoff_delays(0.5, max_s=4)
    assert [next(gen) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_stale_workflow_lock_is_freed_so_the_job_can_be_rerun(seiflow_env):
    lp = get_launchpad()
    lp.reset("", require_password=False)
    lp.add_wf(Workflow([Firework(ScriptTask.from_str("true"))]))
    fw_id = lp.get_fw_ids()[0]
    assert unlock_if_stale(lp, fw_id, wait_s=0.1) is False  # not locked: nothing to do
    lp.workflows.update_one({"nodes": fw_id}, {"$set": {"locked": True}})  # as a killed worker leaves it
    assert unlock_if_stale(lp, fw_id, wait_s=0.5) is True
    assert lp.workflows.count_documents({"locked": True}) == 0
    lp.rerun_fw(fw_id)  # returns at once instead of waiting out FireWorks' 5-minute lock expiry
