"""Tiny DeePMD settings and the cached CHGNet-labelled LiCl data (tests/data/licl_deepmd)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seiflow.schemas.campaign import TrainingConfig
from seiflow.training.data import TrainingDataSpec

DATA = Path(__file__).resolve().parents[1] / "data" / "licl_deepmd"
TYPE_MAP = ["Li", "Cl"]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    for var in ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))


@pytest.fixture(scope="session")
def licl_system(tmp_path_factory) -> Path:
    """The LiCl deepmd/npy system (made with CHGNet when the cache is missing)."""
    system = DATA / "Li32Cl32"
    if not (system / "type.raw").is_file():
        from tests.training.licl_data import make_licl_system

        make_licl_system(DATA)
    return system


@pytest.fixture
def tiny_config() -> TrainingConfig:
    """Minutes-scale settings: small nets, rcut 4.5, tens of steps, no compression."""
    return TrainingConfig(
        numb_models=2, rcut=4.5, rcut_smth=0.5, sel="auto", descriptor_neurons=[4, 8],
        fitting_neurons=[16, 16], numb_steps=40, numb_steps_next=20, start_lr=1e-3, stop_lr=1e-5,
        decay_steps=10, validation_fraction=0.2, compress=False, seed=11,
    )


@pytest.fixture
def licl_data(licl_system) -> TrainingDataSpec:
    return TrainingDataSpec(systems=[str(licl_system)])


def assert_rounds_explored_and_calibrated(campaign: str, rounds: list[int]) -> None:
    """A campaign's round documents are exactly ``rounds``, each found frames in LAMMPS exploration (so the
    ensemble ran there), and the calibration stored deviation/error pairs with real errors."""
    from seiflow.records.calibrations import CalibrationStore
    from seiflow.records.rounds import RoundStore

    reports = RoundStore().history(campaign)
    assert [r.round for r in reports] == rounds
    assert all(r.selection.n_frames > 0 for r in reports), "LAMMPS explored with the ensemble"
    calibrations = CalibrationStore().history(campaign)
    assert calibrations and all(p.f_error > 0 for c in calibrations for p in c.pairs)
