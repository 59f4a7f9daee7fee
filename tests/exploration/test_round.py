"""Done-when of issue 7, with real tiny DeePMD ensembles and real LAMMPS (slow: trains 8 models).

Measured on the shared 2-core machine: 4 models x 20 steps ("too little training") give median
max_devi_f ~0.7 eV/Å at 300 K; 4 models x 600 steps on the same 30 frames give max < 0.1 eV/Å at 300 K.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jobflow import Flow
from jobflow.managers.local import run_locally

from seiflow.convergence.report import judge
from seiflow.exploration.jobs import ExplorationMaker, run_task
from seiflow.exploration.tasks import make_tasks
from seiflow.records.rounds import RoundStore
from seiflow.schemas.campaign import ConvergenceConfig, ExplorationConfig, SelectionConfig
from seiflow.schemas.exploration import TaskStatus
from seiflow.selection.jobs import select_from_outputs, selection_job
from seiflow.store import get_jobstore
from tests.exploration.models import TYPE_MAP, licl_supercell

pytestmark = pytest.mark.slow


def test_poor_ensemble_round_through_jobflow(seiflow_env, poor_ensemble, tmp_path):
    explore_cfg = ExplorationConfig(temperatures=[300.0, 600.0], nsteps=100, out_freq=10)
    # loose levels for an untrained ensemble, so that there are candidates among the failures
    select_cfg = SelectionConfig(f_trust_lo=0.3, f_trust_hi=3.0, max_candidates=3, filters={"min_distance": {"min_distance": 1.0}})
    seeds = {"licl": licl_supercell()}
    models = [str(p) for p in poor_ensemble] + ["no-such-model-id"]
    broken = ExplorationMaker(config=explore_cfg.model_copy(update={"temperatures": [900.0]}),
                              selection=select_cfg).make(seeds, models, TYPE_MAP, round_index=0)
    explore = ExplorationMaker(config=explore_cfg, selection=select_cfg).make(
        seeds, [str(p) for p in poor_ensemble], TYPE_MAP, round_index=0
    )
    assert {j.config.manager_config["_category"] for j in explore.jobs} == {"lammps"}
    outputs = explore.output + broken.output
    sel = selection_job(outputs, select_cfg, TYPE_MAP, model_path=str(poor_ensemble[0]))
    flow = Flow([explore, broken, sel])
    responses = run_locally(flow, store=get_jobstore(), create_folders=True, root_dir=tmp_path,
                            ensure_success=True)
    out = responses[sel.uuid][1].output
    result = out.result
    assert result.n_frames == 22  # two completed runs, steps 0..100 every 10
    assert result.n_failed_tasks == 1 and "models" in next(iter(result.failed_tasks.values()))
    assert 0 < len(result.selected) <= 3 and len(out.structures) == len(result.selected)
    assert result.n_accurate + result.n_candidate + result.n_failed == result.n_frames
    for s in out.structures:
        prov = s.properties["provenance"]
        assert prov["source"] == "exploration" and prov["origin"].startswith("r0-licl-nvt-")
    run_dirs = list(Path(tmp_path).rglob("model_devi.out"))
    assert len(run_dirs) == 2 and not list(Path(tmp_path).rglob("traj.dump"))
    report = judge("demo", 0, result, ConvergenceConfig(max_rounds=3), RoundStore().history("demo"))
    RoundStore().put(report)
    assert not report.converged and not report.stop
    assert RoundStore().get("demo", 0).selection.n_frames == 22


def test_good_ensemble_converges(poor_ensemble, good_ensemble, tmp_path):
    cfg = SelectionConfig(f_trust_lo=0.15, f_trust_hi=0.4)
    task = make_tasks(["licl"], ExplorationConfig(temperatures=[300.0], nsteps=100, out_freq=10))[0]
    verdicts = {}
    for label, models in (("poor", poor_ensemble), ("good", good_ensemble)):
        out = run_task(task, licl_supercell(), models, TYPE_MAP, tmp_path / label, cfg)
        assert out.result.status == TaskStatus.COMPLETED
        selection = select_from_outputs([out], cfg, TYPE_MAP).result
        verdicts[label] = judge("demo", 0, selection, ConvergenceConfig(criteria={"accurate_ratio": {"threshold": 0.99}}))
    assert verdicts["good"].selection.accurate_ratio >= 0.99 and verdicts["good"].converged
    assert verdicts["poor"].selection.accurate_ratio < 0.5 and not verdicts["poor"].converged
