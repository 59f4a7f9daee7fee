"""Learning from the production run: an uncertain stop becomes an active-learning round, then the run resumes.

When the watch stops a run as ``uncertain`` (``production.learning``), :func:`learn_from_production`
carves a box around the located uncertain atoms of the segment's frames (:mod:`seiflow.production.carve`,
one box per core cube, the most deviating atom first), keeps those the campaign's selection filters pass,
picks at most ``max_cells`` by farthest-point sampling on the selection's descriptor, and has the
campaign's reference label them (source ``production``, with the run, time and centre atom).
:func:`train_learned` then fine-tunes the watch ensemble and the production model from themselves on
every label (a carved box trains the forces of its core only), and validates the old and the new
production model on the fixed set in one job. :func:`resume_production` compares them: not worse by
more than ``max_validation_increase``, and the uncertain segment runs again from the last restart with
the new models (the watch's before and after are the same stretch of simulated time); else the run
stays uncertain, with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ase.io
import numpy as np
from ase import Atoms
from jobflow import Flow, Job, OnMissing, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.validation_jobs import ValidationMaker
from seiflow.constants import JobCategory
from seiflow.errors import InputError
from seiflow.jobconfig import keep_own_config, tag_jobs
from seiflow.labelling.base import label_maker_for, label_outputs
from seiflow.labelling.groups import GroupedLabelMaker
from seiflow.models.store import ModelStore
from seiflow.production.carve import CarvedCell, carve, minimum_image
from seiflow.production.segment import n_segments, step_range
from seiflow.records import campaigns
from seiflow.records.production import ProductionStore
from seiflow.records.validations import ValidationStore
from seiflow.schemas.campaign import Campaign, LearningConfig
from seiflow.schemas.frame import provenance_fields
from seiflow.schemas.production import (
    LearningRound,
    ProductionRun,
    ProductionSegment,
    ProductionState,
    UncertainAtoms,
    WatchSummary,
    now,
)
from seiflow.selection.filters import apply_filters
from seiflow.selection.fps import farthest_point_sampling
from seiflow.selection.selector import selector_from_config
from seiflow.store import get_database
from seiflow.training.data import training_data
from seiflow.training.flows import EnsembleTrainMaker
from seiflow.training.jobs import DeepmdTrainMaker

SOURCE = "production"  # provenance source of carved frames


def learning_round_index(db: Any, campaign: str) -> int:
    """The next round index no model, validation or round report of the campaign uses yet."""
    from seiflow.records.rounds import RoundStore

    used = [ModelStore(db).last_round(campaign), ValidationStore(db).last_round(campaign),
            RoundStore(db).last_round(campaign)]
    return 1 + max((r for r in used if r is not None), default=0)


def box_centres(frame: Atoms, located: UncertainAtoms, core_a: float) -> list[int]:
    """Atoms to centre boxes on: the most deviating uncertain atom, then the next one no core cube yet covers."""
    order = [i for _, i in sorted(zip(located.devi_f, located.indices, strict=True), reverse=True)]
    covered: set[int] = set()
    centres = []
    for i in order:
        if i in covered:
            continue
        centres.append(i)
        d = minimum_image(frame, frame.positions[i])[order]
        covered.update(j for j, x in zip(order, d, strict=True) if np.all(np.abs(x) <= core_a))
    return centres


def carved_structure(box: CarvedCell, run: ProductionRun, step: int, centre: int, campaign: str) -> Structure:
    """The box as a structure carrying its origin (run, time, centre atom, core) for the frame store."""
    s = AseAtomsAdaptor.get_structure(box.atoms)
    s.properties["provenance"] = provenance_fields(
        campaign=campaign, source=SOURCE, origin=f"{run.run_id} step {step}", frame_index=step,
        production_run=run.run_id, time_ps=step * run.timestep_fs / 1000.0, centre_atom=int(centre),
        carve_core_a=box.core_half_width,
    )
    return s


def segment_frames(store: ProductionStore, seg: ProductionSegment, work_dir: Path) -> dict[int, Atoms]:
    """The segment's stored frames by step."""
    if "trajectory" not in seg.files:
        return {}
    path = store.fetch_file(seg.files["trajectory"], Path(work_dir) / f"segment{seg.segment:04d}.extxyz")
    return {int(a.info["step"]): a for a in ase.io.read(path, index=":", format="extxyz")}


def carve_uncertain(c: Campaign, run: ProductionRun, seg: ProductionSegment, frames: dict[int, Atoms],
                    ) -> tuple[list[Structure], list[str]]:
    """Boxes around every located uncertain atom of ``seg`` (as structures), and why others were not carved."""
    cfg: LearningConfig = c.production.learning
    boxes, skipped = [], []
    for located in seg.watch.located:
        frame = frames.get(located.step)
        if frame is None:
            skipped.append(f"step {located.step}: frame not stored")
            continue
        for centre in box_centres(frame, located, cfg.core_a):
            try:
                box = carve(frame, [centre], c.training.rcut, cfg.buffer_a, core=cfg.core_a,
                            min_distance=c.structures.min_distance)
            except InputError as exc:
                skipped.append(f"step {located.step} atom {centre}: {exc.message}")
                continue
            if len(box.atoms) > cfg.max_atoms:
                skipped.append(f"step {located.step} atom {centre}: {len(box.atoms)} atoms > "
                               f"production.learning.max_atoms {cfg.max_atoms}")
                continue
            boxes.append(carved_structure(box, run, located.step, centre, c.name))
    return boxes, skipped


def select_boxes(c: Campaign, boxes: list[Structure], model_path: Path | None) -> tuple[list[Structure], list[str]]:
    """The campaign's selection filters, then at most ``max_cells`` by FPS on its descriptor (as explored frames)."""
    selector = selector_from_config(c.selection, list(c.system.type_map), model_path)
    kept, skipped = [], []
    for s in boxes:
        reason = apply_filters(selector.filters, s)
        if reason is None:
            kept.append(s)
        else:
            skipped.append(f"{s.properties['provenance']['origin']}: {reason}")
    n = c.production.learning.max_cells
    if len(kept) > n:
        if selector.descriptor is not None:
            kept = [kept[i] for i in farthest_point_sampling(selector.descriptor.features(kept), n)]
        else:
            kept = kept[:n]  # carved most deviating first
    return kept, skipped


def _light(j: Job, name: str) -> Job:
    j.name = name
    return keep_own_config(j, JobCategory.LIGHT)


def learning_flow(c: Campaign, run_id: str, segment: int) -> Flow:
    """The job that starts a learning round after an uncertain segment (category ``light``)."""
    j = _light(learn_from_production(c.model_dump(mode="json"), run_id, segment),
               f"{c.name} production {run_id} learn from segment {segment + 1}")
    flow = Flow([j], name=j.name)
    tag_jobs(flow, c.name, JobCategory.LIGHT.value)
    return flow


def why_not_learn(c: Campaign, run: ProductionRun, seg: ProductionSegment) -> str | None:
    """Why an uncertain stop after ``seg`` does not become a learning round (None: it does)."""
    cfg = c.production.learning
    if not cfg.enabled:
        return "production.learning.enabled is false"
    if len(run.learning) >= cfg.max_rounds:
        return f"{len(run.learning)} learning rounds done (production.learning.max_rounds)"
    if not seg.watch.located:
        return ("no stored frame beyond the level to carve from (set production.dump_every nearer "
                "production.watch.every)")
    return None


@job
def learn_from_production(campaign: dict, run_id: str, segment: int) -> Response:
    """Carve and select boxes from the uncertain segment, then add their labelling and the training after it."""
    c = Campaign.model_validate(campaign)
    db = get_database()
    store = ProductionStore(db)
    run, seg = store.get_run(run_id), store.get_segment(run_id, segment)
    r = learning_round_index(db, c.name)
    first = seg.watch.first_uncertain_step
    record = LearningRound(round=r, segment=segment, watch_before=WatchSummary.of(seg.watch),
                           time_ps=first * run.timestep_fs / 1000.0 if first is not None else None,
                           models_before=[run.model_id, *run.watch_model_ids])
    work = Path.cwd()
    boxes, skipped = carve_uncertain(c, run, seg, segment_frames(store, seg, work))
    record.n_carved = len(boxes)
    model = ModelStore(db).fetch(run.model_id, work / "model") if c.selection.descriptor == "deepmd" else None
    boxes, rejected = select_boxes(c, boxes, model)
    record.skipped = skipped + rejected
    record.n_selected = len(boxes)
    record.box_atoms = [len(s) for s in boxes]
    record.core_atoms = [_n_core(s) for s in boxes]
    record.box_edge_a = round(float(max(boxes[0].lattice.abc)), 3) if boxes else None  # the cut edge
    if not boxes:
        record.outcome, record.finished_at = "not resumed: no box to label", now()
        store.put_learning(run_id, record)
        return Response(output=record.model_dump(mode="json"))
    store.put_learning(run_id, record)
    labeller = GroupedLabelMaker(labelling=label_maker_for(c.labelling), group_size=c.labelling.group_size)
    labels = labeller.make(boxes, {"campaign": c.name, "round": r, "source": SOURCE})
    labels.name = f"{c.name} production {run_id} label r{r}"
    train = _light(train_learned(campaign, run_id, r, labels.output), f"{c.name} production {run_id} train r{r}")
    train.update_config({"on_missing_references": OnMissing.NONE}, dynamic=False)  # failed labels: reported
    flow = Flow([labels, train], name=f"{c.name} production {run_id} learning r{r}")
    tag_jobs(flow, c.name)
    return Response(output=record.model_dump(mode="json"), addition=flow)


def _n_core(s: Structure) -> int:
    from seiflow.dataset.carved import core_weights

    core = s.properties["provenance"]["carve_core_a"]
    return int(core_weights(s.cart_coords, s.lattice.matrix, core).sum())


def learning_config(c: Campaign) -> Any:
    """The ensemble's training settings for a learning round: from each member's last model, never from scratch."""
    cfg = c.production.learning
    init = c.training.next_round_init if c.training.next_round_init != "scratch" else "init_frz_model"
    return c.training.model_copy(update={"next_round_init": init,
                                         "numb_steps_next": cfg.numb_steps or c.training.numb_steps_next})


def production_model_config(c: Campaign) -> Any:
    """The production model's settings for a learning round: ``final_numb_steps`` from itself, nothing held out."""
    steps = c.production.learning.final_numb_steps or c.training.final_numb_steps or c.training.numb_steps_next
    return c.training.for_production_model(steps, from_model=True)


@job
def train_learned(campaign: dict, run_id: str, r: int, labels: Any = None) -> Response:
    """After the boxes are labelled: fine-tune the ensemble and the production model, validate, then resume."""
    c = Campaign.model_validate(campaign)
    store = ProductionStore()
    run = store.get_run(run_id)
    record = next(x for x in run.learning if x.round == r)
    outputs = label_outputs(labels)
    record.n_flagged = sum(x.n_flagged for x in outputs)
    record.n_labelled = sum(x.n_new for x in outputs) - record.n_flagged
    record.n_failed = sum(x.n_failed for x in outputs)
    if not record.n_labelled:
        record.outcome, record.finished_at = "not resumed: the reference labelled no box", now()
        store.put_learning(run_id, record)
        return Response(output=record.model_dump(mode="json"))
    record.outcome = "training"
    store.put_learning(run_id, record)
    type_map = list(c.system.type_map)
    data = training_data(c.name, label_maker_for(c.labelling).reference)
    n = c.training.numb_models
    if len(run.watch_model_ids) != n:
        raise InputError(f"production run {run_id} is watched by {len(run.watch_model_ids)} models, the campaign "
                         f"trains {n}", "keep training.numb_models as it was when the run started")
    members = EnsembleTrainMaker(train_maker=DeepmdTrainMaker(config=learning_config(c), type_map=type_map)).make(
        data, c.name, r, prev_model_ids=list(run.watch_model_ids))
    production = DeepmdTrainMaker(config=production_model_config(c), type_map=type_map, name="production model").make(
        data, c.name, r, index=n, seed=c.training.seed + 1000, prev_model_id=run.model_id)
    jobs: list[Job | Flow] = [members, production]
    validation = None
    if c.validation.enabled:  # the new and the old production model on the same frames, in one job
        validation = ValidationMaker(name="validate learned", dynamics=False).make(
            c.name, r, [production.output.model_id, run.model_id], type_map, reported=1)  # the round: the new one
        jobs.append(validation)
    resume = _light(resume_production(campaign, run_id, r, production.output.model_id, members.output,
                                      validation.output if validation is not None else None),
                    f"{c.name} production {run_id} resume r{r}")
    flow = Flow([*jobs, resume], name=f"{c.name} production {run_id} training r{r}")
    tag_jobs(flow, c.name)
    return Response(output=record.model_dump(mode="json"), addition=flow)


def _rmse_f(db: Any, campaign: str, r: int, model_id: str) -> float | None:
    validated = ValidationStore(db).get(campaign, r)
    for m in validated.models if validated is not None else []:
        if m.model_id == model_id and m.overall is not None:
            return m.overall.rmse_f_mev_a
    return None


@job
def resume_production(campaign: dict, run_id: str, r: int, model_id: str, member_ids: list[str],
                      validation: Any = None) -> Response:
    """Resume the run with the new models (the uncertain segment again) unless they are worse on the fixed set."""
    from seiflow.production.flows import segment_flow

    c = Campaign.model_validate(campaign)
    db = get_database()
    store = ProductionStore(db)
    run = store.get_run(run_id)
    record = next(x for x in run.learning if x.round == r)
    record.models_after = [model_id, *member_ids]
    before, after = _rmse_f(db, c.name, r, run.model_id), _rmse_f(db, c.name, r, model_id)
    record.validation_rmse_f_before, record.validation_rmse_f_after = before, after
    limit = c.production.learning.max_validation_increase
    if before is not None and after is not None and after > before * (1 + limit):
        record.outcome = (f"not resumed: the new production model's force RMSE on the fixed set is {after:.1f} "
                          f"meV/Å, more than {limit:.0%} above the old one's {before:.1f}")
        record.finished_at = now()
        store.put_learning(run_id, record)
        store.update_run(run_id, stop_reason=f"{run.stop_reason}; learning round {r} {record.outcome}")
        return Response(output=record.model_dump(mode="json"))
    record.outcome, record.finished_at = "resumed", now()
    store.put_learning(run_id, record)
    start, _ = step_range(run, record.segment)
    store.update_run(run_id, state=ProductionState.RUNNING, model_id=model_id, watch_model_ids=list(member_ids),
                     stop_reason=None, steps_done=start, segments_done=record.segment)
    campaigns.set_final_model(db, c.name, model_id)
    return Response(output=record.model_dump(mode="json"),
                    addition=segment_flow(c, run_id, record.segment, n_segments(run)))
