"""Exploration jobs: one LAMMPS task per job (category ``lammps``), run, parse, keep only selectable frames.

A run that could not run (a bad model file) gives a ``failed`` result with its reason; one that blew up (lost
atoms, NaN, far above its thermostat: :mod:`seiflow.exploration.health`) is ``unstable`` and keeps only its
frames from before the blow-up. The flow goes on either way.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jobflow import Flow, Maker, job
from pymatgen.core import Structure

from seiflow.constants import JobCategory
from seiflow.errors import InputError
from seiflow.exploration.deviation import energy_deviation, read_dump, read_model_devi, to_structure
from seiflow.exploration.health import MdHealth, blew_up, md_health, split_at
from seiflow.exploration.inputs import DUMP_FILE, LOG_FILE, MODEL_DEVI_FILE, write_inputs
from seiflow.exploration.run import LammpsRunner
from seiflow.exploration.tasks import make_tasks
from seiflow.jobconfig import set_category
from seiflow.runfiles import tidy
from seiflow.schemas.campaign import ExplorationConfig, SelectionConfig
from seiflow.schemas.exploration import (
    Deviation,
    ExplorationOutput,
    ExplorationResult,
    ExplorationTask,
    TaskStatus,
)
from seiflow.selection.selector import selector_from_config
from seiflow.selection.trust_levels import FrameClass, sanity_pool
from seiflow.settings import load_settings


def resolve_models(models: list[str | Path], dest_dir: Path) -> list[Path]:
    """Model files from local paths, or fetched by model id from the model store into ``dest_dir``."""
    paths = []
    for item in models:
        path = Path(item)
        if path.is_file():
            paths.append(path.resolve())
            continue
        from seiflow.models.store import ModelStore

        paths.append(ModelStore().fetch(str(item), dest_dir))
    return paths


def _keep_mask(result: ExplorationResult, selection: SelectionConfig, type_map: list[str]) -> np.ndarray:
    """Frames that may be selected: candidates under the selector's keep floor."""
    selector = selector_from_config(selection.model_copy(update={"fps": False}), type_map)
    classes = selector.trust.classify(result.deviation, f_lo=selector.keep_floor())
    return classes == FrameClass.CANDIDATE


def sanity_picks(result: ExplorationResult, selection: SelectionConfig, type_map: list[str]) -> np.ndarray:
    """Indices of up to ``n_sanity`` random frames kept for sanity labels (:func:`sanity_pool`)."""
    if not selection.n_sanity:
        return np.array([], dtype=int)
    selector = selector_from_config(selection.model_copy(update={"fps": False}), type_map)
    classes = selector.trust.classify(result.deviation)
    pool = sanity_pool(result.deviation.array("max_devi_f"), classes, selection.n_sanity)
    rng = np.random.default_rng(result.task.velocity_seed)
    return rng.choice(pool, size=min(selection.n_sanity, pool.size), replace=False)


def _deviations_at(deviation: Deviation, i: int) -> dict[str, float | None]:
    """Frame ``i``'s force, virial and (when computed) energy deviations, for its provenance."""
    return {"max_devi_f": deviation.max_devi_f[i],
            "max_devi_v": deviation.max_devi_v[i] if deviation.max_devi_v else None,
            "devi_e": deviation.devi_e[i] if deviation.devi_e else None}


def run_task(
    task: ExplorationTask,
    structure: Structure,
    model_files: list[Path],
    type_map: list[str],
    run_dir: Path,
    selection: SelectionConfig,
    runner: LammpsRunner | None = None,
    max_kept: int | None = None,
    keep_dump: bool = False,
) -> ExplorationOutput:
    """Write inputs, run LAMMPS, parse deviations, keep the selectable frames, delete the dump."""
    runner = runner or LammpsRunner()
    write_inputs(task, structure, type_map, model_files, run_dir, relative=selection.relative)
    outcome = runner.run(run_dir)
    base = {"task": task, "run_dir": str(run_dir), "wall_time_s": outcome.wall_time_s}
    devi_path = run_dir / MODEL_DEVI_FILE
    crashed = outcome.returncode != 0
    if not devi_path.is_file() or (crashed and not blew_up(outcome.reason)):
        reason = outcome.reason or f"{MODEL_DEVI_FILE} was not written"
        return ExplorationOutput(result=ExplorationResult(status=TaskStatus.FAILED, reason=reason, **base))
    deviation = read_model_devi(devi_path)
    health = md_health(run_dir / LOG_FILE, task, deviation, outcome.reason if crashed else None)
    n_dropped = 0
    if not health.healthy:
        deviation, n_dropped = split_at(deviation, health.onset_step)
    try:
        frames = read_dump(run_dir / DUMP_FILE)
    except (ValueError, IndexError, KeyError) as exc:  # a blown-up run's dump may end mid-frame or hold NaN
        if health.healthy:
            raise
        frames, health = {}, MdHealth(health.onset_step, f"{health.reason}; its dump is unreadable: {exc}")
    calibrating_e = selection.calibration is not None and selection.calibration.e_error_lo is not None
    if (selection.e_trust_lo is not None or calibrating_e) and deviation.n_frames:
        atoms = [frames[s] for s in deviation.steps]
        deviation.devi_e = energy_deviation(model_files, atoms).tolist()
    result = ExplorationResult(
        status=TaskStatus.COMPLETED if health.healthy else TaskStatus.UNSTABLE, n_frames=deviation.n_frames,
        deviation=deviation, reason=health.reason, unstable_step=health.onset_step, n_unstable_frames=n_dropped,
        **base,
    )
    keep = np.flatnonzero(_keep_mask(result, selection, type_map))
    keep = keep[np.argsort(-deviation.array("max_devi_f")[keep], kind="stable")][:max_kept]
    keep = np.union1d(keep, sanity_picks(result, selection, type_map)).astype(int)
    steps = sorted(deviation.steps[i] for i in keep if deviation.steps[i] in frames)
    index_of = {step: i for i, step in enumerate(deviation.steps)}
    result.kept_steps = steps
    if not keep_dump:
        (run_dir / DUMP_FILE).unlink(missing_ok=True)
    return ExplorationOutput(
        result=result,
        structures=[to_structure(frames[s], task.task_id, s, **_deviations_at(deviation, index_of[s]))
                    for s in steps],
    )


@job(output_schema=ExplorationOutput, data="structures")
def explore(
    task: ExplorationTask,
    structure: Structure,
    models: list[str],
    type_map: list[str],
    selection: SelectionConfig,
    work_dir: str | None = None,
    max_kept: int | None = None,
) -> ExplorationOutput:
    """Run one exploration task; models are local paths or model ids in the model store."""
    run_dir = Path(work_dir or ".").resolve() / task.task_id
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a rerun starts clean: LAMMPS appends to nothing stale
    run_dir.mkdir(parents=True)
    try:
        model_files = resolve_models(models, run_dir / "models")
    except InputError as exc:
        result = ExplorationResult(
            task=task, status=TaskStatus.FAILED, reason=f"models: {exc.one_line()}", run_dir=str(run_dir)
        )
        return ExplorationOutput(result=result)
    output = run_task(task, structure, model_files, type_map, run_dir, selection, max_kept=max_kept)
    tidy(run_dir, ("models",), load_settings().keep_run_files)  # copies of stored models
    return output


@dataclass
class ExplorationMaker(Maker):
    """The exploration grid of a round: one ``explore`` job per task, each in category ``lammps``."""

    name: str = "exploration"
    config: ExplorationConfig = field(default_factory=ExplorationConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    work_dir: str | None = None
    max_kept_factor: int = 4  # keep at most this many times max_candidates frames per task
    scale: float = 1.0  # run-length multiplier set by the adaptive schedule
    n_temperatures: int | None = None  # the first n of config.temperatures (adaptive range); None: all

    def temperatures(self) -> list[float]:
        """The temperatures this maker's round explores, K."""
        return list(self.config.temperatures[: self.n_temperatures])

    def make(
        self, seeds: dict[str, Structure], models: list[str], type_map: list[str], round_index: int = 0
    ) -> Flow:
        """A flow of exploration jobs over ``seeds``; its output is the list of task outputs."""
        jobs = []
        for task in make_tasks(list(seeds), self.config, round_index, self.scale, self.n_temperatures):
            j = explore(
                task, seeds[task.seed_name], models, type_map, self.selection,
                work_dir=self.work_dir, max_kept=self.max_kept_factor * self.selection.max_candidates,
            )
            j.name = f"explore {task.task_id}"
            set_category(j, JobCategory.LAMMPS)
            jobs.append(j)
        return Flow(jobs, output=[j.output for j in jobs], name=f"{self.name} r{round_index}")
