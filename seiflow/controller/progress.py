"""What a running campaign is doing: each worker's job, how far it is, and the expected remaining time.

``seiflow demo`` and ``seiflow run`` print these while their local workers run. A running job's progress is
read from its launch folder, where the job's own program writes it: DeePMD's ``lcurve.out`` (training step
of ``numb_steps``), LAMMPS' ``log.lammps`` (MD step of the ``run`` steps in ``in.lammps``). The remaining time
is an estimate from the rounds finished so far: their mean length times the rounds left to the round cap,
plus one round for the closing (final model and analysis); an upper bound when the campaign converges early.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fireworks import LaunchPad
from pymongo.database import Database

from seiflow.exploration.inputs import INPUT_FILE, LOG_FILE
from seiflow.records import campaigns
from seiflow.records.campaigns import CampaignState
from seiflow.training.inputs import LCURVE

_RUN = re.compile(r"^\s*run\s+(\d+)", re.M)
_MAX_DEPTH = 3  # launch folder / job folder / run folder


@dataclass
class JobActivity:
    """One running job: which worker runs it, since when, and how far it is."""

    worker: str
    name: str
    category: str
    elapsed_s: float
    step: int | None = None
    of_steps: int | None = None

    def line(self) -> str:
        """``local0: train round 2 model 1 [train] 2m10s, step 1200/3000``."""
        done = f", step {self.step}/{self.of_steps}" if self.step is not None and self.of_steps else (
            f", step {self.step}" if self.step is not None else "")
        return f"{self.worker}: {self.name} [{self.category}] {_duration(self.elapsed_s)}{done}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _find(folder: Path, name: str) -> Path | None:
    """The newest file called ``name`` at most ``_MAX_DEPTH`` folders below ``folder``."""
    found = [p for depth in range(_MAX_DEPTH + 1) for p in folder.glob("/".join(["*"] * depth + [name]))]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def _last_step(path: Path) -> int | None:
    """The first column of the last data row of a DeePMD lcurve or a LAMMPS log (None before the first)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 8192))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        fields = line.split()
        if len(fields) > 1 and fields[0].isdigit() and _number(fields[1]):  # not "2088 atoms" of read_data
            return int(fields[0])
    return None


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def training_progress(folder: Path) -> tuple[int | None, int | None]:
    """(step, numb_steps) of the DeePMD training under ``folder``."""
    lcurve = _find(folder, LCURVE)
    if lcurve is None:
        return None, None
    try:
        total = json.loads((lcurve.parent / "input.json").read_text())["training"]["numb_steps"]
    except (OSError, ValueError, KeyError):
        total = None
    return _last_step(lcurve), total


def md_progress(folder: Path) -> tuple[int | None, int | None]:
    """(step, steps in all ``run`` commands) of the LAMMPS run under ``folder``."""
    log = _find(folder, LOG_FILE)
    if log is None:
        return None, None
    try:
        total = sum(int(n) for n in _RUN.findall((log.parent / INPUT_FILE).read_text())) or None
    except OSError:
        total = None
    return _last_step(log), total


def worker_activity(lp: LaunchPad, campaign: str, now: datetime | None = None) -> list[JobActivity]:
    """The campaign's RUNNING fireworks: worker, job name, category, time running, step counts."""
    now = now or datetime.now(UTC)
    out = []
    query = {"spec.campaign": campaign, "state": "RUNNING"}
    for fw in lp.fireworks.find(query, {"name": 1, "launches": 1, "spec._category": 1}).sort("fw_id", 1):
        launch = lp.launches.find_one({"launch_id": (fw.get("launches") or [None])[-1]},
                                      {"fworker.name": 1, "launch_dir": 1, "time_start": 1, "state_history": 1})
        if launch is None:
            continue
        started = _as_utc(launch.get("time_start")) or next(
            (_as_utc(h.get("created_on")) for h in launch.get("state_history", []) if h.get("state") == "RUNNING"),
            None)
        category = fw.get("spec", {}).get("_category", "none")
        activity = JobActivity(worker=(launch.get("fworker") or {}).get("name", "?"), name=fw.get("name", "?"),
                               category=category, elapsed_s=(now - started).total_seconds() if started else 0.0)
        folder = Path(launch.get("launch_dir") or "")
        if folder.is_dir():
            reader = training_progress if category == "train" else md_progress if category in ("lammps", "production") else None
            if reader is not None:
                activity.step, activity.of_steps = reader(folder)
        out.append(activity)
    return out


def _remaining(doc: dict[str, Any], now: datetime) -> float | None:
    """:func:`remaining_s` on the campaign document already read."""
    max_rounds = (doc.get("definition") or {}).get("convergence", {}).get("max_rounds")
    starts: dict[int, datetime] = {}
    for entry in doc.get("history", []):
        at, rnd = _as_utc(entry.get("at")), entry.get("round")
        if at is not None and isinstance(rnd, int):
            starts.setdefault(rnd, at)
    current = doc.get("round", 0)
    finished = sorted(r for r in starts if r >= 1 and r + 1 in starts)
    if not finished or not max_rounds:
        return None
    mean = sum((starts[r + 1] - starts[r]).total_seconds() for r in finished) / len(finished)
    if doc.get("state") == CampaignState.CONVERGED.value:  # no round is left: the final model and the closing
        ended = max((at for e in doc.get("history", []) if e.get("state") == doc["state"]
                     and (at := _as_utc(e.get("at"))) is not None), default=None)
        return max(0.0, mean - (now - ended).total_seconds()) if ended is not None else mean
    in_round = (now - starts[current]).total_seconds() if current in starts else 0.0
    after_this = max(0, max_rounds - current)
    return after_this * mean + max(0.0, mean - in_round) + mean  # later rounds, the rest of this one, closing


def remaining_s(db: Database, campaign: str, now: datetime | None = None) -> float | None:
    """Expected seconds to the end at the round cap, from the mean length of the rounds finished so far.

    None until round 1 has ended (round 0, the initial data, says nothing about a round's length). Once the
    campaign has converged only the final model and the closing are left: one mean round from then.
    """
    return _remaining(campaigns.get(db, campaign), now or datetime.now(UTC))


def progress_lines(lp: LaunchPad, db: Database, campaign: str) -> list[str]:
    """One line per running job and one with the expected remaining time."""
    lines = ["  " + a.line() for a in worker_activity(lp, campaign)]
    doc = campaigns.get(db, campaign)
    left = _remaining(doc, datetime.now(UTC))
    if left is None:
        return lines
    if doc.get("state") == CampaignState.CONVERGED.value:
        when = f"expected ~{_duration(left)} more" if left >= 1 else "due about now (one mean round)"
        lines.append(f"  converged: final model and closing analysis, {when}")
    else:
        lines.append(f"  expected remaining: at most ~{_duration(left)} (round cap; less if it converges)")
    return lines
