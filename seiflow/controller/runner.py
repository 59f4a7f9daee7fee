"""Running a campaign to its end on this machine: local workers plus a progress loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fireworks import LaunchPad

from seiflow.controller import registry
from seiflow.controller.status import campaign_status
from seiflow.controller.workers import LocalWorkers
from seiflow.settings import Settings
from seiflow.store import get_database, get_launchpad

ACTIVE_STATES = ("READY", "RESERVED", "RUNNING", "WAITING")


@dataclass
class RunOutcome:
    """How a local run ended."""

    campaign: str
    state: str
    seconds: float
    status: dict[str, Any]


def active_jobs(lp: LaunchPad, campaign: str) -> int:
    """Fireworks of the campaign that can still run."""
    return lp.fireworks.count_documents({"spec.campaign": campaign, "state": {"$in": list(ACTIVE_STATES)}})


def recover_lost_runs(lp: LaunchPad, campaign: str) -> list[int]:
    """Re-run fireworks left RUNNING by workers that died (call only when no worker of ours runs)."""
    lost = [fw["fw_id"] for fw in lp.fireworks.find({"spec.campaign": campaign, "state": "RUNNING"}, {"fw_id": 1})]
    for fw_id in lost:
        lp.rerun_fw(fw_id)
    return lost


def run_locally(
    settings: Settings,
    campaign: str,
    n_workers: int = 2,
    timeout_s: float = 3 * 3600,
    poll_s: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run local workers until the campaign converges, hits its round cap, or nothing can run."""
    lp = get_launchpad(settings)
    db = get_database(settings)
    registry.get(db, campaign)
    recovered = recover_lost_runs(lp, campaign)
    if recovered and progress:
        progress(f"re-running {len(recovered)} jobs left running by a previous run: {recovered}")
    workers = LocalWorkers(
        settings, settings.resolved_work_dir() / campaign / "workers", n=n_workers, campaign=campaign
    )
    start = time.monotonic()
    last_line = ""
    try:
        workers.start()
        while True:
            time.sleep(poll_s)
            status = campaign_status(lp, db, campaign)
            line = _progress_line(status)
            if progress and line != last_line:
                progress(line)
                last_line = line
            if active_jobs(lp, campaign) == 0:
                break  # finished (the closing job completed) or stuck (nothing can run)
            if time.monotonic() - start > timeout_s:
                break
            if workers.alive() < n_workers:
                workers.start()
    finally:
        workers.stop()
    status = campaign_status(lp, db, campaign)
    state = status["state"]
    if state not in registry.FINISHED:
        state = "failed" if active_jobs(lp, campaign) == 0 else "timeout"
    return RunOutcome(campaign, state, time.monotonic() - start, status)


def _progress_line(status: dict[str, Any]) -> str:
    jobs = status["jobs"]
    counts = {state: sum(c.values()) for state, c in jobs.items()}
    running = ", ".join(f"{k.lower()} {v}" for k, v in counts.items())
    rnd = status["rounds"][-1] if status["rounds"] else None
    ratio = ""
    if rnd and rnd.get("ratios"):
        ratio = f", accurate ratio {rnd['ratios'].get('accurate', 0):.3f}"
    return f"[{status['campaign']}] round {status['round']}, {status['frames']} frames{ratio}: {running}"
