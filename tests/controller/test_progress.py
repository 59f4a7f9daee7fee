"""What `seiflow demo` prints while it runs: each worker's job and step counts, and the remaining time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from seiflow.constants import CAMPAIGNS_COLLECTION
from seiflow.controller.progress import md_progress, progress_lines, remaining_s, training_progress
from seiflow.records import campaigns
from seiflow.schemas.campaign import campaign_from_dict
from seiflow.store import get_database, get_launchpad
from seiflow.training.jobs import RUN_LINK

TINY = Path(__file__).with_name("tiny_campaign.yaml")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _training_folder(root: Path, step: int, numb_steps: int) -> Path:
    """A launch folder as train_model leaves it: a link to the run folder in the worker's work dir."""
    run = root / "runs" / "training" / "c" / "round_002" / "model_1"
    run.mkdir(parents=True)
    (run / "input.json").write_text(json.dumps({"training": {"numb_steps": numb_steps}}))
    rows = "\n".join(f"{s:7d} 1.0e-01 2.0e-01 1.0e-03" for s in range(0, step + 1, 100))
    (run / "lcurve.out").write_text("#  step rmse_val rmse_trn lr\n" + rows + "\n")
    launch = root / "launcher_x"
    launch.mkdir()
    (launch / RUN_LINK).symlink_to(run, target_is_directory=True)
    return launch


def test_step_counts_are_read_from_the_programs_own_output(tmp_path):
    assert training_progress(_training_folder(tmp_path / "t", 1200, 3000)) == (1200, 3000)
    md = tmp_path / "md" / "job_2"
    md.mkdir(parents=True)
    (md / "in.lammps").write_text("units metal\nrun 400\nfix 2 all nvt\nrun 200\n")
    (md / "log.lammps").write_text("Step Temp PotEng\n       0   300  -1.0\n     250   310  -1.1\nLoop time of\n")
    assert md_progress(tmp_path / "md") == (250, 600)
    assert training_progress(tmp_path / "md") == (None, None)  # nothing written yet: no step
    assert md_progress(tmp_path / "empty") == (None, None)


def test_running_jobs_and_remaining_time(seiflow_env, tmp_path):
    campaign = campaign_from_dict({**yaml.safe_load(TINY.read_text()), "name": "prog"})
    db, lp = get_database(), get_launchpad()
    campaigns.ensure(db, campaign)
    # one firework a worker runs, as FireWorks records it (naive UTC times)
    started = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=130)
    lp.fireworks.insert_one({"fw_id": 7, "name": "train round 2 model 1", "state": "RUNNING", "launches": [3],
                             "spec": {"campaign": "prog", "_category": "train"}})
    lp.launches.insert_one({"launch_id": 3, "fworker": {"name": "local0"}, "time_start": started,
                            "launch_dir": str(_training_folder(tmp_path, 1200, 3000))})
    assert remaining_s(db, "prog") is None  # no round finished yet: no estimate
    lines = progress_lines(lp, db, "prog")
    assert len(lines) == 1
    assert re.fullmatch(r"  local0: train round 2 model 1 \[train\] 2m\d\ds, step 1200/3000", lines[0]), lines

    # round 1 took 10 min; round 2 (the tiny campaign's cap) started at T0 + 10 min
    history = [{"at": T0 + timedelta(minutes=m), "round": r} for m, r in ((0, 1), (10, 2), (25, 2))]
    db[CAMPAIGNS_COLLECTION].update_one({"name": "prog"}, {"$set": {"history": history, "round": 2}})
    # 5 min into round 2: its remaining 5 min + the closing's 10 min (one mean round)
    assert remaining_s(db, "prog", now=T0 + timedelta(minutes=15)) == 15 * 60
    # round 1 of 2, 10 min in (its mean length): round 2 and the closing are left
    db[CAMPAIGNS_COLLECTION].update_one({"name": "prog"}, {"$set": {"round": 1}})
    assert remaining_s(db, "prog", now=T0 + timedelta(minutes=10)) == 20 * 60
    db[CAMPAIGNS_COLLECTION].update_one({"name": "prog"}, {"$set": {"round": 2}})
    # long past round 2's expected end: only the closing is left
    assert progress_lines(lp, db, "prog")[-1] == "  expected remaining: at most ~10m00s (round cap; less if it converges)"
    # converged at T0 + 12 min in round 2 (history as campaigns.set_round records it): only the closing
    # (one mean round) is left, counted from then, and the line says so instead of quoting the round cap
    converged = {"at": T0 + timedelta(minutes=12), "round": 2, "state": "converged"}
    db[CAMPAIGNS_COLLECTION].update_one({"name": "prog"}, {"$set": {"state": "converged"},
                                                           "$push": {"history": converged}})
    assert remaining_s(db, "prog", now=T0 + timedelta(minutes=16)) == 6 * 60
    assert progress_lines(lp, db, "prog")[-1] == "  converged: final model and closing analysis, due about now (one mean round)"


def test_the_training_job_links_its_launch_folder_to_its_run_folder(tmp_path, monkeypatch):
    from seiflow.training.jobs import _link_launch_dir

    run = _training_folder(tmp_path / "a", 700, 1500).parent / "runs" / "training" / "c" / "round_002" / "model_1"
    launch = tmp_path / "launch"
    launch.mkdir()
    monkeypatch.chdir(launch)
    _link_launch_dir(run)
    assert not (launch / RUN_LINK).exists()  # not a FireWorks launch folder: cwd left alone
    (launch / "FW.json").write_text("{}")
    _link_launch_dir(run)
    _link_launch_dir(run)  # a re-run job finds the link there
    assert (launch / RUN_LINK).resolve() == run.resolve()
    assert training_progress(launch) == (700, 1500)
