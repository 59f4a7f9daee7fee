"""Real DeePMD training through the job: train, freeze, test, store; resume after a kill; next round."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from jobflow import run_locally

from seiflow.models.store import ModelStore
from seiflow.store import get_jobstore
from seiflow.training.jobs import DeepmdTrainMaker, run_dir_for
from seiflow.training.run import checkpoint_step
from tests.training.conftest import TYPE_MAP


def _run(job):
    responses = run_locally(job, store=get_jobstore(), ensure_success=True, log=False, raise_immediately=True)
    return responses[job.uuid][1].output


def test_train_one_model_and_store(seiflow_env, tiny_config, licl_data, tmp_path):
    maker = DeepmdTrainMaker(config=tiny_config, type_map=TYPE_MAP, save_freq=20, disp_freq=10)
    job = maker.make(licl_data, campaign="licl", round=1, index=0)
    assert job.config.manager_config == {"_category": "train"}
    out = _run(job)
    assert out.start_step == 0 and out.numb_steps == 40 and out.seed == tiny_config.seed
    m = out.metrics
    assert m.n_test_frames == 6 and m.rmse_e_mev_atom > 0 and m.rmse_f_mev_a > 0 and m.rmse_v_mpa > 0
    doc = ModelStore().get(out.model_id)
    assert set(doc.files) == {"frozen", "checkpoint", "parity"}
    assert doc.deepmd_version.startswith("3.2") and doc.data.n_train_frames == 24
    assert doc.input["model"]["descriptor"]["sel"][0] % 4 == 0
    path = ModelStore().fetch(out.model_id, tmp_path / "got")
    assert path.suffix == ".pb" and path.stat().st_size > 10_000
    parity = json.loads(ModelStore().read_file(out.model_id, "parity"))
    assert len(parity["energy_per_atom"]) == 6 and len(parity["force"]) == 6 * 64 * 3


@pytest.mark.slow
def test_killed_training_resumes_from_checkpoint(seiflow_env, tiny_config, licl_data):
    config = tiny_config.model_copy(update={"numb_steps": 600})
    args = dict(config=config.model_dump(), data=licl_data.model_dump())
    script = (
        "import json,sys\n"
        "from seiflow.schemas.campaign import TrainingConfig\n"
        "from seiflow.training.data import TrainingDataSpec\n"
        "from seiflow.training.jobs import train_model\n"
        "a=json.loads(sys.argv[1])\n"
        "train_model.original(TrainingConfig(**a['config']),['Li','Cl'],TrainingDataSpec(**a['data']),"
        "'licl',1,0,11,None,20,20)\n"
    )
    run_dir = run_dir_for("licl", 1, 0)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(args)], env=seiflow_env.subprocess_env(),
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 240
        while (checkpoint_step(run_dir) or 0) < 100 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = checkpoint_step(run_dir)
    assert killed_at is not None and 100 <= killed_at < 600, killed_at
    assert not (run_dir / "frozen.pb").exists()
    maker = DeepmdTrainMaker(config=config, type_map=TYPE_MAP, save_freq=20, disp_freq=20)
    out = _run(maker.make(licl_data, campaign="licl", round=1, index=0))
    assert out.start_step >= killed_at and out.numb_steps == 600
    assert "restart from model" in (run_dir / "train.log").read_text()


@pytest.mark.slow
def test_next_round_starts_from_previous_model(seiflow_env, tiny_config, licl_data):
    maker = DeepmdTrainMaker(config=tiny_config, type_map=TYPE_MAP, save_freq=20, disp_freq=10)
    first = _run(maker.make(licl_data, campaign="licl", round=1, index=0))
    second = _run(maker.make(licl_data, campaign="licl", round=2, index=0, prev_model_id=first.model_id))
    doc = ModelStore().get(second.model_id)
    assert doc.init == "init_frz_model" and doc.parent_model_id == first.model_id
    assert second.start_step == 0 and second.numb_steps == tiny_config.numb_steps_next
    resumed = json.loads((run_dir_for("licl", 2, 0) / "input.json").read_text())
    assert resumed["learning_rate"]["start_lr"] == tiny_config.resume_start_lr  # not round 1's start_lr
    assert resumed["loss"]["start_pref_f"] == tiny_config.resume_loss.start_pref_f
    restart = DeepmdTrainMaker(
        config=tiny_config.model_copy(update={"next_round_init": "restart"}), type_map=TYPE_MAP,
        save_freq=20, disp_freq=10,
    )
    third = _run(restart.make(licl_data, campaign="licl", round=3, index=0, prev_model_id=second.model_id))
    assert third.start_step == second.numb_steps
    assert third.numb_steps == second.numb_steps + tiny_config.numb_steps_next
    assert [d.model_id for d in ModelStore().latest_ensemble("licl")] == [third.model_id]
