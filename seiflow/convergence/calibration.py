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

Why each round has its own offset: every round's pairs are measured against that round's ensemble, and a later
ensemble errs less at the same deviation (on the demo interface the 0.9-quantile offset fell from 0.6-0.8 to
0.2 log10 units over six rounds while the slope held). One line through every round's pairs is pulled by the
early ensembles and sets the level of the current one too low: that is how the demo's seed 3 ran to its cap with
an ensemble as accurate as the default seed's. With ``rounds`` given, the slope is shared by all pairs and each
round has its own intercept; the level uses the newest round's, from its pairs together with the rounds before
it until ``min_round_pairs`` pairs are reached.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from seiflow.schemas.calibration import EPS, CalibrationFit


def quantile_regression(x: np.ndarray, y: np.ndarray, quantile: float,
                        groups: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(intercepts, slope) minimising the pinball loss of ``y ~ a[group] + b x`` (a linear programme).

    ``groups`` (ints 0..G-1, one per point) gives each group its own intercept; None: one intercept.
    """
    n = x.size
    groups = np.zeros(n, dtype=int) if groups is None else np.asarray(groups, dtype=int)
    g = int(groups.max()) + 1
    # variables: a_0..a_{G-1}, b (free), u+ (n), u- (n) >= 0 with y - a[group] - b x = u+ - u-
    c = np.concatenate([np.zeros(g + 1), np.full(n, quantile), np.full(n, 1.0 - quantile)])
    one_hot = np.zeros((n, g))
    one_hot[np.arange(n), groups] = 1.0
    a_eq = np.hstack([one_hot, x[:, None], np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * (g + 1) + [(0, None)] * (2 * n)
    result = linprog(c, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if not result.success:
        raise ValueError(f"quantile regression failed: {result.message}")
    return result.x[:g].astype(float), float(result.x[g])


def newest_groups(rounds: np.ndarray, min_pairs: int) -> tuple[np.ndarray, list[int]]:
    """Group index per pair, and the rounds of group 0.

    The newest rounds, merged until they hold ``min_pairs`` pairs, are group 0; each older round is its own.
    """
    rounds = np.asarray(rounds, dtype=int)
    newest: list[int] = []
    for r in sorted(set(rounds.tolist()), reverse=True):
        newest.append(r)
        if np.isin(rounds, newest).sum() >= min_pairs:
            break
    older = sorted(set(rounds.tolist()) - set(newest))
    index = {r: 0 for r in newest} | {r: i + 1 for i, r in enumerate(older)}
    return np.array([index[r] for r in rounds.tolist()], dtype=int), sorted(newest)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3:
        return 0.0
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def fit_calibration(deviation: np.ndarray, error: np.ndarray, quantile: float = 0.9,
                    rounds: np.ndarray | None = None, min_round_pairs: int = 10) -> CalibrationFit:
    """Fit the ``quantile`` of log10(error) given log10(deviation) over paired frames.

    ``rounds`` (the round of each pair): one slope, an intercept per round; the fit's intercept is the newest
    rounds' (merged until ``min_round_pairs`` pairs). None: one line through every pair.
    """
    dev = np.log10(np.maximum(np.asarray(deviation, dtype=float), EPS))
    err = np.log10(np.maximum(np.asarray(error, dtype=float), EPS))
    keep = np.isfinite(dev) & np.isfinite(err)
    dev, err = dev[keep], err[keep]
    if dev.size < 3:
        raise ValueError(f"{dev.size} finite pairs: too few to fit")
    groups, newest = None, []
    if rounds is not None:
        groups, newest = newest_groups(np.asarray(rounds)[keep], min_round_pairs)
    intercepts, slope = quantile_regression(dev, err, quantile, groups)
    own = intercepts[groups] if groups is not None else intercepts[0]
    coverage = float(np.mean(err <= own + slope * dev + 1e-9))
    return CalibrationFit(n_pairs=int(dev.size), quantile=quantile, intercept=float(intercepts[0]), slope=slope,
                          coverage=coverage, spearman=_spearman(dev, err), intercept_rounds=newest,
                          n_intercept_pairs=int((groups == 0).sum()) if groups is not None else int(dev.size))
