"""The campaign's closing analysis: NNP MD of the interface with the final model, mechanism, RDFs, cost.

Runs after the last round (category ``lammps``) and stores one
:class:`~seiflow.schemas.analysis.AnalysisRecord` in the ``analyses`` collection, which ``seiflow report``
shows: cation reduction, product phases, metallic clusters and percolation along the NNP trajectory,
partial RDFs of NNP vs reference MD with their agreement score, and the production hand-off (LAMMPS input for the scaled-up interface,
cost estimated from the measured speed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobflow import job
from pymatgen.core import Structure
from pymongo.database import Database

from seiflow.analysis.chemistry import Chemistry, campaign_chemistry
from seiflow.analysis.mechanism import analyse_trajectory, mechanism_row
from seiflow.analysis.production import estimate_cost, nnp_md
from seiflow.analysis.snapshot import nnp_end_snapshots
from seiflow.analysis.validation_protocol import (
    dynamics_comparisons,
    mean_validation,
    validate_model,
    validation_frames,
)
from seiflow.errors import SeiflowError
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
from seiflow.records.analyses import AnalysisStore
from seiflow.records.validations import TestResultStore, TestSetStore, ValidationSetStore
from seiflow.schemas.analysis import AnalysisRecord, AnalysisSummary, RdfComparison
from seiflow.schemas.campaign import Campaign
from seiflow.schemas.frame import LabelledFrame
from seiflow.schemas.validation import (
    TEST_SOURCE,
    DynamicsComparison,
    RoundValidation,
    ValidationSet,
)
from seiflow.store import get_database


def mechanism_table(frames: list, dump_every: int, timestep_fs: float, chem: Chemistry) -> list[dict[str, Any]]:
    """Per frame: ``time_ps`` and each descriptor of :func:`~seiflow.analysis.mechanism.mechanism_row`."""
    return [{"time_ps": round(k * dump_every * timestep_fs / 1000, 3), **mechanism_row(m, 3)}
            for k, m in enumerate(analyse_trajectory(frames, chem))]


def reported_set(campaign: str) -> ValidationSet | None:
    """The set the closing analysis reports on: the independent test set, else the validation set."""
    return TestSetStore().get(campaign) or ValidationSetStore().get(campaign)


def score_on_test_set(campaign: str, model_ids: list[str], frames: dict[str, list[LabelledFrame]],
                dynamics: list[DynamicsComparison]) -> RoundValidation:
    """The reported models' errors on the test frames, with the dynamics compared on it, stored in ``test_results``.

    Nothing else reads these numbers but the report: no stopping rule, member choice or compression.
    """
    store, run_dir = ModelStore(), Path.cwd()
    results = [validate_model(m, store.fetch(m, run_dir / "models", kind="frozen"), frames) for m in model_ids]
    doc = store.find_id(model_ids[0])
    scores = [d.rdf_overall for d in dynamics if d.rdf_overall is not None]
    record = RoundValidation(
        campaign=campaign, round=doc.round if doc is not None else 0, source=TEST_SOURCE,
        n_frames=sum(len(v) for v in frames.values()), mean=mean_validation(results), models=results,
        dynamics=dynamics, rdf_agreement=float(sum(scores) / len(scores)) if scores else None,
    )
    TestResultStore().put(record)
    return record


@job(output_schema=AnalysisSummary)
def analyse_campaign(
    campaign: dict, seeds: dict, models: list[str] | None = None, temperature: float = 600.0,
    steps: int = 2000, dump_every: int = 100, final: bool = False,
) -> AnalysisSummary:
    """The closing analysis with the final model: errors and like-for-like dynamics on the test set, cost.

    The set is the independent test set when the campaign has one (:func:`score_on_test_set` stores every
    reported model's errors on it), else the validation set. NNP MD runs from each of its trajectories'
    start structures at its temperature, length and sampling, and is compared with it (partial RDFs,
    mechanism descriptors side by side). Without either set, NNP MD of the interface (or first seed) at
    ``temperature`` gives the mechanism only.
    """
    c = Campaign.model_validate(campaign)
    chem = campaign_chemistry(c)
    type_map = list(c.system.type_map)
    store = ModelStore()
    model_ids = models or [m.model_id for m in store.latest_ensemble(c.name)]
    model_id = model_ids[0]
    vset = reported_set(c.name)
    frames = validation_frames(c.name, vset.reference, vset.source) if vset is not None else {}
    comparisons = dynamics_comparisons(vset, frames, model_id, type_map, Path.cwd(), chem) if frames else []
    if frames and vset.source == TEST_SOURCE:
        score_on_test_set(c.name, model_ids, frames, comparisons)
    snapshots = nnp_end_snapshots(Path.cwd(), comparisons, type_map)  # the report's picture
    if comparisons:
        first = comparisons[0]
        speed, natoms = first.speed_us_step_atom, first.natoms
        run = {"seed": first.structure, "temperature": first.temperature, "steps": first.steps,
               "n_frames": first.n_frames, "mechanism": first.mechanism, "like_for_like": True,
               "rdf": RdfComparison(r=first.rdf_r, curves={"nnp": first.rdf_nnp, "reference": first.rdf_reference},
                                    overall=first.rdf_overall, per_pair=first.rdf_per_pair,
                                    definition=first.rdf_definition, n_reference_frames=first.n_frames),
               "rdf_agreement": first.rdf_overall, "frame_source": vset.source, "unstable": first.unstable}
    else:
        name = "interface" if "interface" in seeds else next(iter(seeds))
        seed = seeds[name] if isinstance(seeds[name], Structure) else Structure.from_dict(seeds[name])
        run_dir = Path.cwd() / "nnp_md"
        nnp, speed, health = nnp_md(seed, store.fetch(model_id, run_dir), type_map, run_dir, temperature, steps,
                                    dump_every)
        natoms = len(seed)
        run = {"seed": name, "temperature": temperature, "steps": steps, "n_frames": len(nnp),
               "like_for_like": False, "mechanism": mechanism_table(nnp, dump_every, 1.0, chem) if nnp else [],
               "unstable": health.reason}
    if speed is None:  # LAMMPS stopped: the model cannot be handed to production
        raise SeiflowError(f"the NNP MD of {model_id} blew up ({run['unstable']}): no production hand-off",
                           "train longer or on more labels before production (see the report's dynamics)")
    cost = estimate_cost(speed, c.production.atoms, c.production.steps,
                         measured_on=f"{natoms}-atom {run['seed']}, 1 model")
    record = AnalysisRecord(campaign=c.name, model_id=model_id, dynamics=comparisons, snapshots=snapshots,
                            cost=cost, final_model=final, chemistry=chem,
                            production_length_ns=c.production.length_ns, **run)
    AnalysisStore().put(record)
    if final:  # the campaign's model: what the production input and users take
        campaigns.set_final_model(get_database(), c.name, model_id)
    return record.summary()


def report_extra(campaign: str, db: Database | None = None) -> dict[str, Any]:
    """The stored closing analysis in the shape ``write_report(extra=...)`` shows."""
    record = AnalysisStore(db).get(campaign)
    if record is None:
        return {}
    extra: dict[str, Any] = {
        f"NNP MD of the {record.seed} at {record.temperature:g} K ({record.steps} steps): mechanism":
            {"table": record.mechanism},
        f"Production hand-off ({record.cost.n_atoms:,} atoms"
        + (f", {record.production_length_ns:g} ns" if record.production_length_ns else "")
        + ", cost at the measured CPU speed)": {"table": [record.cost.model_dump()]},
    }
    if record.rdf is not None:
        rdf = record.rdf
        extra["rdf"] = {"r": rdf.r, "curves": rdf.curves,
                        "table": [{"pair": k, "score": round(v, 4)} for k, v in rdf.per_pair.items()]
                        + [{"pair": "overall", "score": round(rdf.overall, 4)}]}
    return extra
