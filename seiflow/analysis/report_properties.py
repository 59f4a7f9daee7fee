"""The report's properties section: diffusivities with committee error bars, Arrhenius fits, elastic constants."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from seiflow.analysis import plots
from seiflow.records.properties import PropertyStore


def _g(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def section(db: Database, campaign: str) -> dict[str, Any] | None:
    """The newest properties stage with diffusion runs and the newest with elastic constants (None: no stage).

    A row per fit (Ea, its error, the size check), per diffusion run and per elastic structure.
    """
    store = PropertyStore(db)
    stages = store.stages(campaign)
    if not stages:
        return None
    # the newest stage that ran diffusion, and the newest that computed elastic constants (a stage may do one)
    stage = next((s for s in stages if s.planned_runs), stages[0])
    mech = next((s for s in stages if s.elastic), None)
    fits, runs = store.fits(stage.stage_id), store.runs(stage.stage_id)
    elastic = store.elastic(mech.stage_id) if mech else []
    return {
        "stage": {"stage_id": stage.stage_id, "elastic_stage_id": mech.stage_id if mech else None,
                  "model_id": stage.model_id, "members": len(stage.member_ids),
                  "species": stage.species, "systems": stage.systems, "temperatures": stage.temperatures,
                  "planned_runs": stage.planned_runs, "runs_done": len(runs),
                  "runs_failed": sum(1 for r in runs if r.health)},
        "arrhenius": [{
            "system": f.system, "region": f.region, "Ea_eV": _g(f.activation_energy_ev),
            "Ea_err_eV": _g(f.activation_energy_err_ev), "Ea_fit_err_eV": _g(f.activation_energy_fit_err_ev),
            "members_Ea_eV": f.members_activation_energy_ev, "D0_A2_ps": _g(f.prefactor_a2_ps, 6),
            **{f"D_{t:g}K_A2_ps": _g(d, 6) for t, d in zip(f.temperatures, f.d_a2_ps, strict=True)},
            **{f"D_{t:g}K_std": _g(s, 6) for t, s in zip(f.temperatures, f.d_committee_std_a2_ps, strict=False)},
            **({f"size_{f.size_check.atoms[1]}/{f.size_check.atoms[0]}_{t}K": r
                for t, r in f.size_check.ratio.items()} if f.size_check else {}),
            "fit": "no fit (see below)" if f.note else "yes",
        } for f in fits],
        "notes": {f"{f.system} ({f.region})": f.note for f in fits if f.note},
        "curves": {f"{f.system} ({f.region})": {"T": f.temperatures, "D": f.d_a2_ps,
                                                "err": f.d_committee_std_a2_ps} for f in fits},
        "runs": [{"system": r.system, "atoms": r.n_atoms, "T_K": r.temperature, "model": r.model_id,
                  "role": "size check" if r.size_check else r.role, "frames": r.n_frames, "wall_s": r.wall_s,
                  "health": r.health or "ok",
                  **{f"D_{k}_A2_ps": _g(v.d_a2_ps, 6) for k, v in r.regions.items()}} for r in runs],
        "elastic": [{"structure": e.name, "source": e.source, "atoms": e.n_atoms, "K_VRH_GPa": _g(e.bulk_vrh_gpa, 2),
                     "G_VRH_GPa": _g(e.shear_vrh_gpa, 2), "E_VRH_GPa": _g(e.young_vrh_gpa, 2),
                     "poisson": _g(e.poisson_vrh, 3), "C11": e.c_gpa[0][0], "C12": e.c_gpa[0][1],
                     "C33": e.c_gpa[2][2], "C44": e.c_gpa[3][3], "wall_s": e.wall_s} for e in elastic],
    }


def figures(props: dict[str, Any] | None) -> dict[str, str]:
    """The Arrhenius plot of every system's regions (error bars: the committee's spread of D)."""
    if not props or not props["curves"]:
        return {}
    curves = {k: (v["T"], v["D"], v["err"]) for k, v in props["curves"].items()}
    species = props["stage"]["species"] or "mobile ion"
    return {f"Properties: {species} diffusivity against 1000/T (error bars: the committee's spread)":
            plots.arrhenius(curves)}
