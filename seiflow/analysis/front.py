"""The reaction front along the interface normal vs time.

Front position: the ``quantile`` (default 0.9) of the distance, along ``axis`` from ``origin`` and in
``direction``, of the reduced In atoms (fewer than ``reduced_below`` Cl neighbours; see
:mod:`seiflow.analysis.mechanism`), i.e. how far into the electrolyte reduced In has reached. Distances
are taken with the minimum-image convention along the axis. ``origin`` defaults to the Li-metal surface:
the largest coordinate of the Li atoms that have no Cl neighbour in the first frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from seiflow.analysis.mechanism import MechanismCutoffs
from seiflow.analysis.neighbours import count_neighbours, species_mask
from seiflow.errors import InputError


class FrontResult(BaseModel):
    """Front position per frame and its growth fits."""

    times_ps: list[float]
    position_a: list[float | None] = Field(..., description="Front distance from origin, Å (None: no reduced In).")
    origin_a: float
    axis: int
    growth_rate_a_ps: float | None = Field(None, description="Slope of a linear fit, Å/ps.")
    parabolic_rate_a2_ps: float | None = Field(
        None, description="k of x^2 = k t (diffusion-limited growth), Å^2/ps."
    )


def metal_surface(atoms: Atoms, axis: int = 2, li_cl_cutoff: float = 3.1) -> float:
    """Coordinate along ``axis`` of the outermost Li with no Cl neighbour (the Li-metal surface)."""
    li = np.flatnonzero(species_mask(atoms, "Li"))
    n_cl = count_neighbours(atoms, "Li", "Cl", li_cl_cutoff)
    metal = li[n_cl == 0]
    if metal.size == 0:
        raise InputError("no Li-metal atoms (Li without Cl) to place the interface", "pass origin explicitly")
    return float(atoms.positions[metal, axis].max())


def front_position(atoms: Atoms, origin: float, axis: int = 2, direction: int = 1,
                   cut: MechanismCutoffs | None = None, quantile: float = 0.9) -> float | None:
    """Front distance (Å) of one frame, or None when it has no reduced In."""
    cut = cut or MechanismCutoffs()
    in_idx = np.flatnonzero(species_mask(atoms, "In"))
    reduced = in_idx[count_neighbours(atoms, "In", "Cl", cut.in_cl) < cut.reduced_below]
    if reduced.size == 0:
        return None
    length = float(np.linalg.norm(atoms.cell[axis]))
    d = (atoms.positions[reduced, axis] - origin) * direction
    d -= length * np.round(d / length)
    return float(np.quantile(d, quantile))


def _fit(x: np.ndarray, y: np.ndarray) -> float | None:
    return float(np.polyfit(x, y, 1)[0]) if x.size >= 2 and np.ptp(x) > 0 else None


def reaction_front(
    frames: Sequence[Atoms], dt_ps: float, axis: int = 2, direction: int = 1, origin: float | None = None,
    cut: MechanismCutoffs | None = None, quantile: float = 0.9,
) -> FrontResult:
    """Front position for each frame (sampled every ``dt_ps`` ps) with linear and parabolic growth fits."""
    if not frames:
        raise InputError("no frames for the reaction front", "pass a trajectory")
    if axis not in (0, 1, 2) or direction not in (1, -1):
        raise InputError("axis must be 0, 1 or 2 and direction +1 or -1", "e.g. axis=2 direction=1")
    origin = metal_surface(frames[0], axis) if origin is None else float(origin)
    pos = [front_position(f, origin, axis, direction, cut, quantile) for f in frames]
    times = np.arange(len(frames)) * dt_ps
    ok = np.array([p is not None for p in pos])
    t_ok = times[ok]
    x_ok = np.array([p for p in pos if p is not None], dtype=float)
    return FrontResult(
        times_ps=times.tolist(), position_a=pos, origin_a=origin, axis=axis,
        growth_rate_a_ps=_fit(t_ok, x_ok),
        parabolic_rate_a2_ps=_fit(t_ok, np.sign(x_ok) * x_ok**2),
    )
