"""Convergence criteria: the accurate ratio for k rounds in a row, test RMSE targets, RDF agreement.

Each is registered in :data:`seiflow.registry.CRITERIA` under the name a campaign uses in
``convergence.criteria``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, make_dataclass
from statistics import NormalDist
from typing import Annotated

from pydantic import Field

from seiflow.convergence.base import Criterion
from seiflow.registry import CRITERIA
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.model import RoundMetric
from seiflow.schemas.round import ADAPTIVE_LOWER_KEY, CriterionResult, RoundReport


@CRITERIA.register("accurate_ratio")
@dataclass
class AccurateRatio(Criterion):
    """Accurate ratio >= ``threshold`` in each of the last ``rounds`` rounds.

    A round's ratio is a fraction of its explored frames, so it carries sampling noise: with 84 frames a true
    ratio of 0.9 reads 0.86-0.94 about two times in three. With ``confidence`` above 0 a round meets the
    threshold unless its frames show the ratio is below it: the one-sided Wilson upper bound of the ratio at
    that confidence reaches the threshold. Then a ratio of 0.88 on 84 frames (upper bound 0.92 at 0.9) does
    not flip the outcome, while 0.73 (0.79) still fails.
    """

    threshold: Annotated[float, Field(gt=0, le=1)] = field(default=0.99, metadata={"description": "Explored frames below f_trust_lo."})
    rounds: Annotated[int, Field(ge=1)] = field(default=1, metadata={"description": "Rounds in a row the ratio must hold for."})
    confidence: Annotated[float, Field(ge=0, lt=1)] = field(default=0.0, metadata={"description": "0: the ratio itself must reach threshold; e.g. 0.9: its one-sided Wilson upper bound at 90 % must (not significantly below)."})
    name: str = "accurate_ratio"

    def upper_bound(self, ratio: float, n: int) -> float:
        """The ratio itself (``confidence`` 0), else its one-sided Wilson upper bound over ``n`` frames."""
        if self.confidence <= 0 or n <= 0:
            return ratio
        z = NormalDist().inv_cdf(self.confidence)
        centre = ratio + z * z / (2 * n)
        spread = z * math.sqrt(ratio * (1 - ratio) / n + z * z / (4 * n * n))
        return min(1.0, (centre + spread) / (1 + z * z / n))

    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether the last ``rounds`` rounds each explored frames and reached ``threshold``.

        A round selected with DP-GEN2's adaptive lower level does not count: that level is placed so a fixed
        share of the frames are candidates, so its accurate ratio says nothing about the ensemble.
        """
        last = history[-self.rounds :]
        ratios = [r.selection.accurate_ratio for r in last]
        adaptive = [r.round for r in last if r.levels.get(ADAPTIVE_LOWER_KEY)]
        bounds = [self.upper_bound(x, r.selection.n_frames) for r, x in zip(last, ratios, strict=True)]
        ok = len(last) == self.rounds and not adaptive and all(
            r.selection.n_frames > 0 and b >= self.threshold for r, b in zip(last, bounds, strict=True)
        )
        detail = f"last {len(last)} ratio(s) {[round(x, 4) for x in ratios]} vs >= {self.threshold}"
        if self.confidence > 0:
            detail += (f" (upper bounds at {self.confidence:g} over {[r.selection.n_frames for r in last]} "
                       f"frames: {[round(b, 4) for b in bounds]})")
        if adaptive:
            detail += f"; round(s) {adaptive} used the adaptive lower level (ratio set by its rate)"
        return CriterionResult(name=self.name, satisfied=ok, detail=detail)


@dataclass
class MetricBelow(Criterion):
    """A metric of the last round (e.g. test force RMSE in meV/Å) at or below ``target``."""

    metric: str
    target: float
    name: str = "metric"

    def _value(self, history: list[RoundReport]) -> float | None:
        return history[-1].metrics.get(self.metric) if history else None

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return value <= self.target

    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether the last round's metric meets the target (not measured: not satisfied)."""
        value = self._value(history)
        if value is None:
            return CriterionResult(name=self.name, satisfied=False, detail=f"{self.metric} not measured")
        op = "<=" if isinstance(self, MetricBelow) and not isinstance(self, MetricAbove) else ">="
        return CriterionResult(
            name=self.name, satisfied=self.passes(value),
            detail=f"{self.metric} {value:g} vs {op} {self.target:g}",
        )


@dataclass
class MetricAbove(MetricBelow):
    """A metric of the last round (e.g. an RDF agreement score in [0, 1]) at or above ``target``."""

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return value >= self.target


def _register_target(metric: RoundMetric, base: type[MetricBelow], default: float, doc: str) -> type:
    """Register a criterion on one round metric; the campaign gives its ``target``."""
    bounds = Field(gt=0, le=1) if base is MetricAbove else Field(gt=0)

    def from_settings(cls: type, settings: object) -> MetricBelow:
        return cls(metric=metric.value, target=settings.target, name=settings.name)

    cls = make_dataclass(
        "".join(part.title() for part in metric.value.split("_")),
        [("target", Annotated[float, bounds], field(default=default, metadata={"description": doc}))],
        bases=(base,),
        namespace={"settings_exclude": ("metric",), "from_settings": classmethod(from_settings),
                   "__doc__": f"{metric.value} {'at or above' if base is MetricAbove else 'at or below'} "
                              f"``target`` ({doc})."},
    )
    cls.__module__ = __name__
    return CRITERIA.register(metric.value)(cls)


# The metric targets, with the study's figures as defaults (mean over the ensemble's models).
EnergyRmse = _register_target(RoundMetric.ENERGY_RMSE, MetricBelow, 1.6, "test energy RMSE, meV/atom; the study: 1.6")
ForceRmse = _register_target(RoundMetric.FORCE_RMSE, MetricBelow, 46.2, "test force RMSE, meV/Å; the study: 46.2")
StressRmse = _register_target(RoundMetric.STRESS_RMSE, MetricBelow, 33.6, "test stress RMSE, MPa; the study: 33.6")
RdfAgreement = _register_target(RoundMetric.RDF_AGREEMENT, MetricAbove, 0.9, "RDF agreement score in [0, 1]")


def criteria_from_config(config: ConvergenceConfig) -> list[Criterion]:
    """The campaign's criteria (``convergence.criteria``), in the order it lists them."""
    return [CRITERIA.create(settings) for settings in config.criteria.values()]


@CRITERIA.register("levels_stable")
@dataclass
class LevelsStable(Criterion):
    """The calibrated lower force level moved less than ``tolerance`` (relative) over ``rounds`` rounds."""

    tolerance: Annotated[float, Field(gt=0)] = field(default=0.15, metadata={"description": "Relative change."})
    rounds: Annotated[int, Field(ge=2)] = field(default=2, metadata={"description": "Rounds compared."})
    name: str = "levels_stable"

    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether the last ``rounds`` calibrated levels agree within the tolerance."""
        levels = [r.levels_next.get("f_trust_lo") for r in history[-self.rounds:]
                  if r.levels_next.get("calibrated")]
        if len(levels) < self.rounds:
            return CriterionResult(name=self.name, satisfied=False,
                                   detail=f"{len(levels)} calibrated level(s) so far, {self.rounds} needed")
        spread = (max(levels) - min(levels)) / max(levels)
        return CriterionResult(name=self.name, satisfied=spread <= self.tolerance,
                               detail=f"f_trust_lo {[round(x, 4) for x in levels]}: spread {spread:.2f} vs <= {self.tolerance}")


@CRITERIA.register("sanity_error")
@dataclass
class SanityError(Criterion):
    """The true force error of the sanity labels (the ensemble said accurate) at or below ``target``."""

    target: Annotated[float, Field(gt=0)] = field(
        default=0.15, metadata={"description": "eV/Å, on the 90th percentile of max-atom errors."})
    name: str = "sanity_error"

    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether the last round's sanity labels confirm the ensemble's accuracy claim."""
        calibration = history[-1].calibration if history else None
        sanity = calibration.sanity if calibration is not None else None
        if sanity is None or sanity.p90_f_error is None:
            return CriterionResult(name=self.name, satisfied=False, detail="no sanity labels this round")
        value = sanity.p90_f_error
        return CriterionResult(name=self.name, satisfied=value <= self.target,
                               detail=f"p90 max-atom force error {value:.3f} eV/Å on {sanity.n} "
                                      f"sanity labels vs <= {self.target}")


@CRITERIA.register("temperature_range")
@dataclass
class TemperatureRange(Criterion):
    """The last round explored every temperature of the campaign (an adaptive range has reached them all)."""

    name: str = "temperature_range"

    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether no campaign temperature is still pending in the last round."""
        last = history[-1] if history else None
        if last is None:
            return CriterionResult(name=self.name, satisfied=False, detail="no round yet")
        explored = ", ".join(f"{t:g}" for t in last.exploration_temperatures) or "?"
        if last.temperatures_pending:
            pending = ", ".join(f"{t:g}" for t in last.temperatures_pending)
            return CriterionResult(name=self.name, satisfied=False, detail=f"explored {explored} K; {pending} K not yet")
        return CriterionResult(name=self.name, satisfied=True, detail=f"explored {explored} K: the whole range")
