"""Smoke runs of the benchmarks at their smallest settings, so the scripts do not rot (not timed tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(script: str, *args: str, timeout: float = 120) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DP_INTRA_OP_PARALLELISM_THREADS": "1",
           "DP_INTER_OP_PARALLELISM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("SEIFLOW_CONFIG", None)  # the scripts start their own server
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=BENCH.parent, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def _last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_data_bench_smallest():
    out = _run("bench_data.py", "--frames", "20", "--chunk", "10")
    assert "largest frame document" in out and "seiflow / floor: " in out
    assert _last_line(out).startswith("ratio: ")


def test_orchestration_bench_smallest():
    out = _run("bench_orchestration.py", "--jobs", "3", "--workers", "1", "--rounds", "2", "--width", "1",
               "--timeout", "90")
    assert "duplicates: 0" in out
    assert _last_line(out).startswith("ratio: ")


@pytest.mark.parametrize("script", ["bench_md.py", "bench_label_efficiency.py", "bench_levels.py", "bench_finetune.py",
                                    "replay_calibration.py", "pool_curve.py"])
def test_training_benches_parse_their_arguments(script):
    """These train DeePMD models (minutes); here only their command line is checked."""
    assert "usage:" in _run(script, "--help")


@pytest.mark.slow
def test_label_efficiency_bench_smallest(tmp_path):
    """The demo interface, two conditions, one round, 50-step models: the five strategies run, the ratios print."""
    out = _run("bench_label_efficiency.py", "--conditions", "300:1:0:4:2,600:1:0:3:2", "--stride", "2",
               "--rounds", "1", "--steps", "50", "--models", "2", "--batch", "1", "--initial", "1", "--seeds", "1",
               "--target-pool", "0.5", "--cache", str(tmp_path), timeout=600)  # half the whole pool's: every strategy buys
    for strategy in ("seiflow", "dpgen2", "dpgen-demo", "dpgen-study", "random"):
        assert f"{strategy} round 0: 1 labels" in out
    assert "(Cl30In5Li81, CHGNet" in out and "test error at equal labels, seiflow / random" in out
    assert "levels 0.150/1.00 eV/Å (fixed)" in out and "levels 0.100/0.30 eV/Å (fixed)" in out  # shipped values
    assert "(0.5 x the whole pool's " in out and "floor of the ratio: " in out
    assert _last_line(out).startswith("ratio: ")
    assert list(tmp_path.glob("pool-*.npz")) and list(tmp_path.glob("test-*.npz"))
    assert (tmp_path / "interface-li_li3incl6_demo" / "interface.POSCAR").is_file()


@pytest.mark.slow
def test_pool_curve_smallest(tmp_path):
    """The pool-curve probe on a 7-frame interface pool, 20-step models: one line per (steps, frames)."""
    out = _run("pool_curve.py", "--steps", "20", "--frames", "1", "7", "--conditions", "300:1:0:4:2,600:1:0:3:2",
               "--stride", "2", "--initial", "1", "--cache", str(tmp_path), "--work", str(tmp_path / "work"), timeout=600)
    assert "steps 20 frames 1: RMSE " in out and "steps 20 frames 7: RMSE " in out


@pytest.mark.slow
def test_levels_bench_smallest(tmp_path):
    """Two conditions, one round, 10-step models (~90 s at load 3.4): the three levels, ratios printed last."""
    out = _run("bench_levels.py", "--conditions", "300:1:0:2:1,900:1:0:2:1", "--stride", "1", "--rounds", "1",
               "--steps", "10", "--models", "2", "--batch", "1", "--initial", "1", "--min-pairs", "3",
               "--cache", str(tmp_path), timeout=300)
    for strategy in ("fixed", "adaptive", "calibrated"):
        assert f"{strategy} round 0: 1 labels" in out
    assert "(adaptive (0 pairs: not calibrated yet))" in out
    assert "labels(calibrated) / labels(adaptive): " in out
    assert _last_line(out).startswith("ratio: ") and _last_line(out).endswith("(labels calibrated / labels fixed)")


@pytest.mark.slow
def test_levels_bench_on_a_three_element_structure(tmp_path):
    """``--structure``: the pool's MD starts from a given file (the demo runs it on its interface); here the
    20-atom Li3InCl6 cell, so the type map is [Li, In, Cl] and the calibrated strategy's errors use it."""
    cif = BENCH.parent / "seiflow" / "data" / "structures" / "Li3InCl6_C2m_ordered_conv20_OBELiXde5.cif"
    out = _run("bench_levels.py", "--structure", str(cif), "--conditions", "300:1:0:2:1,900:1:0:2:1",
               "--stride", "1", "--rounds", "1", "--steps", "10", "--models", "2", "--batch", "1",
               "--initial", "1", "--min-pairs", "3", "--cache", str(tmp_path), timeout=300)
    assert "(Cl12In2Li6, CHGNet;" in out or "(Li6In2Cl12, CHGNet;" in out, out
    for strategy in ("fixed", "adaptive", "calibrated"):
        assert f"{strategy} round 0: 1 labels" in out
    assert _last_line(out).endswith("(labels calibrated / labels fixed)")
    assert list(tmp_path.glob("pool-*In2*.npz"))


@pytest.mark.slow
def test_gpu_bench_runs_on_cpu_with_tensorflow(tmp_path):
    """bench_gpu.py's two steps at their smallest: prepare here, then run with the TF backend on the CPU."""
    out = _run("bench_gpu.py", "prepare", str(tmp_path), "--frames", "2", "--md-steps", "10",
               "--small-only", "--prod-steps", "10", timeout=300)
    assert "interface232: 232 atoms" in out
    network = json.loads((tmp_path / "network.json").read_text())  # the study's network, not the default
    assert network["campaign"].endswith("li_li3incl6_study.yaml") and network["training"]["fitting_neurons"]
    out = _run("bench_gpu.py", "run", str(tmp_path), "--backend", "tensorflow", "--train-steps", "4",
               "--sizes", "interface232", timeout=400)
    assert '"interface232 compressed 4"' in out and "interface232 production watched / unwatched: " in out
    assert _last_line(out).startswith("ratio: ")


@pytest.mark.slow
def test_production_bench_smallest():
    """The production segment with and without the watch, at each shipped campaign's watch interval."""
    out = _run("bench_production.py", "--atoms", "64", "--steps", "20", "--repeats", "1", "--train-steps", "4",
               timeout=300)
    assert "| unwatched, 64 atoms |" in out and "| watched every" in out
    assert _last_line(out).startswith("ratio: ")


def test_analysis_bench_default():
    """The analysis bench on its synthetic 32,280-atom frame: seiflow (on freud) against bare freud."""
    out = _run("bench_analysis.py", "--frames", "bench", "--repeats", "2", timeout=300)
    assert "max |g_freud - g_seiflow|" in out
    assert _last_line(out).startswith("ratio: ")


@pytest.mark.slow
def test_demo_seeds_bench_on_the_tiny_campaign(tmp_path):
    out_file = tmp_path / "seeds.jsonl"
    campaign = Path(__file__).parent / "controller" / "tiny_campaign.yaml"
    out = _run("bench_demo_seeds.py", "--campaign", str(campaign), "--seeds", "3", "--out", str(out_file),
               "--workdir", str(tmp_path / "homes"), timeout=900)
    row = json.loads(out_file.read_text())
    record = json.loads(Path(row["calibration_record"]).read_text())  # the pairs, kept for replays
    assert set(record) == {str(r) for r in range(1, row["rounds"] + 1)} and record["1"]["pairs"]
    assert row["seed"] == "3" and row["exit"] == 0 and row["state"] in ("converged", "not_converged"), row
    assert len(row["accurate_ratio"]) == row["rounds"] and row["test_set"]["n_frames"] > 0, row
    assert _last_line(out).startswith("converged: ") and "| 3 |" in out
    again = _run("bench_demo_seeds.py", "--campaign", str(campaign), "--seeds", "3", "--out", str(out_file),
                 "--skip-done")  # resumes: nothing run again
    assert len(out_file.read_text().splitlines()) == 1 and "| 3 |" in again
