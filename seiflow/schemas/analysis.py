"""Documents of the closing analysis: the final model's NNP MD, its comparison with the reference, its cost.

The closing analysis job stores one :class:`AnalysisRecord` per campaign (``analyses``) and outputs its
:class:`AnalysisSummary`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from seiflow.schemas.chemistry import Chemistry
from seiflow.schemas.validation import DynamicsComparison


class CostEstimate(BaseModel):
    """Wall time of a production run, scaled from a measured speed."""

    us_per_step_atom: float = Field(..., description="Measured µs per MD step per atom.")
    n_atoms: int = Field(..., description="Atoms of the production run.")
    n_steps: int = Field(..., description="MD steps of the production run.")
    hours: float = Field(..., description="Estimated wall hours at the measured speed.")
    measured_on: str = Field("", description="Where the speed was measured (host, threads, model).")


class RdfComparison(BaseModel):
    """Partial RDFs of the final model's NNP MD and of the reference MD, with their agreement."""

    r: list[float] = Field(default_factory=list, description="Bin centres, Å.")
    curves: dict[str, dict[str, list[float]]] = Field(
        default_factory=dict, description="'nnp' and 'reference' -> pair -> g(r)."
    )
    overall: float | None = Field(None, description="Mean agreement over the pairs present, [0, 1].")
    per_pair: dict[str, float] = Field(default_factory=dict, description="Agreement per pair, [0, 1].")
    definition: str = Field("", description="How the agreement is defined.")
    n_reference_frames: int = Field(0, description="Reference frames compared.")


class AnalysisSummary(BaseModel):
    """Output of the closing analysis job."""

    campaign: str = Field(..., description="Campaign name.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When analysed.")
    model_id: str = Field(..., description="The model analysed (the campaign's final model).")
    seed: str = Field(..., description="Structure the NNP MD started from (interface, a bulk).")
    temperature: float = Field(..., description="NNP MD temperature, K.")
    steps: int = Field(..., description="NNP MD steps.")
    n_frames: int = Field(..., description="NNP MD frames analysed.")
    like_for_like: bool = Field(False, description="Compared with a reference trajectory of the same run.")
    frame_source: str | None = Field(
        None, description="The set compared with: 'test' (the independent test set), 'validation', None (no set)."
    )
    cost: CostEstimate = Field(..., description="The production run's cost at the measured speed.")
    final_model: bool = Field(False, description="The model is the production model (trained after convergence).")
    rdf_agreement: float | None = Field(None, description="Overall RDF agreement with the reference MD.")
    production_length_ns: float | None = Field(None, description="The production run the cost is for, ns.")
    unstable: str | None = Field(
        None, description="Where and why the NNP MD blew up (only its frames before that are analysed); None: healthy.")


class AnalysisRecord(AnalysisSummary):
    """The closing analysis, as stored in ``analyses`` (one per campaign)."""

    mechanism: list[dict[str, Any]] = Field(default_factory=list, description="Mechanism descriptors per frame.")
    rdf: RdfComparison | None = Field(None, description="RDFs against the reference (like for like only).")
    dynamics: list[DynamicsComparison] = Field(
        default_factory=list, description="Every like-for-like comparison with the test (else validation) set."
    )
    snapshots: list[dict[str, Any]] = Field(
        default_factory=list, description="Last NNP frame of each comparison (analysis.snapshot.Snapshot)."
    )
    chemistry: Chemistry | None = Field(None, description="The chemistry the mechanism was analysed for.")

    def summary(self) -> AnalysisSummary:
        """The job's output: the record without its curves, rows and frames."""
        return AnalysisSummary.model_validate(self.model_dump(include=set(AnalysisSummary.model_fields)))
