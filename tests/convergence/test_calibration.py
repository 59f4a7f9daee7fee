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


def drifting(rounds: int = 4, n: int = 40, b: float = 0.8, sigma: float = 0.1):
    """Each round's ensemble errs less at the same deviation: intercept 0.6, 0.45, 0.3, 0.15 (log10)."""
    dev, err, rnd = [], [], []
    for r in range(1, rounds + 1):
        d, e = planted(n, seed=r, a=0.75 - 0.15 * r, b=b, sigma=sigma)
        dev.append(d), err.append(e), rnd.append(np.full(n, r))
    return np.concatenate(dev), np.concatenate(err), np.concatenate(rnd)


def test_the_level_follows_the_newest_ensemble_not_the_average_of_the_rounds():
    """One slope over every round, the newest round's own offset: the level is the one the last ensemble's
    errors give; one line through all pairs sets it where the early ensembles' errors put it (too low)."""
    dev, err, rnd = drifting()
    per_round = fit_calibration(dev, err, 0.9, rounds=rnd, min_round_pairs=10)
    pooled = fit_calibration(dev, err, 0.9)
    z90 = 1.2816 * 0.1
    assert per_round.intercept_rounds == [4] and per_round.n_intercept_pairs == 40
    assert per_round.slope == pytest.approx(0.8, abs=0.1)
    assert per_round.intercept == pytest.approx(0.15 + z90, abs=0.08)
    assert per_round.coverage == pytest.approx(0.9, abs=0.03)
    truth = 10 ** ((np.log10(0.5) - 0.15 - z90) / 0.8)  # where the last ensemble's 0.9 quantile reaches 0.5 eV/Å
    assert per_round.level_for(0.5) == pytest.approx(truth, rel=0.3)
    assert pooled.intercept_rounds == [] and pooled.level_for(0.5) < 0.6 * truth


def test_a_round_with_few_pairs_borrows_the_rounds_before_it():
    dev, err, rnd = drifting()
    few = np.r_[np.flatnonzero(rnd < 4), np.flatnonzero(rnd == 4)[:4]]  # the last round: 4 pairs
    fit = fit_calibration(dev[few], err[few], 0.9, rounds=rnd[few], min_round_pairs=10)
    assert fit.intercept_rounds == [3, 4] and fit.n_intercept_pairs == 44
    fit = fit_calibration(dev[few], err[few], 0.9, rounds=rnd[few], min_round_pairs=100)
    assert fit.intercept_rounds == [1, 2, 3, 4] and fit.n_intercept_pairs == fit.n_pairs == 124
