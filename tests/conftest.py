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


# Tests that run a whole campaign with two local workers (each near two cores' worth of work): under
# `pytest -n 2` (scripts/test.sh) they run one after another on one xdist worker, started first, while
# the other worker takes the single-process tests. Every other test module is a group of its own, so a
# module's (or a session's) fixtures are built once, as without xdist. (xdist's own `xdist_group` mark
# does not group under pytest 9: it renames `item._nodeid`, which pytest 9 no longer reads.)
CAMPAIGN_MODULES = {
    "tests/reliability/test_faults.py",
    "tests/controller/test_campaign_run.py",
    "tests/controller/test_cp2k_campaign.py",
    "tests/controller/test_vasp_campaign.py",
    "tests/controller/test_worker_kill.py",
}
# the trained good/poor ensembles (tests/exploration/conftest.py) are session fixtures of these modules
ENSEMBLE_MODULES = {
    "tests/exploration/test_round.py",
    "tests/exploration/test_like_for_like.py",
    "tests/exploration/test_health.py",
    "tests/convergence/test_right_reason.py",
    "tests/production/test_watch.py",
    "tests/properties/test_stage.py",
}
# the longest groups first (a run here: campaigns ~1,900 s, bench smoke ~700, ensembles ~650, the
# container build ~560, fine-tuning ~400, the PyTorch campaign ~160, training ~320 and ~260), so neither
# worker is left with a long one at the end
FIRST_GROUPS = ("campaigns", "tests/test_bench_smoke.py", "ensembles", "tests/test_docker_image.py",
                "tests/training/test_finetune.py", "tests/training/test_pytorch_campaign.py",
                "tests/training/test_jobs.py", "tests/training/test_ensemble.py")


def xdist_group_of(module: str) -> str:
    """The group a test module (its path from the repository root) runs in under xdist."""
    if module in CAMPAIGN_MODULES:
        return "campaigns"
    return "ensembles" if module in ENSEMBLE_MODULES else module


def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling with the groups of :func:`xdist_group_of`, the longest first."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid.split("::", 1)[0])

        def _assign_work_unit(self, node) -> None:
            for group in reversed(FIRST_GROUPS):
                if group in self.workqueue:
                    self.workqueue.move_to_end(group, last=False)
            super()._assign_work_unit(node)

    return ModuleGroups(config, log)


# Tiny DeePMD ensembles, trained for real (``dp --tf train`` + ``freeze``) once per run: the modules of
# ENSEMBLE_MODULES use them (tests/exploration, tests/production).
POOR_STEPS = 20  # "too little training": 20 steps
GOOD_STEPS = 600


@pytest.fixture(scope="session")
def poor_ensemble(tmp_path_factory):
    """Four models trained 20 steps on 30 CHGNet-labelled LiCl frames: they disagree a lot."""
    from tests.exploration.models import build_ensemble

    return build_ensemble(tmp_path_factory.mktemp("poor"), 4, POOR_STEPS)


@pytest.fixture(scope="session")
def good_ensemble(tmp_path_factory):
    """Four models trained 600 steps on the same data: they agree near equilibrium at 300 K."""
    from tests.exploration.models import build_ensemble

    return build_ensemble(tmp_path_factory.mktemp("good"), 4, GOOD_STEPS)
