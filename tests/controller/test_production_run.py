"""A tiny campaign converges, then its production runs by itself (``production.start: auto``) in three
segments through real workers, and its properties stage too (``properties.start: auto``); a worker SIGKILLed mid-segment costs only that segment, which reruns from the
last restart: the steps total exactly, the frames have no gap and no repeat, and each segment's analysis is
in MongoDB and in the report's time series."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from seiflow.analysis.report import write_report
from seiflow.cli.main import cli
from seiflow.controller.flows import campaign_flow
from seiflow.controller.runner import ACTIVE_STATES, job_states
from seiflow.controller.submit import submit
from seiflow.controller.workers import LocalWorkers
from seiflow.records.production import ProductionStore
from seiflow.records.properties import PropertyStore
from seiflow.schemas.production import ProductionState
from seiflow.store import get_database, get_launchpad
from tests.controller.test_final_model import converging_campaign
from tests.controller.test_worker_kill import _kill_worker_running, _wait_for_running

# 128 atoms of LiCl at 300 K: 3 segments of 1,500 steps (each several seconds of LAMMPS here), a frame every
# 100 steps. The tiny campaign's models are not meant to hold the cell together for long: the MD-health and
# watch limits are set out of reach, this test is about the chain (test_watch.py is about the watch).
PRODUCTION = {"start": "auto", "structure": "LiCl", "atoms": 128, "temperature": 300.0, "length_ns": 0.0045,
              "segment_ps": 1.5, "timestep_fs": 1.0, "dump_every": 100, "thermo_every": 100,
              "max_temperature_factor": 1000.0, "watch": {"every": 100, "f_level": 1000.0, "max_fraction": 1.0}}

# the properties stage after convergence, as small as it gets: LiCl at two temperatures with the production
# model (the campaign names no anode: the species is given), clamped-ion elastic constants of LiCl (tests/properties covers the committee, size check and SEI)
PROPERTIES = {"start": "auto", "elastic": {"phases": ["LiCl"], "sei_frame": "none", "relax_ions": False},
              "diffusion": {"species": "Li", "temperatures": [300, 400], "systems": ["LiCl"], "atoms": 64, "size_check_atoms": None,
                            "length_ps": 0.4, "equilibrate_ps": 0.0, "dump_every": 25, "committee": False,
                            "max_temperature_factor": 1000.0}}


def _wait_idle(lp, campaign: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while job_states(lp, campaign) & set(ACTIVE_STATES) and time.monotonic() < deadline:
        time.sleep(2)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_production_after_convergence_survives_a_killed_worker_segment_by_segment(seiflow_env):
    campaign = converging_campaign("best_member")
    campaign = campaign.model_validate({**campaign.model_dump(mode="json"), "name": "produced",
                                        "production": PRODUCTION, "properties": PROPERTIES})
    lp = get_launchpad()
    lp.reset("", require_password=False)
    db = get_database()
    submit(campaign, campaign_flow(campaign), lp)
    workers = LocalWorkers(seiflow_env.settings, seiflow_env.root / "workers", n=2, campaign="produced")
    try:
        workers.start()
        fw = _wait_for_running(lp, "segment 2/3", timeout_s=1200)
        time.sleep(3)  # mid-segment
        killed = fw["fw_id"]
        assert lp.fireworks.find_one({"fw_id": killed})["state"] == "RUNNING", "segment 2 ended before the kill"
        _kill_worker_running(lp, workers, fw)
        _, lost_fws, _ = lp.detect_lostruns(expiration_secs=0, rerun=True, query={"fw_id": killed})
        assert lost_fws == [killed]
        workers.start()  # a new worker in place of the dead one
        _wait_idle(lp, "produced", 900)
    finally:
        workers.stop()
    store = ProductionStore(db)
    run = store.latest("produced")
    assert run is not None and run.state == ProductionState.FINISHED, (run, list(lp.fireworks.find(
        {"state": {"$ne": "COMPLETED"}}, {"name": 1, "state": 1})))
    assert run.steps_done == run.total_steps == 4500 and run.segments_done == 3
    segs = store.history(run.run_id)
    assert [(s.start_step, s.end_step) for s in segs] == [(0, 1500), (1500, 3000), (3000, 4500)]
    assert [s.attempt for s in segs] == [1, 2, 1] and run.attempts == {"0": 1, "1": 2, "2": 1}
    steps = [x for s in segs for x in s.frame_steps]
    assert steps == list(range(0, 4501, 100)), "no gap, no repeated frame"
    assert all(len(s.analysis.rows) == s.n_frames > 0 and s.files.keys() >= {"trajectory", "restart", "log"}
               for s in segs)
    props = PropertyStore(db)
    stage = props.latest("produced")
    assert stage is not None and stage.model_id == run.model_id and stage.member_ids == []
    assert [(r.system, r.temperature, r.n_frames) for r in props.runs(stage.stage_id)] == [
        ("LiCl", 300.0, 17), ("LiCl", 400.0, 17)], "0.4 ps of 1 fs, a frame every 25 steps, by itself after convergence"
    assert [(f.system, f.region) for f in props.fits(stage.stage_id)] == [("LiCl", "bulk")]
    assert [e.name for e in props.elastic(stage.stage_id)] == ["LiCl"]
    # one launch per segment, two for the killed one; every other job of the campaign ran once
    for doc in lp.fireworks.find({}, {"fw_id": 1, "name": 1, "launches": 1, "archived_launches": 1, "state": 1}):
        runs = len(doc.get("launches", [])) + len(doc.get("archived_launches", []))
        assert doc["state"] == "COMPLETED" and runs == (2 if doc["fw_id"] == killed else 1), doc
    # only the last attempt's files are stored: 3 trajectories, 3 restarts, 3 logs, the cell
    assert len(store.files(run.run_id)) == 3 * 3 + 1

    written = write_report(db, "produced", seiflow_env.root / "report")
    series = json.loads(Path(written["json"]).read_text())["production"]["series"]
    assert [r["time_ps"] for r in series] == [round(0.1 * k, 6) for k in range(46)]
    out = CliRunner().invoke(cli, ["status", "produced", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["production"]["ns_done"] == 0.0045
