"""Tiny jobflow jobs used by the store and orchestration tests and benchmarks."""

from __future__ import annotations

from jobflow import Flow, Response, job


@job
def add(a: float, b: float) -> float:
    """Return a + b."""
    return a + b


@job(data="values")
def make_array(n: int) -> dict:
    """A document whose ``values`` list goes to the JobStore's GridFS store."""
    return {"n": n, "values": list(range(n))}


@job
def grow(value: float, until: float) -> Response:
    """Add 1 and, while below ``until``, append another ``grow`` job to the running flow."""
    new = value + 1
    if new >= until:
        return Response(output=new)
    return Response(output=new, addition=Flow([grow(new, until)], output=None))
