"""``seiflow status``: where a campaign is (round, jobs by state and category, ratios, RMSE, last error)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fireworks import LaunchPad
from pymongo.database import Database

from seiflow.controller.stage_times import job_hours
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
from seiflow.records.production import ProductionStore
from seiflow.records.properties import PropertyStore
from seiflow.records.rounds import RoundStore


def jobs_by_state_and_category(lp: LaunchPad, campaign: str) -> dict[str, dict[str, int]]:
    """Counts of the campaign's fireworks: {state: {category: n}}."""
    table: dict[str, Counter] = {}
    for fw in lp.fireworks.find({"spec.campaign": campaign}, {"state": 1, "spec._category": 1}):
        category = fw.get("spec", {}).get("_category", "none")
        table.setdefault(fw["state"], Counter())[category] += 1
    return {state: dict(counts) for state, counts in sorted(table.items())}


def last_error(lp: LaunchPad, campaign: str) -> dict[str, Any] | None:
    """The most recent FIZZLED firework of the campaign and the first line of its error."""
    fw = lp.fireworks.find_one(
        {"spec.campaign": campaign, "state": "FIZZLED"}, {"fw_id": 1, "name": 1, "launches": 1},
        sort=[("updated_on", -1)],
    )
    if fw is None:
        return None
    message = None
    if fw.get("launches"):
        launch = lp.launches.find_one({"launch_id": fw["launches"][-1]}, {"action": 1})
        stored = ((launch or {}).get("action") or {}).get("stored_data") or {}
        message = str(stored.get("_exception", {}).get("_stacktrace", "")).strip().splitlines()[-1:]
        message = message[0] if message else None
    return {"fw_id": fw["fw_id"], "name": fw.get("name"), "error": message}


def latest_metrics(db: Database, campaign: str, production: str | None = None) -> dict[str, Any] | None:
    """Mean test RMSE of the newest round's ensemble (the ``production`` model and students left out)."""
    docs = [m for m in ModelStore(db).list(campaign) if m.model_id != production and m.teacher_model_id is None]
    if not docs:
        return None
    last = max(m.round for m in docs)
    # numbers only: a model trained on every label (the production model) has no held-out errors
    metrics = [{k: v for k, v in m.metrics.model_dump().items() if isinstance(v, int | float)}
               for m in docs if m.round == last]
    keys = {k for m in metrics for k in m}
    mean = {k: sum(m[k] for m in metrics if k in m) / sum(k in m for m in metrics) for k in sorted(keys)}
    return {"round": last, "n_models": len(metrics), **mean}


def round_summaries(db: Database, campaign: str) -> list[dict[str, Any]]:
    """Per-round statistics from the round reports, oldest first."""
    out = []
    for r in RoundStore(db).history(campaign):
        sel = r.selection
        out.append({
            "round": r.round,
            "n_frames": sel.n_frames,
            "ratios": {"accurate": sel.accurate_ratio, "candidate": sel.candidate_ratio, "failed": sel.failed_ratio},
            "n_selected": sel.n_selected,
            "converged": r.converged,
            "stop_reason": r.stop_reason,
            "metrics": r.metrics,
            "times": r.times.model_dump() if r.times else None,
            "decided_on": r.decided_on,
        })
    return out


def campaign_status(lp: LaunchPad, db: Database, name: str) -> dict[str, Any]:
    """Everything ``seiflow status`` prints, as one JSON-ready dict (keys documented in docs/cli.md)."""
    doc = campaigns.get(db, name)
    jobs = jobs_by_state_and_category(lp, name)
    return {
        "campaign": name,
        "state": doc["state"],
        "round": doc.get("round", 0),
        "jobs": jobs,
        "n_jobs": sum(sum(c.values()) for c in jobs.values()),
        "rounds": round_summaries(db, name),
        "metrics": latest_metrics(db, name, doc.get("final_model_id")),
        "frames": FrameStore(db).count(campaign=name, status=None),
        "last_error": last_error(lp, name),
        "final_model_id": doc.get("final_model_id"),
        "job_hours": job_hours(lp, name),
        "production": production_progress(db, name),
        "properties": properties_progress(db, name),
    }


def properties_progress(db: Database, name: str) -> dict[str, Any] | None:
    """The newest properties stage: diffusion runs done of planned, fits and elastic structures stored."""
    store = PropertyStore(db)
    stage = store.latest(name)
    if stage is None:
        return None
    runs = store.runs(stage.stage_id)
    return {"stage_id": stage.stage_id, "planned_runs": stage.planned_runs, "runs_done": len(runs),
            "runs_failed": sum(1 for r in runs if r.health), "fits": len(store.fits(stage.stage_id)),
            "elastic_done": len(store.elastic(stage.stage_id)), "elastic_planned": len(stage.elastic)}


def production_progress(db: Database, name: str) -> dict[str, Any] | None:
    """The newest production run's progress (ns done of total, atom-steps/s, hours left), or None."""
    run = ProductionStore(db).latest(name)
    return run.progress() if run is not None else None


def format_production(p: dict[str, Any]) -> str:
    """The production line of ``seiflow status``."""
    speed = f"{p['atom_steps_per_s']:.3g} atom-steps/s" if p["atom_steps_per_s"] else "speed not measured yet"
    left = f", {p['hours_left']:.2f} h left at that speed" if p["hours_left"] is not None and p["state"] == "running" else ""
    line = (f"  production {p['run_id']}: {p['state']}, {p['ns_done']:.4g} of {p['ns_total']:.4g} ns "
            f"({p['segments_done']} segments, {p['n_atoms']:,} atoms), {speed}{left}")
    if p["first_percolation_ps"]:
        line += "; percolates: " + ", ".join(f"{el} from {t:g} ps" for el, t in p["first_percolation_ps"].items())
    if p.get("learning_rounds"):
        line += f"; {p['learning_rounds']} learning round(s) from its uncertain stops (seiflow report lists them)"
    if p["stop_reason"]:
        line += f"\n    stopped: {p['stop_reason']}"
    return line


def format_times(times: dict[str, Any]) -> str:
    """A round's times in one line: wall, queue wait, then each stage's span (and its summed job time)."""
    stages = ", ".join(f"{name} {t['span_s']:.0f} s" + (f" ({t['busy_s']:.0f} s in {t['n_jobs']} jobs)"
                                                        if t["n_jobs"] > 1 else "")
                       for name, t in times["stages"].items())
    return f"time {times['wall_s']:.0f} s, waiting for workers {times['queue_wait_s']:.0f} s: {stages}"


def format_status(status: dict[str, Any]) -> str:
    """Human-readable form of :func:`campaign_status`."""
    lines = [f"campaign {status['campaign']}: {status['state']}, round {status['round']}, "
             f"{status['frames']} frames, {status['n_jobs']} jobs"]
    for state, cats in status["jobs"].items():
        lines.append(f"  {state:<10} " + ", ".join(f"{c}={n}" for c, n in sorted(cats.items())))
    for r in status["rounds"]:
        ratios = r.get("ratios") or {}
        lines.append(
            f"  round {r.get('round')}: accurate {ratios.get('accurate', float('nan')):.3f} "
            f"candidate {ratios.get('candidate', float('nan')):.3f} failed {ratios.get('failed', float('nan')):.3f}"
            f" selected {r.get('n_selected', '-')}"
        )
        if r.get("times"):
            lines.append("    " + format_times(r["times"]))
    if status["metrics"]:
        m = status["metrics"]
        lines.append("  test RMSE: " + ", ".join(f"{k}={v:.3g}" for k, v in m.items() if k.startswith("rmse")))
    if status.get("final_model_id"):
        lines.append(f"  production model: {status['final_model_id']} (seiflow models get ID)")
    if status.get("production"):
        lines.append(format_production(status["production"]))
    if status.get("properties"):
        p = status["properties"]
        lines.append(f"  properties {p['stage_id']}: {p['runs_done']} of {p['planned_runs']} diffusion runs"
                     + (f" ({p['runs_failed']} without D)" if p["runs_failed"] else "")
                     + f", {p['fits']} Arrhenius fits, elastic {p['elastic_done']} of {p['elastic_planned']}")
    if status.get("job_hours"):
        lines.append("  job hours by worker category: "
                     + ", ".join(f"{k} {v:.2f}" for k, v in status["job_hours"].items()))
    if status["last_error"]:
        e = status["last_error"]
        lines.append(f"  last error: fw {e['fw_id']} {e['name']}: {e['error']}")
    return "\n".join(lines)
