"""Typed documents of the production stage: the run, and one document per segment of it.

A run (collection ``production_runs``) is a chain of segments on the LAMMPS workers, each continuing from
the last one's restart file; each segment (collection ``production``) stores its step range, speed, MD
health, the extrapolation watch and the SEI descriptors of its frames.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class ProductionState(StrEnum):
    """Where a production run stands."""

    RUNNING = "running"
    FINISHED = "finished"
    UNCERTAIN = "uncertain"  # the watch stopped it: the potential left the region it was trained on
    FAILED = "failed"  # MD health: lost atoms, NaN or overheating
    STOPPED = "stopped"  # by hand (seiflow produce --stop): the next segment does not start


def now() -> datetime:
    """UTC now (documents carry aware datetimes)."""
    return datetime.now(UTC)


class UncertainAtoms(BaseModel):
    """Atoms beyond the watch's level in one dumped frame."""

    step: int
    time_ps: float
    max_devi_f: float = Field(..., description="eV/Å, the frame's max-atom force deviation.")
    indices: list[int] = Field(default_factory=list, description="0-based atom indices beyond the level.")
    elements: list[str] = Field(default_factory=list)
    positions: list[list[float]] = Field(default_factory=list, description="Cartesian, Å (wrapped).")
    devi_f: list[float] = Field(default_factory=list, description="Their force deviations, eV/Å.")


class WatchResult(BaseModel):
    """The ensemble's force deviation on the production cell over one segment."""

    level: float | None = Field(None, description="eV/Å; None: no watch.")
    n_checked: int = 0
    n_uncertain: int = 0
    fraction: float = 0.0
    max_devi_f: float | None = None
    first_uncertain_step: int | None = None
    steps: list[int] = Field(default_factory=list, description="Checked steps.")
    max_devi_f_by_step: list[float] = Field(default_factory=list)
    located: list[UncertainAtoms] = Field(default_factory=list)


class SegmentAnalysis(BaseModel):
    """SEI descriptors of one segment's frames (rows keyed as :func:`seiflow.analysis.mechanism.mechanism_row`)."""

    time_ps: list[float] = Field(default_factory=list)
    rows: list[dict[str, Any]] = Field(default_factory=list, description="One row of descriptors per frame.")
    front_a: list[float | None] = Field(default_factory=list, description="Reaction-front distance per frame, Å.")
    msd_a2: dict[str, float | None] = Field(
        default_factory=dict, description="Region -> mobile-ion MSD over the segment (frame 0 to last), Å^2.")
    msd_species: str | None = None


class ProductionSegment(BaseModel):
    """One segment of a production run (a queue job): stored once it has run whole."""

    campaign: str
    run_id: str
    segment: int
    start_step: int
    end_step: int
    n_atoms: int
    wall_s: float
    atom_steps_per_s: float
    n_frames: int
    frame_steps: list[int] = Field(default_factory=list)
    health: str | None = Field(None, description="Why the MD is unhealthy (None: healthy).")
    health_step: int | None = Field(None, description="The first unhealthy step (later frames are dropped).")
    watch: WatchResult = Field(default_factory=WatchResult)
    analysis: SegmentAnalysis = Field(default_factory=SegmentAnalysis)
    files: dict[str, str] = Field(default_factory=dict, description="Kind (trajectory, restart, log) -> GridFS id.")
    attempt: int = Field(1, description="How many times this segment ran (a killed worker's segment reruns).")
    finished_at: datetime = Field(default_factory=now)


class WatchSummary(BaseModel):
    """A segment's watch in four numbers (before and after a learning round)."""

    n_checked: int = 0
    n_uncertain: int = 0
    fraction: float = 0.0
    max_devi_f: float | None = Field(None, description="eV/Å.")

    @classmethod
    def of(cls, watch: WatchResult) -> WatchSummary:
        """The summary of a segment's watch."""
        return cls(n_checked=watch.n_checked, n_uncertain=watch.n_uncertain, fraction=round(watch.fraction, 5),
                   max_devi_f=watch.max_devi_f)


class LearningRound(BaseModel):
    """One learning round of a production run: the uncertain segment's boxes, labelled, trained on, and the rerun."""

    round: int = Field(..., description="Its round index (models, frames and validation are stored under it).")
    segment: int = Field(..., description="The uncertain segment; the run resumes by running it again.")
    time_ps: float | None = Field(None, description="Simulated time of the first uncertain step, ps.")
    outcome: str = Field("labelling", description="labelling, training, resumed, or 'not resumed: why'.")
    n_carved: int = Field(0, description="Boxes carved around located uncertain atoms.")
    n_selected: int = Field(0, description="Of them, kept by the filters and FPS.")
    n_labelled: int = Field(0, description="New labelled frames trained on.")
    n_flagged: int = Field(0, description="Labelled but absurd (a core force above labelling.max_force): not trained on.")
    n_failed: int = Field(0, description="Boxes the reference failed on.")
    skipped: list[str] = Field(default_factory=list, description="Why boxes were not carved or kept.")
    box_atoms: list[int] = Field(default_factory=list, description="Atoms in each selected box.")
    core_atoms: list[int] = Field(default_factory=list, description="Core atoms (force weight 1) in each.")
    box_edge_a: float | None = None
    models_before: list[str] = Field(default_factory=list, description="Production model, then the watch ensemble.")
    models_after: list[str] = Field(default_factory=list)
    validation_rmse_f_before: float | None = Field(None, description="meV/Å, the old production model, fixed set.")
    validation_rmse_f_after: float | None = Field(None, description="meV/Å, the new one, same frames, same job.")
    watch_before: WatchSummary = Field(default_factory=WatchSummary, description="The uncertain segment's watch.")
    watch_after: WatchSummary | None = Field(None, description="The same segment run again with the new models.")
    started_at: datetime = Field(default_factory=now)
    finished_at: datetime | None = None


class ProductionRun(BaseModel):
    """A production run: its cell, model, length and progress."""

    campaign: str
    run_id: str
    state: ProductionState = ProductionState.RUNNING
    model_id: str
    watch_model_ids: list[str] = Field(default_factory=list, description="The ensemble beside the production model.")
    n_atoms: int
    total_steps: int
    segment_steps: int
    timestep_fs: float
    temperature: float
    dump_every: int
    steps_done: int = 0
    segments_done: int = 0
    wall_s: float = 0.0
    watch_level: float | None = None
    watch_level_source: str | None = None
    origin_a: float | None = Field(None, description="The anode surface in the first frame (the front's zero), Å.")
    anode_bottom_a: float | None = Field(None, description="The anode's lowest atom in the first frame, Å.")
    cell: str = Field("", description="How the cell was made.")
    attempts: dict[str, int] = Field(default_factory=dict, description="Segment -> times it started.")
    first_percolation_ps: dict[str, float] = Field(
        default_factory=dict, description="Metallic element -> time its clusters first span the cell (any direction).")
    stop_reason: str | None = None
    learning: list[LearningRound] = Field(default_factory=list, description="Learning rounds from uncertain stops.")
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    @property
    def ns_done(self) -> float:
        """Simulated time so far, ns."""
        return self.steps_done * self.timestep_fs * 1e-6

    @property
    def ns_total(self) -> float:
        """Simulated time asked for, ns."""
        return self.total_steps * self.timestep_fs * 1e-6

    def progress(self) -> dict[str, Any]:
        """Simulated ns done of total, atom-steps/s and the time left at that speed (``seiflow status``)."""
        rate = self.n_atoms * self.steps_done / self.wall_s if self.wall_s > 0 else None
        left = (self.total_steps - self.steps_done) * self.n_atoms / rate if rate else None
        return {"run_id": self.run_id, "state": self.state.value, "ns_done": round(self.ns_done, 6),
                "ns_total": round(self.ns_total, 6), "steps_done": self.steps_done, "total_steps": self.total_steps,
                "segments_done": self.segments_done, "n_atoms": self.n_atoms,
                "atom_steps_per_s": round(rate, 1) if rate else None,
                "hours_left": round(left / 3600, 3) if left is not None else None,
                "first_percolation_ps": self.first_percolation_ps, "stop_reason": self.stop_reason,
                "learning_rounds": len(self.learning)}
