"""Run DeePMD-kit: ``dp train`` (resuming from a checkpoint), ``dp freeze``, ``dp compress``, ``dp test``.

Each command runs as a subprocess with one thread per process unless the caller's environment says
otherwise; a failure raises :class:`TrainingError` with the tail of the command's log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seiflow.constants import EV_A3_TO_MPA
from seiflow.errors import SeiflowError
from seiflow.schemas.model import ParityData, ValidationMetrics

BACKEND_FLAGS = {"tensorflow": "--tf", "pytorch": "--pt"}
MODEL_SUFFIX = {"tensorflow": ".pb", "pytorch": ".pth"}
THREAD_VARS = ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS")
TEST_LOG = "test.log"
_PT_BUILD_MISMATCH = "The version of PyTorch used to compile this deepmd-kit package"
_STEP = re.compile(r"model\.ckpt-(\d+)\.(?:meta|pt)")


class TrainingError(SeiflowError):
    """A DeePMD-kit command failed."""


def dp_executable() -> str:
    """``dp`` next to the running Python (the venv's), else the one on PATH."""
    local = Path(sys.executable).parent / "dp"
    found = str(local) if local.is_file() else shutil.which("dp")
    if not found:
        raise TrainingError("the dp command (deepmd-kit) is not installed", "pip install 'seiflow[ml]'")
    return found


def dp_env() -> dict[str, str]:
    """The environment for dp: one thread each unless already set."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.setdefault(var, env.get("OMP_NUM_THREADS", "1"))
    return env


def run_dp(backend: str, args: list[str], cwd: Path, log_name: str) -> float:
    """Run ``dp --<backend> ARGS`` in ``cwd``, logging to ``log_name``; return the wall time in s."""
    cmd = [dp_executable(), BACKEND_FLAGS[backend], *args]
    start = time.perf_counter()
    log = Path(cwd) / log_name
    with log.open("ab") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=dp_env())
    if proc.returncode != 0:
        text = log.read_text(errors="replace")
        tail = "\n".join(text.splitlines()[-15:])
        fix = f"see {log}"
        if _PT_BUILD_MISMATCH in text:  # the PyPI wheel's PyTorch ops beside the pinned torch
            fix = "DeePMD-kit's PyTorch backend is not built for this torch: run bash scripts/install.sh pytorch"
        raise TrainingError(f"{' '.join(cmd[1:3])} failed (exit {proc.returncode}) in {cwd}:\n{tail}", fix)
    return time.perf_counter() - start


def checkpoint_step(run_dir: Path) -> int | None:
    """The step of the newest complete checkpoint in ``run_dir`` (TF: .index, .meta and data; PT: .pt)."""
    run_dir = Path(run_dir)
    steps = [
        int(m.group(1))
        for path in run_dir.glob("model.ckpt-*")
        if (m := _STEP.fullmatch(path.name))
        and (
            path.suffix == ".pt"
            or all((run_dir / f"model.ckpt-{m.group(1)}{ext}").exists() for ext in (".index", ".meta"))
            and any(run_dir.glob(f"model.ckpt-{m.group(1)}.data-*"))
        )
    ]
    return max(steps) if steps else None


def restart_path(run_dir: Path, backend: str) -> str:
    """The ``--restart`` argument: the newest numbered checkpoint (not the symlinks, not the index)."""
    step = checkpoint_step(run_dir)
    return f"model.ckpt-{step}.pt" if backend == "pytorch" else f"model.ckpt-{step}"


def train(
    run_dir: Path,
    backend: str,
    init_frz_model: Path | None = None,
    restart_from: str | None = None,
    finetune: Path | None = None,
    model_branch: str | None = None,
) -> float:
    """``dp train input.json`` with ``--restart``, ``--init-frz-model`` or ``--finetune`` when given.

    Fine-tuning with PyTorch takes the checkpoint's own model section (``--use-pretrain-script``), as
    TensorFlow always does; ``model_branch`` picks the head of a multi-task checkpoint.
    """
    args = ["train", "input.json"]
    if restart_from:
        args += ["--restart", restart_from]
    elif init_frz_model is not None:
        args += ["--init-frz-model", str(init_frz_model)]
    elif finetune is not None:
        args += ["--finetune", str(finetune)]
        if backend == "pytorch":
            args += ["--use-pretrain-script"] + (["--model-branch", model_branch] if model_branch else [])
    return run_dp(backend, args, run_dir, "train.log")


def freeze(run_dir: Path, backend: str) -> tuple[Path, float]:
    """``dp freeze``: the frozen model file and the time taken."""
    out = Path(run_dir) / f"frozen{MODEL_SUFFIX[backend]}"
    seconds = run_dp(backend, ["freeze", "-o", out.name], run_dir, "freeze.log")
    return out, seconds


def compress(
    run_dir: Path, backend: str, frozen: Path, extrapolate: int = 5, step: float = 0.01,
    log_name: str = "compress.log",
) -> tuple[Path, float]:
    """``dp compress -e EXTRAPOLATE -s STEP``: the compressed model file and the time taken.

    The first table spans the training data's range with stride ``step``; the second one goes on to
    ``extrapolate`` times its top with stride ``10 * step`` (DeePMD-kit's defaults: 5 and 0.01).
    """
    out = Path(run_dir) / f"compressed{MODEL_SUFFIX[backend]}"
    args = ["compress", "-i", frozen.name, "-o", out.name, "-e", str(int(extrapolate)), "-s", f"{step:g}"]
    seconds = run_dp(backend, args, run_dir, log_name)
    return out, seconds


def dp_test(run_dir: Path, backend: str, model: Path, systems_dir: Path) -> tuple[Path, float]:
    """``dp test`` on every system under ``systems_dir``; returns the detail-file prefix."""
    prefix = Path(run_dir) / "test" / "detail"
    prefix.parent.mkdir(exist_ok=True)
    for old in prefix.parent.glob("detail.*"):
        old.unlink()
    (Path(run_dir) / TEST_LOG).unlink(missing_ok=True)  # the log of this test only (warnings counted from it)
    seconds = run_dp(
        backend,
        ["test", "-m", str(model), "-s", str(systems_dir), "-d", str(prefix)],
        run_dir,
        TEST_LOG,
    )
    return prefix, seconds


def _rmse(pairs: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2)))


def _pairs(path: Path, width: int) -> np.ndarray | None:
    """[ref, pred] rows from a dp test detail file with ``width`` data then ``width`` pred columns."""
    if not path.is_file():
        return None
    data = np.loadtxt(path, ndmin=2)
    if data.size == 0:
        return None
    return np.stack([data[:, :width].ravel(), data[:, width:].ravel()], axis=1)


def read_test_details(prefix: Path) -> tuple[ValidationMetrics, ParityData]:
    """Metrics (meV/atom, meV/Å, MPa) and parity data from ``dp test -d`` output files."""
    energy = _pairs(prefix.with_suffix(".e_peratom.out"), 1)
    force = _pairs(prefix.with_suffix(".f.out"), 3)
    stress = _pairs(prefix.with_suffix(".s.out"), 9)
    if stress is not None:
        stress = stress * EV_A3_TO_MPA
    metrics = ValidationMetrics(
        rmse_e_mev_atom=None if energy is None else 1000 * _rmse(energy),
        rmse_f_mev_a=None if force is None else 1000 * _rmse(force),
        rmse_v_mpa=None if stress is None else _rmse(stress),
        n_test_frames=0 if energy is None else len(energy),
    )
    parity = ParityData(
        energy_per_atom=[] if energy is None else energy.tolist(),
        force=[] if force is None else force.tolist(),
        stress_mpa=[] if stress is None else stress.tolist(),
    )
    return metrics, parity
