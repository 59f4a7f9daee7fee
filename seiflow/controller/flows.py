"""A campaign as a jobflow flow that grows itself.

``start`` (register, prepare structures) adds the initial reference labelling and ``close_round(0)``;
each ``close_round(r)`` judges round r and, unless it stops, adds round r+1:
train (ensemble) -> explore (grid) -> select -> label -> close_round(r+1).
Rounds are added with ``Response(addition=...)``, so ``lpad get_wflows`` shows the campaign growing.
When the campaign stops, ``analyse_campaign`` (NNP MD, mechanism, RDFs, production cost) closes it.
"""

from __future__ import annotations

from typing import Any

from jobflow import Flow, Job, Response, job
from pydantic import BaseModel
from pymatgen.core import Structure

from seiflow.analysis.jobs import analyse_campaign
from seiflow.controller import registry
from seiflow.controller.seeds import as_structure, exploration_seeds
from seiflow.controller.submit import tag_jobs
from seiflow.convergence.report import RoundStore, judge
from seiflow.errors import InputError
from seiflow.exploration.jobs import ExplorationMaker
from seiflow.labelling.base import DFT_CATEGORY, LabelMaker, LabelOutput
from seiflow.labelling.md import reference_md_flow
from seiflow.schemas.campaign import Campaign
from seiflow.schemas.round import SelectionResult
from seiflow.selection.jobs import selection_job
from seiflow.store import get_database
from seiflow.structures.jobs import StructuresDocument, prepare_structures, relax_calculator_for
from seiflow.training.data import TrainingDataSpec
from seiflow.training.flows import EnsembleTrainMaker

LIGHT = "light"
LAMMPS = "lammps"


def label_maker_for(campaign: Campaign) -> LabelMaker:
    """The labelling maker of the campaign's reference (local CHGNet/SevenNet, VASP or CP2K)."""
    reference = campaign.labelling.reference
    common = {"max_force": campaign.labelling.max_force}
    if reference in ("chgnet", "sevennet"):
        from seiflow.labelling.local import LocalLabelMaker

        return LocalLabelMaker(calculator=reference, **common)
    if reference == "vasp":
        from seiflow.labelling.vasp import VaspLabelMaker

        return VaspLabelMaker(**common)
    from seiflow.labelling.cp2k import Cp2kLabelMaker

    return Cp2kLabelMaker(**common)


def _controller_job(j: Job, name: str, category: str = LIGHT) -> Job:
    """Name a controller job and set its category for itself only: jobflow would otherwise pass
    the category (and the whole manager config) on to every job the controller adds."""
    j.name = name
    j.update_config({"manager_config": {"_category": category}}, dynamic=False)
    j.config.pass_manager_config = False
    return j


def campaign_flow(campaign: Campaign) -> Flow:
    """The flow submitted for a campaign: one ``start`` job that adds everything else."""
    first = _controller_job(start(campaign.model_dump(mode="json")), f"{campaign.name} start", DFT_CATEGORY)
    return Flow([first], name=campaign.name)


@job
def start(campaign: dict) -> Response:
    """Register the campaign, prepare its structures, add the reference labelling and round 0's close."""
    c = Campaign.model_validate(campaign)
    registry.ensure(get_database(), c)
    calculator = relax_calculator_for(c.labelling.reference)
    doc: StructuresDocument = prepare_structures.original(
        c.structures.model_dump(mode="json"), list(c.system.type_map), calculator
    )
    unknown = [n for n in c.exploration.seeds if n not in ("perturbed", "interface") and n not in doc.bulks]
    if unknown or ("interface" in c.exploration.seeds and doc.interface is None):
        raise InputError(
            f"exploration.seeds names {unknown or ['interface']}, which the campaign does not build",
            "use 'interface' (with structures.interface set), names from structures.bulks, or 'perturbed'",
        )
    md_structures = dict(doc.bulks)
    if c.labelling.md.include_interface and doc.interface is not None:
        md_structures["interface"] = doc.interface
    md = reference_md_flow(
        md_structures, c.labelling.md, calculator=calculator, campaign=c.name,
        max_force=c.labelling.max_force, bulks=tuple(doc.bulks),
    )
    seeds = exploration_seeds(doc, list(c.exploration.seeds))
    closing = _controller_job(close_round(campaign, 0, seeds, labels=md.output), f"{c.name} close r0")
    addition = Flow([md, closing], name=f"{c.name} initial data")
    tag_jobs(addition, c.name)
    return Response(output=doc, addition=addition)


def round_flow(c: Campaign, r: int, seeds: dict[str, Structure], prev_models: list[str] | None) -> Flow:
    """Round ``r``: train the ensemble, explore with it, select, label, then close the round."""
    data = TrainingDataSpec(query={"campaign": c.name})
    init = prev_models if (r > 1 and c.training.next_round_init != "scratch") else None
    ensemble = EnsembleTrainMaker.from_campaign(c).make(data, c.name, r, prev_model_ids=init)
    exploration = ExplorationMaker(config=c.exploration, selection=c.selection).make(
        seeds, ensemble.output, list(c.system.type_map), round_index=r
    )
    selection = selection_job(exploration.output, c.selection, list(c.system.type_map))
    selection.name = f"{c.name} select r{r}"
    labelling = label_maker_for(c).make(
        selection.output.structures, {"campaign": c.name, "round": r, "source": "exploration"}
    )
    labelling.name = f"{c.name} label r{r}"
    metrics = [j.output.metrics for j in ensemble.jobs]
    closing = _controller_job(
        close_round(c.model_dump(mode="json"), r, seeds,
                    labels=[labelling.output], selection=selection.output.result,
                    models=ensemble.output, metrics=metrics),
        f"{c.name} close r{r}",
    )
    return Flow([ensemble, exploration, selection, labelling, closing], name=f"{c.name} round {r}")


# model test metrics (seiflow.schemas.model) -> convergence criteria names (ConvergenceConfig)
METRIC_NAMES = {
    "rmse_e_mev_atom": "energy_rmse_mev_atom",
    "rmse_f_mev_a": "force_rmse_mev_a",
    "rmse_v_mpa": "stress_rmse_mpa",
}


def mean_metrics(metrics: list[dict[str, Any] | BaseModel | None]) -> dict[str, float]:
    """Mean of each numeric test metric over the ensemble's models, under the criteria's names."""
    values: dict[str, list[float]] = {}
    for m in metrics or []:
        if isinstance(m, BaseModel):
            m = m.model_dump()
        for key, value in (m or {}).items():
            if isinstance(value, int | float):
                values.setdefault(key, []).append(float(value))
    return {METRIC_NAMES.get(k, k): sum(v) / len(v) for k, v in sorted(values.items())}


@job
def close_round(
    campaign: dict,
    r: int,
    seeds: dict,
    labels: list | None = None,
    selection: dict | SelectionResult | None = None,
    models: list[str] | None = None,
    metrics: list | None = None,
) -> Response:
    """Judge round ``r`` (r > 0), store its report, and add round r+1 unless the campaign stops."""
    c = Campaign.model_validate(campaign)
    db = get_database()
    seeds = {name: as_structure(s) for name, s in seeds.items()}
    n_labelled = sum(LabelOutput.model_validate(x).n_new for x in labels or [] if x)
    summary: dict[str, Any] = {"campaign": c.name, "round": r, "n_labelled": n_labelled}
    if r > 0:
        result = SelectionResult.model_validate(selection)
        store = RoundStore(db)
        report = judge(c.name, r, result, c.convergence, store.history(c.name), mean_metrics(metrics))
        store.put(report)
        summary.update(converged=report.converged, stop=report.stop, stop_reason=report.stop_reason,
                       accurate_ratio=result.accurate_ratio)
        if report.stop:
            state = registry.CampaignState.CONVERGED if report.converged else registry.CampaignState.NOT_CONVERGED
            registry.update_state(db, c.name, round_index=r, state=state, note=report.stop_reason)
            closing = _controller_job(analyse_campaign(campaign, seeds, models), f"{c.name} analysis", LAMMPS)
            tag_jobs(closing, c.name)
            return Response(output=summary, addition=Flow([closing], name=f"{c.name} analysis"))
    registry.update_state(db, c.name, round_index=r + 1, note=f"round {r} closed: {n_labelled} new labels")
    addition = round_flow(c, r + 1, seeds, models)
    tag_jobs(addition, c.name)
    return Response(output=summary, addition=addition)
