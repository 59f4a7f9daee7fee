"""Scale-up: the same match and termination grown to a target size by layer counts and in-plane repeats.

The study's production cell: 12,000 Li-metal atoms + 2,000 f.u. Li3InCl6 (~32,000 atoms). Film layers
are whole, so the electrolyte part stays stoichiometric.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from seiflow.errors import InputError
from seiflow.schemas.campaign import InterfaceConfig
from seiflow.structures.interface import (
    LABEL,
    InterfaceResult,
    Termination,
    build_interface,
    make_report,
    rebuild,
    termination_of,
)

# Shape costs, against the relative composition error: a near-square in-plane cell is mildly preferred;
# thickness/width is free within [SLENDER_MID / SLENDER_SPAN, SLENDER_MID * SLENDER_SPAN] = [0.5, 4.5].
ASPECT_WEIGHT = 0.01
SLENDER_WEIGHT = 0.05
SLENDER_MID, SLENDER_SPAN = 1.5, 3.0


class ScaleUpTarget(BaseModel):
    """The size to reach: substrate atoms and film formula units."""

    substrate_atoms: int = Field(12000, ge=1)
    film_formula_units: int = Field(2000, ge=1)


class ScaleUpPlan(BaseModel):
    """Layer counts and in-plane repeats, with what they give against the target."""

    repeat: tuple[int, int]
    substrate_layers: int
    film_layers: int
    substrate_atoms: int
    film_formula_units: int
    relative_error: float = Field(..., description="Sum of relative deviations from the target.")


class ScaleUpResult(BaseModel):
    """The scaled structure and its report (the interface report plus target and achieved counts)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    structure: Structure
    report: dict[str, Any]


def _layer_thickness(base: InterfaceResult) -> tuple[float, float]:
    """Height per substrate layer and per film layer, Å, from the base interface."""
    z = base.structure.cart_coords[:, 2]
    film = np.array([x == "film" for x in base.structure.site_properties[LABEL]])
    rep = base.report
    sub = (np.ptp(z[~film]) + 1.0) / rep["substrate_layers"]
    film_z = (np.ptp(z[film]) + 1.0) / rep["film_layers"]
    return float(sub), float(film_z)


def plan_scale_up(
    base: InterfaceResult, target: ScaleUpTarget, max_repeat: int = 8,
    repeat: tuple[int, int] | None = None,
) -> ScaleUpPlan:
    """Pick repeats and layers that come closest to ``target`` (whole layers, near-square cell)."""
    rep = base.report
    sub_per_layer = rep["natoms_substrate"] / rep["substrate_layers"]
    fu_per_layer = rep["film_formula_units"] / rep["film_layers"]
    a, b = rep["lattice_abc"][:2]
    sub_layer_z, film_layer_z = _layer_thickness(base)
    options = [repeat] if repeat else [
        (i, j) for i in range(1, max_repeat + 1) for j in range(1, max_repeat + 1)
    ]
    best: ScaleUpPlan | None = None
    best_cost = math.inf
    for na, nb in options:
        n = na * nb
        sub_layers = max(1, round(target.substrate_atoms / (sub_per_layer * n)))
        film_layers = max(1, round(target.film_formula_units / (fu_per_layer * n)))
        sub_atoms = round(sub_per_layer * sub_layers * n)
        fu = round(fu_per_layer * film_layers * n)
        error = abs(sub_atoms - target.substrate_atoms) / target.substrate_atoms + abs(
            fu - target.film_formula_units
        ) / target.film_formula_units
        thickness = sub_layers * sub_layer_z + film_layers * film_layer_z
        lateral = math.sqrt(n * rep["area"])
        elongation = max(0.0, abs(math.log(thickness / lateral / SLENDER_MID)) - math.log(SLENDER_SPAN))
        cost = error + ASPECT_WEIGHT * abs(math.log(na * a / (nb * b))) + SLENDER_WEIGHT * elongation
        if cost < best_cost:
            best_cost = cost
            best = ScaleUpPlan(
                repeat=(na, nb), substrate_layers=sub_layers, film_layers=film_layers,
                substrate_atoms=sub_atoms, film_formula_units=fu, relative_error=round(error, 6),
            )
    if best is None:
        raise InputError("no scale-up plan", "give --repeat NA NB with positive integers")
    return best


def scale_up(
    cfg: InterfaceConfig,
    bulks: dict[str, Structure],
    target: ScaleUpTarget | None = None,
    repeat: tuple[int, int] | None = None,
    max_repeat: int = 8,
) -> ScaleUpResult:
    """Build ``cfg``'s interface, then the same match at the planned size; report target vs achieved."""
    target = target or ScaleUpTarget()
    if repeat is not None and min(repeat) < 1:
        raise InputError(f"repeat {repeat} must be positive", "give --repeat NA NB, e.g. 5 4")
    base = build_interface(cfg, bulks)
    plan = plan_scale_up(base, target, max_repeat, repeat)
    label = tuple(base.report["termination"]["label"])
    cell, props = rebuild(
        cfg, bulks, label, base.report["match_index"], plan.substrate_layers, plan.film_layers
    )
    cell.make_supercell([plan.repeat[0], plan.repeat[1], 1])
    report = make_report(
        cell, cfg, props, termination_of(cell, label),
        [Termination.model_validate(t) for t in base.report["terminations"]],
        base.report["match_index"], base.report["candidates"], plan.substrate_layers, plan.film_layers,
    ).model_dump(mode="json")
    report.update(
        repeat=list(plan.repeat),
        target={"substrate_atoms": target.substrate_atoms, "film_formula_units": target.film_formula_units},
        achieved={
            "substrate_atoms": report["natoms_substrate"],
            "film_formula_units": report["film_formula_units"],
        },
        relative_error=plan.relative_error,
        base_natoms=base.report["natoms"],
    )
    return ScaleUpResult(structure=cell, report=report)
