"""The Arrhenius fit of each system's region, with the committee's spread as its error bars.

The production model's runs give the central D(T) and its fit; each committee member's runs (the same
cells, temperatures and velocities) give its own D(T) and Ea: the standard deviation of the members' D at
each temperature and of their Ea are the error bars. Without a committee the fit's own 1-sigma stands in.
The size check divides the larger cell's D by the main cell's, per temperature (production model).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from seiflow.analysis.dynamics import arrhenius_fit
from seiflow.schemas.properties import ArrheniusResult, DiffusionRun, SizeCheck


def _d(runs: Sequence[DiffusionRun], region: str, temperatures: Sequence[float]) -> list[float | None]:
    """D per temperature from ``runs`` (one model, one size); None where a run is missing or gave none."""
    by_t = {r.temperature: r.regions.get(region) for r in runs}
    return [by_t[t].d_a2_ps if by_t.get(t) is not None else None for t in temperatures]


def _fit(temperatures: Sequence[float], d: Sequence[float | None]):
    """The fit over the temperatures with a positive D (None when fewer than two)."""
    ok = [(t, x) for t, x in zip(temperatures, d, strict=True) if x is not None and x > 0]
    return arrhenius_fit(*zip(*ok, strict=True)) if len(ok) >= 2 else None


def _std(values: Sequence[float | None]) -> float | None:
    ok = [v for v in values if v is not None]
    return round(float(np.std(ok, ddof=1)), 8) if len(ok) >= 2 else None


def fit_region(campaign: str, stage_id: str, system: str, region: str, species: str, temperatures: list[float],
               main: Sequence[DiffusionRun], members: dict[str, Sequence[DiffusionRun]],
               check: Sequence[DiffusionRun] = ()) -> ArrheniusResult:
    """One region's result: central D(T) and fit, the committee's spread, and the size check."""
    d = _d(main, region, temperatures)
    d_members = [_d(runs, region, temperatures) for runs in members.values()]
    fits = [f for f in (_fit(temperatures, dm) for dm in d_members) if f is not None]
    central = _fit(temperatures, d)
    member_ea = [round(f.activation_energy_ev, 6) for f in fits]
    committee_err = _std(member_ea)
    size = None
    if check and main:
        big = _d(check, region, temperatures)
        size = SizeCheck(atoms=(main[0].n_atoms, check[0].n_atoms), ratio={
            f"{t:g}": (round(b / s, 4) if b is not None and s is not None and s > 0 else None)
            for t, s, b in zip(temperatures, d, big, strict=True)})
    return ArrheniusResult(
        campaign=campaign, stage_id=stage_id, system=system, region=region, species=species,
        temperatures=list(temperatures), d_a2_ps=d,
        d_committee_std_a2_ps=[_std(col) for col in zip(*d_members, strict=True)] if d_members else [],
        d_members_a2_ps=d_members,
        activation_energy_ev=round(central.activation_energy_ev, 6) if central else None,
        activation_energy_err_ev=committee_err if committee_err is not None else (
            round(central.activation_energy_err_ev, 6) if central and np.isfinite(central.activation_energy_err_ev)
            else None),
        activation_energy_fit_err_ev=round(central.activation_energy_err_ev, 6)
        if central and np.isfinite(central.activation_energy_err_ev) else None,
        members_activation_energy_ev=member_ea, prefactor_a2_ps=central.prefactor_a2_ps if central else None,
        size_check=size,
        note=None if central else "fewer than two temperatures with a positive D from the production model "
        "(run longer or hotter, or see each run's health)",
    )


def fit_stage(campaign: str, stage_id: str, species: str, temperatures: list[float], model_id: str,
              runs: Sequence[DiffusionRun]) -> list[ArrheniusResult]:
    """Every (system, region) of the stage's runs, fitted."""
    grouped: dict[str, list[DiffusionRun]] = defaultdict(list)
    for r in runs:
        grouped[r.system].append(r)
    out = []
    for system, mine in sorted(grouped.items()):
        main = [r for r in mine if r.model_id == model_id and not r.size_check]
        check = [r for r in mine if r.size_check]
        members: dict[str, list[DiffusionRun]] = defaultdict(list)
        for r in mine:
            if r.role == "member":
                members[r.model_id].append(r)
        regions = sorted({k for r in mine for k in r.regions})
        out += [fit_region(campaign, stage_id, system, region, species, temperatures, main, dict(members), check)
                for region in regions]
    return out
