"""Documents for trained DeePMD models: validation metrics, the stored model, a training job's output."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seiflow.schemas.validation import ModelValidation


class RoundMetric(StrEnum):
    """Names of the per-round metrics in ``RoundReport.metrics``, as convergence criteria read them."""

    ENERGY_RMSE = "energy_rmse_mev_atom"
    FORCE_RMSE = "force_rmse_mev_a"
    STRESS_RMSE = "stress_rmse_mpa"
    RDF_AGREEMENT = "rdf_agreement"


# ValidationMetrics field -> the round metric it is averaged into (the one place the names meet).
ROUND_METRIC_OF: dict[str, RoundMetric] = {
    "rmse_e_mev_atom": RoundMetric.ENERGY_RMSE,
    "rmse_f_mev_a": RoundMetric.FORCE_RMSE,
    "rmse_v_mpa": RoundMetric.STRESS_RMSE,
}


class ValidationMetrics(BaseModel):
    """Errors of a model on the held-out frames (``dp test``)."""

    model_config = ConfigDict(extra="forbid")

    rmse_e_mev_atom: float | None = Field(None, description="Energy RMSE per atom, meV/atom.")
    rmse_f_mev_a: float | None = Field(None, description="Force component RMSE, meV/Å.")
    rmse_v_mpa: float | None = Field(None, description="Stress RMSE (virial / volume), MPa.")
    n_test_frames: int = Field(0, ge=0, description="Held-out frames tested.")


class ParityData(BaseModel):
    """Reference vs predicted values for parity plots (eV/atom, eV/Å, MPa)."""

    model_config = ConfigDict(extra="forbid")

    energy_per_atom: list[list[float]] = Field(default_factory=list, description="[ref, pred] rows.")
    force: list[list[float]] = Field(default_factory=list, description="[ref, pred] per component.")
    stress_mpa: list[list[float]] = Field(default_factory=list, description="[ref, pred] per component.")


class TrainingDataRecord(BaseModel):
    """What a model was trained on: frame ids, or their hash and count when there are many."""

    model_config = ConfigDict(extra="forbid")

    n_train_frames: int = Field(0, ge=0)
    n_test_frames: int = Field(0, ge=0)
    frame_ids: list[str] | None = Field(None, description="Training frame ids (None when too many).")
    frame_ids_sha256: str = Field("", description="sha256 of the sorted training frame ids.")
    test_frame_ids: list[str] | None = None
    n_carved_frames: int = Field(
        0, ge=0, description="Training frames cut from a production cell: forces of their core atoms only.")


class CompressionRecord(BaseModel):
    """How the compressed model was made and whether its tables cover the data (else the frozen one is used).

    ``dp compress`` tabulates the embedding net from the training data's smallest neighbour distance up
    to ``extrapolate`` times that range; a closer neighbour falls outside the table, where DeePMD-kit
    prints nothing and the compressed model is wrong. The record says which file the store keeps.
    """

    model_config = ConfigDict(extra="forbid")

    used: Literal["compressed", "frozen"] = Field(
        ..., description="The file ModelStore.fetch gives: compressed (stored) or frozen (compressed dropped)."
    )
    extrapolate: int | None = Field(None, description="dp compress -e of the kept table; None when dropped.")
    step: float = Field(0.01, description="dp compress -s: stride of the first table.")
    tried: list[int] = Field(default_factory=list, description="Extrapolate values checked, in order.")
    min_nbor_dist: float | None = Field(None, description="Smallest neighbour distance in the training data, Å.")
    covered_min_distance: dict[str, float] = Field(
        default_factory=dict,
        description="Element -> smallest neighbour distance (Å) the kept table covers around that element.",
    )
    min_distance: dict[str, float] = Field(
        default_factory=dict, description="Checked set (train, held_out, validation) -> its smallest distance, Å."
    )
    out_of_range_counts: dict[str, int] = Field(
        default_factory=dict,
        description="Checked set -> atoms (over all frames) with a neighbour closer than the last table tried covers.",
    )
    deepmd_warnings: int = Field(
        0, description="DeePMD's 'idx out of ... bound' neighbour-list warnings in the held-out dp test output."
    )
    note: str = Field("", description="Why the compressed model was kept, widened or dropped.")


class ModelDoc(BaseModel):
    """One model of an ensemble, as stored in the ``models`` collection (files in GridFS)."""

    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(..., description="Stable id: <campaign>-r<round>-m<index>-<short uuid>.")
    campaign: str
    round: int = Field(..., ge=0)
    index: int = Field(..., ge=0, description="Position in the ensemble.")
    seed: int
    backend: str = Field(..., description="tensorflow or pytorch.")
    deepmd_version: str
    type_map: list[str]
    numb_steps: int = Field(..., description="Total training steps reached.")
    start_step: int = Field(0, description="Step training (re)started from in the last run.")
    init: str = Field("scratch", description="scratch, finetune, init_frz_model or restart.")
    parent_model_id: str | None = Field(None, description="Model this one started from.")
    pretrained_sha256: str | None = Field(
        None, description="SHA-256 of the pretrained checkpoint its lineage was fine-tuned from (None: scratch).")
    pretrained_branch: str | None = Field(None, description="The multi-task head fine-tuned from, if any.")
    teacher_model_id: str | None = Field(
        None, description="A distilled student: the production model whose labels it learned (None: not one).")
    files: dict[str, str] = Field(
        default_factory=dict, description="Kind (frozen, compressed, checkpoint, parity) -> GridFS id."
    )
    file_names: dict[str, str] = Field(default_factory=dict, description="Kind -> stored file name.")
    metrics: ValidationMetrics = Field(default_factory=ValidationMetrics)
    validation: ModelValidation | None = Field(None, description="Errors on the campaign's fixed validation set.")
    data: TrainingDataRecord = Field(default_factory=TrainingDataRecord)
    input: dict[str, Any] = Field(default_factory=dict, description="The DeePMD input.json used.")
    timings_s: dict[str, float] = Field(default_factory=dict, description="train/freeze/compress/test.")
    compression: CompressionRecord | None = Field(
        None, description="The compression outcome (None: compression off, or a model stored before it)."
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class TrainOutput(BaseModel):
    """Output of one training job (small: the model document stays in the models collection)."""

    model_id: str
    campaign: str
    round: int
    index: int
    seed: int
    start_step: int
    numb_steps: int
    metrics: ValidationMetrics
    run_dir: str = Field(..., description="Where the job ran (on its worker).")
