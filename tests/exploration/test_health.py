"""MD health: real LAMMPS runs driven by a poorly trained ensemble blow up, are classified ``unstable``, and
nothing from after the blow-up is selected; the parsing on its own."""

from __future__ import annotations

import math

from seiflow.exploration.health import md_health, read_thermo, split_at
from seiflow.exploration.jobs import run_task
from seiflow.exploration.tasks import make_tasks
from seiflow.schemas.campaign import ExplorationConfig, SelectionConfig
from seiflow.schemas.exploration import Deviation, TaskStatus
from seiflow.selection.selector import Selector, selector_from_config
from tests.exploration.models import TYPE_MAP, licl_supercell

LOOSE = SelectionConfig(f_trust_lo=0.3, f_trust_hi=3.0, max_candidates=50, fps=False, filters={})


def _run(models, tmp_path, name: str, **config):
    task = make_tasks([name], ExplorationConfig(temperatures=[300.0], out_freq=10, **config))[0]  # id: its name
    return run_task(task, licl_supercell(), models, TYPE_MAP, tmp_path / name, LOOSE)


def _select(outputs) -> tuple:
    selector: Selector = selector_from_config(LOOSE, TYPE_MAP)
    return selector.select([o.result for o in outputs], [s for o in outputs for s in o.structures])


def test_an_overheating_run_is_unstable_and_nothing_after_the_blow_up_is_selected(poor_ensemble, tmp_path):
    # 20-step models at 300 K heat the 64-atom LiCl cell to ~2,000 K within 200 steps (measured: 7.5x)
    hot = _run(poor_ensemble, tmp_path, "hot", nsteps=300, max_temperature_factor=2.5)
    r = hot.result
    assert r.status == TaskStatus.UNSTABLE, (r.status, r.reason)
    onset = r.unstable_step
    assert onset is not None and 0 < onset < 300 and f"at step {onset}, above 2.5 x" in r.reason
    assert r.n_unstable_frames == 31 - r.n_frames > 0  # steps 0..300 every 10: the rest were dropped
    assert max(r.deviation.steps) < onset and all(s < onset for s in r.kept_steps)
    assert all(s.properties["provenance"]["frame_index"] < onset for s in hot.structures)
    steps, temps = read_thermo(tmp_path / "hot" / "log.lammps")
    assert temps[steps.index(onset)] > 2.5 * 300 and max(temps[: steps.index(onset)]) <= 2.5 * 300

    # the same run, judged with a limit it never reaches, is healthy: the status comes from the health check
    calm = _run(poor_ensemble, tmp_path, "calm", nsteps=300, max_temperature_factor=50.0)
    assert calm.result.status == TaskStatus.COMPLETED and calm.result.n_frames == 31

    doc, picked = _select([hot, calm])
    assert doc.n_unstable_tasks == 1 and onset == hot.result.unstable_step
    assert next(iter(doc.unstable_tasks)) == r.task.task_id
    assert doc.n_frames == 31 + 31 and doc.n_unstable_frames == r.n_unstable_frames
    assert doc.n_accurate + doc.n_candidate + doc.n_failed == doc.n_frames
    hot_picks = [s.properties["provenance"]["frame_index"] for s in picked
                 if s.properties["provenance"]["origin"] == r.task.task_id]
    assert all(step < onset for step in hot_picks)


def test_a_run_that_loses_atoms_keeps_its_frames_before_the_crash(poor_ensemble, tmp_path):
    # a 100 fs step with 20-step models: LAMMPS stops with "Lost atoms" (measured: 37 of 64 lost by step 20)
    lost = _run(poor_ensemble, tmp_path, "lost", nsteps=300, timestep_fs=100.0).result
    assert lost.status == TaskStatus.UNSTABLE and "Lost atoms" in lost.reason, lost.reason
    assert lost.n_frames >= 1 and lost.n_unstable_frames >= 1 and max(lost.deviation.steps) < lost.unstable_step


def test_a_model_file_that_cannot_load_is_failed_not_unstable(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"not a model")
    out = _run([bad], tmp_path, "bad", nsteps=20)
    assert out.result.status == TaskStatus.FAILED and out.result.unstable_step is None


def test_thermo_parsing_and_the_rules(tmp_path):
    log = tmp_path / "log.lammps"
    log.write_text(
        "LAMMPS (22 Jul 2025)\nthermo 10\n   Step          Temp          PotEng\n"
        "         0   300           -310.5\n        10   320.5         -310.1\n        20   -nan          nan\n"
        "Loop time of 1.0 on 1 procs for 20 steps with 64 atoms\n"
    )
    steps, temps = read_thermo(log)
    assert steps == [0, 10, 20] and temps[:2] == [300.0, 320.5] and math.isnan(temps[2])
    task = make_tasks(["licl"], ExplorationConfig(temperatures=[300.0], nsteps=20, out_freq=10))[0]
    devi = Deviation(steps=[0, 10, 20], max_devi_f=[0.1, 0.2, 0.3], avg_devi_f=[0.0] * 3, max_devi_v=[0.0] * 3)
    health = md_health(log, task, devi)
    assert health.onset_step == 20 and "nan" in health.reason
    kept, dropped = split_at(devi, health.onset_step)
    assert kept.steps == [0, 10] and kept.max_devi_f == [0.1, 0.2] and dropped == 1
    nan_devi = devi.model_copy(update={"max_devi_f": [0.1, float("nan"), 0.3]})
    assert md_health(tmp_path / "no-log", task, nan_devi).onset_step == 10
    assert md_health(tmp_path / "no-log", task, devi).healthy
    assert md_health(tmp_path / "no-log", task, devi, crash="ERROR: Lost atoms").onset_step == 20
