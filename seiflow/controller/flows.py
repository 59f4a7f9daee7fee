"""A campaign as a jobflow flow that grows itself.

``start`` registers the campaign and adds the structures job and ``initial_data``, which adds the
reference labelling and ``close_round(0)``. Each ``close_round(r)`` judges round r and, unless the
campaign stops, adds round r+1 as :class:`RoundMaker` makes it: train (ensemble) -> explore (grid) ->
select -> label -> close. Rounds are added with ``Response(addition=...)``, so ``lpad get_wflows``
shows the campaign growing. When the campaign stops, ``analyse_campaign`` (NNP MD, mechanism, RDFs,
production cost) closes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Job, Maker, OnMissing, Response, job
from pydantic import BaseModel
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from seiflow.analysis.chemistry import campaign_chemistry
from seiflow.analysis.distillation import compare_student_job
from seiflow.analysis.jobs import analyse_campaign
from seiflow.analysis.validation_jobs import ValidationMaker, round_metrics
from seiflow.constants import JobCategory
from seiflow.controller.seeds import as_structure, exploration_seeds
from seiflow.controller.stage_times import round_times
from seiflow.convergence.base import Criterion
from seiflow.convergence.calibration_jobs import CalibrationMaker
from seiflow.convergence.criteria import TemperatureRange, criteria_from_config
from seiflow.convergence.report import judge
from seiflow.convergence.schedule import next_n_temperatures, next_scale
from seiflow.errors import InputError
from seiflow.exploration.jobs import ExplorationMaker
from seiflow.jobconfig import keep_own_config, set_category, tag_jobs
from seiflow.labelling.base import LabelMaker, label_maker_for, label_outputs
from seiflow.labelling.groups import GroupedLabelMaker
from seiflow.labelling.imports import import_job
from seiflow.labelling.md import initial_data_flow, supercell_to
from seiflow.production.flows import auto_production
from seiflow.properties.flows import auto_properties
from seiflow.records import campaigns
from seiflow.records.rounds import RoundStore
from seiflow.records.validations import TestSetStore, ValidationSetStore, ValidationStore
from seiflow.schemas.calibration import CalibrationSummary
from seiflow.schemas.campaign import Campaign, ValidationConfig
from seiflow.schemas.model import ROUND_METRIC_OF
from seiflow.schemas.round import ADAPTIVE_LOWER_KEY, RoundTimes, SelectionResult, StopKind
from seiflow.schemas.validation import (
    TEST_SOURCE,
    VALIDATION_SOURCE,
    ValidationSet,
    ValidationSummary,
)
from seiflow.selection.jobs import SelectionMaker
from seiflow.store import get_database, get_launchpad
from seiflow.structures.jobs import PrepareStructuresMaker, StructuresDocument
from seiflow.training.data import training_data
from seiflow.training.distill import student_config, teacher_frames_job
from seiflow.training.flows import EnsembleTrainMaker
from seiflow.training.jobs import DeepmdTrainMaker

STATE_OF_STOP = {
    StopKind.CONVERGED: campaigns.CampaignState.CONVERGED,
    StopKind.ROUND_CAP: campaigns.CampaignState.NOT_CONVERGED,
    StopKind.STALLED: campaigns.CampaignState.STALLED,
    StopKind.NO_FRAMES: campaigns.CampaignState.FAILED,
}

logger = logging.getLogger(__name__)


def _controller_job(j: Job, name: str, category: JobCategory = JobCategory.LIGHT) -> Job:
    """Name a controller job and set its category for itself only (not for the jobs it adds)."""
    j.name = name
    return keep_own_config(j, category)


@dataclass
class CloseRoundMaker(Maker):
    """The job that judges a round, stores its report and adds the next round (or the analysis)."""

    name: str = "close"

    def make(self, campaign: Campaign, r: int, seeds: dict, round_maker: RoundMaker, **outputs: Any) -> Job:
        """``close_round`` of round ``r`` (category ``light``); ``outputs`` are the round's results."""
        closing = close_round(campaign.model_dump(mode="json"), r, seeds, round_maker=round_maker, **outputs)
        # a crashed validation or calibration job must not stop the round: its output is then None
        closing.update_config({"on_missing_references": OnMissing.NONE}, dynamic=False)
        return _controller_job(closing, f"{campaign.name} {self.name} r{r}")


@dataclass
class RoundMaker(Maker):
    """One active-learning round, its stages as makers (atomate2's ``common/flows`` style).

    Swap a stage by passing another maker; the round's closing job hands this maker on to the next
    round, so the swap holds for the whole campaign.

    Parameters
    ----------
    name
        Flow name.
    training, validation, exploration, selection, labelling, calibration, closing
        The stage makers, in the order the round runs them (validation beside exploration;
        calibration, when set, after labelling).
    """

    name: str = "round"
    training: EnsembleTrainMaker = field(default_factory=EnsembleTrainMaker)
    validation: ValidationMaker = field(default_factory=ValidationMaker)
    exploration: ExplorationMaker = field(default_factory=ExplorationMaker)
    selection: SelectionMaker = field(default_factory=SelectionMaker)
    labelling: GroupedLabelMaker | None = None
    calibration: CalibrationMaker | None = None
    closing: CloseRoundMaker = field(default_factory=CloseRoundMaker)

    @classmethod
    def from_campaign(cls, c: Campaign) -> RoundMaker:
        """The round the campaign file describes."""
        type_map = list(c.system.type_map)
        labeller = label_maker_for(c.labelling)
        return cls(
            training=EnsembleTrainMaker.from_campaign(c),
            validation=ValidationMaker(enabled=c.validation.enabled, dynamics=c.validation.dynamics_every_round,
                                       chemistry=campaign_chemistry(c).model_dump(mode="json")),
            exploration=ExplorationMaker(config=c.exploration, selection=c.selection,
                                         n_temperatures=1 if c.exploration.adaptive_temperatures else None),
            selection=SelectionMaker(config=c.selection, type_map=type_map, reference=labeller.reference),
            labelling=GroupedLabelMaker(labelling=labeller, group_size=c.labelling.group_size),
            calibration=(CalibrationMaker(config=c.selection.calibration)
                         if c.selection.calibration is not None or c.selection.n_sanity else None),
        )

    def make(
        self, c: Campaign, r: int, seeds: dict[str, Structure], prev_models: list[str] | None = None
    ) -> Flow:
        """Round ``r``: train the ensemble, explore with it, select, label, then close the round."""
        if self.labelling is None:
            raise InputError("RoundMaker.labelling is not set", "use RoundMaker.from_campaign(campaign)")
        data = training_data(c.name, self.labelling.reference)
        init = prev_models if (r > 1 and c.training.next_round_init != "scratch") else None
        ensemble = self.training.make(data, c.name, r, prev_model_ids=init)
        stages: list[Job | Flow] = [ensemble]
        validation = None
        if self.validation.enabled:
            validation = self.validation.make(c.name, r, ensemble.output, list(c.system.type_map))
            stages.append(validation)
        exploration = self.exploration.make(seeds, ensemble.output, list(c.system.type_map), round_index=r)
        selection = self.selection.make(exploration.output, model=ensemble.output[0])
        selection.name = f"{c.name} {self.selection.name} r{r}"
        labelling = self.labelling.make(
            selection.output.structures, {"campaign": c.name, "round": r, "source": "exploration"}
        )
        labelling.name = f"{c.name} candidates r{r}"  # plans one labelling job per group
        after = [labelling]
        calibration = None
        if self.calibration is not None:
            calibration = self.calibration.make(c.name, r, ensemble.output, list(c.system.type_map),
                                                labels=labelling.output)
            after.append(calibration)
        closing = self.closing.make(
            c, r, seeds, self, labels=[labelling.output], selection=selection.output.result,
            models=ensemble.output, metrics=[j.output.metrics for j in ensemble.jobs],
            validation=validation.output if validation is not None else None,
            calibration=calibration.output if calibration is not None else None,
        )
        return Flow([*stages, exploration, selection, *after, closing], name=f"{c.name} {self.name} {r}")


def campaign_flow(campaign: Campaign) -> Flow:
    """The flow submitted for a campaign: one ``start`` job that adds everything else."""
    first = _controller_job(start(campaign.model_dump(mode="json")), f"{campaign.name} start", JobCategory.LIGHT)
    return Flow([first], name=campaign.name)


@job
def start(campaign: dict) -> Response:
    """Register the campaign, then add its structures job and the initial-data planner."""
    c = Campaign.model_validate(campaign)
    campaigns.ensure(get_database(), c)
    relaxations = reference_relaxations(c)
    relaxed = {name: j.output.structure for name, j in relaxations.items()}
    prepare = PrepareStructuresMaker(name=f"{c.name} prepare structures").make(c, relaxed or None)
    planner = _controller_job(initial_data(campaign, prepare.output), f"{c.name} initial data")
    addition = Flow([*relaxations.values(), prepare, planner], name=f"{c.name} structures")
    tag_jobs(addition, c.name)
    return Response(addition=addition)


def reference_relaxations(c: Campaign) -> dict[str, Job]:
    """One relaxation job per bulk when the reference relaxes in its own jobs (VASP), else none."""
    s = c.structures
    if not s.relax or s.relax_with not in (None, "reference"):
        return {}
    maker = label_maker_for(c.labelling).relax_maker()
    if maker is None:
        return {}
    jobs = {}
    for name in (n for n in s.prepared() if n not in s.lattice_constants):
        primitive = SpacegroupAnalyzer(s.phase(name), symprec=0.01).get_primitive_standard_structure()
        relax = maker.make(primitive)
        relax.name = f"{c.name} relax {name}"
        set_category(relax, JobCategory.DFT)
        jobs[name] = relax
    return jobs


@job
def initial_data(campaign: dict, structures: StructuresDocument | dict) -> Response:
    """Check the exploration seeds exist, add the reference labelling and round 0's close."""
    c = Campaign.model_validate(campaign)
    doc = StructuresDocument.model_validate(structures)
    unknown = [n for n in c.exploration.seeds if n not in ("perturbed", "interface") and n not in doc.bulks]
    if unknown or ("interface" in c.exploration.seeds and doc.interface is None):
        raise InputError(
            f"exploration.seeds names {unknown or ['interface']}, which the campaign does not build",
            "use 'interface' (with structures.interface set), names from structures.bulks, or 'perturbed'",
        )
    if doc.interface is not None:  # the production stage scales it up (the match again, more layers)
        iface = c.structures.interface
        matched = {n: doc.bulks[n].as_dict() for n in (iface.substrate, iface.film) if n in doc.bulks} if iface else {}
        campaigns.set_structures(get_database(), c.name, {"interface": doc.interface.as_dict(),
                                                          "interface_report": doc.interface_report or {},
                                                          "interface_bulks": matched})
    md_structures = dict(doc.bulks)
    if c.labelling.md.include_interface and doc.interface is not None:
        md_structures["interface"] = doc.interface
    labeller = label_maker_for(c.labelling)
    md = initial_data_flow(labeller, md_structures, c.labelling.md, campaign=c.name, bulks=tuple(doc.bulks))
    jobs: list[Job | Flow] = [md]
    if c.validation.enabled:
        jobs.append(validation_set_flow(c, doc, labeller))
    if c.test_set.enabled:
        # the independent test set: only the closing analysis reads it, to report
        jobs.append(reference_set_flow(c, doc, labeller, c.test_set.settings(c.validation), TEST_SOURCE,
                                       TestSetStore()))
    if c.labelling.initial_data:
        entries = [e.model_dump(mode="json") for e in c.labelling.initial_data]
        jobs.append(import_job(entries, labeller.reference, c.name))
    seeds = exploration_seeds(doc, list(c.exploration.seeds))
    closing = CloseRoundMaker().make(c, 0, seeds, RoundMaker.from_campaign(c), labels=[j.output for j in jobs])
    addition = Flow([*jobs, closing], name=f"{c.name} initial data")
    tag_jobs(addition, c.name)
    return Response(output=doc, addition=addition)


def validation_set_flow(c: Campaign, doc: StructuresDocument, labeller: LabelMaker) -> Flow:
    """Reference MD of the validation structures (own seed, source ``validation``); records the set."""
    return reference_set_flow(c, doc, labeller, c.validation, VALIDATION_SOURCE, ValidationSetStore())


def reference_set_flow(
    c: Campaign, doc: StructuresDocument, labeller: LabelMaker, config: ValidationConfig, source: str,
    store: ValidationSetStore,
) -> Flow:
    """Reference MD never trained on, of the structures ``config`` names, its frames stored as ``source``."""
    pool = {"interface": doc.interface} if doc.interface is not None else {}
    pool.update(doc.bulks)
    section = "validation" if source == VALIDATION_SOURCE else "test_set"
    names = config.structures if config.structures is not None else list(pool)
    missing = [n for n in names if n not in pool]
    if missing:
        raise InputError(f"{section}.structures names {missing}, which the campaign does not build",
                         f"use names from {sorted(pool)}")
    atoms = c.labelling.md.bulk_supercell_atoms
    starts = {n: supercell_to(pool[n], atoms) if n in doc.bulks else pool[n] for n in names}
    store.put(ValidationSet(
        campaign=c.name, source=source, reference=labeller.reference,
        structures={n: s.as_dict() for n, s in starts.items()},
        **config.model_dump(include={"temperatures", "steps", "sample_every", "timestep_fs", "seed", "dynamics"}),
    ))
    return initial_data_flow(labeller, starts, config.md(), campaign=c.name, seed=config.seed, source=source)


def mean_metrics(metrics: list[dict[str, Any] | BaseModel | None]) -> dict[str, float]:
    """Mean of each numeric test metric over the ensemble's models, under the round metric names."""
    values: dict[str, list[float]] = {}
    for m in metrics or []:
        if isinstance(m, BaseModel):
            m = m.model_dump()
        for key, value in (m or {}).items():
            if isinstance(value, int | float):
                values.setdefault(key, []).append(float(value))
    return {str(ROUND_METRIC_OF.get(k, k)): sum(v) / len(v) for k, v in sorted(values.items())}


def plan_next_round(
    maker: RoundMaker, c: Campaign, selection: SelectionResult, calibration: CalibrationSummary | None
) -> dict[str, float]:
    """Set the next round's force levels (calibrated, else adaptive) and run length; the levels set."""
    config = maker.selection.config
    levels_next: dict[str, float] = {}
    if c.selection.calibration is not None:
        levels = calibration.levels if calibration is not None else None
        if levels:
            # floor the calibrated upper level at the campaign's f_trust_hi: below it most explored frames
            # count as failed, and failed frames are never labelled
            levels = {**levels, "f_trust_hi": max(levels["f_trust_hi"], c.selection.f_trust_hi)}
            config = config.model_copy(update={**levels, "adaptive_lower": False})
            levels_next = {**levels, "calibrated": 1.0}
        else:  # too few pairs, or a fit that cannot say: DP-GEN2's adaptive lower level meanwhile
            config = config.model_copy(update={"adaptive_lower": True})
            levels_next = {"f_trust_hi": config.f_trust_hi, "adaptive_rate": config.adaptive_rate}
    maker.selection.config = config
    maker.exploration.selection = config
    if c.exploration.adaptive:
        maker.exploration.scale = next_scale(maker.exploration.scale, selection, c.exploration.max_scale)
    if c.exploration.adaptive_temperatures:
        n = len(maker.exploration.temperatures())
        maker.exploration.n_temperatures = next_n_temperatures(n, selection, len(c.exploration.temperatures))
    return levels_next


def round_criteria(c: Campaign) -> list[Criterion]:
    """The campaign's criteria; with an adaptive temperature range, also that the whole range was explored."""
    criteria = criteria_from_config(c.convergence)
    if c.exploration.adaptive_temperatures and not any(isinstance(x, TemperatureRange) for x in criteria):
        criteria.append(TemperatureRange())
    return criteria


def best_member(models: list[str] | None, metrics: list | None) -> str | None:
    """The member of lowest force RMSE (then energy RMSE) in ``metrics`` (one per model); None without any."""
    scored = []
    for model_id, m in zip(models or [], metrics or [], strict=False):
        m = m.model_dump() if isinstance(m, BaseModel) else (m or {})
        if m.get("rmse_f_mev_a") is not None:
            scored.append((m["rmse_f_mev_a"], m.get("rmse_e_mev_atom") or 0.0, model_id))
    return min(scored)[2] if scored else None


def member_choice_metrics(
    campaign: str, r: int, models: list[str] | None, metrics: list | None, db: Any = None
) -> tuple[list | None, str]:
    """The errors the production model's start is chosen on, and which set they come from.

    The campaign's fixed validation set when round ``r`` was validated on it (the same frames for every
    member, none of them trained on); else each member's own ``dp test`` split, which is drawn anew each
    round from frames earlier members trained on.
    """
    validated = ValidationStore(db).get(campaign, r) if models else None
    if validated is not None and validated.n_frames:
        by_model = {m.model_id: m.overall for m in validated.models}
        if all(m in by_model for m in models or []):
            return [by_model[m] for m in models or []], VALIDATION_SOURCE
    return metrics, "held-out split"


def final_model_jobs(
    c: Campaign, r: int, maker: RoundMaker, models: list[str] | None = None, metrics: list | None = None,
    seeds: dict | None = None,
) -> tuple[list[Job], str | None]:
    """The production model's jobs (training on every label, its validation) and the set its start was chosen on.

    The set is None when it trains from scratch.

    With ``final_init: best_member`` it starts from the converged round's best member (``init_frz_model``,
    ``final_numb_steps`` more steps at the resume learning rate), chosen on the fixed validation set when
    there is one (:func:`member_choice_metrics`); from scratch otherwise, or when no member has metrics.
    """
    steps = c.training.final_numb_steps
    start, chosen_on = None, None
    if c.training.final_init == "best_member":
        scores, chosen_on = member_choice_metrics(c.name, r, models, metrics)
        start = best_member(models, scores)
    config = c.training.for_production_model(steps, from_model=start is not None)
    trainer = DeepmdTrainMaker(config=config, type_map=list(c.system.type_map), name="final model")
    train = trainer.make(training_data(c.name, maker.labelling.reference), c.name, r,
                         index=c.training.numb_models, seed=c.training.seed + 1000, prev_model_id=start)
    jobs = [train]
    if maker.validation.enabled:
        check = ValidationMaker(name="validate final", dynamics=False).make(
            c.name, r + 1, [train.output.model_id], list(c.system.type_map))
        jobs.append(check)
    if c.training.distill is not None:  # a compressed se_e2_a student of the production model
        teacher = teacher_frames_job(c, train.output.model_id, seeds or {})
        student = DeepmdTrainMaker(config=student_config(c), type_map=list(c.system.type_map),
                                   name="student").make(teacher.output, c.name, r, index=c.training.numb_models + 1,
                                                        seed=c.training.distill.seed)
        jobs += [teacher, student, compare_student_job(c.name, train.output.model_id, student.output.model_id,
                                                       teacher.output, jobs[-1].output)]
    return jobs, chosen_on if start is not None else None


def measured_times(campaign: str, r: int) -> RoundTimes | None:
    """Round ``r``'s stage times from the LaunchPad; None where they cannot be read (never stops the round)."""
    try:
        return round_times(get_launchpad(), campaign, r)
    except Exception as exc:  # noqa: BLE001 - timing is a report, not a decision
        logger.warning("round %d of %s: stage times not measured (%s)", r, campaign, exc)
        return None


@job
def close_round(
    campaign: dict,
    r: int,
    seeds: dict,
    round_maker: RoundMaker | None = None,
    labels: list | None = None,
    selection: dict | SelectionResult | None = None,
    models: list[str] | None = None,
    metrics: list | None = None,
    validation: ValidationSummary | dict | None = None,
    calibration: CalibrationSummary | dict | None = None,
) -> Response:
    """Judge round ``r`` (r > 0), store its report, and add round r+1 unless the campaign stops.

    ``validation`` and ``calibration`` are the round's stage outputs (None: the stage is off or crashed).
    """
    c = Campaign.model_validate(campaign)
    if isinstance(validation, dict):
        validation = ValidationSummary.model_validate(validation)
    if isinstance(calibration, dict):
        calibration = CalibrationSummary.model_validate(calibration)
    db = get_database()
    seeds = {name: as_structure(s) for name, s in seeds.items()}
    outputs = label_outputs(labels or [])
    n_labelled, n_corrected = sum(x.n_new for x in outputs), sum(x.n_corrected for x in outputs)
    summary: dict[str, Any] = {"campaign": c.name, "round": r, "n_labelled": n_labelled,
                               "n_corrected": n_corrected}
    if r > 0:
        result = SelectionResult.model_validate(selection)
        store = RoundStore(db)
        measured = {f"test_{k}": v for k, v in mean_metrics(metrics).items()}
        on_set = round_metrics(validation)
        measured.update(on_set or mean_metrics(metrics))  # the fixed set when there is one
        decided_on = {"stopping": validation.source if on_set and validation is not None else "held-out split"}
        maker = round_maker or RoundMaker.from_campaign(c)
        used = {"f_trust_lo": result.f_trust_lo_used, "f_trust_hi": maker.selection.config.f_trust_hi}
        used.update({k: v for k in ("e_trust_lo", "v_trust_lo")
                     if (v := getattr(maker.selection.config, k)) is not None})
        if maker.selection.config.adaptive_lower:
            used[ADAPTIVE_LOWER_KEY] = 1.0  # its accurate ratio is 1 - rate by construction
        scale, explored = maker.exploration.scale, maker.exploration.temperatures()
        pending = [t for t in c.exploration.temperatures if t not in explored]
        levels_next = plan_next_round(maker, c, result, calibration)
        report = judge(c.name, r, result, c.convergence, store.history(c.name), measured,
                       criteria=round_criteria(c), levels=used, levels_next=levels_next,
                       calibration=calibration, exploration_scale=scale, exploration_temperatures=explored,
                       temperatures_pending=pending, n_labelled=n_labelled, n_corrected=n_corrected,
                       times=measured_times(c.name, r))
        final: list[Job] = []
        if report.stop_kind == StopKind.CONVERGED and c.training.final_numb_steps:
            final, chosen_on = final_model_jobs(c, r, maker, models, metrics, seeds)
            if chosen_on:
                decided_on["member_choice"] = chosen_on
        report.decided_on = decided_on
        store.put(report)
        summary.update(converged=report.converged, stop=report.stop, stop_reason=report.stop_reason,
                       accurate_ratio=result.accurate_ratio)
        if report.stop:
            state = STATE_OF_STOP[report.stop_kind]
            campaigns.update_state(db, c.name, round_index=r, state=state, note=report.stop_reason)
            if final:
                models = [final[0].output.model_id]
            closing = _controller_job(analyse_campaign(campaign, seeds, models, final=bool(final)),
                                      f"{c.name} analysis", JobCategory.LAMMPS)
            then: list[Job] = []
            if final and c.production.start == "auto":  # the production run, once the model is handed off
                then.append(_controller_job(auto_production(campaign, closing.output), f"{c.name} production start"))
            if final and c.properties.start == "auto":  # transport and mechanics with the production model
                then.append(_controller_job(auto_properties(campaign, closing.output), f"{c.name} properties start"))
            addition = Flow([*final, closing, *then], name=f"{c.name} analysis")
            tag_jobs(addition, c.name)
            return Response(output=summary, addition=addition)
    campaigns.update_state(db, c.name, round_index=r + 1, note=f"round {r} closed: {n_labelled} new labels")
    maker = maker if r > 0 else (round_maker or RoundMaker.from_campaign(c))
    addition = maker.make(c, r + 1, seeds, models)
    tag_jobs(addition, c.name)
    return Response(output=summary, addition=addition)
