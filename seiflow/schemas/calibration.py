"""Documents of the trust-level calibration: the deviation/true-error fit, its pairs and its outcome.

Each round's calibration job pairs the new labels' deviations with their true errors
(:class:`CalibrationPair`), fits the error bound (:class:`CalibrationFit`) and proposes the next levels.
Its output, :class:`CalibrationSummary`, travels in the round report; the whole record,
:class:`CalibrationRecord`, is stored in ``calibrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, Field

EPS = 1e-6  # eV/Å; deviations and errors are floored here before taking logs


class CalibrationFit(BaseModel):
    """log10(error) = intercept + slope * log10(deviation), at the ``quantile`` of the error (the newest ensemble's)."""

    n_pairs: int = Field(..., description="Deviation/error pairs fitted.")
    quantile: float = Field(..., description="Conditional error quantile fitted.")
    intercept: float = Field(..., description="log10 eV/Å.")
    slope: float = Field(..., description="d log10(error) / d log10(deviation).")
    coverage: float = Field(..., description="Fraction of pairs whose error is at or below the fit.")
    spearman: float = Field(..., description="Rank correlation of deviation and error (fit quality).")
    intercept_rounds: list[int] = Field(
        default_factory=list, description="Rounds whose pairs set the intercept, the slope being fitted on every "
        "round's (empty: one line through every pair).")
    n_intercept_pairs: int | None = Field(None, description="Pairs that set the intercept.")

    def predict(self, deviation: np.ndarray | float) -> np.ndarray:
        """The ``quantile`` error bound (eV/Å) at these deviations."""
        dev = np.maximum(np.asarray(deviation, dtype=float), EPS)
        return 10.0 ** (self.intercept + self.slope * np.log10(dev))

    def level_for(self, error: float) -> float | None:
        """The deviation at which the error bound reaches ``error``; None when the fit cannot say."""
        if self.slope <= 0:
            return None
        return float(10.0 ** ((np.log10(max(error, EPS)) - self.intercept) / self.slope))


class CalibrationPair(BaseModel):
    """One newly labelled frame: the deviations that selected it and the ensemble mean's true errors."""

    max_devi_f: float = Field(..., description="Max force deviation, eV/Å.")
    f_error: float = Field(..., description="Max-atom force error of the ensemble mean, eV/Å.")
    e_error_ev_atom: float | None = Field(None, description="Energy error per atom, eV/atom.")
    e_error_mev_atom: float | None = Field(None, description="Energy error per atom, meV/atom.")
    s_error_mpa: float | None = Field(None, description="Largest stress-component error, MPa (None: no virial).")
    max_devi_v: float | None = Field(None, description="Max virial deviation per atom (None: not explored).")
    devi_e: float | None = Field(None, description="Energy deviation per atom (None: not explored).")
    sanity: bool = Field(False, description="A sanity label (the ensemble called it accurate); not fitted.")


class SanityErrors(BaseModel):
    """The true force errors of a round's sanity labels."""

    n: int = Field(0, description="Sanity labels this round.")
    max_f_error: float | None = Field(None, description="Largest max-atom force error, eV/Å.")
    p90_f_error: float | None = Field(None, description="90th percentile of the max-atom force errors, eV/Å.")


class CalibrationSummary(BaseModel):
    """Output of the round's calibration job, kept in the round report (``RoundReport.calibration``)."""

    n_pairs_fitted: int = Field(0, description="Pairs of this and earlier rounds fitted (sanity labels left out).")
    fit: CalibrationFit | None = Field(None, description="The force fit (None: fewer than 3 pairs).")
    fits: dict[str, CalibrationFit | None] = Field(
        default_factory=dict, description="Energy/virial fits, for the quantities the campaign set a target for."
    )
    levels: dict[str, float] | None = Field(
        None, description="Next round's trust levels from the fits (None: no usable force fit)."
    )
    sanity: SanityErrors = Field(default_factory=SanityErrors, description="This round's sanity labels.")


class CalibrationRecord(CalibrationSummary):
    """One round's calibration, as stored in ``calibrations``."""

    campaign: str = Field(..., description="Campaign name.")
    round: int = Field(..., ge=0, description="Round calibrated.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When calibrated.")
    pairs: list[CalibrationPair] = Field(default_factory=list, description="This round's pairs.")

    def summary(self) -> CalibrationSummary:
        """The job's output: the record without its pairs."""
        return CalibrationSummary.model_validate(self.model_dump(include=set(CalibrationSummary.model_fields)))
