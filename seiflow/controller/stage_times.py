"""Where a round's time went: wall time by stage, and time spent waiting for a worker, from FireWorks' launches.

A round runs from the end of the previous round's closing job to its own closing job. Every firework of the
campaign that started in that window belongs to it; its stage comes from its name, else its category
(:data:`STAGE_BY_NAME`, :data:`STAGE_BY_CATEGORY`). Per stage: the jobs, the seconds they ran added up
(``busy_s``, what node-hours are made of) and the span from the first start to the last end (``span_s``,
what the user waits; stages overlap where the flow runs them side by side). A job waits from when it could
run (its parents ended, or it was added) to its start: ``queue_wait_s`` adds those waits up.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fireworks import LaunchPad

from seiflow.constants import JobCategory
from seiflow.schemas.round import RoundTimes, StageTime

# Name fragments first (the light and lammps categories hold several stages), then the category.
STAGE_BY_NAME: tuple[tuple[str, str], ...] = (
    ("validat", "validation"), ("calibrat", "calibration"), ("select", "selection"), ("explor", "exploration"),
)
STAGE_BY_CATEGORY: dict[str, str] = {
    JobCategory.TRAIN.value: "training", JobCategory.DFT.value: "labelling",
    JobCategory.LAMMPS.value: "exploration", JobCategory.LIGHT.value: "control",
}
STAGES = ("training", "validation", "exploration", "selection", "labelling", "calibration", "control")


def stage_of(name: str, category: str | None) -> str:
    """The stage a firework belongs to, from its name, else its category."""
    lowered = name.lower()
    for fragment, stage in STAGE_BY_NAME:
        if fragment in lowered:
            return stage
    return STAGE_BY_CATEGORY.get(category or "", "control")


def _time(value: Any) -> datetime | None:
    """FireWorks' time stamps (naive UTC datetimes, or ISO strings) as aware datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _closing_end(lp: LaunchPad, campaign: str, r: int) -> datetime | None:
    """When round ``r``'s closing job ended (None: not found or not ended)."""
    pattern = f"^{re.escape(campaign)} close r{r}$"
    fw = lp.fireworks.find_one({"spec.campaign": campaign, "name": {"$regex": pattern}, "state": "COMPLETED"},
                               {"launches": 1})
    if not fw or not fw.get("launches"):
        return None
    launch = lp.launches.find_one({"launch_id": fw["launches"][-1]}, {"time_end": 1})
    return _time((launch or {}).get("time_end"))


def round_times(lp: LaunchPad, campaign: str, r: int, now: datetime | None = None) -> RoundTimes | None:
    """Round ``r``'s times (its own closing job, still running when this is called, left out)."""
    start = _closing_end(lp, campaign, r - 1)
    if start is None:
        return None
    now = _time(now) or datetime.now(UTC)
    fws = {fw["fw_id"]: fw for fw in lp.fireworks.find(
        {"spec.campaign": campaign}, {"fw_id": 1, "name": 1, "spec._category": 1, "launches": 1, "created_on": 1})}
    launch_ids = [fw["launches"][-1] for fw in fws.values() if fw.get("launches")]
    launches = {doc["fw_id"]: doc for doc in lp.launches.find(
        {"launch_id": {"$in": launch_ids}}, {"fw_id": 1, "time_start": 1, "time_end": 1})}
    parents: dict[int, list[int]] = {}
    for wf in lp.workflows.find({"nodes": {"$in": list(fws)}}, {"links": 1}):
        for parent, children in (wf.get("links") or {}).items():
            for child in children:
                parents.setdefault(int(child), []).append(int(parent))
    ends = {i: _time(doc.get("time_end")) for i, doc in launches.items()}
    stages: dict[str, dict[str, Any]] = {}
    waits = 0.0
    closing = f"{campaign} close r{r}"
    for fw_id, launch in launches.items():
        began, ended = _time(launch.get("time_start")), _time(launch.get("time_end"))
        fw = fws[fw_id]
        if began is None or not start <= began <= now or fw.get("name") == closing:
            continue
        ended = ended or now
        stage = stage_of(fw.get("name") or "", fw.get("spec", {}).get("_category"))
        s = stages.setdefault(stage, {"n_jobs": 0, "busy_s": 0.0, "first": began, "last": ended})
        s["n_jobs"] += 1
        s["busy_s"] += (ended - began).total_seconds()
        s["first"], s["last"] = min(s["first"], began), max(s["last"], ended)
        ready = [t for t in (ends.get(p) for p in parents.get(fw_id, [])) if t is not None]
        ready.append(max(start, _time(fw.get("created_on")) or start))
        waits += max(0.0, (began - max(ready)).total_seconds())
    return RoundTimes(
        wall_s=round((now - start).total_seconds(), 1),
        queue_wait_s=round(waits, 1),
        stages={name: StageTime(n_jobs=s["n_jobs"], busy_s=round(s["busy_s"], 1),
                                span_s=round((s["last"] - s["first"]).total_seconds(), 1))
                for name in STAGES if (s := stages.get(name))},
    )


def job_hours(lp: LaunchPad, campaign: str) -> dict[str, float]:
    """Hours the campaign's jobs ran, by worker category (``train``, ``lammps``, ``dft``, ``light``), all rounds.

    A job's hours are its last launch's start to end (a running one up to now); one job per node, these are the
    node-hours each kind of worker spent, the input of a cost estimate.
    """
    now = datetime.now(UTC)
    category, last = {}, []
    for fw in lp.fireworks.find({"spec.campaign": campaign}, {"fw_id": 1, "spec._category": 1, "launches": 1}):
        if fw.get("launches"):
            category[fw["fw_id"]] = fw.get("spec", {}).get("_category") or "none"
            last.append(fw["launches"][-1])
    hours: dict[str, float] = {}
    for doc in lp.launches.find({"launch_id": {"$in": last}}, {"fw_id": 1, "time_start": 1, "time_end": 1}):
        began = _time(doc.get("time_start"))
        if began is None:
            continue
        ended = _time(doc.get("time_end")) or now
        key = category[doc["fw_id"]]
        hours[key] = hours.get(key, 0.0) + (ended - began).total_seconds() / 3600
    return {k: round(v, 4) for k, v in sorted(hours.items())}
