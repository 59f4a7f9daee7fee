"""Documents of the exploration step: one LAMMPS task, its model deviations and its outcome."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure


class Ensemble(StrEnum):
    """Thermodynamic ensemble of an exploration run."""

    NVT = "nvt"
    NPT = "npt"


class TaskStatus(StrEnum):
    """Outcome of one exploration task."""

    COMPLETED = "completed"
    FAILED = "failed"  # LAMMPS could not run (bad model file, bad input): reason says why
    UNSTABLE = "unstable"  # the MD blew up (lost atoms, NaN, far above its thermostat): frames before it are kept


class ExplorationTask(BaseModel):
    """One LAMMPS run of the exploration grid."""

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(..., description="Unique, readable id: round, seed, ensemble, T, P.")
    seed_name: str = Field(..., description="Name of the seed structure (interface, bulk, perturbed copy).")
    ensemble: Ensemble = Ensemble.NVT
    temperature: float = Field(..., gt=0, description="K.")
    pressure: float | None = Field(None, description="bar; NPT only.")
    nsteps: int = Field(..., ge=1)
    timestep_fs: float = Field(1.0, gt=0)
    out_freq: int = Field(..., ge=1, description="Steps between deviation lines and dumped frames.")
    round: int = Field(0, ge=0)
    velocity_seed: int = Field(1, ge=1, description="LAMMPS velocity seed.")
    max_temperature_factor: float = Field(
        5.0, gt=1, description="The run is unstable from the first thermo step above this x its temperature."
    )


class Deviation(BaseModel):
    """Model deviations of the frames of one run, one entry per dumped step (eV/Å, eV/atom)."""

    steps: list[int] = Field(default_factory=list)
    max_devi_f: list[float] = Field(default_factory=list, description="Max over atoms of the force deviation.")
    avg_devi_f: list[float] = Field(default_factory=list)
    max_devi_v: list[float] = Field(default_factory=list, description="Max virial deviation, per atom.")
    devi_e: list[float] | None = Field(None, description="Energy deviation per atom, when computed.")

    @property
    def n_frames(self) -> int:
        """Frames with deviations."""
        return len(self.steps)

    def array(self, name: str) -> np.ndarray:
        """One column as a float array (empty when absent)."""
        values = getattr(self, name)
        return np.asarray(values if values is not None else [], dtype=float)


class ExplorationResult(BaseModel):
    """What one exploration task reports: its spec, status, deviations and kept frames."""

    task: ExplorationTask
    status: TaskStatus
    n_frames: int = Field(0, ge=0, description="Frames with a deviation line.")
    deviation: Deviation = Field(default_factory=Deviation)
    kept_steps: list[int] = Field(
        default_factory=list, description="Steps whose structures were kept (may be selected)."
    )
    reason: str | None = Field(None, description="Why the run failed or blew up: the end of log.lammps.")
    unstable_step: int | None = Field(
        None, description="First MD step of the blow-up (unstable runs): frames from here on are dropped."
    )
    n_unstable_frames: int = Field(
        0, ge=0, description="Frames dropped from the blow-up on: counted as failed, never selected."
    )
    run_dir: str | None = None
    wall_time_s: float | None = None


class ExplorationOutput(BaseModel):
    """One task's result document and the structures of its kept frames (for selection/labelling)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    result: ExplorationResult = Field(..., description="The task's outcome and deviations.")
    structures: list[Structure] = Field(
        default_factory=list, description="Kept frames, with their provenance (task, step)."
    )
