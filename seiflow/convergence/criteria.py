"""Convergence criteria: accurate ratio for k rounds in a row, test RMSE targets, RDF agreement."""

from __future__ import annotations

from dataclasses import dataclass

from seiflow.convergence.base import Criterion
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.round import CriterionResult, RoundReport


@dataclass
class AccurateRatio(Criterion):
    """Accurate ratio >= ``threshold`` in each of the last ``rounds`` rounds."""

    threshold: float = 0.99
    rounds: int = 1
    name: str = "accurate_ratio"

    def check(self, history: list[RoundReport]) -> CriterionResult:
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

    def check(self, history: list[RoundReport]) -> CriterionResult:
        value = history[-1].metrics.get(self.metric) if history else None
        if value is None:
            return CriterionResult(name=self.name, satisfied=False, detail=f"{self.metric} not measured")
        ok = value <= self.target
        return CriterionResult(name=self.name, satisfied=ok, detail=f"{self.metric} {value:g} vs <= {self.target:g}")


@dataclass
class MetricAbove(MetricBelow):
    """A metric of the last round (e.g. an RDF agreement score in [0, 1]) at or above ``target``."""

    def check(self, history: list[RoundReport]) -> CriterionResult:
        value = history[-1].metrics.get(self.metric) if history else None
        if value is None:
            return CriterionResult(name=self.name, satisfied=False, detail=f"{self.metric} not measured")
        ok = value >= self.target
        return CriterionResult(name=self.name, satisfied=ok, detail=f"{self.metric} {value:g} vs >= {self.target:g}")


# metric keys the training/analysis steps put into RoundReport.metrics
ENERGY_RMSE = "energy_rmse_mev_atom"
FORCE_RMSE = "force_rmse_mev_a"
STRESS_RMSE = "stress_rmse_mpa"
RDF_AGREEMENT = "rdf_agreement"


def criteria_from_config(config: ConvergenceConfig) -> list[Criterion]:
    """All criteria the campaign configures (the accurate ratio always; targets when set)."""
    out: list[Criterion] = [AccurateRatio(config.accurate_ratio, config.rounds_in_a_row)]
    for key in (ENERGY_RMSE, FORCE_RMSE, STRESS_RMSE):
        target = getattr(config, key)
        if target is not None:
            out.append(MetricBelow(key, target, name=key))
    if config.rdf_agreement is not None:
        out.append(MetricAbove(RDF_AGREEMENT, config.rdf_agreement, name=RDF_AGREEMENT))
    return out
