"""MD health: whether a LAMMPS run blew up, and from which step.

A model driven outside what it learnt can make the MD lose atoms (LAMMPS stops with "Lost atoms"), produce
NaN, or heat far above its thermostat. Such frames say nothing about the model near the physics the campaign
explores: from the blow-up on they are neither candidates nor accurate (the task is ``unstable``, its later
frames are dropped and counted as failed), while the frames before it are kept and classified as usual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from seiflow.errors import SeiflowError
from seiflow.schemas.exploration import Deviation, ExplorationTask

# LAMMPS errors of a run that blew up (not of a run that could not start)
BLOW_UP_ERRORS = ("Lost atoms", "Out of range atoms", "Non-numeric", "Too many neighbor", "NaN", " nan", "-nan")


@dataclass(frozen=True)
class MdHealth:
    """The first unhealthy step of a run (None: healthy) and why."""

    onset_step: int | None = None
    reason: str | None = None

    @property
    def healthy(self) -> bool:
        """No blow-up found."""
        return self.onset_step is None


def read_thermo(log_path: Path) -> tuple[list[int], list[float]]:
    """Steps and temperatures of the thermo lines of ``log.lammps`` (``thermo_style custom step temp ...``)."""
    steps: list[int] = []
    temps: list[float] = []
    if not log_path.is_file():
        return steps, temps
    columns: list[str] | None = None
    for line in log_path.read_text(errors="replace").splitlines():
        words = line.split()
        if words[:1] == ["Step"]:
            columns = words
            continue
        if line.startswith("Loop time"):  # the end of this run's thermo block
            columns = None
        if columns is None or not words or not words[0].lstrip("-").isdigit() or len(words) != len(columns):
            continue
        try:
            temp = float(words[columns.index("Temp")]) if "Temp" in columns else math.nan
        except ValueError:
            temp = math.nan
        steps.append(int(words[0]))
        temps.append(temp)
    return steps, temps


def blew_up(reason: str | None) -> bool:
    """True when a LAMMPS error is one of a run that blew up (lost atoms, NaN), not one that could not run."""
    return bool(reason) and any(marker in reason for marker in BLOW_UP_ERRORS)


def thermo_health(log_path: Path, temperature: float, factor: float, crash: str | None = None) -> MdHealth:
    """The first step of ``log.lammps`` whose temperature is NaN or above ``factor`` x ``temperature``.

    ``crash`` (a blow-up error that stopped LAMMPS, e.g. lost atoms): else the run's last thermo step.
    """
    steps, temps = read_thermo(log_path)
    for step, temp in zip(steps, temps, strict=True):
        if not math.isfinite(temp):
            return MdHealth(step, f"temperature is {temp} at step {step}")
        if temp > factor * temperature:
            return MdHealth(step, f"{temp:.0f} K at step {step}, above {factor:g} x the thermostat's "
                                  f"{temperature:g} K")
    if crash is not None:
        last = steps[-1] if steps else 0
        return MdHealth(last, f"LAMMPS stopped after step {last}: {crash}")
    return MdHealth()


def run_health(returncode: int, reason: str | None, log_path: Path, temperature: float, factor: float,
               what: str, fix: str) -> MdHealth:
    """A finished LAMMPS run's health; a failure that is not a blow-up raises, naming ``what`` and the ``fix``."""
    crash = None
    if returncode != 0:
        if not blew_up(reason or ""):
            raise SeiflowError(f"{what} failed: {reason}", f"see {log_path}; {fix}")
        crash = (reason or "").splitlines()[0]
    return thermo_health(log_path, temperature, factor, crash)


def md_health(log_path: Path, task: ExplorationTask, deviation: Deviation, crash: str | None = None) -> MdHealth:
    """The run's first unhealthy step, and why.

    NaN in its thermo or deviations, a temperature above ``task.max_temperature_factor`` x its thermostat's,
    or (``crash``: a blow-up error that stopped LAMMPS) its last recorded frame.
    """
    thermo = thermo_health(log_path, task.temperature, task.max_temperature_factor)
    if not thermo.healthy:
        return thermo
    for i, step in enumerate(deviation.steps):
        values = [deviation.max_devi_f[i], deviation.avg_devi_f[i] if deviation.avg_devi_f else 0.0]
        if not all(math.isfinite(v) for v in values):
            return MdHealth(step, f"non-finite force deviation at step {step}")
    if crash is not None:
        last = deviation.steps[-1] if deviation.steps else 0
        return MdHealth(last, f"LAMMPS stopped after step {last}: {crash}")
    return MdHealth()


def split_at(deviation: Deviation, onset: int) -> tuple[Deviation, int]:
    """The deviations of the frames before ``onset``, and how many frames were dropped."""
    keep = [i for i, step in enumerate(deviation.steps) if step < onset]

    def cut(values: list[float] | None) -> list[float] | None:
        return None if values is None else [values[i] for i in keep] if values else values

    kept = Deviation(steps=[deviation.steps[i] for i in keep], max_devi_f=cut(deviation.max_devi_f),
                     avg_devi_f=cut(deviation.avg_devi_f), max_devi_v=cut(deviation.max_devi_v),
                     devi_e=cut(deviation.devi_e))
    return kept, deviation.n_frames - len(keep)
