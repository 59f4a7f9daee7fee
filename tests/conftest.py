"""Fixtures: a real MongoDB-protocol server over TCP (SecantusDB's daemon), a fresh database per test.

No mongomock anywhere: two FireWorks workers on mongomock run the same firework twice.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from seiflow import store
from seiflow.db import embedded
from seiflow.settings import EmbeddedServerSettings, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory) -> EmbeddedServerSettings:
    """One embedded server for the whole test run, on a free loopback port, stopped at the end."""
    cfg = EmbeddedServerSettings(
        port=_free_port(), storage_path=tmp_path_factory.mktemp("secantus"), auto_start=False
    )
    embedded.start(cfg)
    yield cfg
    embedded.stop(cfg)


@dataclass
class SeiflowEnv:
    """A test's own database on the shared server, with its settings and launchpad files."""

    settings: Settings
    settings_file: Path
    launchpad_file: Path
    db_name: str
    root: Path

    def subprocess_env(self) -> dict[str, str]:
        """Environment for worker subprocesses (rlaunch, seiflow) so they use this test's store."""
        env = dict(os.environ)
        env["SEIFLOW_CONFIG"] = str(self.settings_file)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("OMP_NUM_THREADS", "1")
        return env


@pytest.fixture
def seiflow_env(mongo_server, tmp_path, monkeypatch) -> SeiflowEnv:
    """A fresh database per test; SEIFLOW_CONFIG points at it for this process and its children."""
    db_name = f"t_{uuid.uuid4().hex[:12]}"
    lp_file = tmp_path / "launchpad.yaml"
    lp_file.write_text(
        yaml.safe_dump(
            {"host": mongo_server.host, "port": mongo_server.port, "name": db_name, "strm_lvl": "WARNING"}
        )
    )
    settings_file = tmp_path / "seiflow.yaml"
    settings_file.write_text(
        yaml.safe_dump(
            {
                "launchpad_file": str(lp_file),
                "work_dir": str(tmp_path / "runs"),
                "embedded": {
                    "port": mongo_server.port,
                    "storage_path": str(mongo_server.storage_path),
                    "auto_start": False,
                },
            }
        )
    )
    monkeypatch.setenv("SEIFLOW_CONFIG", str(settings_file))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    store.reset_connections()
    env = SeiflowEnv(load_settings(), settings_file, lp_file, db_name, tmp_path)
    yield env
    try:
        store.get_launchpad(env.settings, check=False).connection.drop_database(db_name)
    finally:
        store.reset_connections()
