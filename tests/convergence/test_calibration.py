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
