"""Running a campaign to its end on this machine: local workers plus a progress loop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fireworks import LaunchPad

from seiflow.controller.progress import progress_lines
from seiflow.controller.status import campaign_status
from seiflow.controller.workers import LocalWorkers
from seiflow.errors import InputError
from seiflow.records import campaigns
from seiflow.retry import retry_call
from seiflow.settings import Settings
from seiflow.store import get_database, get_launchpad

ACTIVE_STATES = ("READY", "RESERVED", "RUNNING", "WAITING")
PIDS_FILE = "runner.json"  # this runner's pid and its workers', to clean up after a SIGKILL


@dataclass
class RunOutcome:
    """How a local run ended."""

    campaign: str
    state: str
    seconds: float
    status: dict[str, Any]

    @property
    def error(self) -> str | None:
        """The error line of the campaign's most recent failed job (None when none failed)."""
        return (self.status.get("last_error") or {}).get("error")


def unlock_if_stale(lp: LaunchPad, fw_id: int, wait_s: float = 15.0) -> bool:
    """Free the workflow lock a dead worker left behind (killed inside FireWorks' complete_launch).

    FireWorks would otherwise wait WFLOCK_EXPIRATION_SECS (5 min) in rerun_fw and then fail. A live
    worker holds the lock for well under a second, so one still held after ``wait_s`` is stale.
    """
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if lp.workflows.count_documents({"nodes": fw_id, "locked": True}) == 0:
            return False
        time.sleep(0.5)
    lp.workflows.update_one({"nodes": fw_id}, {"$unset": {"locked": True}})
    return True


class StaleLockWatch:
    """Frees a campaign workflow's FireWorks lock that stays held across polls for ``stale_s``.

    A worker holds a workflow's lock for well under a second. One that the store's outage cut off
    mid-way (its lock write applied, the reply lost) leaves the lock set with no holder: every later
    ``complete_launch`` of that workflow then waits WFLOCK_EXPIRATION_SECS (5 min) and gives up with the
    firework left RUNNING, so the campaign hangs. Seen locked at every poll for ``stale_s``, it is freed.
    """

    def __init__(self, stale_s: float = 30.0) -> None:
        self.stale_s = stale_s
        self.first_seen: dict[Any, float] = {}

    def check(self, lp: LaunchPad, campaign: str) -> list[int]:
        """Free the stale locks of the campaign's workflows; their first fw_ids."""
        now = time.monotonic()
        locked = {wf["_id"]: wf["nodes"][0] for wf in lp.workflows.find({"locked": True}, {"nodes": 1})
                  if wf.get("nodes") and lp.fireworks.count_documents(
                      {"fw_id": wf["nodes"][0], "spec.campaign": campaign}, limit=1)}
        self.first_seen = {key: self.first_seen.get(key, now) for key in locked}
        freed = []
        for key, since in list(self.first_seen.items()):
            if now - since >= self.stale_s:
                if lp.workflows.update_one({"_id": key, "locked": True},
                                           {"$unset": {"locked": True}}).modified_count:
                    freed.append(locked[key])
                del self.first_seen[key]
        return freed


def job_states(lp: LaunchPad, campaign: str) -> set[str]:
    """The FireWorks states the campaign's fireworks are in."""
    return set(lp.fireworks.distinct("state", {"spec.campaign": campaign}))


def stuck(states: set[str]) -> bool:
    """Nothing can run (``states``: :func:`job_states`): none ready or running, and one FIZZLED."""
    return "FIZZLED" in states and not states & {"READY", "RESERVED", "RUNNING"}


def recover_lost_runs(lp: LaunchPad, campaign: str) -> list[int]:
    """Re-run fireworks left RUNNING by workers that died (call only when no worker of ours runs)."""
    lost = [fw["fw_id"] for fw in lp.fireworks.find({"spec.campaign": campaign, "state": "RUNNING"}, {"fw_id": 1})]
    for fw_id in lost:
        unlock_if_stale(lp, fw_id)
        lp.rerun_fw(fw_id)
    return lost


def check_writable(directory: Path) -> None:
    """A clear one-line error when the launch directory cannot be created or written (full disk too)."""
    probe = directory / ".seiflow-write-probe"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 65536)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise InputError(
            f"cannot write the launch directory {directory}: {exc.strerror or exc}",
            "free disk space or set work_dir (SEIFLOW_WORK_DIR) to a writable folder",
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def stop_orphans(root: Path) -> list[int]:
    """Kill the workers of a previous runner that died (SIGKILL) without stopping them.

    Their jobs are then lost and re-run by :func:`recover_lost_runs`, never run twice at once.
    Refuses when that runner is still alive (one runner per campaign).
    """
    try:
        info = json.loads((root / PIDS_FILE).read_text())
    except (OSError, ValueError):
        return []
    if info.get("runner") not in (None, os.getpid()) and _alive(int(info["runner"])):
        raise InputError(
            f"another seiflow run (pid {info['runner']}) is running this campaign",
            "wait for it, or stop it before starting a new run",
        )
    killed = []
    for pid in info.get("workers", []):
        cmdline = Path(f"/proc/{pid}/cmdline")
        if _alive(pid) and (not cmdline.exists() or b"rlaunch" in cmdline.read_bytes()):
            os.killpg(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def _record_pids(root: Path, workers: LocalWorkers) -> None:
    pids = {"runner": os.getpid(), "workers": [p.pid for p in workers.procs.values()]}
    (root / PIDS_FILE).write_text(json.dumps(pids))


def recover_dead_workers(lp: LaunchPad, campaign: str, workers: LocalWorkers) -> list[int]:
    """Re-run the fireworks left RUNNING by workers of ours that died (their launch dirs tell whose)."""
    def wdir(proc) -> str:
        return str(Path(proc.args[proc.args.index("-w") + 1]).parent) + os.sep

    dead = {wdir(p) for p in workers.procs.values() if p.poll() is not None}
    live = {wdir(p) for p in workers.procs.values() if p.poll() is None}
    lost = []
    for fw in lp.fireworks.find({"spec.campaign": campaign, "state": "RUNNING"}, {"fw_id": 1, "launches": 1}):
        launch = lp.launches.find_one({"launch_id": (fw.get("launches") or [None])[-1]}, {"launch_dir": 1})
        where = str((launch or {}).get("launch_dir", ""))
        if any(where.startswith(d) for d in dead) and not any(where.startswith(d) for d in live):
            unlock_if_stale(lp, fw["fw_id"])
            lp.rerun_fw(fw["fw_id"])
            lost.append(fw["fw_id"])
    return lost


def run_locally(
    settings: Settings,
    campaign: str,
    n_workers: int = 2,
    timeout_s: float = 3 * 3600,
    poll_s: float = 5.0,
    progress: Callable[[str], None] | None = None,
    activity_every_s: float = 60.0,
) -> RunOutcome:
    """Run local workers until the campaign converges, hits its round cap, or nothing can run.

    ``progress`` gets a line when the campaign's state changes and, every ``activity_every_s``, what each
    worker is doing and the expected remaining time (:mod:`seiflow.controller.progress`).
    """
    lp = get_launchpad(settings)
    db = get_database(settings)
    campaigns.get(db, campaign)
    root = settings.resolved_work_dir() / campaign / "workers"
    check_writable(root)
    stop_orphans(root)
    recovered = recover_lost_runs(lp, campaign)
    if recovered and progress:
        progress(f"re-running {len(recovered)} jobs left running by a previous run: {recovered}")
    workers = LocalWorkers(settings, root, n=n_workers, campaign=campaign)
    start = time.monotonic()
    last_line = ""
    last_activity = start
    # the store may go away for a while; polls wait for it (with backoff) instead of ending the run
    wait = {"deadline_s": max(settings.db_wait_s, 300.0)}
    locks = StaleLockWatch()
    stuck_polls = 0
    try:
        workers.start()
        _record_pids(root, workers)
        while True:
            time.sleep(poll_s)
            status = retry_call(campaign_status, lp, db, campaign, **wait)
            line = _progress_line(status)
            if progress and line != last_line:
                progress(line)
                last_line = line
            if progress and time.monotonic() - last_activity >= activity_every_s:
                for text in retry_call(progress_lines, lp, db, campaign, **wait):
                    progress(text)
                last_activity = time.monotonic()
            states = retry_call(job_states, lp, campaign, **wait)
            if not states & set(ACTIVE_STATES):
                break  # finished (the closing job completed) or nothing can run
            stuck_polls = stuck_polls + 1 if stuck(states) else 0
            if stuck_polls >= 2:  # two polls apart, not a parent's completion caught half-way
                if progress:
                    progress(_stopped_line(status))  # this poll's status
                break
            freed = retry_call(locks.check, lp, campaign, **wait)
            if freed and progress:
                progress(f"freed the workflow lock a worker lost to a store outage (workflow of fw {freed})")
            if time.monotonic() - start > timeout_s:
                break
            if workers.alive() < n_workers:  # a worker died (killed, or the store went away too long)
                lost = retry_call(recover_dead_workers, lp, campaign, workers, **wait)
                if lost and progress:
                    progress(f"a worker died; re-running its jobs {lost}")
                workers.start()
                _record_pids(root, workers)
    finally:
        workers.stop()
    status = retry_call(campaign_status, lp, db, campaign, **wait)
    state = status["state"]
    if state not in campaigns.FINISHED:
        states = retry_call(job_states, lp, campaign, **wait)
        state = "failed" if not states & set(ACTIVE_STATES) or stuck(states) else "timeout"
    return RunOutcome(campaign, state, time.monotonic() - start, status)


def _stopped_line(status: dict[str, Any]) -> str:
    """Why the run stopped on a failed job: which job, and the first line of its error."""
    failed = status.get("last_error")
    which = (f": fw {failed['fw_id']} {failed['name']} failed: {failed['error']}" if failed
             else " (seiflow status shows which)")
    return f"stopped: the jobs left wait on a failed job{which}"


def _progress_line(status: dict[str, Any]) -> str:
    jobs = status["jobs"]
    counts = {state: sum(c.values()) for state, c in jobs.items()}
    running = ", ".join(f"{k.lower()} {v}" for k, v in counts.items())
    rnd = status["rounds"][-1] if status["rounds"] else None
    ratio = ""
    if rnd and rnd.get("ratios"):
        ratio = f", accurate ratio {rnd['ratios'].get('accurate', 0):.3f}"
    return f"[{status['campaign']}] round {status['round']}, {status['frames']} frames{ratio}: {running}"
