"""A campaign as a jobflow flow that grows itself.

``start`` registers the campaign and adds the structures job and ``initial_data``, which adds the
reference labelling and ``close_round(0)``. Each ``close_round(r)`` judges round r and, unless the
campaign stops, adds round r+1 as :class:`RoundMaker` makes it: train (ensemble) -> explore (grid) ->
select -> label -> close. Rounds are added with ``Response(addition=...)``, so ``lpad get_wflows``
shows the campaign growing. When the campaign stops, ``analyse_campaign`` (NNP MD, mechanism, RDFs,
production cost) closes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Job, Maker, Response, job
from pydantic import BaseModel
from pymatgen.core import Structure

from seiflow.analysis.jobs import analyse_campaign
from seiflow.constants import JobCategory
from seiflow.controller import campaigns
from seiflow.controller.seeds import as_structure, exploration_seeds
from seiflow.convergence.report import RoundStore, judge
from seiflow.errors import InputError
from seiflow.exploration.jobs import ExplorationMaker
from seiflow.jobconfig import keep_own_config, tag_jobs
from seiflow.labelling.base import LabelOutput, label_maker_for
from seiflow.labelling.groups import GroupedLabelMaker
from seiflow.labelling.imports import import_job
from seiflow.labelling.md import initial_data_flow
from seiflow.schemas.campaign import Campaign
from seiflow.schemas.model import ROUND_METRIC_OF
from seiflow.schemas.round import SelectionResult, StopKind
from seiflow.selection.jobs import SelectionMaker
from seiflow.store import get_database
from seiflow.structures.jobs import PrepareStructuresMaker, StructuresDocument
from seiflow.training.data import training_data
from seiflow.training.flows import EnsembleTrainMaker

STATE_OF_STOP = {
    StopKind.CONVERGED: campaigns.CampaignState.CONVERGED,
    StopKind.ROUND_CAP: campaigns.CampaignState.NOT_CONVERGED,
    StopKind.STALLED: campaigns.CampaignState.STALLED,
    StopKind.NO_FRAMES: campaigns.CampaignState.FAILED,
}


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
    training, exploration, selection, labelling, closing
        The stage makers, in the order the round runs them.
    """

    name: str = "round"
    training: EnsembleTrainMaker = field(default_factory=EnsembleTrainMaker)
    exploration: ExplorationMaker = field(default_factory=ExplorationMaker)
    selection: SelectionMaker = field(default_factory=SelectionMaker)
    labelling: GroupedLabelMaker | None = None
    closing: CloseRoundMaker = field(default_factory=CloseRoundMaker)

    @classmethod
    def from_campaign(cls, c: Campaign) -> RoundMaker:
        """The round the campaign file describes."""
        type_map = list(c.system.type_map)
        return cls(
            training=EnsembleTrainMaker.from_campaign(c),
            exploration=ExplorationMaker(config=c.exploration, selection=c.selection),
            selection=SelectionMaker(config=c.selection, type_map=type_map),
            labelling=GroupedLabelMaker(labelling=label_maker_for(c.labelling), group_size=c.labelling.group_size),
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
        exploration = self.exploration.make(seeds, ensemble.output, list(c.system.type_map), round_index=r)
        selection = self.selection.make(exploration.output, model=ensemble.output[0])
        selection.name = f"{c.name} {self.selection.name} r{r}"
        labelling = self.labelling.make(
            selection.output.structures, {"campaign": c.name, "round": r, "source": "exploration"}
        )
        labelling.name = f"{c.name} label r{r}"
        closing = self.closing.make(
            c, r, seeds, self, labels=[labelling.output], selection=selection.output.result,
            models=ensemble.output, metrics=[j.output.metrics for j in ensemble.jobs],
        )
        return Flow([ensemble, exploration, selection, labelling, closing], name=f"{c.name} {self.name} {r}")


def campaign_flow(campaign: Campaign) -> Flow:
    """The flow submitted for a campaign: one ``start`` job that adds everything else."""
    first = _controller_job(start(campaign.model_dump(mode="json")), f"{campaign.name} start", JobCategory.DFT)
    return Flow([first], name=campaign.name)


@job
def start(campaign: dict) -> Response:
    """Register the campaign, then add its structures job and the initial-data planner."""
    c = Campaign.model_validate(campaign)
    campaigns.ensure(get_database(), c)
    prepare = PrepareStructuresMaker(name=f"{c.name} prepare structures").make(c)
    planner = _controller_job(initial_data(campaign, prepare.output), f"{c.name} initial data")
    addition = Flow([prepare, planner], name=f"{c.name} structures")
    tag_jobs(addition, c.name)
    return Response(addition=addition)


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
    md_structures = dict(doc.bulks)
    if c.labelling.md.include_interface and doc.interface is not None:
        md_structures["interface"] = doc.interface
    labeller = label_maker_for(c.labelling)
    md = initial_data_flow(labeller, md_structures, c.labelling.md, campaign=c.name, bulks=tuple(doc.bulks))
    jobs: list[Job | Flow] = [md]
    if c.labelling.initial_data:
        entries = [e.model_dump(mode="json") for e in c.labelling.initial_data]
        jobs.append(import_job(entries, labeller.reference, c.name))
    seeds = exploration_seeds(doc, list(c.exploration.seeds))
    closing = CloseRoundMaker().make(c, 0, seeds, RoundMaker.from_campaign(c), labels=[j.output for j in jobs])
    addition = Flow([*jobs, closing], name=f"{c.name} initial data")
    tag_jobs(addition, c.name)
    return Response(output=doc, addition=addition)


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


def _flat(labels: list | None) -> list:
    out = []
    for x in labels or []:
        out.extend(_flat(x) if isinstance(x, list) else [x])
    return out


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
) -> Response:
    """Judge round ``r`` (r > 0), store its report, and add round r+1 unless the campaign stops."""
    c = Campaign.model_validate(campaign)
    db = get_database()
    seeds = {name: as_structure(s) for name, s in seeds.items()}
    n_labelled = sum(LabelOutput.model_validate(x).n_new for x in _flat(labels) if x)
    summary: dict[str, Any] = {"campaign": c.name, "round": r, "n_labelled": n_labelled}
    if r > 0:
        result = SelectionResult.model_validate(selection)
        store = RoundStore(db)
        report = judge(c.name, r, result, c.convergence, store.history(c.name), mean_metrics(metrics))
        store.put(report)
        summary.update(converged=report.converged, stop=report.stop, stop_reason=report.stop_reason,
                       accurate_ratio=result.accurate_ratio)
        if report.stop:
            state = STATE_OF_STOP[report.stop_kind]
            campaigns.update_state(db, c.name, round_index=r, state=state, note=report.stop_reason)
            closing = _controller_job(analyse_campaign(campaign, seeds, models), f"{c.name} analysis",
                                      JobCategory.LAMMPS)
            tag_jobs(closing, c.name)
            return Response(output=summary, addition=Flow([closing], name=f"{c.name} analysis"))
    campaigns.update_state(db, c.name, round_index=r + 1, note=f"round {r} closed: {n_labelled} new labels")
    maker = round_maker or RoundMaker.from_campaign(c)
    addition = maker.make(c, r + 1, seeds, models)
    tag_jobs(addition, c.name)
    return Response(output=summary, addition=addition)
