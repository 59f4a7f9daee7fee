"""MSD, diffusivity and the Arrhenius fit on synthetic random walks with a known activation energy."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from seiflow.analysis.dynamics import (
    KB_EV,
    arrhenius_fit,
    diffusivity_from_msd,
    msd,
    trajectory_diffusivity,
    unwrap,
)
from seiflow.errors import InputError

EA, D0 = 0.25, 5.0  # eV, Å^2/ps


def _walk(d_a2_ps: float, n_atoms=200, n_frames=201, dt=0.1, box=12.0, seed=0) -> list[Atoms]:
    """Brownian Li in a periodic box, positions wrapped back like an MD dump."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, np.sqrt(2 * d_a2_ps * dt), (n_frames, n_atoms, 3))
    steps[0] = rng.uniform(0, box, (n_atoms, 3))
    pos = np.cumsum(steps, axis=0)
    cell = np.eye(3) * box
    return [Atoms(f"Li{n_atoms}", positions=p % box, cell=cell, pbc=True) for p in pos]


def test_unwrap_recovers_straight_motion():
    frames = [Atoms("Li", positions=[[(0.5 + 0.9 * k) % 3.0, 0, 0]], cell=[3, 3, 3], pbc=True) for k in range(8)]
    assert np.allclose(unwrap(frames)[:, 0, 0], 0.5 + 0.9 * np.arange(8))


def test_msd_of_ballistic_motion():
    pos = np.arange(5)[:, None, None] * np.array([1.0, 0, 0])[None, None, :]
    assert np.allclose(msd(pos), [0, 1, 4, 9, 16])


def test_diffusivity_from_random_walk():
    _, _, d = trajectory_diffusivity(_walk(0.05), dt_ps=0.1, species="Li", temperature=500.0)
    assert d.d_a2_ps == pytest.approx(0.05, rel=0.15)
    assert d.d_cm2_s == pytest.approx(d.d_a2_ps * 1e-4)


def test_arrhenius_recovers_known_activation_energy():
    temps = [400.0, 500.0, 600.0, 800.0]
    diffs, errs = [], []
    for k, t in enumerate(temps):
        _, _, d = trajectory_diffusivity(_walk(D0 * np.exp(-EA / (KB_EV * t)), seed=k), dt_ps=0.1, species="Li")
        diffs.append(d.d_a2_ps)
        errs.append(d.d_err_a2_ps)
    fit = arrhenius_fit(temps, diffs)
    assert fit.activation_energy_ev == pytest.approx(EA, abs=max(0.03, 3 * fit.activation_energy_err_ev))
    assert 0 < fit.activation_energy_err_ev < 0.05
    weighted = arrhenius_fit(temps, diffs, errs)
    assert weighted.activation_energy_ev == pytest.approx(EA, abs=0.04)


def test_exact_arrhenius_and_errors():
    temps = np.array([300.0, 600.0])
    fit = arrhenius_fit(temps, D0 * np.exp(-EA / (KB_EV * temps)))
    assert fit.activation_energy_ev == pytest.approx(EA)
    assert fit.prefactor_a2_ps == pytest.approx(D0)
    assert np.isnan(fit.activation_energy_err_ev)  # two points: no residual to scale the covariance
    with pytest.raises(InputError):
        arrhenius_fit([300.0], [1.0])
    with pytest.raises(InputError):
        arrhenius_fit([300.0, 400.0], [1.0, -1.0])
    with pytest.raises(InputError):
        diffusivity_from_msd(np.arange(3.0), np.arange(3.0))
