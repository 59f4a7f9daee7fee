"""The validation job of every round (category ``lammps``): the round's models on the fixed validation set.

Each model's errors go into its document (``models.validation``); the round's
:class:`~seiflow.schemas.validation.RoundValidation` (mean errors, per-model and per-structure errors,
like-for-like dynamics) into the ``validations`` collection; the job's output, its
:class:`~seiflow.schemas.validation.ValidationSummary`, into the round report, where the convergence
criteria read its numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from jobflow import Job, Maker, job

from seiflow.analysis.validation_protocol import (
    dynamics_comparisons,
    mean_validation,
    validate_model,
    validation_frames,
)
from seiflow.constants import JobCategory
from seiflow.jobconfig import set_category
from seiflow.models.store import ModelStore
from seiflow.records.validations import ValidationSetStore, ValidationStore
from seiflow.schemas.chemistry import Chemistry
from seiflow.schemas.model import RoundMetric
from seiflow.schemas.validation import RoundValidation, ValidationScores, ValidationSummary

log = logging.getLogger(__name__)


def round_metrics(summary: ValidationScores | dict | None) -> dict[str, float]:
    """The round report's metrics from a validation's scores (the criteria's names)."""
    if summary is None:
        return {}
    scores = summary if isinstance(summary, ValidationScores) else ValidationScores.model_validate(summary)
    mean = scores.mean
    if mean is None:
        return {}
    metrics = {RoundMetric.ENERGY_RMSE.value: mean.rmse_e_mev_atom,
               RoundMetric.FORCE_RMSE.value: mean.rmse_f_mev_a,
               RoundMetric.STRESS_RMSE.value: mean.rmse_v_mpa,
               RoundMetric.RDF_AGREEMENT.value: scores.rdf_agreement}
    metrics["energy_rmse_centered_mev_atom"] = mean.rmse_e_centered_mev_atom
    return {k: float(v) for k, v in metrics.items() if v is not None}


@job(output_schema=ValidationSummary)
def validate_round(
    campaign: str, r: int, model_ids: list[str], type_map: list[str], dynamics: bool = True,
    chemistry: Chemistry | dict | None = None, reported: int | None = None,
) -> ValidationSummary:
    """Test every model of round ``r`` on the validation set; compare dynamics with model 0.

    Without a validation set (or its frames) nothing is stored and the summary has no ``mean``.
    ``reported``: the round's ``mean`` is over the first ``reported`` models only (the others are tested
    beside them for comparison, e.g. the production model a learning round replaces); None: all.
    ``chemistry``: the campaign's :class:`~seiflow.schemas.chemistry.Chemistry` (the mechanism's species).
    """
    vset = ValidationSetStore().get(campaign)
    frames = validation_frames(campaign, vset.reference) if vset is not None else {}
    if not frames:
        return ValidationSummary(round=r)
    store, run_dir = ModelStore(), Path.cwd()
    validations = []
    for model_id in model_ids:
        result = validate_model(model_id, store.fetch(model_id, run_dir / "models", kind="frozen"), frames)
        store.set_validation(model_id, result)
        validations.append(result)
    record = RoundValidation(campaign=campaign, round=r, n_frames=sum(len(v) for v in frames.values()),
                             mean=mean_validation(validations[:reported]), models=validations)
    if dynamics:
        chem = Chemistry.model_validate(chemistry or {})
        record.dynamics = dynamics_comparisons(vset, frames, model_ids[0], type_map, run_dir, chem)
        scores = [c.rdf_overall for c in record.dynamics if c.rdf_overall is not None]
        record.rdf_agreement = float(sum(scores) / len(scores)) if scores else None
    ValidationStore().put(record)
    return record.summary()


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
    chemistry
        The campaign's :class:`~seiflow.schemas.chemistry.Chemistry` (the mechanism's species), as a dict.
    """

    name: str = "validate"
    enabled: bool = True
    dynamics: bool = True
    chemistry: dict | None = None

    def make(self, campaign: str, r: int, model_ids: list, type_map: list[str], dynamics: bool | None = None,
             reported: int | None = None) -> Job:
        """The job testing the round's models on the campaign's validation set (``reported``: see validate_round)."""
        j = validate_round(campaign, r, model_ids, list(type_map), self.dynamics if dynamics is None else dynamics,
                           self.chemistry, reported)
        j.name = f"{campaign} {self.name} r{r}"
        set_category(j, JobCategory.LAMMPS)
        return j
