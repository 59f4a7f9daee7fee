"""The convergence job (category ``light``): judge the round, store its report."""

from __future__ import annotations

from jobflow import job

from seiflow.convergence.report import RoundStore, judge
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.round import RoundReport, SelectionResult

LIGHT_CATEGORY = "light"


@job(output_schema=RoundReport)
def check_convergence(
    campaign: str,
    round_index: int,
    selection: SelectionResult,
    config: ConvergenceConfig,
    metrics: dict[str, float] | None = None,
) -> RoundReport:
    """Judge this round against the stored history and store its report in ``rounds``."""
    if not isinstance(selection, SelectionResult):
        selection = SelectionResult.model_validate(selection)
    if not isinstance(config, ConvergenceConfig):
        config = ConvergenceConfig.model_validate(config)
    store = RoundStore()
    report = judge(campaign, round_index, selection, config, store.history(campaign), metrics)
    store.put(report)
    return report


def convergence_job(*args, **kwargs):
    """``check_convergence`` with its FireWorks category set."""
    j = check_convergence(*args, **kwargs)
    j.update_config({"manager_config": {"_category": LIGHT_CATEGORY}})
    return j
