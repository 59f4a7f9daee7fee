"""A campaign that converges trains its production model, validates it and hands it on, for each ``final_init``.

The tiny campaign with a criterion it meets in round 1: the closing step trains one longer model on every
label (from the round's best member, or from scratch), validates it on the fixed set, stores it as the
campaign's model, and the closing analysis runs with it. Which set each decision read is asserted: the
validation set decides (stopping, member choice), the independent test set only reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from seiflow.analysis.report import collect
from seiflow.cli.main import cli
from seiflow.constants import MODELS_COLLECTION, ROUNDS_COLLECTION
from seiflow.controller.flows import campaign_flow
from seiflow.controller.runner import run_locally
from seiflow.controller.submit import submit
from seiflow.records import campaigns
from seiflow.schemas.campaign import campaign_from_dict
from seiflow.store import get_database, get_launchpad

TINY = Path(__file__).with_name("tiny_campaign.yaml")
FINAL_STEPS = 30


def converging_campaign(final_init: str):
    """The tiny campaign at one temperature, judged by a force target any trained model meets."""
    data = yaml.safe_load(TINY.read_text())
    data["name"] = f"final-{final_init.replace('_', '-')}"
    data["exploration"].update(temperatures=[600], adaptive_temperatures=False)
    data["convergence"] = {"criteria": {"force_rmse_mev_a": {"target": 1.0e6}}, "max_rounds": 2}
    data["training"].update(final_numb_steps=FINAL_STEPS, final_init=final_init)
    if final_init == "scratch":  # and a compressed se_e2_a student of the production model
        data["training"]["distill"] = {"temperatures": [600], "steps": 20, "sample_every": 5, "numb_steps": 30,
                                       "compress": True}
    return campaign_from_dict(data)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("final_init", ["best_member", "scratch"])
def test_converged_campaign_trains_validates_and_hands_on_its_production_model(seiflow_env, final_init):
    campaign = converging_campaign(final_init)
    lp = get_launchpad()
    lp.reset("", require_password=False)
    submit(campaign, campaign_flow(campaign), lp)
    lines: list[str] = []
    outcome = run_locally(seiflow_env.settings, campaign.name, n_workers=2, timeout_s=1000, poll_s=2,
                          progress=lines.append)
    assert outcome.state == "converged", (outcome.error, lines[-20:])
    db = get_database()
    assert [r["round"] for r in db[ROUNDS_COLLECTION].find({"campaign": campaign.name})] == [1]
    n = campaign.training.numb_models
    members = list(db[MODELS_COLLECTION].find({"campaign": campaign.name, "round": 1, "index": {"$lt": n}}))
    final = db[MODELS_COLLECTION].find_one({"campaign": campaign.name, "index": n})
    assert len(members) == n and final is not None and final["round"] == 1

    # every label: the members never saw round 1's candidates, the production model trains on them
    explored = {f["_id"] for f in db.frames.find({"campaigns": campaign.name, "provenance.source": "exploration",
                                                  "status": "labelled"})}
    trained = set(final["data"]["frame_ids"])
    before = {i for m in members for i in m["data"]["frame_ids"] + (m["data"]["test_frame_ids"] or [])}
    assert explored and not explored & before
    assert final["data"]["n_test_frames"] == 0 and not final["data"]["test_frame_ids"], "nothing held out"
    assert trained == before | explored, "the production model is trained on every label"
    if final_init == "best_member":
        # chosen on the fixed validation set (the same frames for every member), not on each one's dp test split
        validated = db["validations"].find_one({"campaign": campaign.name, "round": 1})
        on_set = {m["model_id"]: m["overall"]["rmse_f_mev_a"] for m in validated["models"]}
        assert set(on_set) == {m["model_id"] for m in members}
        best = min(members, key=lambda m: on_set[m["model_id"]])
        assert (final["init"], final["parent_model_id"]) == ("init_frz_model", best["model_id"])
        assert final["input"]["learning_rate"]["start_lr"] == campaign.training.resume_start_lr
    else:
        assert (final["init"], final["parent_model_id"]) == ("scratch", None)
        assert final["input"]["learning_rate"]["start_lr"] == campaign.training.start_lr
    assert final["input"]["training"]["numb_steps"] == FINAL_STEPS

    # validated on the fixed set (as round 2 of the validations), the campaign's model, used by the analysis
    check = db["validations"].find_one({"campaign": campaign.name, "round": 2})
    assert check and [m["model_id"] for m in check["models"]] == [final["model_id"]]
    assert check["models"][0]["per_structure"], check["models"][0]
    assert campaigns.get(db, campaign.name)["final_model_id"] == final["model_id"]
    analysis = db["analyses"].find_one({"campaign": campaign.name})
    assert analysis["model_id"] == final["model_id"] and analysis["final_model"] is True

    # the independent test set: labelled (own seed, 4x the validation MD), never trained on, read by no decision
    test_ids = {f["_id"] for f in db.frames.find({"campaigns": campaign.name, "provenance.source": "test"})}
    validation_ids = {f["_id"] for f in db.frames.find({"campaigns": campaign.name,
                                                        "provenance.source": "validation"})}
    assert test_ids and validation_ids and not test_ids & validation_ids
    for model in members + [final]:
        seen = set(model["data"]["frame_ids"]) | set(model["data"]["test_frame_ids"] or [])
        assert not seen & (test_ids | validation_ids), model["model_id"]
    report = db[ROUNDS_COLLECTION].find_one({"campaign": campaign.name, "round": 1})
    expected = {"stopping": "validation"} | ({"member_choice": "validation"} if final_init == "best_member" else {})
    assert report["decided_on"] == expected
    tested = db["test_results"].find_one({"campaign": campaign.name})
    assert tested["source"] == "test" and tested["n_frames"] == len(test_ids)
    assert [m["model_id"] for m in tested["models"]] == [final["model_id"]] and tested["dynamics"]
    assert analysis["frame_source"] == "test"
    assert db["test_sets"].find_one({"campaign": campaign.name})["seed"] == campaign.test_set.seed
    data, _ = collect(db, campaign.name)
    assert data.verdict.source.startswith(f"independent test set: the production model {final['model_id']} on "
                                          f"{len(test_ids)} frames")
    assert data.verdict.mechanism.source.startswith("closing analysis (final model, on the independent test set)")
    assert data.verdict.rows[1].campaign == pytest.approx(tested["mean"]["rmse_f_mev_a"], rel=0.01)

    if final_init == "scratch":
        # distillation: the production model (teacher) labelled MD frames of its own; a se_e2_a student learned
        # them, was validated on the fixed set beside it; no reference-label model ever read those frames
        taught = list(db.frames.find({"campaigns": campaign.name, "provenance.source": "distillation"}))
        assert taught and {f["reference"]["calculator"] for f in taught} == {"deepmd"}
        assert {f["reference"]["settings"]["model_id"] for f in taught} == {final["model_id"]}
        student = db[MODELS_COLLECTION].find_one({"campaign": campaign.name, "index": n + 1})
        assert student["teacher_model_id"] == final["model_id"] and student["init"] == "scratch"
        assert student["input"]["model"]["descriptor"]["type"] == "se_e2_a"
        assert student["input"]["training"]["numb_steps"] == 30 and student["compression"] is not None
        learned = set(student["data"]["frame_ids"]) | set(student["data"]["test_frame_ids"] or [])
        assert learned and learned <= {f["_id"] for f in taught}
        for model in members + [final]:
            assert not set(model["data"]["frame_ids"]) & {f["_id"] for f in taught}, model["model_id"]
        assert student["validation"]["overall"]["rmse_f_mev_a"] > 0
        row = data.distillation[0]
        assert (row["student"], row["teacher"]) == (student["model_id"], final["model_id"])
        assert row["teacher F meV/Å"] == pytest.approx(check["models"][0]["overall"]["rmse_f_mev_a"], abs=0.01)
        assert row["student F meV/Å"] == pytest.approx(student["validation"]["overall"]["rmse_f_mev_a"], abs=0.01)
        assert row["student_file"] == ("compressed" if "compressed" in student["files"] else "frozen")
    else:
        assert not data.distillation
    status = CliRunner().invoke(cli, ["status", campaign.name, "--json"])  # where a user finds it
    assert status.exit_code == 0 and json.loads(status.output)["final_model_id"] == final["model_id"]
    assert json.loads(status.output)["metrics"]["n_models"] == n  # the ensemble's, without the production model
    assert json.loads(status.output)["rounds"][0]["decided_on"] == expected
