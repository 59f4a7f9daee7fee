"""Each convergence criterion on hand-made round statistics with known answers; the rounds store."""

from __future__ import annotations

from seiflow.convergence.criteria import (
    AccurateRatio,
    MetricAbove,
    MetricBelow,
    criteria_from_config,
)
from seiflow.convergence.report import judge
from seiflow.records.rounds import RoundStore
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.round import FrameId, RoundReport, SelectionResult


def sel(ratio: float, n: int = 100) -> SelectionResult:
    acc = round(ratio * n)
    return SelectionResult(
        n_frames=n, n_accurate=acc, n_candidate=n - acc, accurate_ratio=acc / n if n else 0.0,
        candidate_ratio=(n - acc) / n if n else 0.0, f_trust_lo_used=0.1,
        selected=[FrameId(task_id="t", step=10, max_devi_f=0.2)] if acc < n else [],
    )


def rep(i: int, ratio: float, **metrics) -> RoundReport:
    return RoundReport(campaign="c", round=i, selection=sel(ratio), metrics=metrics)


def test_accurate_ratio_last_k_rounds():
    crit = AccurateRatio(threshold=0.99, rounds=2)
    assert not crit.check([rep(0, 0.5), rep(1, 0.995)]).satisfied
    assert crit.check([rep(0, 0.5), rep(1, 0.99), rep(2, 1.0)]).satisfied
    assert not crit.check([rep(0, 1.0)]).satisfied  # only one round so far
    assert not AccurateRatio(0.99, 1).check([RoundReport(campaign="c", round=0, selection=sel(0, n=0))]).satisfied


def test_accurate_ratio_with_confidence_does_not_flip_on_sampling_noise():
    """0.88 of 84 frames is not evidence against 0.9; 0.73 is; 0.88 of 2,000 frames is too."""
    def report(i: int, ratio: float, n: int) -> RoundReport:
        return RoundReport(campaign="c", round=i, selection=sel(ratio, n=n))

    plain, robust = AccurateRatio(0.9, 1), AccurateRatio(0.9, 1, confidence=0.9)
    assert not plain.check([report(1, 0.88, 84)]).satisfied
    result = robust.check([report(1, 0.88, 84)])
    assert result.satisfied and "upper bounds at 0.9 over [84] frames: [0.919" in result.detail
    assert not robust.check([report(1, 0.73, 84)]).satisfied
    assert not robust.check([report(1, 0.88, 2000)]).satisfied  # many frames: 0.88 is below 0.9
    assert robust.upper_bound(0.9, 84) > 0.9 and abs(robust.upper_bound(1.0, 84) - 1.0) < 1e-12
    assert abs(robust.upper_bound(0.88, 84) - 0.9183) < 1e-3  # Wilson, z = 1.2816
    assert not AccurateRatio(0.9, 2, confidence=0.9).check([report(1, 0.95, 84), report(2, 0.70, 84)]).satisfied


def test_metric_targets():
    assert MetricBelow("force_rmse_mev_a", 50).check([rep(0, 1, force_rmse_mev_a=46.2)]).satisfied
    assert not MetricBelow("force_rmse_mev_a", 40).check([rep(0, 1, force_rmse_mev_a=46.2)]).satisfied
    assert not MetricBelow("force_rmse_mev_a", 40).check([rep(0, 1)]).satisfied  # not measured
    assert MetricAbove("rdf_agreement", 0.9).check([rep(0, 1, rdf_agreement=0.95)]).satisfied
    assert not MetricAbove("rdf_agreement", 0.9).check([rep(0, 1, rdf_agreement=0.8)]).satisfied


def test_criteria_from_config():
    names = [c.name for c in criteria_from_config(ConvergenceConfig(criteria={"accurate_ratio": {}, "force_rmse_mev_a": {"target": 50}, "rdf_agreement": {"target": 0.9}}))]
    assert names == ["accurate_ratio", "force_rmse_mev_a", "rdf_agreement"]


def test_judge_converged_not_converged_and_cap():
    cfg = ConvergenceConfig(criteria={"accurate_ratio": {"threshold": 0.99, "rounds": 2}, "force_rmse_mev_a": {"target": 50}}, max_rounds=4)
    r1 = judge("c", 1, sel(1.0), cfg, [rep(0, 0.995)], {"force_rmse_mev_a": 40})
    assert r1.converged and r1.stop and r1.stop_reason == "converged"
    r1 = judge("c", 1, sel(1.0), cfg, [rep(0, 0.995)], {"force_rmse_mev_a": 60})
    assert not r1.converged and not r1.stop
    r3 = judge("c", 3, sel(0.5), cfg, [rep(1, 0.5), rep(2, 0.6)], {})
    assert not r3.converged and not r3.stop  # round 3 of 4
    r4 = judge("c", 4, sel(0.5), cfg, [rep(1, 0.5), rep(2, 0.6), rep(3, 0.7)], {})
    assert not r4.converged and r4.stop and "not converged" in r4.stop_reason


def test_round_store_roundtrip(seiflow_env):
    store = RoundStore()
    cfg = ConvergenceConfig(criteria={"accurate_ratio": {"threshold": 0.9}})
    for i, ratio in enumerate([0.5, 0.95]):
        store.put(judge("camp", i, sel(ratio), cfg, store.history("camp")))
    store.put(judge("camp", 1, sel(0.95), cfg, store.history("camp")))  # a rerun replaces
    history = store.history("camp")
    assert [(r.round, r.converged) for r in history] == [(0, False), (1, True)]
    assert store.get("camp", 0).selection.accurate_ratio == 0.5
    assert store.get("other", 0) is None


def test_rounds_cli_json(seiflow_env):
    import json

    from click.testing import CliRunner

    from seiflow.cli.main import cli

    RoundStore().put(judge("camp", 0, sel(0.99), ConvergenceConfig()))
    res = CliRunner().invoke(cli, ["rounds", "camp", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["converged"] is True and data["rounds"][0]["accurate_ratio"] == 0.99
    assert set(data["rounds"][0]) >= {"round", "n_frames", "candidate_ratio", "n_selected", "stop_reason"}


def test_a_round_that_selects_nothing_and_is_not_accurate_stops_as_stalled():
    cfg = ConvergenceConfig(criteria={"accurate_ratio": {"threshold": 0.99}}, max_rounds=5)
    stuck = SelectionResult(n_frames=50, n_accurate=10, n_failed=40, accurate_ratio=0.2, failed_ratio=0.8,
                            f_trust_lo_used=0.1)
    report = judge("c", 2, stuck, cfg, [rep(1, 0.5)])
    assert report.stop and not report.converged and report.stop_kind == "stalled"
    assert "none selected" in report.stop_reason and "accurate_ratio" in report.stop_reason
    capped = judge("c", 5, sel(0.5), cfg, [rep(i, 0.5) for i in range(1, 5)])
    assert capped.stop_kind == "round_cap" and "accurate_ratio not met" in capped.stop_reason
    going = judge("c", 2, sel(0.5), cfg, [rep(1, 0.5)])  # candidates selected: the loop goes on
    assert not going.stop and going.stop_kind is None
