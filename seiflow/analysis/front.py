"""The reaction front along the interface normal vs time, and the mobile ion's density per region.

Front position: the ``quantile`` (default 0.9) of the distance, along ``axis`` from ``origin`` and in
``direction``, of the reduced cations (fewer anion neighbours than ``reduced_below``; see
:mod:`seiflow.analysis.mechanism`), i.e. how far into the electrolyte reduction has reached. Distances
are taken with the minimum-image convention along the axis. ``origin`` defaults to the anode surface:
the largest coordinate of the mobile-ion atoms (Li) bonded to no anion in the first frame.

Regions, per frame, along the axis: the **anode** from the lowest anode atom of the first frame to
``origin``, the **reacted** layer from ``origin`` to the front, the **electrolyte** beyond it up to the
periodic image of the anode's bottom. The mobile ion's number density (atoms/nm^3) is given in each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.mechanism import anion_coordination, reduced_atoms
from seiflow.analysis.structure import FreudFrame
from seiflow.errors import InputError

REGIONS = ("anode", "reacted", "electrolyte")


class FrontResult(BaseModel):
    """Front position per frame, its growth fits, and the mobile ion's density per region."""

    times_ps: list[float]
    position_a: list[float | None] = Field(..., description="Front distance from origin, Å (None: nothing reduced).")
    origin_a: float
    axis: int
    growth_rate_a_ps: float | None = Field(None, description="Slope of a linear fit, Å/ps.")
    parabolic_rate_a2_ps: float | None = Field(
        None, description="k of x^2 = k t (diffusion-limited growth), Å^2/ps."
    )
    mobile: str | None = Field(None, description="The element whose density is given (the anode's).")
    density_per_nm3: dict[str, list[float | None]] = Field(
        default_factory=dict, description="Region (anode, reacted, electrolyte) -> mobile-ion density per frame."
    )


def _frame(atoms: Atoms, chem: Chemistry) -> FreudFrame:
    return FreudFrame.from_atoms(atoms, chem.r_max())


def anode_atoms(atoms: Atoms, chem: Chemistry) -> np.ndarray:
    """Indices of the mobile-ion atoms bonded to no anion (the metal)."""
    frame = _frame(atoms, chem)
    metal = [frame.indices(el)[anion_coordination(frame, chem, el) == 0] for el in chem.mobile]
    return np.concatenate(metal) if metal else np.zeros(0, dtype=int)


def metal_surface(atoms: Atoms, chem: Chemistry, axis: int = 2) -> float:
    """Coordinate along ``axis`` of the outermost anode atom bonded to no anion (the anode surface)."""
    metal = anode_atoms(atoms, chem)
    if metal.size == 0:
        raise InputError("no anode atoms (mobile ions bonded to no anion) to place the interface",
                         "pass origin explicitly")
    return float(atoms.positions[metal, axis].max())


def front_position(atoms: Atoms, origin: float, chem: Chemistry, axis: int = 2, direction: int = 1,
                   quantile: float = 0.9) -> float | None:
    """Front distance (Å) of one frame, or None when nothing is reduced."""
    frame = _frame(atoms, chem)
    reduced = [frame.indices(el)[mask] for el, mask in reduced_atoms(frame, chem).items()]
    idx = np.concatenate(reduced) if reduced else np.zeros(0, dtype=int)
    if idx.size == 0:
        return None
    length = float(np.linalg.norm(atoms.cell[axis]))
    d = (atoms.positions[idx, axis] - origin) * direction
    d -= length * np.round(d / length)
    return float(np.quantile(d, quantile))


def _fit(x: np.ndarray, y: np.ndarray) -> float | None:
    return float(np.polyfit(x, y, 1)[0]) if x.size >= 2 and np.ptp(x) > 0 else None


def region_bounds(atoms: Atoms, origin: float, bottom: float, front: float | None, axis: int = 2,
                  direction: int = 1) -> tuple[dict[str, tuple[float, float]], float]:
    """Region -> (lo, hi) along ``axis``, and the cell length along ``axis``.

    Distances run from the anode surface into the electrolyte, wrapping to the anode's bottom.
    """
    length = float(np.linalg.norm(np.asarray(atoms.cell, dtype=float)[axis]))
    anode_thickness = (origin - bottom) * direction % length
    reacted = max(front or 0.0, 0.0)
    return ({"anode": (length - anode_thickness, length), "reacted": (0.0, reacted),
             "electrolyte": (reacted, length - anode_thickness)}, length)


def region_masks(atoms: Atoms, species: str, origin: float, bottom: float, front: float | None,
                 axis: int = 2, direction: int = 1) -> dict[str, np.ndarray]:
    """Region -> boolean mask over all atoms: ``species`` atoms in the anode, reacted or electrolyte region."""
    bounds, length = region_bounds(atoms, origin, bottom, front, axis, direction)
    d = (atoms.positions[:, axis] - origin) * direction % length  # 0 at the anode surface
    of_species = np.asarray(atoms.get_chemical_symbols()) == species
    return {name: of_species & (d >= lo) & (d < hi) for name, (lo, hi) in bounds.items()}


def region_densities(atoms: Atoms, species: str, origin: float, bottom: float, front: float | None,
                     axis: int = 2, direction: int = 1) -> dict[str, float | None]:
    """``species`` atoms per nm^3 in the anode, reacted and electrolyte regions of one frame."""
    cell = np.asarray(atoms.cell, dtype=float)
    bounds, length = region_bounds(atoms, origin, bottom, front, axis, direction)
    area = abs(float(np.linalg.det(cell))) / length
    masks = region_masks(atoms, species, origin, bottom, front, axis, direction)
    out: dict[str, float | None] = {}
    for name, (lo, hi) in bounds.items():
        out[name] = round(float(masks[name].sum()) / (area * (hi - lo)) * 1000.0, 3) if hi > lo else None
    return out


def reaction_front(
    frames: Sequence[Atoms], dt_ps: float, chem: Chemistry, axis: int = 2, direction: int = 1,
    origin: float | None = None, quantile: float = 0.9,
) -> FrontResult:
    """Front position for each frame (sampled every ``dt_ps`` ps) with linear and parabolic growth fits."""
    if not frames:
        raise InputError("no frames for the reaction front", "pass a trajectory")
    if axis not in (0, 1, 2) or direction not in (1, -1):
        raise InputError("axis must be 0, 1 or 2 and direction +1 or -1", "e.g. axis=2 direction=1")
    metal = anode_atoms(frames[0], chem)
    origin = metal_surface(frames[0], chem, axis) if origin is None else float(origin)
    bottom = float(frames[0].positions[metal, axis].min()) if metal.size else origin
    pos = [front_position(f, origin, chem, axis, direction, quantile) for f in frames]
    times = np.arange(len(frames)) * dt_ps
    ok = np.array([p is not None for p in pos])
    t_ok = times[ok]
    x_ok = np.array([p for p in pos if p is not None], dtype=float)
    mobile = chem.mobile[0] if chem.mobile else None
    density: dict[str, list[float | None]] = {r: [] for r in REGIONS} if mobile else {}
    for f, p in zip(frames, pos, strict=True):
        if mobile:
            for region, value in region_densities(f, mobile, origin, bottom, p, axis, direction).items():
                density[region].append(value)
    return FrontResult(
        times_ps=times.tolist(), position_a=pos, origin_a=origin, axis=axis,
        growth_rate_a_ps=_fit(t_ok, x_ok),
        parabolic_rate_a2_ps=_fit(t_ok, np.sign(x_ok) * x_ok**2),
        mobile=mobile, density_per_nm3=density,
    )
