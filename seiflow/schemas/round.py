"""Per-round documents: what selection found and what the convergence check decided."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field


class Histogram(BaseModel):
    """A histogram of one deviation quantity."""

    quantity: str = Field("max_devi_f", description="Column it counts.")
    edges: list[float] = Field(default_factory=list, description="Bin edges (len = counts + 1).")
    counts: list[int] = Field(default_factory=list)


class FrameId(BaseModel):
    """Where a selected frame came from."""

    task_id: str
    step: int
    max_devi_f: float


class SelectionResult(BaseModel):
    """Selection outcome of a round (the structures travel beside it, not in it)."""

    n_frames: int = Field(0, description="Explored frames, all tasks together.")
    n_accurate: int = 0
    n_candidate: int = 0
    n_failed: int = 0
    accurate_ratio: float = 0.0
    candidate_ratio: float = 0.0
    failed_ratio: float = 0.0
    f_trust_lo_used: float = Field(..., description="The lower force level applied (adaptive or fixed).")
    n_filtered: int = Field(0, description="Candidates dropped by geometry filters.")
    filter_reasons: dict[str, int] = Field(default_factory=dict)
    histogram: Histogram = Field(default_factory=Histogram)
    selected: list[FrameId] = Field(default_factory=list)
    n_failed_tasks: int = 0
    failed_tasks: dict[str, str] = Field(default_factory=dict, description="task id -> reason.")

    @property
    def n_selected(self) -> int:
        return len(self.selected)


class CriterionResult(BaseModel):
    """One convergence criterion's verdict."""

    name: str
    satisfied: bool
    detail: str = ""


class RoundReport(BaseModel):
    """One round's statistics and convergence verdict, as stored in the ``rounds`` collection."""

    campaign: str
    round: int = Field(..., ge=0)
    selection: SelectionResult
    criteria: list[CriterionResult] = Field(default_factory=list)
    converged: bool = False
    stop: bool = Field(False, description="True when converged or the round cap is hit.")
    stop_reason: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict, description="Test RMSEs, RDF score...")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
