"""The 4-model ensemble through FireWorks: two real rlaunch workers (category train), compressed models
in the store, fetched back with the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.models.store import ModelStore
from seiflow.training.flows import EnsembleTrainMaker
from seiflow.training.jobs import DeepmdTrainMaker
from tests.training.conftest import TYPE_MAP

BIN = Path(sys.executable).parent


def test_ensemble_flow_shape(tiny_config, licl_data):
    maker = EnsembleTrainMaker(train_maker=DeepmdTrainMaker(config=tiny_config, type_map=TYPE_MAP), numb_models=3)
    flow = maker.make(licl_data, campaign="licl", round=1)
    assert len(flow.jobs) == 3
    assert [j.function_args[6] for j in flow.jobs] == [11, 12, 13]  # seeds
    assert {j.config.manager_config["_category"] for j in flow.jobs} == {"train"}
    wf = flow_to_workflow(flow)
    assert {fw.spec["_category"] for fw in wf.fws} == {"train"}
    from seiflow.errors import InputError

    with pytest.raises(InputError, match="previous models"):
        maker.make(licl_data, campaign="licl", round=2, prev_model_ids=["a"])


@pytest.mark.slow
def test_ensemble_of_four_through_fireworks(seiflow_env, tiny_config, licl_data, tmp_path):
    config = tiny_config.model_copy(update={"numb_models": 4, "compress": True})
    maker = EnsembleTrainMaker(train_maker=DeepmdTrainMaker(config=config, type_map=TYPE_MAP, save_freq=20))
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    lp.add_wf(flow_to_workflow(maker.make(licl_data, campaign="licl", round=1), store=store.get_jobstore()))
    worker = tmp_path / "my_fworker.yaml"
    worker.write_text(yaml.safe_dump({"name": "gpu-node", "category": ["train"], "query": "{}"}))
    env = seiflow_env.subprocess_env()
    procs = []
    for n in range(2):  # two workers train at once
        cwd = tmp_path / f"worker{n}"
        cwd.mkdir()
        cmd = [str(BIN / "rlaunch"), "-l", str(seiflow_env.launchpad_file), "-w", str(worker), "rapidfire"]
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for proc in procs:
        out, _ = proc.communicate(timeout=1500)
        assert proc.returncode == 0, out.decode()[-2000:]
    assert {fw["state"] for fw in lp.fireworks.find({}, {"state": 1})} == {"COMPLETED"}

    models = ModelStore().latest_ensemble("licl")
    assert [m.index for m in models] == [0, 1, 2, 3] and [m.seed for m in models] == [11, 12, 13, 14]
    for m in models:
        assert {"frozen", "compressed", "parity"} <= set(m.files)
        assert m.metrics.n_test_frames == 6 and m.metrics.rmse_f_mev_a > 0

    listed = subprocess.run(
        [str(BIN / "seiflow"), "models", "list", "--campaign", "licl", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )
    data = json.loads(listed.stdout)
    assert data["count"] == 4 and data["models"][0]["metrics"]["n_test_frames"] == 6
    got = subprocess.run(
        [str(BIN / "seiflow"), "models", "get", models[2].model_id, "--out", str(tmp_path / "m"), "--json"],
        env=env, capture_output=True, text=True, check=True,
    )
    result = json.loads(got.stdout)
    path = Path(result["path"])
    assert path.parent == (tmp_path / "m").resolve() and path.name.endswith("compressed.pb")
    assert path.stat().st_size == result["bytes"] > 10_000
