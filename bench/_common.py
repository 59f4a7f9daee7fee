"""Shared helpers for the benchmarks: a real embedded server on a free port, settings pointing at it, timing."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

THREAD_VARS = ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS")


def one_thread() -> None:
    """One thread per process (the house rule on this shared 2-core machine)."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    """One line naming the machine: CPU model, cores, load."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load {load:.1f}, Python {platform.python_version()}"


@contextlib.contextmanager
def embedded_store(root: Path | None = None) -> Iterator[Path]:
    """A fresh SecantusDB daemon on a free loopback port; SEIFLOW_CONFIG points at it. Yields the work root."""
    from seiflow import store
    from seiflow.db import embedded
    from seiflow.settings import EmbeddedServerSettings

    with tempfile.TemporaryDirectory(prefix="seiflow-bench-", dir=root) as tmp:
        work = Path(tmp)
        cfg = EmbeddedServerSettings(port=free_port(), storage_path=work / "db", auto_start=False)
        embedded.start(cfg)
        lp_file = work / "launchpad.yaml"
        lp_file.write_text(yaml.safe_dump({
            "host": cfg.host, "port": cfg.port, "name": f"bench_{uuid.uuid4().hex[:8]}", "strm_lvl": "WARNING",
        }))
        settings_file = work / "seiflow.yaml"
        settings_file.write_text(yaml.safe_dump({
            "launchpad_file": str(lp_file), "work_dir": str(work / "runs"),
            "embedded": {"port": cfg.port, "storage_path": str(cfg.storage_path), "auto_start": False},
        }))
        old = os.environ.get("SEIFLOW_CONFIG")
        os.environ["SEIFLOW_CONFIG"] = str(settings_file)
        store.reset_connections()
        try:
            yield work
        finally:
            store.reset_connections()
            embedded.stop(cfg)
            if old is None:
                os.environ.pop("SEIFLOW_CONFIG", None)
            else:
                os.environ["SEIFLOW_CONFIG"] = old


def use_database(work: Path, name: str) -> None:
    """Point the LaunchPad of ``embedded_store``'s settings at database ``name`` (a fresh one per phase)."""
    from seiflow import store

    lp_file = work / "launchpad.yaml"
    config = yaml.safe_load(lp_file.read_text())
    config["name"] = name
    lp_file.write_text(yaml.safe_dump(config))
    store.reset_connections()


_LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")
_CPU = re.compile(r"([0-9.]+)% CPU use with")
_TIMING = re.compile(r"^(Pair|Neigh|Comm|Output|Modify|Other)\s*\|.*\|\s*([0-9.]+)\s*$", re.M)


def lammps_loop(log: Path) -> dict:
    """The run loop of a LAMMPS log: µs/step/atom by wall time and by CPU time (wall x "CPU use"), the
    percentage breakdown (Pair, Neigh, Comm, Output, Modify, Other).

    CPU time is what a loaded, shared machine disturbs least: other processes stretch the wall time of a
    single-threaded run but not the CPU seconds it needs.
    """
    text = log.read_text()
    match = _LOOP.search(text)
    if not match:
        raise RuntimeError(f"no loop time in {log}")
    seconds, procs, steps, natoms = float(match[1]), int(match[2]), int(match[3]), int(match[4])
    cpu = _CPU.search(text, match.end())
    pct = float(cpu[1]) if cpu else 100.0
    per = 1e6 / steps / natoms
    return {"us_wall": seconds * per, "us_cpu": seconds * per * procs * pct / 100.0, "cpu_pct": pct,
            "steps": steps, "atoms": natoms,
            "breakdown": {name: float(p) for name, p in _TIMING.findall(text[match.end():])}}


class Timer:
    """``with Timer() as t: ...; t.s`` is the elapsed wall time in seconds."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.s = time.perf_counter() - self.start
