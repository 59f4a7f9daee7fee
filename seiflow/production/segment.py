"""One production segment: fetch the last restart, run LAMMPS up to the segment's end, check, analyse, store.

The segment's files (restart, trajectory of its own frames, log) and its document are stored only after it
ran whole; an earlier attempt's files (a killed worker) are removed first, and the step range comes from
the segment index alone, so a rerun repeats exactly that range from the same restart.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import ase.io

from seiflow.analysis.chemistry import Chemistry
from seiflow.errors import SeiflowError
from seiflow.exploration.deviation import read_dump
from seiflow.exploration.health import run_health
from seiflow.exploration.inputs import DATA_FILE, DUMP_FILE, LOG_FILE, MODEL_DEVI_FILE
from seiflow.exploration.run import LammpsRunner
from seiflow.models.store import ModelStore
from seiflow.production.descriptors import analyse_segment
from seiflow.production.inputs import INPUT_FILE, RESTART_IN, RESTART_OUT, segment_input
from seiflow.production.watch import locate, read_watch
from seiflow.records.production import ProductionStore
from seiflow.schemas.campaign import ProductionConfig
from seiflow.schemas.production import ProductionRun, ProductionSegment

TRAJECTORY_FILE = "frames.extxyz"
CELL_SEGMENT = -1  # the run's starting cell (conf.lmp) is stored as segment -1's "data" file


def step_range(run: ProductionRun, segment: int) -> tuple[int, int]:
    """First (exclusive, but step 0 is kept in segment 0) and last step of a segment."""
    start = segment * run.segment_steps
    return start, min(start + run.segment_steps, run.total_steps)


def n_segments(run: ProductionRun) -> int:
    """Segments the run is cut into."""
    return -(-run.total_steps // run.segment_steps)


def _inputs(run: ProductionRun, segment: int, run_dir: Path, store: ProductionStore) -> None:
    if segment == 0:
        cell = store.file_id(run.run_id, CELL_SEGMENT, "data")
        if cell is None:
            raise SeiflowError(f"production run {run.run_id} has no stored cell", "start it again with seiflow produce")
        store.fetch_file(cell, run_dir / DATA_FILE)
        return
    previous = store.get_segment(run.run_id, segment - 1)
    if previous is None or "restart" not in previous.files:
        raise SeiflowError(f"segment {segment - 1} of production run {run.run_id} has no stored restart",
                           "rerun the previous segment (lpad rerun_fws) or start again with seiflow produce")
    store.fetch_file(previous.files["restart"], run_dir / RESTART_IN)


def run_segment(config: ProductionConfig, run: ProductionRun, segment: int, work_dir: Path, chem: Chemistry,
                type_map: list[str], store: ProductionStore | None = None, models: ModelStore | None = None,
                attempt: int = 1) -> ProductionSegment:
    """Run segment ``segment`` of ``run`` in a fresh folder under ``work_dir``; store and return its document."""
    store = store or ProductionStore()
    models = models or ModelStore()
    start, end = step_range(run, segment)
    run_dir = Path(work_dir) / f"{run.run_id}-segment{segment:04d}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    store.delete_segment_files(run.run_id, segment)  # what a killed attempt left
    _inputs(run, segment, run_dir, store)
    model = models.fetch(run.model_id, run_dir / "models")
    watch_models = [models.fetch(m, run_dir / "models") for m in run.watch_model_ids] if run.watch_level else []
    (run_dir / INPUT_FILE).write_text(segment_input(config, end, model, watch_models, type_map, first=segment == 0))
    outcome = LammpsRunner().run(run_dir)
    health = run_health(outcome.returncode, outcome.reason, run_dir / LOG_FILE, config.temperature,
                        config.max_temperature_factor, f"production segment {segment} of {run.run_id}",
                        "fix it, then `lpad rerun_fws` the segment")
    lo = -1 if segment == 0 else start
    frames = {s: a for s, a in sorted(read_dump(run_dir / DUMP_FILE).items()) if lo < s <= end
              and (health.healthy or s < health.onset_step)}
    watch = read_watch(run_dir / MODEL_DEVI_FILE, start, end if health.healthy else health.onset_step - 1,
                       run.watch_level)
    if watch.n_uncertain:
        watch = locate(watch, frames, [model, *watch_models], run.timestep_fs, config.watch.max_located)
    times = [s * run.timestep_fs / 1000.0 for s in frames]
    analysis = analyse_segment(list(frames.values()), times, chem, run.origin_a, run.anode_bottom_a)
    for (step, atoms), time_ps in zip(frames.items(), times, strict=True):
        atoms.info.update(step=step, time_ps=time_ps)
    files = {}
    if frames:
        ase.io.write(run_dir / TRAJECTORY_FILE, list(frames.values()), format="extxyz")
        files["trajectory"] = store.put_file(run_dir / TRAJECTORY_FILE, run.run_id, segment, "trajectory")
    if health.healthy and (run_dir / RESTART_OUT).is_file():
        files["restart"] = store.put_file(run_dir / RESTART_OUT, run.run_id, segment, "restart")
    files["log"] = store.put_file(run_dir / LOG_FILE, run.run_id, segment, "log")
    steps_run = (end - start) if health.healthy else max(0, health.onset_step - start)
    doc = ProductionSegment(
        campaign=run.campaign, run_id=run.run_id, segment=segment, start_step=start, end_step=end,
        n_atoms=run.n_atoms, wall_s=round(outcome.wall_time_s, 3),
        atom_steps_per_s=round(run.n_atoms * steps_run / outcome.wall_time_s, 1) if outcome.wall_time_s > 0 else 0.0,
        n_frames=len(frames), frame_steps=list(frames), health=health.reason, health_step=health.onset_step, watch=watch, analysis=analysis,
        files=files, attempt=attempt,
    )
    store.put_segment(doc)
    return doc
