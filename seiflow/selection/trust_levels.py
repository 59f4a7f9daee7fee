"""Trust levels: each frame is accurate (all deviations below lo), failed (any above hi) or a candidate.

Force levels are in eV/Å, or relative when the exploration ran with deepmd's ``relative`` keyword (the
deviations in ``model_devi.out`` are then already relative). Energy and virial levels are in eV/atom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from seiflow.errors import InputError
from seiflow.schemas.exploration import Deviation


class FrameClass(IntEnum):
    """Class of one explored frame."""

    ACCURATE = 0
    CANDIDATE = 1
    FAILED = 2


@dataclass
class Levels:
    """One quantity's lower and upper trust level (``hi`` None: never failed on it)."""

    lo: float
    hi: float | None = None

    def __post_init__(self) -> None:
        if self.hi is not None and self.hi <= self.lo:
            raise InputError(f"trust level hi={self.hi} is not above lo={self.lo}", "set hi > lo")


@dataclass
class AdaptiveLower:
    """DP-GEN2's adaptive lower level: lo chosen so the top ``rate`` of non-failed frames are candidates.

    ``numb`` (if set) asks for at least that many candidates; lo never goes below ``floor``.
    """

    rate: float = 0.05
    numb: int | None = None
    floor: float = 0.0

    def lower_level(self, values: np.ndarray, hi: float) -> float:
        """The lower force level for these per-frame deviations."""
        below = np.sort(values[values <= hi])[::-1]
        if below.size == 0:
            return hi
        k = max(math.ceil(self.rate * values.size), self.numb or 0, 1)
        k = min(k, below.size)
        # lo sits just at the k-th largest value so exactly k frames are >= lo
        return float(max(below[k - 1], self.floor))


@dataclass
class TrustLevels:
    """Trust levels on force (required), energy and virial (optional) deviations."""

    force: Levels
    energy: Levels | None = None
    virial: Levels | None = None

    def _columns(self, deviation: Deviation, f_lo: float) -> list[tuple[np.ndarray, Levels]]:
        cols = [(deviation.array("max_devi_f"), Levels(f_lo, self.force.hi))]
        if self.energy is not None:
            if deviation.devi_e is None:
                raise InputError(
                    "energy trust levels are set but the exploration computed no energy deviation",
                    "set exploration to compute devi_e (energy levels on) or unset e_trust_lo/e_trust_hi",
                )
            cols.append((deviation.array("devi_e"), self.energy))
        if self.virial is not None:
            cols.append((deviation.array("max_devi_v"), self.virial))
        return cols

    def classify(self, deviation: Deviation, f_lo: float | None = None) -> np.ndarray:
        """An int array of :class:`FrameClass`, one per frame; ``f_lo`` overrides the force lo level."""
        f_lo = self.force.lo if f_lo is None else f_lo
        n = deviation.n_frames
        failed = np.zeros(n, dtype=bool)
        accurate = np.ones(n, dtype=bool)
        for values, levels in self._columns(deviation, f_lo):
            if values.size != n:
                raise ValueError(f"deviation column has {values.size} values for {n} frames")
            bad = ~np.isfinite(values)
            if levels.hi is not None:
                failed |= bad | (values > levels.hi)
            accurate &= ~bad & (values < levels.lo)
        out = np.full(n, FrameClass.CANDIDATE, dtype=int)
        out[accurate] = FrameClass.ACCURATE
        out[failed] = FrameClass.FAILED
        return out


def histogram(values: np.ndarray, hi: float, bins: int = 30) -> tuple[list[float], list[int]]:
    """Histogram edges and counts over [0, 1.5 hi]; values above land in the last bin."""
    top = 1.5 * hi if hi > 0 else 1.0
    edges = np.linspace(0.0, top, bins + 1)
    counts, _ = np.histogram(np.clip(values[np.isfinite(values)], 0.0, top), bins=edges)
    return edges.round(8).tolist(), counts.astype(int).tolist()


def sanity_pool(values: np.ndarray, classes: np.ndarray, n: int) -> np.ndarray:
    """Frame indices sanity labels are drawn from: the accurate frames, or the lowest-deviation ones.

    Sanity labels measure the true error where the ensemble claims to be right. While fewer than ``n``
    frames are accurate (an early, poor ensemble), the claim closest to it is checked instead: the
    ``max(2 n, 10 %)`` non-failed frames of lowest force deviation, so the criterion has a value every round.
    """
    accurate = np.flatnonzero(classes == FrameClass.ACCURATE)
    if accurate.size >= n:
        return accurate
    usable = np.flatnonzero(classes != FrameClass.FAILED)
    size = max(2 * n, math.ceil(0.1 * values.size))
    return usable[np.argsort(values[usable], kind="stable")][:size]
