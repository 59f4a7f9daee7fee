"""The report's verdict on plain numbers: rounding, the advice each finding gives, the mechanism answer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from seiflow.analysis.snapshot import Snapshot, marks, nnp_end_snapshots
from seiflow.analysis.verdict import build_verdict, error_rows, mechanism_verdict, rdf_row, rmse
from tests.analysis.structures import isolated_in_clusters, study_chemistry


def point(rnd, n, e, f, v, **extra):
    return {"round": rnd, "n_labels": n, "rmse_e_mev_atom": e, "rmse_f_mev_a": f, "rmse_v_mpa": v, **extra}


def rows_over_time(ref, nnp, n=5):
    """Mechanism rows whose last frames have the given (reduced fraction, In-Cl, largest cluster) values."""
    pristine = {"reduced_In": 0.0, "cn_In": 6.0, "largest_cluster_In": 0}
    out = []
    for k in range(n):
        row = {"time_ps": 0.1 * (k + 1)}
        for who, end in (("reference", ref), ("nnp", nnp)):
            values = dict(zip(("reduced_In", "cn_In", "largest_cluster_In"), end, strict=True)) \
                if k == n - 1 else pristine
            row.update({f"{key}_{who}": value for key, value in values.items()})
            row.update({f"metal_cn_In_{who}": 0.0, f"product_LiCl_{who}": 0.0})
        out.append(row)
    return out


def test_rmse_rounding_follows_the_study():
    assert rmse(152.04) == 152.0 and rmse(46.24) == 46.2 and rmse(1.63) == 1.6 and rmse(None) is None
    assert rmse(float("nan")) is None


def test_error_rows_ratio_status_and_what_to_do():
    curve = [point(1, 100, 3.0, 200.0, 40.0), point(2, 150, 2.0, 190.0, 33.6)]
    test = [point(2, 150, 1.5, 60.0, 30.0)]
    energy, force, stress = error_rows(curve, test)
    assert (energy.ratio, energy.status) == (1.2, "close: 1.2x the study's")
    assert energy.action.startswith("still falling (33 % over the last round): label more")
    assert (force.campaign, force.ratio, force.status) == (190.0, 4.1, "4.1x the study's")
    assert "flat over the last round (-5 %): train longer or larger" in force.action
    assert "3.2x the dp-test error on held-out training frames: explore like the validation MD" in force.action
    assert (stress.status, stress.action) == ("meets the study", "none needed")
    just_above = error_rows([point(1, 10, 1.0, 46.24, 1.0)], [])[1]
    assert just_above.campaign == 46.24 and just_above.status == "close: 1.0x the study's"
    assert just_above.action == "one validated round so far: let it run more rounds"


def test_energy_offset_is_named():
    curve = [point(1, 10, 5.0, 40, 30, e_offset_mev_atom=4.5, rmse_e_centered_mev_atom=2.2)]
    assert "mostly a constant offset (+4.5 meV/atom; 2.2 without it)" in error_rows(curve, [])[0].action


def test_rdf_row_does_not_round_a_miss_away():
    row = rdf_row(0.897, {"Li-Cl": 0.95, "In-In": 0.7})
    assert row.campaign == 0.897 and row.status == "below the target"
    assert row.action == "least alike: In-In (0.70): label more configurations like the validation MD"
    assert rdf_row(0.93).status == "meets the target" and rdf_row(None).status == "not measured"


@pytest.mark.parametrize(("ref", "nnp", "answer", "words"), [
    ((0.4, 3.7, 4), (0.4, 3.8, 4), "yes", "In is reduced and clusters in both"),
    ((0.4, 3.7, 4), (0.0, 6.0, 0), "no", "the NNP misses the reaction"),
    ((0.0, 6.0, 0), (0.3, 4.2, 3), "no", "spurious reaction"),
    ((0.4, 3.7, 4), (0.2, 4.6, 2), "no", "by different amounts"),
    ((0.0, 6.0, 0), (0.0, 5.9, 0), "not tested", "run longer validation MD"),
])
def test_mechanism_answer(ref, nnp, answer, words):
    m = mechanism_verdict(rows_over_time(ref, nnp), "test", study_chemistry())
    assert m.answer == answer and m.reproduced == {"yes": True, "no": False, "not tested": None}[answer]
    assert words in m.summary + m.action
    assert m.end_window == "end = mean over the last 1 of 5 frames (to 0.5 ps)"
    assert [c.agrees is not None for c in m.checks] == [True] * 4 + [False] * 2


def test_verdict_without_validation_data():
    v = build_verdict([], [], None, None, [], source="no set")
    assert v.headline.startswith("No validation-set errors yet") and v.accuracy_reached is None
    assert v.mechanism.answer == "not tested" and v.rows[0].status == "not measured"


def test_verdict_that_meets_the_study_asks_nothing():
    v = build_verdict([point(3, 300, 1.2, 40.0, 20.0)], [], 0.95, {"In-Cl": 0.95},
                      rows_over_time((0.4, 3.7, 4), (0.35, 3.9, 4)))
    assert v.accuracy_reached is True and v.mechanism_reproduced is True and v.actions == []
    assert v.headline.startswith("Meets the study's accuracy on the fixed validation set (energy 1.2 vs 1.6")


def test_actions_group_findings_by_what_to_do():
    curve = [point(1, 100, 4.0, 200.0, 80.0), point(2, 150, 3.0, 195.0, 60.0)]
    v = build_verdict(curve, [point(2, 150, 1.0, 60.0, 50.0)], 0.8, {"In-In": 0.5}, [])
    assert v.actions[0].startswith("Explore like the validation MD") and "energy RMSE 3.0x" in v.actions[0]
    assert "force RMSE 3.2x" in v.actions[0]
    assert any(a.startswith("Train longer or larger") and "force RMSE flat" in a for a in v.actions)
    assert any(a.startswith("Label more") and "energy RMSE still falling" in a and "stress RMSE" in a
               for a in v.actions)
    assert v.actions[-1].startswith("Mechanism: let the closing analysis run")


def test_nnp_end_snapshot_from_a_lammps_dump(tmp_path):
    run = tmp_path / "nnp_interface_600K"
    run.mkdir()
    frames = []
    for step, shift in ((0, 0.0), (100, 0.5)):
        atoms = "\n".join(f"{i + 1} {t} {x + shift:.3f} 1.0 2.0" for i, (t, x) in enumerate([(1, 1.0), (3, 4.0)]))
        frames.append(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n"
                      f"0 10\nITEM: ATOMS id type x y z\n{atoms}\n")
    (run / "traj.lammpstrj").write_text("".join(frames))
    comparison = SimpleNamespace(structure="interface", temperature=600.0, mechanism=[{"time_ps": 0.1}])
    missing = SimpleNamespace(structure="LiCl", temperature=600.0, mechanism=[])
    (snap,) = nnp_end_snapshots(tmp_path, [comparison, missing], ["Li", "In", "Cl"])
    snap = Snapshot.model_validate(snap)
    assert snap.species == ["Li", "Cl"] and snap.time_ps == 0.1 and snap.positions[1] == [4.5, 1.0, 2.0]
    assert np.allclose(snap.to_atoms().cell.lengths(), 10.0)


def test_marks_of_in_clusters():
    m = marks(isolated_in_clusters(), study_chemistry())
    assert m["n_cations"] == 7 and m["n_reduced"] == 7 and m["largest_cluster"] == 3 and m["n_clusters"] == 2
    assert m["state"].count("cluster") == 5 and m["state"].count("reduced") == 2


def test_the_verdict_quotes_the_test_set_and_keeps_the_validation_trend_for_advice():
    """The validation set meets the study; the independent test set, which decides nothing, does not: it wins."""
    curve = [point(2, 150, 1.5, 50.0, 30.0), point(3, 300, 1.2, 40.0, 20.0)]
    reported = {"rmse_e_mev_atom": 2.0, "rmse_f_mev_a": 58.0, "rmse_v_mpa": 20.0}
    v = build_verdict(curve, [], 0.95, {"In-Cl": 0.95}, rows_over_time((0.4, 3.7, 4), (0.35, 3.9, 4)),
                      source="independent test set", reported=reported)
    assert [r.campaign for r in v.rows[:3]] == [2.0, 58.0, 20.0]
    assert v.accuracy_reached is False and v.source == "independent test set"
    assert v.headline.startswith("Not yet at the study's accuracy on the independent test set: force error 1.3x")
    assert "still falling (20 % over the last round)" in v.rows[1].action  # the trend is the validation set's
    met = build_verdict(curve, [], 0.95, {"In-Cl": 0.95}, [], reported={**reported, "rmse_e_mev_atom": 1.0,
                                                                        "rmse_f_mev_a": 40.0})
    assert met.headline.startswith("Meets the study's accuracy on the independent test set (energy 1 vs 1.6")


def test_a_blown_up_nnp_md_is_in_the_headline_and_the_first_action():
    reason = "2113 K at step 180, above 5 x the thermostat's 300 K"
    v = build_verdict([point(3, 300, 1.2, 40.0, 20.0)], [], 0.95, {"In-Cl": 0.95},
                      rows_over_time((0.4, 3.7, 4), (0.35, 3.9, 4)), unstable=reason)
    assert v.headline.endswith(f"The NNP MD blew up ({reason}): only its frames before that were compared.")
    assert v.actions[0].startswith("MD health: the model's MD blew up (2113 K at step 180")
    healthy = build_verdict([point(3, 300, 1.2, 40.0, 20.0)], [], 0.95, {"In-Cl": 0.95},
                            rows_over_time((0.4, 3.7, 4), (0.35, 3.9, 4)))
    assert "blew up" not in healthy.headline and healthy.actions == []
