"""Documents of the fixed validation set and the independent test set: a set, one model's errors on it, a round's result.

The set is reference MD never trained on (frames of provenance source :data:`VALIDATION_SOURCE`); its
definition is one :class:`ValidationSet` per campaign (``validation_sets``). Every round's validation job
tests the round's models on it (:class:`ModelValidation`, kept in the model's document) and compares
NNP MD with the reference MD like for like (:class:`DynamicsComparison`); the round's whole result is one
:class:`RoundValidation` (``validations``), and the job's output its :class:`ValidationSummary`.

The independent test set has the same documents (``test_sets``, ``test_results``) with ``source``
:data:`TEST_SOURCE`: it is built like the validation set, with its own seed, and only the closing analysis
reads it, to report; no decision does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from seiflow.schemas.frame import Reference

VALIDATION_SOURCE = "validation"  # provenance source of the validation set's frames
TEST_SOURCE = "test"  # provenance source of the independent test set's frames


class ErrorMetrics(BaseModel):
    """RMSE and MAE against the reference labels (None where a label is missing)."""

    n_frames: int = Field(0, description="Frames compared.")
    rmse_e_mev_atom: float | None = Field(None, description="Energy per atom RMSE, meV/atom.")
    mae_e_mev_atom: float | None = Field(None, description="Energy per atom MAE, meV/atom.")
    e_offset_mev_atom: float | None = Field(None, description="Mean (predicted - reference) energy per atom.")
    rmse_e_centered_mev_atom: float | None = Field(
        None, description="Energy per atom RMSE with the mean offset removed, meV/atom."
    )
    rmse_f_mev_a: float | None = Field(None, description="Over all force components, meV/Å.")
    mae_f_mev_a: float | None = Field(None, description="Over all force components, meV/Å.")
    rmse_v_mpa: float | None = Field(None, description="Over the 9 stress components, MPa.")
    mae_v_mpa: float | None = Field(None, description="Over the 9 stress components, MPa.")


class ModelValidation(BaseModel):
    """One model's errors on the validation set."""

    model_id: str = Field(..., description="The model tested.")
    overall: ErrorMetrics = Field(..., description="All validation frames together.")
    per_structure: dict[str, ErrorMetrics] = Field(default_factory=dict, description="By structure name.")


class DynamicsComparison(BaseModel):
    """NNP MD against the reference trajectory from the same start, temperature, length and sampling."""

    structure: str = Field(..., description="Structure name (interface, a bulk).")
    temperature: float = Field(..., description="K.")
    steps: int = Field(..., description="MD steps of both trajectories.")
    model_id: str = Field(..., description="The model that ran the NNP MD.")
    n_frames: int = Field(..., description="Frames compared per trajectory.")
    natoms: int = Field(0, description="Atoms in the structure.")
    speed_us_step_atom: float | None = Field(None, description="NNP MD speed, µs/step/atom (1 model).")
    unstable: str | None = Field(
        None, description="Where and why the NNP MD blew up (lost atoms, NaN, overheating); only its frames "
        "before that are compared. None: a healthy run.")
    rdf_r: list[float] = Field(default_factory=list, description="RDF bin centres, Å.")
    rdf_nnp: dict[str, list[float]] = Field(default_factory=dict, description="Pair -> g(r), NNP.")
    rdf_reference: dict[str, list[float]] = Field(default_factory=dict, description="Pair -> g(r), reference.")
    rdf_per_pair: dict[str, float] = Field(default_factory=dict, description="Agreement per pair, [0, 1].")
    rdf_overall: float | None = Field(None, description="Mean agreement over the pairs present.")
    rdf_definition: str = Field("", description="How the agreement is defined.")
    mechanism: list[dict[str, Any]] = Field(
        default_factory=list, description="Per frame: time_ps, then each descriptor for nnp and reference."
    )


class ValidationSet(BaseModel):
    """A campaign's fixed validation set, as stored in ``validation_sets`` (its frames are in ``frames``)."""

    campaign: str = Field(..., description="Campaign name.")
    source: str = Field(VALIDATION_SOURCE, description="Provenance source of its frames: validation or test.")
    reference: Reference = Field(..., description="The reference that labels the set's frames.")
    structures: dict[str, dict[str, Any]] = Field(
        ..., description="Structure name -> the reference MD's start structure (pymatgen ``as_dict``)."
    )
    temperatures: list[float] = Field(..., description="Reference MD temperatures, K.")
    steps: int = Field(..., description="Reference MD steps per structure and temperature.")
    sample_every: int = Field(..., description="Every n-th step is a validation frame.")
    timestep_fs: float = Field(..., description="MD time step, fs.")
    seed: int = Field(..., description="Velocity seed of the reference MD.")
    dynamics: list[str] = Field(..., description="Structures compared like for like with NNP MD.")

    def start(self, name: str) -> Structure:
        """The start structure of ``name``'s reference MD."""
        return Structure.from_dict(self.structures[name])


class ValidationScores(BaseModel):
    """What the convergence criteria read of a validation: mean errors and the RDF agreement."""

    mean: ErrorMetrics | None = Field(None, description="Ensemble mean of each model's overall errors (None: not validated).")
    rdf_agreement: float | None = Field(None, description="Mean RDF agreement of the like-for-like runs.")


class ValidationSummary(ValidationScores):
    """Output of the round's validation job (the round report takes its numbers)."""

    round: int = Field(..., ge=0, description="Round validated (the final model's check: last round + 1).")
    n_frames: int = Field(0, description="Frames tested on (0: the campaign has no such set).")
    source: str = Field(VALIDATION_SOURCE, description="Provenance source of the frames read: validation or test.")


class RoundValidation(ValidationSummary):
    """One round's validation, as stored in ``validations``."""

    campaign: str = Field(..., description="Campaign name.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When validated.")
    models: list[ModelValidation] = Field(default_factory=list, description="Each model's errors.")
    dynamics: list[DynamicsComparison] = Field(
        default_factory=list, description="Like-for-like comparisons (model 0; empty when not run this round)."
    )

    def summary(self) -> ValidationSummary:
        """The job's output: the numbers without the per-model and dynamics detail."""
        return ValidationSummary.model_validate(self.model_dump(include=set(ValidationSummary.model_fields)))


class DistillationResult(BaseModel):
    """A distilled student beside its teacher on the fixed validation set (``training.distill``)."""

    teacher_id: str = Field(..., description="The production model that labelled the student's frames.")
    student_id: str = Field(..., description="The se_e2_a student.")
    student_file: str = Field(..., description="compressed or frozen: the student file validated (what MD runs).")
    n_teacher_frames: int = Field(0, description="Frames the teacher labelled for the student.")
    teacher: ErrorMetrics | None = Field(None, description="The teacher's errors on the validation set.")
    student: ErrorMetrics | None = Field(None, description="The student's errors on the validation set.")
