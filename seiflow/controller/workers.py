"""Local FireWorks workers (``rlaunch rapidfire`` subprocesses) for one-machine runs and tests.

On a cluster, users start workers themselves (``qlaunch rapidfire`` or ``rlaunch``); this module only
does the same on one machine, with each worker's settings pointing at the same store. The workers run
``seiflow-rlaunch`` (:mod:`seiflow.controller.rlaunch`), so the database password reaches them through
``SEIFLOW_DB_PASSWORD`` in their environment and is never written into the files made for them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seiflow.constants import JobCategory
from seiflow.settings import Settings, launchpad_file
from seiflow.store import PASSWORD_ENV, launchpad_config, redact

ALL_CATEGORIES = [c.value for c in JobCategory]


def write_launchpad_file(settings: Settings, directory: Path) -> Path:
    """A launchpad.yaml for worker subprocesses (the configured one, or the embedded default's), no password.

    The password, if any, goes to the workers through :data:`~seiflow.store.PASSWORD_ENV` (see
    :func:`worker_password`). A ``host`` URI with ``user:password@`` in it is the user's own file's
    secret: the workers then read that file itself rather than a copy.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config = {**launchpad_config(settings), "strm_lvl": "WARNING"}
    source = launchpad_file(settings)
    host = str(config.get("host", ""))
    if source is not None and redact(host) != host:
        return source.resolve()
    config.pop("password", None)
    path = directory / "launchpad.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)  # it names the server and user
    return path


def worker_password(settings: Settings) -> str | None:
    """The password worker subprocesses get through ``SEIFLOW_DB_PASSWORD`` (from the file or the variable)."""
    return launchpad_config(settings).get("password") or None


def write_fworker_file(
    directory: Path, name: str, categories: list[str], query: dict | None = None
) -> Path:
    """A my_fworker.yaml taking ``categories`` (and only fireworks matching ``query``)."""
    path = directory / f"fworker_{name}.yaml"
    config = {"name": name, "category": categories, "query": json.dumps(query or {}), "env": {}}
    path.write_text(yaml.safe_dump(config))
    return path


def worker_settings_file(settings: Settings, directory: Path, lp_file: Path | None = None) -> Path:
    """The settings file workers read through ``SEIFLOW_CONFIG`` (an absolute copy of ours).

    Its ``launchpad_file`` is ``lp_file``, or one written by :func:`write_launchpad_file`.
    """
    data = settings.model_dump(mode="json")
    data["launchpad_file"] = str(lp_file or write_launchpad_file(settings, directory))
    path = directory / "seiflow.worker.yaml"
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    return path


@dataclass
class LocalWorkers:
    """``n`` rlaunch rapidfire workers on this machine, each in its own launch folder."""

    settings: Settings
    root: Path
    n: int = 2
    categories: list[str] = field(default_factory=lambda: list(ALL_CATEGORIES))
    sleep_s: int = 2
    threads_per_worker: int = 1
    campaign: str | None = None  # set: take only this campaign's jobs
    procs: dict[int, subprocess.Popen] = field(default_factory=dict)  # worker index -> process

    def start(self) -> None:
        """Start the workers (idempotent: only missing or dead ones are started)."""
        self.root.mkdir(parents=True, exist_ok=True)
        lp_file = write_launchpad_file(self.settings, self.root)
        settings_file = worker_settings_file(self.settings, self.root, lp_file)
        env = dict(os.environ)
        password = worker_password(self.settings)
        if password:
            env[PASSWORD_ENV] = password
        env["SEIFLOW_CONFIG"] = str(settings_file)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        for key in ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            env[key] = str(self.threads_per_worker)
        env["DP_INTER_OP_PARALLELISM_THREADS"] = "1"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        dead_or_missing = [i for i in range(self.n) if i not in self.procs or self.procs[i].poll() is not None]
        for i in dead_or_missing:  # a replacement keeps the dead worker's name and folder
            wdir = self.root / f"worker{i}"
            wdir.mkdir(exist_ok=True)
            query = {"spec.campaign": self.campaign} if self.campaign else None
            fw_file = write_fworker_file(wdir, f"local{i}", self.categories, query)
            log = open(wdir / "rlaunch.log", "ab")  # noqa: SIM115 - owned by the child
            cmd = [
                sys.executable, "-m", "seiflow.controller.rlaunch",
                "-l", str(lp_file), "-w", str(fw_file),
                "rapidfire", "--nlaunches", "infinite", "--sleep", str(self.sleep_s),
            ]
            self.procs[i] = subprocess.Popen(
                cmd, cwd=wdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()

    def alive(self) -> int:
        """How many of the workers are running."""
        return sum(p.poll() is None for p in self.procs.values())

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the workers (call when no job is running)."""
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()
