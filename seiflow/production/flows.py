"""The production chain: a run document, then one job per segment on the production workers, each adding the next.

``start_production`` (``seiflow produce``, or the closing analysis with ``production.start: auto``) makes the
cell, records the run and returns the first segment's flow. Each segment job runs its segment, updates the
run (steps done, speed, first percolation) and adds the next segment unless the run is finished, failed
(MD health) or uncertain (the watch: too many checked steps beyond the failed level).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jobflow import Flow, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.chemistry import campaign_chemistry
from seiflow.constants import JobCategory
from seiflow.errors import InputError
from seiflow.exploration.inputs import DATA_FILE, write_data
from seiflow.jobconfig import keep_own_config, tag_jobs
from seiflow.models.store import ModelStore
from seiflow.production.cell import production_cell
from seiflow.production.descriptors import anode_reference, first_percolation
from seiflow.production.learning import learning_flow, why_not_learn
from seiflow.production.segment import CELL_SEGMENT, n_segments, run_segment
from seiflow.records import campaigns
from seiflow.records.production import ProductionStore
from seiflow.records.rounds import RoundStore
from seiflow.records.validations import ValidationSetStore
from seiflow.schemas.campaign import Campaign
from seiflow.schemas.production import ProductionRun, ProductionState, WatchSummary


def watch_level(c: Campaign, db: Any) -> tuple[float | None, str | None]:
    """The watch's level and where it comes from.

    ``production.watch.f_level``, else the last round's failed level (calibrated when the calibration set
    it), else ``selection.f_trust_hi``.
    """
    w = c.production.watch
    if not w.enabled:
        return None, None
    if w.f_level is not None:
        return w.f_level, "production.watch.f_level"
    history = RoundStore(db).history(c.name)
    if history:
        last = history[-1]
        if last.levels_next.get("calibrated") and last.levels_next.get("f_trust_hi"):
            return float(last.levels_next["f_trust_hi"]), f"calibrated f_trust_hi after round {last.round}"
        if last.levels.get("f_trust_hi"):
            return float(last.levels["f_trust_hi"]), f"f_trust_hi of round {last.round}"
    return c.selection.f_trust_hi, "selection.f_trust_hi"


def production_models(c: Campaign, db: Any, model_id: str | None = None) -> tuple[str, list[str]]:
    """The production model and the ensemble that watches it.

    The model: ``model_id``, else the campaign's final model. The ensemble: the members of the last round
    that trained one (not the production model, not a student).
    """
    store = ModelStore(db)
    doc = campaigns.get(db, c.name)
    chosen = model_id or doc.get("final_model_id")
    members = [m for m in store.latest_ensemble(c.name) if m.index < c.training.numb_models]
    if chosen is None:
        if not members:
            raise InputError(f"campaign {c.name} has no trained model for production",
                             "run the campaign to convergence first (seiflow status shows where it is)")
        raise InputError(f"campaign {c.name} has no production model yet (state {doc.get('state')})",
                         "wait for convergence and its closing analysis, or pass --model ID")
    store.get(chosen)  # an InputError naming the model when it is not stored
    return chosen, [m.model_id for m in members if m.model_id != chosen]


def stored_interface(db: Any, name: str) -> tuple[Structure | None, dict, dict[str, Structure]]:
    """The campaign's interface as its structures job built it (or None), its report and matched bulks.

    Recorded with the campaign; for campaigns run before that, the validation set's interface start alone.
    """
    recorded = campaigns.get(db, name).get("structures") or {}
    if recorded.get("interface"):
        bulks = {k: Structure.from_dict(v) for k, v in (recorded.get("interface_bulks") or {}).items()}
        return Structure.from_dict(recorded["interface"]), recorded.get("interface_report") or {}, bulks
    vset = ValidationSetStore(db).get(name)
    start = vset.start("interface") if vset is not None and "interface" in vset.structures else None
    return start, {}, {}


def start_production(c: Campaign, db: Any, work_dir: Path, model_id: str | None = None) -> tuple[ProductionRun, Flow]:
    """Record a new production run of ``c`` (cell stored in the store) and return its first segment's flow."""
    p = c.production
    chosen, watchers = production_models(c, db, model_id)
    level, source = watch_level(c, db)
    if level is not None and not watchers:
        raise InputError("production.watch needs the converged ensemble beside the production model; none is stored",
                         "set production.watch.enabled: false, or train the campaign's ensemble first")
    cell, how = production_cell(c, *stored_interface(db, c.name))
    store = ProductionStore(db)
    run_id = f"{c.name}-prod{store.count(c.name) + 1}"
    origin, bottom = anode_reference(AseAtomsAdaptor.get_atoms(cell), campaign_chemistry(c))
    run = ProductionRun(
        campaign=c.name, run_id=run_id, model_id=chosen, watch_model_ids=watchers if level else [],
        n_atoms=len(cell), total_steps=p.steps, segment_steps=min(p.segment_steps, p.steps),
        timestep_fs=p.timestep_fs, temperature=p.temperature, dump_every=p.dump_every, watch_level=level,
        watch_level_source=source, origin_a=origin, anode_bottom_a=bottom, cell=how,
    )
    folder = Path(work_dir) / run_id
    folder.mkdir(parents=True, exist_ok=True)
    write_data(cell, list(c.system.type_map), folder / DATA_FILE)
    store.delete_segment_files(run_id, CELL_SEGMENT)
    store.put_file(folder / DATA_FILE, run_id, CELL_SEGMENT, "data")
    store.put_run(run)
    return run, segment_flow(c, run_id, 0, n_segments(run))


def segment_flow(c: Campaign, run_id: str, segment: int, total: int) -> Flow:
    """One segment's job (category ``production``: the GPU workers), tagged with the campaign."""
    j = production_segment(c.model_dump(mode="json"), run_id, segment)
    j.name = f"{c.name} production {run_id} segment {segment + 1}/{total}"
    keep_own_config(j, JobCategory.PRODUCTION)
    flow = Flow([j], name=j.name)
    tag_jobs(flow, c.name, JobCategory.PRODUCTION.value)
    return flow


def _stop(c: Campaign, run: ProductionRun, seg) -> tuple[ProductionState, str | None]:
    """The run's state after a segment, and why it stops (None: it goes on or finished).

    Uncertain when the watch's share of uncertain steps (before any blow-up) passes its limit: the model
    left its training region, and a blow-up after that is its consequence. Failed on a blow-up alone.
    """
    w = seg.watch
    blown = f"; then the MD blew up ({seg.health})" if seg.health else ""
    if w.level is not None and w.n_checked and w.fraction > c.production.watch.max_fraction:
        t = w.first_uncertain_step * run.timestep_fs / 1000.0 if w.first_uncertain_step is not None else None
        where = ""
        if w.located:
            atoms = w.located[0]
            z = [round(x[2], 1) for x in atoms.positions[:5]]
            where = f"; at {atoms.time_ps:g} ps, {len(atoms.indices)} atoms beyond it ({', '.join(sorted(set(atoms.elements)))}; z {z} Å)"
        return ProductionState.UNCERTAIN, (
            f"segment {seg.segment + 1}: {w.n_uncertain} of {w.n_checked} checked steps "
            f"({w.fraction:.0%} > {c.production.watch.max_fraction:.0%}) beyond {w.level:.3f} eV/Å, first at "
            f"{t:g} ps (max deviation {w.max_devi_f:.3f} eV/Å){where}{blown}")
    if seg.health:
        return ProductionState.FAILED, f"segment {seg.segment + 1}: {seg.health}"
    if seg.end_step >= run.total_steps:
        return ProductionState.FINISHED, None
    return ProductionState.RUNNING, None


@job
def production_segment(campaign: dict, run_id: str, segment: int) -> Response:
    """Run one segment, update the run, and add the next segment while the run goes on."""
    c = Campaign.model_validate(campaign)
    store = ProductionStore()
    run = store.get_run(run_id)
    if run.state != ProductionState.RUNNING:
        return Response(output={"run_id": run_id, "segment": segment, "state": run.state.value, "skipped": True})
    attempt = store.start_attempt(run_id, segment)
    seg = run_segment(c.production, run, segment, Path.cwd(), campaign_chemistry(c), list(c.system.type_map),
                      store, attempt=attempt)
    history = [s for s in store.history(run_id) if s.segment <= segment]
    state, reason = _stop(c, run, seg)
    now = store.get_run(run_id)
    if now.state == ProductionState.STOPPED:  # stopped by hand while this segment ran
        state, reason = ProductionState.STOPPED, now.stop_reason
    blocked = why_not_learn(c, now, seg) if state == ProductionState.UNCERTAIN else None
    if blocked and c.production.learning.enabled:
        reason = f"{reason}; not learning from it: {blocked}"
    # the earlier segments' first times stand; this segment adds the elements that percolate for the first time
    percolation = {**first_percolation(seg.analysis.rows, seg.analysis.time_ps), **run.first_percolation_ps}
    store.update_run(run_id, state=state, stop_reason=reason, steps_done=seg.end_step if not seg.health else
                     seg.start_step, segments_done=len(history), wall_s=round(sum(s.wall_s for s in history), 3),
                     first_percolation_ps=percolation)
    for record in now.learning:  # the uncertain segment run again with the learned models: the watch after
        if record.segment == segment and record.outcome == "resumed" and record.watch_after is None:
            store.put_learning(run_id, record.model_copy(update={"watch_after": WatchSummary.of(seg.watch)}))
    output = {"run_id": run_id, "segment": segment, "state": state.value, "start_step": seg.start_step,
              "end_step": seg.end_step, "atom_steps_per_s": seg.atom_steps_per_s,
              "uncertain_fraction": seg.watch.fraction, "stop_reason": reason,
              "finished_at": dt.datetime.now(dt.UTC).isoformat()}
    if state == ProductionState.RUNNING:
        return Response(output=output, addition=segment_flow(c, run_id, segment + 1, n_segments(run)))
    if state == ProductionState.UNCERTAIN and blocked is None:  # an active-learning round, then resume
        return Response(output={**output, "learning": True}, addition=learning_flow(c, run_id, segment))
    return Response(output=output)


def stop_production(db: Any, lp: Any, campaign: str) -> ProductionRun:
    """Stop the campaign's running production; the run stopped.

    Its waiting segments are defused; a segment already running finishes and is stored, the next one does
    not start.
    """
    store = ProductionStore(db)
    run = store.latest(campaign)
    if run is None or run.state != ProductionState.RUNNING:
        raise InputError(f"campaign {campaign} has no running production"
                         + (f" (the newest, {run.run_id}, is {run.state.value})" if run else ""),
                         "see `seiflow status CAMPAIGN`")
    store.update_run(run.run_id, state=ProductionState.STOPPED, stop_reason="stopped by hand (seiflow produce --stop)")
    for fw_id in lp.get_fw_ids({"name": {"$regex": f"production {run.run_id} segment"},
                                "state": {"$in": ["WAITING", "READY"]}}):
        lp.defuse_fw(fw_id)
    return store.get_run(run.run_id)


@job
def auto_production(campaign: dict, analysis: Any = None) -> Response:
    """Start the production run after the closing analysis (``production.start: auto``)."""
    from seiflow.store import get_database

    c = Campaign.model_validate(campaign)
    run, flow = start_production(c, get_database(), Path.cwd())
    return Response(output={"run_id": run.run_id}, addition=flow)
