"""Benchmark 3: seiflow's flows vs bare FireWorks fireworks doing the same trivial work on the same kind of server.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_orchestration.py [--jobs 1000] [--workers 4]
[--rounds 5 --width 4] [--order concurrent|sequential]`` (quick: ``--jobs 200``). Each side gets its own real
SecantusDB daemon on a free port and ``--workers`` ``rlaunch rapidfire`` subprocesses (seiflow's LocalWorkers).
Bare: one-firework workflows with ``PyTask(operator.add)``. seiflow: ``seiflow.testing.flows.add`` jobs
through ``flow_to_workflow`` with ``seiflow.store.get_jobstore()``. By default both sides run at the same
time (each server and its workers beside the other's), so both see the same load from other processes on a
shared machine; ``--order sequential`` runs bare first, then seiflow. Duplicates are fireworks with more
than one launch. Then rounds that add the next round with ``Response(addition=...)`` (the controller's
mechanism) give the latency from a round's last job to the next round's first READY job.
Prints per side: time per job, server and worker CPU seconds per job (read from /proc), the size of a
firework document, duplicates; the latencies; the CPU ratio; and last the ratio seiflow / bare wall time
per job (goal <= 1.2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from _common import Timer, embedded_store, machine, one_thread, use_database

BENCH = Path(__file__).resolve().parent


def _settings(work: Path):
    from seiflow.settings import load_settings

    return load_settings(work / "seiflow.yaml")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc; 0 where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(work: Path) -> int:
    from seiflow.db import embedded

    pid = embedded.status(_settings(work).embedded).pid
    if pid is None:
        raise RuntimeError(f"no embedded server running for {work}")
    return pid


def _t(value) -> datetime:
    """FireWorks stores times as ISO strings (or datetimes)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _launch_stats(lp) -> tuple[float, int]:
    """Median seconds inside a launch, and the number of fireworks launched more than once."""
    runs = [(_t(d["time_end"]) - _t(d["time_start"])).total_seconds()
            for d in lp.launches.find({"state": "COMPLETED"})]
    median = statistics.median(runs) if runs else float("nan")
    return median, lp.fireworks.count_documents({"launches.1": {"$exists": True}})


class Side:
    """One side of the comparison: its server (in ``work``), database, workflows and workers."""

    def __init__(self, work: Path, name: str, wfs: list, n_fws: int, n_workers: int) -> None:
        from bson import BSON

        from seiflow.controller.submit import ensure_initialised
        from seiflow.controller.workers import LocalWorkers
        from seiflow.store import get_launchpad

        self.name, self.n_fws = name, n_fws
        settings = _settings(work)  # its database was chosen by use_database (which drops cached clients)
        self.lp = get_launchpad(settings)
        ensure_initialised(self.lp)
        with Timer() as t_add:
            self.lp.bulk_add_wfs(wfs)
        self.add_s = t_add.s
        self.doc_bytes = len(BSON.encode(self.lp.fireworks.find_one({}, {"_id": 0})))
        self.server = _server_pid(work)
        self.workers = LocalWorkers(settings, work / f"workers_{name}", n=n_workers, categories=["light"],
                                    sleep_s=1)
        self.run_s = float("nan")

    def start(self) -> None:
        self.server_cpu0 = _cpu_s(self.server)
        self.t0 = time.perf_counter()
        self.workers.start()

    def done(self) -> bool:
        """True (and the run time, CPU seconds recorded) once all fireworks completed."""
        if self.run_s == self.run_s:  # already finished
            return True
        if self.lp.fireworks.count_documents({"state": "COMPLETED"}) < self.n_fws:
            return False
        self.run_s = time.perf_counter() - self.t0
        self.server_cpu = _cpu_s(self.server) - self.server_cpu0
        self.worker_cpu = sum(_cpu_s(p.pid) for p in self.workers.procs.values())
        self.workers.stop()
        return True

    def stop(self) -> None:
        self.workers.stop()

    def states(self) -> dict:
        return {s: self.lp.fireworks.count_documents({"state": s}) for s in ("READY", "RUNNING", "FIZZLED")}

    def result(self) -> dict:
        median, dupes = _launch_stats(self.lp)
        return {"add_s": self.add_s, "run_s": self.run_s, "per_job_s": self.run_s / self.n_fws,
                "median_launch_s": median, "duplicates": dupes, "doc_bytes": self.doc_bytes,
                "server_cpu_ms": self.server_cpu / self.n_fws * 1e3,
                "worker_cpu_ms": self.worker_cpu / self.n_fws * 1e3}


def run_sides(sides: list[Side], concurrent: bool, timeout_s: float) -> None:
    """Run the sides' workers (all at once, or one side after the other) until each side completed."""
    groups = [sides] if concurrent else [[s] for s in sides]
    for group in groups:
        deadline = time.monotonic() + timeout_s
        try:
            for side in group:
                side.start()
            while not all(side.done() for side in group):
                if time.monotonic() > deadline:
                    left = {s.name: s.states() for s in group}
                    raise RuntimeError(f"not all fireworks completed within {timeout_s:.0f} s: {left}")
                time.sleep(0.25)
        finally:
            for side in group:
                side.stop()


def run_phase(work: Path, name: str, wfs: list, n_fws: int, n_workers: int, timeout_s: float) -> dict:
    """Add ``wfs`` to a fresh database, run them with ``n_workers`` rlaunch workers; timings and duplicates."""
    use_database(work, f"bench_{name}")
    side = Side(work, name, wfs, n_fws, n_workers)
    run_sides([side], False, timeout_s)
    return side.result()


def bare_wfs(n: int) -> list:
    from fireworks import Firework, PyTask, Workflow

    return [Workflow([Firework(PyTask(func="operator.add", args=[1, i]), spec={"_category": "light"},
                               name=f"bare {i}")]) for i in range(n)]


def seiflow_wfs(n: int) -> list:
    from jobflow.managers.fireworks import flow_to_workflow

    from seiflow.jobconfig import tag_jobs
    from seiflow.store import get_jobstore
    from seiflow.testing.flows import add

    store, wfs = get_jobstore(), []
    for i in range(n):
        j = add(1, i)
        tag_jobs(j, "bench")
        wfs.append(flow_to_workflow(j, store=store))
    return wfs


def round_latencies(work: Path, rounds: int, width: int, n_workers: int, timeout_s: float) -> list[float]:
    """Seconds from round r's last work job ending to round r+1's first firework being created READY."""
    from jobflow.managers.fireworks import flow_to_workflow

    from seiflow.store import get_jobstore, get_launchpad

    sys.path.insert(0, str(BENCH))
    import os

    os.environ["PYTHONPATH"] = os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])
    from _jobs import round_flow

    wf = flow_to_workflow(round_flow(1, rounds, width, "bench"), store=get_jobstore())
    run_phase(work, "rounds", [wf], rounds * (width + 1), n_workers, timeout_s)
    lp = get_launchpad()
    out = []
    for r in range(1, rounds):
        ends = [_t(launch["time_end"]) for fw in lp.fireworks.find({"name": {"$regex": f"^work r{r} "}})
                for launch in lp.launches.find({"launch_id": {"$in": fw["launches"]}})]
        starts = [_t(fw["created_on"]) for fw in lp.fireworks.find({"name": {"$regex": f"^work r{r + 1} "}})]
        out.append((min(starts) - max(ends)).total_seconds())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--order", choices=["concurrent", "sequential"], default="concurrent",
                        help="run both sides at the same time (default) or bare first, then seiflow")
    parser.add_argument("--timeout", type=float, default=7200)
    args = parser.parse_args()
    one_thread()
    print(f"machine: {machine()}")
    print(f"jobs: {args.jobs}, workers: {args.workers} per side, sides run {args.order}")
    # a fresh server per side: the server's cost per request grows with what it already holds (FireWorks'
    # findAndModify decodes every document of the collection on SecantusDB), so a shared server would
    # charge one side for the other's data
    with embedded_store() as work_bare, embedded_store() as work_ours:
        use_database(work_bare, "bench_bare")
        use_database(work_ours, "bench_seiflow")
        sides = [Side(work_bare, "bare", bare_wfs(args.jobs), args.jobs, args.workers),
                 Side(work_ours, "seiflow", seiflow_wfs(args.jobs), args.jobs, args.workers)]
        with contextlib.ExitStack() as stack:
            for side in sides:
                stack.callback(side.stop)
            run_sides(sides, args.order == "concurrent", args.timeout)
        bare, ours = (side.result() for side in sides)
    with embedded_store() as work:
        lat = round_latencies(work, args.rounds, args.width, args.workers, args.timeout)
    for name, r in (("bare FireWorks", bare), ("seiflow jobflow", ours)):
        print(f"{name}: add {r['add_s']:.1f} s, run {r['run_s']:.1f} s, {r['per_job_s']:.3f} s/job, "
              f"server CPU {r['server_cpu_ms']:.0f} ms/job, workers' CPU {r['worker_cpu_ms']:.0f} ms/job, "
              f"median launch {r['median_launch_s']:.3f} s, firework document {r['doc_bytes']} B, "
              f"duplicates {r['duplicates']}")
    if lat:
        print(f"round close -> next round's first READY job: median {statistics.median(lat):.2f} s, "
              f"max {max(lat):.2f} s over {len(lat)} rounds ({args.width} jobs + 1 closing job per round)")
    dupes = bare["duplicates"] + ours["duplicates"]
    print(f"duplicates: {dupes} (goal 0: {'ok' if dupes == 0 else 'MISSED'})")
    cpu = [(r["server_cpu_ms"] + r["worker_cpu_ms"]) for r in (bare, ours)]
    print(f"CPU ratio: {cpu[1] / cpu[0]:.2f} (server + workers' CPU per job, seiflow / bare; server alone "
          f"{ours['server_cpu_ms'] / bare['server_cpu_ms']:.2f})")
    print(f"ratio: {ours['per_job_s'] / bare['per_job_s']:.2f} (seiflow / bare FireWorks wall time per job, "
          f"{args.order}; goal <= 1.2)")


if __name__ == "__main__":
    main()
