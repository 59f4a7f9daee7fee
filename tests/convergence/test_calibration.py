"""The calibration recovers a planted deviation -> error relation and sets levels in true-error units."""

from __future__ import annotations

import numpy as np
import pytest

from seiflow.convergence.calibration import fit_calibration


def planted(n: int, seed: int = 0, a: float = 0.2, b: float = 0.8, sigma: float = 0.15):
    """log10 err = a + b log10 dev + normal(0, sigma) noise (dev in eV/Å)."""
    rng = np.random.default_rng(seed)
    dev = 10 ** rng.uniform(-1.5, 0.0, n)
    err = 10 ** (a + b * np.log10(dev) + rng.normal(0, sigma, n))
    return dev, err


def test_quantile_fit_recovers_the_planted_relation():
    dev, err = planted(400)
    fit = fit_calibration(dev, err, quantile=0.9)
    z90 = 1.2816 * 0.15  # the 0.9 quantile of the planted noise, in log10
    assert fit.slope == pytest.approx(0.8, abs=0.08)
    assert fit.intercept == pytest.approx(0.2 + z90, abs=0.06)
    assert fit.coverage == pytest.approx(0.9, abs=0.03) and fit.spearman > 0.8
    # the level for a 0.1 eV/Å target: 90 % of frames at that deviation have errors below 0.1 eV/Å
    level = fit.level_for(0.1)
    check = 10 ** (0.2 + 0.8 * np.log10(level) + np.random.default_rng(1).normal(0, 0.15, 20000))
    assert np.mean(check <= 0.1) == pytest.approx(0.9, abs=0.02)


def test_no_relation_gives_no_usable_level():
    rng = np.random.default_rng(3)
    fit = fit_calibration(10 ** rng.uniform(-1.5, 0, 200), 10 ** rng.uniform(-2, 0, 200))
    assert abs(fit.spearman) < 0.2 and (fit.level_for(0.1) is None or abs(fit.slope) < 0.3)


def test_energy_and_virial_levels_come_from_their_own_fits():
    """With e_error_lo (meV/atom) and v_error_lo (MPa) set, each gets the deviation where its bound
    meets it."""
    from seiflow.convergence.calibration_jobs import levels_from
    from seiflow.schemas.campaign import CalibrationConfig

    config = CalibrationConfig(f_error_lo=0.1, f_error_hi=0.6, e_error_lo=5.0, v_error_lo=200.0, min_pairs=20)
    force = fit_calibration(*planted(200), quantile=0.9).model_dump()
    dev_e, err_e = planted(200, seed=1, a=3.0, b=1.0)  # error (meV/atom) ~ 1000 x deviation (eV/atom)
    energy = fit_calibration(dev_e * 1e-2, err_e * 1e-2, quantile=0.9).model_dump()
    levels = levels_from(force, config, {"energy": energy, "virial": None})
    assert set(levels) == {"f_trust_lo", "f_trust_hi", "e_trust_lo"}  # the virial fit is missing: no level
    bound = 10 ** (energy["intercept"] + energy["slope"] * np.log10(levels["e_trust_lo"]))
    assert bound == pytest.approx(5.0, rel=1e-6)
    few = {**energy, "n_pairs": 5}  # a fit on too few pairs sets nothing
    assert "e_trust_lo" not in levels_from(force, config, {"energy": few})
