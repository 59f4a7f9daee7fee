"""The validation job of every round (category ``lammps``): the round's models on the fixed validation set.

Each model's errors go into its document (``models.validation``); the round's summary (mean errors,
per-structure errors, like-for-like dynamics) into the ``validations`` collection, and its numbers into the
round report, where the convergence criteria read them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobflow import Job, Maker, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.benchmark import (
    DynamicsComparison,
    compare_dynamics,
    mean_validation,
    validate_model,
)
from seiflow.constants import (
    MODELS_COLLECTION,
    VALIDATION_SETS_COLLECTION,
    VALIDATIONS_COLLECTION,
    JobCategory,
)
from seiflow.dataset.convert import to_atoms
from seiflow.dataset.frames import FrameStore
from seiflow.jobconfig import set_category
from seiflow.models.store import ModelStore
from seiflow.schemas.frame import LabelledFrame
from seiflow.schemas.model import RoundMetric
from seiflow.store import get_database

log = logging.getLogger(__name__)
VALIDATION_SOURCE = "validation"


def validation_frames(campaign: str, reference: dict | None = None) -> dict[str, list[LabelledFrame]]:
    """The campaign's validation frames by structure name, in (temperature, step) order."""
    groups: dict[str, list[LabelledFrame]] = defaultdict(list)
    for frame in FrameStore().find(campaign=campaign, source=VALIDATION_SOURCE, reference=reference):
        groups[frame.provenance.origin or "?"].append(frame)
    for frames in groups.values():
        frames.sort(key=lambda f: ((f.provenance.model_extra or {}).get("temperature", 0), f.provenance.frame_index))
    return dict(groups)


def reference_trajectory(frames: list[LabelledFrame], temperature: float) -> list:
    """One structure's validation frames at ``temperature`` as ASE Atoms, in step order."""
    return [to_atoms(f) for f in frames
            if abs((f.provenance.model_extra or {}).get("temperature", -1) - temperature) < 0.5]


def dynamics_comparisons(
    vset: dict[str, Any], frames: dict[str, list[LabelledFrame]], model_id: str, type_map: list[str], run_dir: Path,
) -> list[DynamicsComparison]:
    """Like-for-like NNP MD of every ``vset['dynamics']`` structure and temperature with one model."""
    model = ModelStore().fetch(model_id, run_dir / "models")
    names = [n for n in vset["dynamics"] if n in vset["structures"]] or list(vset["structures"])[:1]
    out = []
    for name in names:
        start = AseAtomsAdaptor.get_atoms(Structure.from_dict(vset["structures"][name]))
        for temperature in vset["temperatures"]:
            ref = reference_trajectory(frames.get(name, []), temperature)
            if not ref:
                continue
            out.append(compare_dynamics(
                name, start, ref, model_id, model, type_map, temperature, vset["steps"], vset["sample_every"],
                vset["timestep_fs"], run_dir / f"nnp_{name}_{temperature:g}K",
            ))
    return out


def round_metrics(summary: dict[str, Any] | None) -> dict[str, float]:
    """The round report's metrics from a validation summary (the criteria's names)."""
    if not summary or not summary.get("mean"):
        return {}
    mean = summary["mean"]
    metrics = {RoundMetric.ENERGY_RMSE.value: mean.get("rmse_e_mev_atom"),
               RoundMetric.FORCE_RMSE.value: mean.get("rmse_f_mev_a"),
               RoundMetric.STRESS_RMSE.value: mean.get("rmse_v_mpa"),
               RoundMetric.RDF_AGREEMENT.value: summary.get("rdf_agreement")}
    metrics["energy_rmse_centered_mev_atom"] = mean.get("rmse_e_centered_mev_atom")
    return {k: float(v) for k, v in metrics.items() if v is not None}


@job
def validate_round(campaign: str, r: int, model_ids: list[str], type_map: list[str], dynamics: bool = True) -> dict:
    """Test every model of round ``r`` on the validation set; compare dynamics with model 0."""
    db = get_database()
    vset = db[VALIDATION_SETS_COLLECTION].find_one({"campaign": campaign}, {"_id": 0})
    if vset is None:
        return {}
    frames = validation_frames(campaign, vset.get("reference"))
    if not frames:
        return {}
    store, run_dir = ModelStore(), Path.cwd()
    validations = []
    for model_id in model_ids:
        result = validate_model(model_id, store.fetch(model_id, run_dir / "models", kind="frozen"), frames)
        db[MODELS_COLLECTION].update_one({"model_id": model_id},
                                         {"$set": {"validation": result.model_dump(mode="json")}})
        validations.append(result)
    summary: dict[str, Any] = {
        "campaign": campaign, "round": r, "created_at": datetime.now(UTC),
        "n_frames": sum(len(v) for v in frames.values()), "mean": mean_validation(validations),
        "models": [v.model_dump(mode="json") for v in validations], "dynamics": [], "rdf_agreement": None,
    }
    if dynamics:
        comparisons = dynamics_comparisons(vset, frames, model_ids[0], type_map, run_dir)
        summary["dynamics"] = [c.model_dump(mode="json") for c in comparisons]
        scores = [c.rdf_overall for c in comparisons if c.rdf_overall is not None]
        summary["rdf_agreement"] = float(sum(scores) / len(scores)) if scores else None
    db[VALIDATIONS_COLLECTION].replace_one({"campaign": campaign, "round": r}, summary, upsert=True)
    return {"round": r, "n_frames": summary["n_frames"], "mean": summary["mean"],
            "rdf_agreement": summary["rdf_agreement"]}


@dataclass
class ValidationMaker(Maker):
    """The round's validation job (category ``lammps``).

    Parameters
    ----------
    name
        Job name.
    enabled
        False: no validation job (the campaign has no validation set).
    dynamics
        Also compare NNP MD with the reference trajectories this round.
    """

    name: str = "validate"
    enabled: bool = True
    dynamics: bool = True

    def make(self, campaign: str, r: int, model_ids: list, type_map: list[str], dynamics: bool | None = None) -> Job:
        """The job testing the round's models on the campaign's validation set."""
        j = validate_round(campaign, r, model_ids, list(type_map), self.dynamics if dynamics is None else dynamics)
        j.name = f"{campaign} {self.name} r{r}"
        set_category(j, JobCategory.LAMMPS)
        return j
