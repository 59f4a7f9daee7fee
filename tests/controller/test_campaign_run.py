"""A whole (tiny) campaign through FireWorks workers on the real server: it grows round by round and stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from seiflow.analysis.jobs import report_extra
from seiflow.analysis.report import write_report
from seiflow.cli.main import cli
from seiflow.constants import MODELS_COLLECTION, ROUNDS_COLLECTION
from seiflow.controller.flows import campaign_flow
from seiflow.controller.runner import run_locally
from seiflow.controller.submit import submit
from seiflow.records import campaigns
from seiflow.schemas.campaign import load_campaign
from seiflow.store import get_database, get_launchpad

TINY = Path(__file__).with_name("tiny_campaign.yaml")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a whole campaign: several rounds of training, MD, labelling
def test_tiny_campaign_runs_to_its_round_cap(seiflow_env):
    campaign = load_campaign(TINY)
    lp = get_launchpad()
    lp.reset("", require_password=False)
    submitted = submit(campaign, campaign_flow(campaign), lp)
    assert submitted["n_jobs"] == 1  # the start job adds the rest as it runs
    lines = []
    outcome = run_locally(seiflow_env.settings, "tiny", n_workers=2, timeout_s=1500, poll_s=2,
                          progress=lines.append, activity_every_s=10)
    db = get_database()
    assert outcome.state == "not_converged", (outcome.error, lines[-20:])
    # what each worker was doing, every 10 s: "  local0: <job name> [<category>] <time running>..."
    assert any(line.startswith(("  local0: ", "  local1: ")) for line in lines), lines
    fws = list(lp.fireworks.find({}, {"state": 1, "name": 1}))
    assert {fw["state"] for fw in fws} == {"COMPLETED"}, fws
    rounds = list(db[ROUNDS_COLLECTION].find({"campaign": "tiny"}).sort("round", 1))
    assert [r["round"] for r in rounds] == [1, 2]  # max_rounds: 2 (unless round 1 converged)
    assert "force_rmse_mev_a" in rounds[-1]["metrics"]
    assert db[MODELS_COLLECTION].count_documents({"campaign": "tiny"}) == 2 * len(rounds)
    frames = db.frames.count_documents({"provenance.campaign": "tiny"})
    assert frames >= 6
    doc = campaigns.get(db, "tiny")
    assert doc["state"] == outcome.state
    # every round pairs its new labels' deviations with their true errors and labels one sanity frame
    # (none is accurate at f_trust_lo 0.05: the lowest-deviation frames stand in); round 2 runs with the
    # levels round 1's fit set (the upper one never below f_trust_hi), or the adaptive level if it could not
    calibrations = {c["round"]: c for c in db["calibrations"].find({"campaign": "tiny"})}
    assert sorted(calibrations) == [1, 2]
    for c in calibrations.values():
        assert c["sanity"]["n"] == sum(p["sanity"] for p in c["pairs"]) >= 1 and c["sanity"]["p90_f_error"] > 0
        assert sum(not p["sanity"] for p in c["pairs"]) >= 1 and all(p["f_error"] > 0 for p in c["pairs"])
    assert calibrations[1]["fit"]["n_pairs"] >= 3
    # per_round_offset (the default): one slope, the level from the newest round's own offset, which round 2
    # fits on its own pairs when it has min_round_pairs (3) of them, else together with round 1's
    fitted = {r: sum(not p["sanity"] for p in c["pairs"]) for r, c in calibrations.items()}
    assert calibrations[1]["fit"]["intercept_rounds"] == [1]
    assert calibrations[2]["fit"]["intercept_rounds"] == ([2] if fitted[2] >= 3 else [1, 2])
    assert calibrations[2]["fit"]["n_pairs"] == calibrations[2]["n_pairs_fitted"] == fitted[1] + fitted[2]
    # e_error_lo and v_error_lo are set: every exploration pair carries its energy and virial deviations and
    # its energy and stress errors, and both are fitted beside the force
    for c in calibrations.values():
        assert all(p["devi_e"] is not None and p["max_devi_v"] is not None and p["s_error_mpa"] > 0
                   and p["e_error_mev_atom"] >= 0 for p in c["pairs"]), c["pairs"]
        assert set(c["fits"]) == {"energy", "virial"} and c["fits"]["virial"]["n_pairs"] >= 3
    if rounds[0]["levels_next"].get("calibrated"):
        assert rounds[0]["levels_next"]["f_trust_hi"] >= 5.0
        assert rounds[1]["levels"]["f_trust_lo"] == pytest.approx(rounds[0]["levels_next"]["f_trust_lo"])
        for key in ("e_trust_lo", "v_trust_lo"):  # a fitted energy or virial level is the one round 2 used
            if key in rounds[0]["levels_next"]:
                assert rounds[1]["levels"][key] == pytest.approx(rounds[0]["levels_next"][key])
    else:
        assert rounds[1]["levels"]["adaptive_lower"] == 1.0
    # the adaptive temperature range starts at the first temperature and holds convergence back until whole
    assert rounds[0]["exploration_temperatures"] == [600.0] and rounds[0]["temperatures_pending"] == [900.0]
    for r in rounds:
        held = next(c for c in r["criteria"] if c["name"] == "temperature_range")
        assert held["satisfied"] == (not r["temperatures_pending"]), held
    for r in rounds:  # the sanity criterion has a measured value every round
        sanity = next(c for c in r["criteria"] if c["name"] == "sanity_error")
        assert "p90 max-atom force error" in sanity["detail"], sanity
    # the explorations ran with the trained ensemble (they depend on the training jobs)
    for r in rounds:
        assert r["selection"]["n_frames"] > 0 and not r["selection"]["failed_tasks"], r["selection"]
    # each job carries its worker category, also those added at run time
    categories = {fw["name"]: fw["spec"].get("_category") for fw in lp.fireworks.find({}, {"name": 1, "spec": 1})}
    expected = {"analysis": "lammps", "deepmd train": "train", "explore": "lammps", "select": "light", "label": "dft",
                "close": "light", "reference md": "dft", "start": "light", "prepare structures": "dft",
                "initial data": "light", "candidates": "light", "merge": "light", "store_inputs": "light",
                "validate": "lammps", "calibrate": "lammps"}
    for name, category in categories.items():
        want = [c for key, c in expected.items() if key in name]
        assert want and category == want[0], (name, category)
    assert all(fw["spec"].get("campaign") == "tiny" for fw in lp.fireworks.find({}, {"spec": 1}))
    # what `seiflow status tiny --json` reports
    result = CliRunner().invoke(cli, ["status", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["state"] == "not_converged" and status["round"] == 2
    assert [r["round"] for r in status["rounds"]] == [1, 2]
    assert 0 <= status["rounds"][0]["ratios"]["accurate"] <= 1
    assert status["metrics"]["rmse_f_mev_a"] > 0 and status["frames"] == frames
    assert status["jobs"]["COMPLETED"]["train"] == 4 and status["last_error"] is None
    # the closing analysis ran NNP MD with the final model and compared RDFs with the reference MD
    analysis = db["analyses"].find_one({"campaign": "tiny"})
    # 40-step models may overheat the cell at 600 K (MD health): then only the frames before that are compared
    assert analysis["n_frames"] >= (2 if analysis["unstable"] else 10) and analysis["mechanism"], analysis["unstable"]
    assert analysis["unstable"] is None or "thermostat" in analysis["unstable"] or "stopped" in analysis["unstable"]
    assert 0 < analysis["rdf"]["overall"] <= 1 and analysis["cost"]["hours"] > 0
    written = write_report(db, "tiny", seiflow_env.root / "report", extra=report_extra("tiny", db))
    html = Path(written["html"]).read_text()
    assert any(f.startswith("Partial RDFs") for f in written["figures"]) and "NNP MD of the LiCl" in html
    # the fixed validation set: tested every round, never trained on, compared like for like at the close
    validation_ids = {f["_id"] for f in db.frames.find({"campaigns": "tiny", "provenance.source": "validation"})}
    trained = {i for m in db[MODELS_COLLECTION].find({"campaign": "tiny"}) for i in m["data"]["frame_ids"]}
    assert validation_ids and trained and not validation_ids & trained
    assert [v["round"] for v in db["validations"].find({"campaign": "tiny"}).sort("round", 1)] == [1, 2]
    assert analysis["like_for_like"] and analysis["dynamics"][0]["temperature"] == 300
    # every firework ran exactly once
    assert all(len(fw.get("launches", [])) <= 1 for fw in lp.fireworks.find({}, {"launches": 1}))
