"""Per-round documents: what selection found and what the convergence check decided."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from seiflow.schemas.calibration import CalibrationSummary


class Histogram(BaseModel):
    """A histogram of one deviation quantity."""

    quantity: str = Field("max_devi_f", description="Column it counts.")
    edges: list[float] = Field(default_factory=list, description="Bin edges (len = counts + 1).")
    counts: list[int] = Field(default_factory=list, description="Frames per bin.")


class FrameId(BaseModel):
    """Where a selected frame came from."""

    task_id: str = Field(..., description="Exploration task that produced the frame.")
    step: int = Field(..., description="MD step of the frame in that task.")
    max_devi_f: float = Field(..., description="Its max force deviation, eV/Å.")


class SelectionResult(BaseModel):
    """Selection outcome of a round (the structures travel beside it, not in it)."""

    n_frames: int = Field(0, description="Explored frames, all tasks together.")
    n_accurate: int = Field(0, description="Frames below every lower trust level.")
    n_candidate: int = Field(0, description="Frames between the levels.")
    n_failed: int = Field(
        0, description="Frames above an upper level (or non-finite), and frames of unstable runs from the blow-up on."
    )
    accurate_ratio: float = Field(0.0, description="n_accurate / n_frames.")
    candidate_ratio: float = Field(0.0, description="n_candidate / n_frames.")
    failed_ratio: float = Field(0.0, description="n_failed / n_frames.")
    f_trust_lo_used: float = Field(..., description="The lower force level applied (adaptive or fixed).")
    n_filtered: int = Field(0, description="Candidates dropped by geometry filters.")
    filter_reasons: dict[str, int] = Field(
        default_factory=dict,
        description="Filter name -> candidates dropped; 'labelled': already stored with the campaign's "
        "reference (a seed met again), 'not_kept': dropped by exploration.",
    )
    histogram: Histogram = Field(default_factory=Histogram, description="Max force deviation histogram.")
    selected: list[FrameId] = Field(default_factory=list, description="Frames sent to labelling.")
    n_sanity: int = Field(0, description="Random accurate frames also sent to labelling (sanity labels).")
    n_failed_tasks: int = Field(0, description="Exploration tasks that could not run.")
    failed_tasks: dict[str, str] = Field(default_factory=dict, description="task id -> reason.")
    n_unstable_tasks: int = Field(
        0, description="Exploration runs that blew up (lost atoms, NaN, far above the thermostat)."
    )
    unstable_tasks: dict[str, str] = Field(default_factory=dict, description="task id -> when and why it blew up.")
    n_unstable_frames: int = Field(0, description="Frames of unstable runs from the blow-up on (in n_failed).")

    @property
    def n_selected(self) -> int:
        """Frames sent to labelling."""
        return len(self.selected)


class CriterionResult(BaseModel):
    """One convergence criterion's verdict."""

    name: str = Field(..., description="The criterion's registered name.")
    satisfied: bool = Field(..., description="Whether it holds after this round.")
    detail: str = Field("", description="The values it compared, in words.")


ADAPTIVE_LOWER_KEY = "adaptive_lower"  # in RoundReport.levels: 1.0 when the lower level was DP-GEN2's adaptive one


class StopKind(StrEnum):
    """Why a campaign stopped after a round."""

    CONVERGED = "converged"  # every criterion holds
    ROUND_CAP = "round_cap"  # convergence.max_rounds reached
    STALLED = "stalled"  # frames explored, none selected, not converged (dpgen2 raises here)
    NO_FRAMES = "no_frames"  # every exploration failed


class StageTime(BaseModel):
    """One stage's jobs in a round, timed from their FireWorks launches."""

    n_jobs: int = Field(0, ge=0, description="Jobs of the stage that ran in the round.")
    busy_s: float = Field(0.0, ge=0, description="Seconds the jobs ran, added up (what node-hours are made of).")
    span_s: float = Field(0.0, ge=0, description="First start to last end, s (stages overlap where run side by side).")


class RoundTimes(BaseModel):
    """Where a round's time went (:mod:`seiflow.controller.stage_times`)."""

    wall_s: float = Field(..., ge=0, description="The previous round's closing to this round's, s.")
    queue_wait_s: float = Field(
        0.0, ge=0, description="Seconds jobs waited for a worker once they could run, added up over the jobs.")
    stages: dict[str, StageTime] = Field(
        default_factory=dict, description="training, validation, exploration, selection, labelling, "
        "calibration, control (planners), each present when it ran.")


class RoundReport(BaseModel):
    """One round's statistics and convergence verdict, as stored in the ``rounds`` collection."""

    campaign: str = Field(..., description="Campaign name.")
    round: int = Field(..., ge=0, description="Round index (1 = first active-learning round).")
    selection: SelectionResult = Field(..., description="What selection found.")
    criteria: list[CriterionResult] = Field(default_factory=list, description="Each criterion's verdict.")
    converged: bool = Field(False, description="True when every criterion holds.")
    stop: bool = Field(False, description="True when the campaign stops after this round.")
    stop_kind: StopKind | None = Field(None, description="Why it stops (None: it goes on).")
    stop_reason: str | None = Field(None, description="Why it stops, in words.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Test RMSEs, RDF score...")
    levels: dict[str, float] = Field(default_factory=dict, description="Force trust levels used, eV/Å.")
    levels_next: dict[str, float] = Field(
        default_factory=dict, description="Levels set for the next round (calibrated or adaptive)."
    )
    calibration: CalibrationSummary | None = Field(
        None, description="Deviation/true-error fit, next levels and sanity errors (None: not calibrated)."
    )
    n_labelled: int = Field(0, ge=0, description="Frames the round's labelling stored new.")
    n_corrected: int = Field(
        0, ge=0, description="Of those, frames whose DFT run needed custodian corrections (provenance.custodian).")
    exploration_scale: float = Field(1.0, description="Run-length multiplier this round ran with.")
    exploration_temperatures: list[float] = Field(
        default_factory=list, description="Temperatures this round explored, K (adaptive range)."
    )
    temperatures_pending: list[float] = Field(
        default_factory=list, description="Campaign temperatures the adaptive range has not reached yet, K."
    )
    times: RoundTimes | None = Field(None, description="Wall time by stage and queue wait (None: not measured).")
    decided_on: dict[str, str] = Field(
        default_factory=dict,
        description="Decision (stopping, member_choice) -> the frames it read: 'validation' (the fixed validation "
                    "set) or 'held-out split' (each model's dp test split); never the independent test set.",
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When judged.")
