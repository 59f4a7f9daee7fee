"""Convergence criteria: the accurate ratio for k rounds in a row, test RMSE targets, RDF agreement.

Each is registered in :data:`seiflow.registry.CRITERIA` under the name a campaign uses in
``convergence.criteria``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from pydantic import Field

from seiflow.convergence.base import Criterion
from seiflow.registry import CRITERIA
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.model import RoundMetric
from seiflow.schemas.round import CriterionResult, RoundReport


@CRITERIA.register("accurate_ratio")
@dataclass
class AccurateRatio(Criterion):
    """Accurate ratio >= ``threshold`` in each of the last ``rounds`` rounds."""

    threshold: Annotated[float, Field(gt=0, le=1)] = field(default=0.99, metadata={"description": "Explored frames below f_trust_lo."})
    rounds: Annotated[int, Field(ge=1)] = field(default=1, metadata={"description": "Rounds in a row the ratio must hold for."})
    name: str = "accurate_ratio"

    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether the last ``rounds`` rounds each explored frames and reached ``threshold``."""
        last = history[-self.rounds :]
        ratios = [r.selection.accurate_ratio for r in last]
        ok = len(last) == self.rounds and all(
            r.selection.n_frames > 0 and x >= self.threshold for r, x in zip(last, ratios, strict=True)
        )
        detail = f"last {len(last)} ratio(s) {[round(x, 4) for x in ratios]} vs >= {self.threshold}"
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


@dataclass
class _Target:
    """A registered metric target: the metric is the class's, the campaign gives the target."""

    settings_exclude: ClassVar[tuple[str, ...]] = ("metric",)
    metric_key: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: object) -> MetricBelow:
        """The criterion with the campaign's target."""
        return cls(metric=cls.metric_key, target=settings.target, name=settings.name)


@CRITERIA.register(RoundMetric.ENERGY_RMSE.value)
@dataclass
class EnergyRmse(_Target, MetricBelow):
    """Mean test energy RMSE of the ensemble (meV/atom) at or below ``target``."""

    metric_key: ClassVar[str] = RoundMetric.ENERGY_RMSE.value
    metric: str = RoundMetric.ENERGY_RMSE.value
    target: Annotated[float, Field(gt=0)] = field(default=1.6, metadata={"description": "meV/atom (the study: 1.6)."})


@CRITERIA.register(RoundMetric.FORCE_RMSE.value)
@dataclass
class ForceRmse(_Target, MetricBelow):
    """Mean test force RMSE of the ensemble (meV/Å) at or below ``target``."""

    metric_key: ClassVar[str] = RoundMetric.FORCE_RMSE.value
    metric: str = RoundMetric.FORCE_RMSE.value
    target: Annotated[float, Field(gt=0)] = field(default=46.2, metadata={"description": "meV/Å (the study: 46.2)."})


@CRITERIA.register(RoundMetric.STRESS_RMSE.value)
@dataclass
class StressRmse(_Target, MetricBelow):
    """Mean test stress RMSE of the ensemble (MPa) at or below ``target``."""

    metric_key: ClassVar[str] = RoundMetric.STRESS_RMSE.value
    metric: str = RoundMetric.STRESS_RMSE.value
    target: Annotated[float, Field(gt=0)] = field(default=33.6, metadata={"description": "MPa (the study: 33.6)."})


@CRITERIA.register(RoundMetric.RDF_AGREEMENT.value)
@dataclass
class RdfAgreement(_Target, MetricAbove):
    """RDF agreement of NNP and reference MD (a score in [0, 1]) at or above ``target``."""

    metric_key: ClassVar[str] = RoundMetric.RDF_AGREEMENT.value
    metric: str = RoundMetric.RDF_AGREEMENT.value
    target: Annotated[float, Field(gt=0, le=1)] = field(default=0.9, metadata={"description": "Agreement score in [0, 1]."})


def criteria_from_config(config: ConvergenceConfig) -> list[Criterion]:
    """The campaign's criteria (``convergence.criteria``), in the order it lists them."""
    return [CRITERIA.create(settings) for settings in config.criteria.values()]
