"""Jobs for bench_orchestration.py: rounds that grow themselves the way the campaign controller does."""

from __future__ import annotations

from jobflow import Flow, Response, job

from seiflow.jobconfig import tag_jobs
from seiflow.testing.flows import add


def round_flow(r: int, rounds: int, width: int, campaign: str) -> Flow:
    """Round ``r``: ``width`` trivial jobs, then a closing job that adds round r+1 (as close_round does)."""
    jobs = [add(r, i) for i in range(width)]
    for i, j in enumerate(jobs):
        j.name = f"work r{r} {i}"
    closing = close(r, rounds, width, campaign, [j.output for j in jobs])
    closing.name = f"close r{r}"
    flow = Flow([*jobs, closing])
    tag_jobs(flow, campaign)
    return flow


@job
def close(r: int, rounds: int, width: int, campaign: str, results: list) -> Response:
    """Add round r+1 through ``Response(addition=...)`` until ``rounds`` rounds ran."""
    if r >= rounds:
        return Response(output=sum(results))
    return Response(output=sum(results), addition=round_flow(r + 1, rounds, width, campaign))
