"""A round's stage times from FireWorks' launch records: which jobs count, spans, job time and queue wait."""

from __future__ import annotations

from datetime import datetime, timedelta

from seiflow.controller.stage_times import job_hours, round_times, stage_of
from seiflow.store import get_launchpad

T0 = datetime(2026, 12, 3, 12, 0, 0)  # FireWorks writes naive UTC


def _fw(lp, fw_id: int, name: str, category: str, start_s: float, end_s: float | None, created_s: float = 0.0):
    lp.fireworks.insert_one({"fw_id": fw_id, "name": name, "spec": {"_category": category, "campaign": "c"},
                             "state": "COMPLETED" if end_s is not None else "RUNNING", "launches": [fw_id * 10],
                             "created_on": T0 + timedelta(seconds=created_s)})
    lp.launches.insert_one({"launch_id": fw_id * 10, "fw_id": fw_id, "time_start": T0 + timedelta(seconds=start_s),
                            "time_end": None if end_s is None else T0 + timedelta(seconds=end_s)})


def test_stage_of_reads_the_name_before_the_category():
    assert stage_of("c validate r2", "lammps") == "validation"
    assert stage_of("c calibrate r2", "light") == "calibration"
    assert stage_of("c select r1", "light") == "selection"
    assert stage_of("deepmd train c r1 m0", "train") == "training"
    assert stage_of("label local group 1/2", "dft") == "labelling"
    assert stage_of("c candidates r1", "light") == "control"
    assert stage_of("lammps md", "lammps") == "exploration"


def test_round_times_counts_the_jobs_of_the_window_and_their_waits(seiflow_env):
    lp = get_launchpad()
    lp.reset("", require_password=False)
    _fw(lp, 1, "c close r0", "light", 0, 10)                      # the previous round ends at 10 s
    _fw(lp, 2, "deepmd train c r1 m0", "train", 12, 112)          # ready at 10 s: waits 2 s
    _fw(lp, 3, "deepmd train c r1 m1", "train", 40, 130)          # one worker: waits 30 s
    _fw(lp, 4, "c validate r1", "lammps", 135, 160)               # parent ends 130: waits 5 s
    _fw(lp, 5, "exploration r1", "lammps", 131, 170)              # waits 1 s
    _fw(lp, 6, "c select r1", "light", 171, 172)
    _fw(lp, 7, "label local group 1/1", "dft", 180, 200, created_s=172)  # added at 172: waits 8 s
    _fw(lp, 8, "c close r1", "light", 201, None)                  # the closing job itself: not counted
    _fw(lp, 9, "deepmd train c r1 m0 (an earlier try)", "train", 5, 9)   # before the window: not counted
    lp.workflows.insert_one({"nodes": list(range(1, 10)), "links": {
        "1": [2, 3], "2": [4, 5], "3": [4, 5], "5": [6], "6": [7], "7": [8], "4": [8]}})

    times = round_times(lp, "c", 1, now=T0 + timedelta(seconds=205))
    assert times is not None
    assert times.wall_s == 195.0
    assert times.queue_wait_s == 2 + 30 + 5 + 1 + 1 + 8
    assert list(times.stages) == ["training", "validation", "exploration", "selection", "labelling"]
    train = times.stages["training"]
    assert (train.n_jobs, train.busy_s, train.span_s) == (2, 190.0, 118.0)
    assert times.stages["labelling"].span_s == 20.0
    assert round_times(lp, "c", 2) is None, "round 1 has not closed: round 2 has no start"


def test_job_hours_add_up_each_worker_categorys_jobs(seiflow_env):
    lp = get_launchpad()
    lp.reset("", require_password=False)
    _fw(lp, 1, "deepmd train c r1 m0", "train", 0, 3600)
    _fw(lp, 2, "deepmd train c r1 m1", "train", 0, 1800)
    _fw(lp, 3, "label local group 1/1", "dft", 3600, 3600 + 720)
    assert job_hours(lp, "c") == {"dft": 0.2, "train": 1.5}
