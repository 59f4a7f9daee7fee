"""Convergence for the right reason, on synthetic rounds: calibrated levels, stability, sanity labels, schedule."""

from __future__ import annotations

from seiflow.convergence.criteria import TemperatureRange, criteria_from_config
from seiflow.convergence.report import judge
from seiflow.convergence.schedule import next_n_temperatures, next_scale
from seiflow.exploration.tasks import make_tasks
from seiflow.schemas.campaign import ConvergenceConfig, ExplorationConfig
from seiflow.schemas.round import FrameId, RoundReport, SelectionResult

CRITERIA = {
    "accurate_ratio": {"threshold": 0.95, "rounds": 2},
    "levels_stable": {"tolerance": 0.15, "rounds": 2},
    "sanity_error": {"target": 0.15},
    "force_rmse_mev_a": {"target": 100.0},
}
CFG = ConvergenceConfig(criteria=CRITERIA, max_rounds=6)


def selection(accurate: float, n: int = 200) -> SelectionResult:
    acc = round(accurate * n)
    return SelectionResult(
        n_frames=n, n_accurate=acc, n_candidate=n - acc, accurate_ratio=acc / n, candidate_ratio=1 - acc / n,
        f_trust_lo_used=0.12, selected=[FrameId(task_id="t", step=1, max_devi_f=0.2)] if acc < n else [],
    )


def round_of(i: int, accurate: float, level: float, sanity: float, force: float) -> RoundReport:
    return RoundReport(
        campaign="c", round=i, selection=selection(accurate), metrics={"force_rmse_mev_a": force},
        levels_next={"f_trust_lo": level, "calibrated": 1.0},
        calibration={"sanity": {"n": 8, "p90_f_error": sanity}},
    )


def judge_last(rounds: list[RoundReport]) -> RoundReport:
    last = rounds[-1]
    return judge("c", last.round, last.selection, CFG, rounds[:-1], last.metrics, levels_next=last.levels_next,
                 calibration=last.calibration)


def verdicts(report: RoundReport) -> dict[str, bool]:
    return {c.name: c.satisfied for c in report.criteria}


def test_a_well_trained_ensemble_converges():
    good = [round_of(1, 0.97, 0.120, 0.09, 80.0), round_of(2, 0.98, 0.125, 0.08, 70.0)]
    report = judge_last(good)
    assert report.converged and report.stop_kind == "converged", verdicts(report)


def test_a_poor_ensemble_is_held_back_by_the_criterion_that_fails():
    # accurate by its own claim, but its sanity labels show real errors well above target
    overconfident = [round_of(1, 0.97, 0.12, 0.40, 80.0), round_of(2, 0.99, 0.12, 0.45, 75.0)]
    report = judge_last(overconfident)
    assert not report.converged and verdicts(report) == {
        "accurate_ratio": True, "levels_stable": True, "sanity_error": False, "force_rmse_mev_a": True}
    # levels still moving: not converged, for that reason
    moving = [round_of(1, 0.97, 0.20, 0.09, 80.0), round_of(2, 0.98, 0.10, 0.08, 70.0)]
    assert verdicts(judge_last(moving))["levels_stable"] is False
    # the validation-set error above target holds it back too, and a capped campaign says which one
    capped = [round_of(i, 0.97, 0.12, 0.09, 150.0) for i in range(1, 7)]
    report = judge_last(capped)
    assert report.stop_kind == "round_cap" and "force_rmse_mev_a not met" in report.stop_reason


def test_adaptive_exploration_lengthens_and_shrinks():
    quiet = selection(0.95)  # 5 % candidates
    busy = selection(0.30)  # 70 % candidates
    assert next_scale(1.0, quiet, 16) == 4.0 and next_scale(8.0, quiet, 16) == 16
    assert next_scale(1.0, selection(0.85), 16) == 2.0
    assert next_scale(4.0, busy, 16) == 2.0 and next_scale(1.0, busy, 16) == 1.0
    assert next_scale(2.0, selection(0.6), 16) == 2.0


def test_rounds_under_the_adaptive_lower_level_do_not_count_towards_the_accurate_ratio():
    # DP-GEN2's adaptive level makes 1 - rate of the frames accurate by construction
    rounds = [round_of(1, 0.97, 0.12, 0.09, 80.0), round_of(2, 0.97, 0.12, 0.09, 80.0)]
    rounds[1].levels = {"f_trust_lo": 0.3, "adaptive_lower": 1.0}
    report = judge("c", 2, rounds[1].selection, CFG, rounds[:1], rounds[1].metrics, levels=rounds[1].levels,
                   levels_next=rounds[1].levels_next, calibration=rounds[1].calibration)
    result = next(c for c in report.criteria if c.name == "accurate_ratio")
    assert not result.satisfied and "adaptive lower level" in result.detail and not report.converged


def test_the_temperature_range_grows_when_quiet_and_gives_back_when_busy():
    assert next_n_temperatures(1, selection(0.95), 3) == 2  # 5 % candidates: take in the next one
    assert next_n_temperatures(3, selection(0.95), 3) == 3  # all taken in already
    assert next_n_temperatures(2, selection(0.30), 3) == 1 and next_n_temperatures(1, selection(0.30), 3) == 1
    assert next_n_temperatures(2, selection(0.6), 3) == 2  # 40 %: stays


def test_a_campaign_with_an_adaptive_range_converges_only_once_it_explored_every_temperature():
    config = ExplorationConfig(temperatures=[300, 600, 900], adaptive_temperatures=True)
    assert [t.temperature for t in make_tasks(["x"], config, 1, n_temperatures=1)] == [300]
    assert [t.temperature for t in make_tasks(["x"], config, 1)] == [300, 600, 900]
    good = [round_of(1, 0.97, 0.120, 0.09, 80.0), round_of(2, 0.98, 0.125, 0.08, 70.0)]
    good[1].exploration_temperatures, good[1].temperatures_pending = [300.0, 600.0], [900.0]
    report = judge("c", 2, good[1].selection, CFG, good[:1], good[1].metrics,
                   criteria=[*criteria_from_config(CFG), TemperatureRange()], levels_next=good[1].levels_next,
                   calibration=good[1].calibration, exploration_temperatures=[300.0, 600.0],
                   temperatures_pending=[900.0])
    assert not report.converged and verdicts(report)["temperature_range"] is False
    assert "900 K not yet" in next(c.detail for c in report.criteria if c.name == "temperature_range")
    report = judge("c", 2, good[1].selection, CFG, good[:1], good[1].metrics,
                   criteria=[*criteria_from_config(CFG), TemperatureRange()], levels_next=good[1].levels_next,
                   calibration=good[1].calibration, exploration_temperatures=[300.0, 600.0, 900.0])
    assert report.converged, verdicts(report)
