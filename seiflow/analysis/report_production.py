"""The report's production section: progress, segments, learning rounds, SEI descriptors against time, the last frame.

The time-series figures mark (dashed line) where a learning round made the run go on with new models.

When (if) the metallic phase first percolates is in the run's progress (``first_percolation_ps``).
"""

from __future__ import annotations

import io
from typing import Any

import ase.io
from ase import Atoms
from pymongo.database import Database

from seiflow.analysis import plots
from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.mechanism import describe
from seiflow.analysis.snapshot import marks
from seiflow.records.production import ProductionStore
from seiflow.schemas.production import LearningRound

MAX_ROWS = 200  # time-series rows in the report's table (every frame stays in the store)


def section(db: Database, campaign: str) -> dict[str, Any] | None:
    """The newest production run: progress, a row per segment, a row per frame (thinned); None: no run."""
    store = ProductionStore(db)
    run = store.latest(campaign)
    if run is None:
        return None
    segments, series = [], []
    for s in store.history(run.run_id):
        w = s.watch
        segments.append({
            "segment": s.segment + 1, "steps": f"{s.start_step}-{s.end_step}", "frames": s.n_frames,
            "atom_steps_per_s": s.atom_steps_per_s, "wall_s": s.wall_s, "attempts": s.attempt,
            "checked": w.n_checked, "uncertain": w.n_uncertain, "max_devi_f": w.max_devi_f,
            "located_atoms": sum(len(x.indices) for x in w.located), "health": s.health or "ok",
            **{f"msd_{k}_a2": v for k, v in s.analysis.msd_a2.items()},
        })
        for t, row, front in zip(s.analysis.time_ps, s.analysis.rows, s.analysis.front_a, strict=True):
            series.append({"time_ps": t, "segment": s.segment + 1, "front_a": front, **row})
    rerun = {r.segment: r.round for r in run.learning if r.outcome == "resumed"}
    for row in segments:
        if row["segment"] - 1 in rerun:
            row["learned"] = f"run again after learning round {rerun[row['segment'] - 1]}"
    step = max(1, -(-len(series) // MAX_ROWS))
    return {"run": {**run.progress(), "cell": run.cell, "model_id": run.model_id, "watch_level": run.watch_level,
                    "watch_level_source": run.watch_level_source, "temperature": run.temperature},
            "segments": segments, "learning": [learning_row(r) for r in run.learning],
            "series": series[::step] + ([series[-1]] if series and (len(series) - 1) % step else [])}


def learning_row(r: LearningRound) -> dict[str, Any]:
    """One learning round as a report row: where, what was carved and labelled, the watch and validation before/after."""
    after = r.watch_after
    return {
        "round": r.round, "segment": r.segment + 1, "at_ps": r.time_ps, "outcome": r.outcome,
        "carved": r.n_carved, "selected": r.n_selected, "labelled": r.n_labelled, "flagged": r.n_flagged, "failed": r.n_failed,
        "box_atoms": f"{min(r.box_atoms)}-{max(r.box_atoms)}" if r.box_atoms else None,
        "core_atoms": f"{min(r.core_atoms)}-{max(r.core_atoms)}" if r.core_atoms else None,
        "box_edge_a": r.box_edge_a,
        "uncertain_before": r.watch_before.fraction, "max_devi_f_before": r.watch_before.max_devi_f,
        "uncertain_after": after.fraction if after else None, "max_devi_f_after": after.max_devi_f if after else None,
        "val_rmse_f_before": r.validation_rmse_f_before, "val_rmse_f_after": r.validation_rmse_f_after,
        "model_after": r.models_after[0] if r.models_after else None,
    }


def last_frame(db: Database, campaign: str) -> tuple[Atoms | None, float | None]:
    """The newest run's last stored frame and its time, ps."""
    store = ProductionStore(db)
    run = store.latest(campaign)
    segs = [s for s in store.history(run.run_id) if "trajectory" in s.files] if run else []
    if not segs:
        return None, None
    text = store.read_file(segs[-1].files["trajectory"]).decode()
    atoms = ase.io.read(io.StringIO(text), index=-1, format="extxyz")
    return atoms, atoms.info.get("time_ps")


def figures(db: Database, campaign: str, prod: dict[str, Any] | None, chem: Chemistry) -> dict[str, str]:
    """The production figures: descriptors against time, the front, and the last frame by phase."""
    if not prod or not prod["series"]:
        return {}
    rows = prod["series"]
    t = [r["time_ps"] for r in rows]
    learned = {f"learning round {r['round']}": r["at_ps"] for r in prod.get("learning", [])
               if r["outcome"] == "resumed" and r["at_ps"] is not None}
    figs: dict[str, str] = {}
    fractions = {describe(k, chem)[0]: [r.get(k) for r in rows] for k in rows[0]
                 if k.startswith(("reduced_", "product_"))}
    if fractions:
        figs["Production run: reduced fraction of each electrolyte cation and product fractions against time"] = \
            plots.series(t, fractions, "time (ps)", "fraction", marks=learned)
    sizes = {describe(k, chem)[0]: [r.get(k) for r in rows] for k in rows[0] if k.startswith("largest_cluster_")}
    if sizes:
        figs["Production run: largest metallic cluster against time"] = plots.series(t, sizes, "time (ps)", "atoms", marks=learned)
    if any(r.get("front_a") is not None for r in rows):
        figs["Production run: reaction front (distance from the anode surface of the first frame)"] = \
            plots.series(t, {"front": [r.get("front_a") for r in rows]}, "time (ps)", "Å", marks=learned)
    atoms, time_ps = last_frame(db, campaign)
    if atoms is not None:
        figs[f"Production run: the last stored frame ({time_ps:g} ps), coloured by phase"] = plots.snapshots(
            [(f"{time_ps:g} ps", marks(atoms, chem))])
    return figs
