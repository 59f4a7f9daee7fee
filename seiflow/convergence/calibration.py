"""Calibrated trust levels: the ensemble's deviation mapped to its true error on freshly labelled frames.

Each round pairs every newly labelled frame's model deviation (max force deviation of the ensemble that
explored it) with its true error (the max-atom force error of that ensemble's mean against the label). A
quantile regression of log10(error) on log10(deviation) gives the error a frame of a given deviation stays
below with probability ``quantile``; the trust levels are the deviations where that bound reaches the
campaign's targets, given in true-error units (eV/Å).

Why quantile regression in log space: errors are positive and spread multiplicatively (the spread grows with
the deviation), and the loop must not call a frame accurate when its error is likely above target, so a high
quantile (0.9) of the conditional error, not its mean, sets the level (AiiDA-TrainsPot fits committee
disagreement against true error in the same spirit). Until ``min_pairs`` pairs exist the fit is not used and
selection keeps DP-GEN2's adaptive lower level.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from seiflow.schemas.calibration import EPS, CalibrationFit


def quantile_regression(x: np.ndarray, y: np.ndarray, quantile: float) -> tuple[float, float]:
    """(intercept, slope) minimising the pinball loss of ``y ~ a + b x`` (a linear programme)."""
    n = x.size
    # variables: a, b (free), u+ (n), u- (n) >= 0 with y - a - b x = u+ - u-
    c = np.concatenate([[0.0, 0.0], np.full(n, quantile), np.full(n, 1.0 - quantile)])
    a_eq = np.hstack([np.ones((n, 1)), x[:, None], np.eye(n), -np.eye(n)])
    bounds = [(None, None), (None, None)] + [(0, None)] * (2 * n)
    result = linprog(c, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if not result.success:
        raise ValueError(f"quantile regression failed: {result.message}")
    return float(result.x[0]), float(result.x[1])


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3:
        return 0.0
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def fit_calibration(deviation: np.ndarray, error: np.ndarray, quantile: float = 0.9) -> CalibrationFit:
    """Fit the ``quantile`` of log10(error) given log10(deviation) over paired frames."""
    dev = np.log10(np.maximum(np.asarray(deviation, dtype=float), EPS))
    err = np.log10(np.maximum(np.asarray(error, dtype=float), EPS))
    keep = np.isfinite(dev) & np.isfinite(err)
    dev, err = dev[keep], err[keep]
    if dev.size < 3:
        raise ValueError(f"{dev.size} finite pairs: too few to fit")
    intercept, slope = quantile_regression(dev, err, quantile)
    coverage = float(np.mean(err <= intercept + slope * dev + 1e-9))
    return CalibrationFit(n_pairs=int(dev.size), quantile=quantile, intercept=intercept, slope=slope,
                          coverage=coverage, spearman=_spearman(dev, err))
