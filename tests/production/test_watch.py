"""The production watch on real LAMMPS runs: a poorly trained ensemble stops the run as uncertain (where and
when), a well-trained one lets it run to the end; the segments chain with no gap and no repeated frame."""

from __future__ import annotations

import json
from pathlib import Path

from seiflow.analysis.report import write_report
from seiflow.controller.status import campaign_status
from seiflow.production.flows import start_production
from seiflow.records.production import ProductionStore
from seiflow.schemas.production import ProductionState
from seiflow.store import get_database, get_launchpad
from tests.production.helpers import frame_steps, licl_campaign, register, run_chain

# 128 atoms of LiCl at 300 K, 3 segments of 400 steps, a frame every 100 steps, the ensemble every 20
PRODUCTION = {"length_ns": 0.0012, "segment_ps": 0.4, "dump_every": 100, "thermo_every": 20,
              "watch": {"every": 20, "f_level": 0.3, "max_fraction": 0.2}}


def test_a_poor_ensemble_stops_the_production_as_uncertain_with_where_and_when(seiflow_env, poor_ensemble,
                                                                                  tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = get_database()
    campaign = licl_campaign("watch-poor", **PRODUCTION)
    ids = register(db, campaign, poor_ensemble)
    run, _ = start_production(campaign, db, tmp_path)
    assert run.watch_model_ids == ids[1:] and run.watch_level == 0.3 and run.n_atoms == 128
    outputs = run_chain(campaign, run.run_id)
    stored = ProductionStore(db).get_run(run.run_id)
    assert stored.state == ProductionState.UNCERTAIN, (stored.state, stored.stop_reason)
    assert len(outputs) == 1 and stored.segments_done == 1 and stored.steps_done < stored.total_steps
    seg = ProductionStore(db).get_segment(run.run_id, 0)
    w = seg.watch
    # steps 0..400 every 20, up to the blow-up if the poor models overheat the cell (they did here: step 180)
    assert 2 <= w.n_checked <= 21 and w.fraction > 0.2 and w.first_uncertain_step is not None
    if seg.health:
        assert max(w.steps) < seg.health_step and max(seg.frame_steps) < seg.health_step
        assert "then the MD blew up" in stored.stop_reason
    assert w.located, "the atoms beyond the level are located in an uncertain dumped frame"
    first = w.located[0]
    assert first.step % 100 == 0 and first.indices and len(first.positions) == len(first.indices)
    assert all(d > 0.3 for d in first.devi_f) and set(first.elements) <= {"Li", "Cl"}
    assert "beyond 0.300 eV/Å" in stored.stop_reason and "ps" in stored.stop_reason


def test_a_well_trained_ensemble_lets_the_production_run_to_the_end(seiflow_env, good_ensemble, tmp_path,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = get_database()
    campaign = licl_campaign("watch-good", **PRODUCTION)
    register(db, campaign, good_ensemble)
    run, _ = start_production(campaign, db, tmp_path)
    outputs = run_chain(campaign, run.run_id)
    stored = ProductionStore(db).get_run(run.run_id)
    assert stored.state == ProductionState.FINISHED, (stored.state, stored.stop_reason, outputs)
    assert [o["segment"] for o in outputs] == [0, 1, 2]
    assert stored.steps_done == stored.total_steps == 1200 and stored.segments_done == 3
    assert frame_steps(db, run.run_id) == list(range(0, 1201, 100)), "no gap, no repeated frame"
    segs = ProductionStore(db).history(run.run_id)
    assert all(s.health is None and s.watch.fraction <= 0.2 for s in segs), [s.watch.fraction for s in segs]
    assert [s.watch.n_checked for s in segs] == [21, 20, 20]
    assert all(len(s.analysis.rows) == s.n_frames for s in segs)

    # the report's production section: progress, segments, descriptors against time, the last frame
    written = write_report(db, campaign.name, tmp_path / "report")
    assert written["production"]["state"] == "finished" and written["production"]["ns_done"] == 0.0012
    data = json.loads(Path(written["json"]).read_text())["production"]
    assert [r["time_ps"] for r in data["series"]] == [round(0.1 * k, 6) for k in range(13)]
    assert len(data["segments"]) == 3 and all(r["health"] == "ok" for r in data["segments"])
    assert any(f.startswith("Production run: the last stored frame") for f in written["figures"])
    assert "<h2>Production run</h2>" in Path(written["html"]).read_text()
    status = campaign_status(get_launchpad(), db, campaign.name)["production"]
    assert status["state"] == "finished" and status["segments_done"] == 3 and status["atom_steps_per_s"] > 0


def test_a_stopped_production_starts_no_further_segment(seiflow_env, good_ensemble, tmp_path, monkeypatch):
    from seiflow.production.flows import production_segment, stop_production

    monkeypatch.chdir(tmp_path)
    db = get_database()
    campaign = licl_campaign("watch-stop", **PRODUCTION)
    register(db, campaign, good_ensemble)
    run, _ = start_production(campaign, db, tmp_path)
    first = production_segment.original(campaign.model_dump(mode="json"), run.run_id, 0)
    assert first.addition is not None and first.output["state"] == "running"
    stopped = stop_production(db, get_launchpad(), campaign.name)
    assert stopped.state == ProductionState.STOPPED and stopped.steps_done == 400
    second = production_segment.original(campaign.model_dump(mode="json"), run.run_id, 1)
    assert second.output["skipped"] and second.addition is None
    assert ProductionStore(db).get_segment(run.run_id, 1) is None
    assert ProductionStore(db).get_run(run.run_id).state == ProductionState.STOPPED
