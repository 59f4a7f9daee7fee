"""Round reports: judge the criteria and decide stop/continue (``seiflow.records.rounds`` stores them)."""

from __future__ import annotations

from seiflow.convergence.base import Criterion
from seiflow.convergence.criteria import criteria_from_config
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.round import RoundReport, SelectionResult, StopKind


def judge(
    campaign: str,
    round_index: int,
    selection: SelectionResult,
    config: ConvergenceConfig,
    history: list[RoundReport] | None = None,
    metrics: dict[str, float] | None = None,
    criteria: list[Criterion] | None = None,
    **fields: object,
) -> RoundReport:
    """The round's report: converged when every criterion holds; stop also at the round cap.

    Rounds are numbered from 1 (round 0 is the initial data), so round ``max_rounds`` is the last.
    ``fields`` are further report fields (levels, calibration...) the criteria may read.
    """
    report = RoundReport(campaign=campaign, round=round_index, selection=selection, metrics=metrics or {}, **fields)
    past = [r for r in (history or []) if r.round < round_index]
    chain = [*sorted(past, key=lambda r: r.round), report]
    criteria = criteria if criteria is not None else criteria_from_config(config)
    report.criteria = [c.check(chain) for c in criteria]
    report.converged = bool(report.criteria) and all(c.satisfied for c in report.criteria)
    held = ", ".join(c.name for c in report.criteria if not c.satisfied)
    if report.converged:
        _stop(report, StopKind.CONVERGED, "converged")
    elif round_index >= config.max_rounds:  # active-learning rounds are numbered 1..max_rounds
        _stop(report, StopKind.ROUND_CAP, f"round cap {config.max_rounds} hit, not converged ({held} not met)")
    elif selection.n_frames == 0:
        _stop(report, StopKind.NO_FRAMES, "no frames explored (all explorations failed)")
    elif selection.n_selected == 0 and selection.n_candidate + selection.n_failed > 0:
        _stop(report, StopKind.STALLED, (
            f"stalled: {selection.n_frames} frames explored, none selected "
            f"({selection.n_candidate} candidates, {selection.n_failed} failed, "
            f"{selection.n_filtered} filtered), and {held} not met; loosen the trust levels or filters"
        ))
    return report


def _stop(report: RoundReport, kind: StopKind, reason: str) -> None:
    report.stop, report.stop_kind, report.stop_reason = True, kind, reason
