"""The campaign's closing analysis: NNP MD of the interface with the final model, mechanism, RDFs, cost.

Runs after the last round (category ``lammps``) and stores one document in the ``analyses``
collection, which ``seiflow report`` shows: In reduction / clusters / percolation along the NNP
trajectory, partial RDFs of NNP vs reference MD with their agreement score, and the production
hand-off (LAMMPS input for the scaled-up interface, cost estimated from the measured speed).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobflow import job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymongo.database import Database

from seiflow.analysis.mechanism import analyse_trajectory
from seiflow.analysis.production import (
    ProductionMaker,
    _default_lmp,
    estimate_cost,
    parse_loop_time,
)
from seiflow.analysis.snapshot import nnp_end_snapshots
from seiflow.analysis.trajectory import read_frames
from seiflow.constants import ANALYSES_COLLECTION, CAMPAIGNS_COLLECTION, VALIDATION_SETS_COLLECTION
from seiflow.errors import SeiflowError
from seiflow.models.store import ModelStore
from seiflow.schemas.campaign import Campaign
from seiflow.store import get_database

PRODUCTION_ATOMS = 31_880  # the study's scaled-up interface
PRODUCTION_STEPS = 10_000_000  # 10 ns at 1 fs


def _run_lammps(run_dir: Path) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.run([_default_lmp(), "-in", "in.lammps", "-log", "log.lammps"], cwd=run_dir,
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise SeiflowError(f"NNP MD failed: {tail}", f"see {run_dir / 'log.lammps'}")
    return proc.stdout


def nnp_md(structure: Structure, model: Path, type_map: list[str], run_dir: Path, temperature: float,
           steps: int, dump_every: int) -> tuple[list, float]:
    """NVT MD with one DeePMD model; returns the dumped frames and µs/step/atom."""
    maker = ProductionMaker(temperature=temperature, dump_every=dump_every, restart_every=10 * steps,
                            thermo_every=dump_every)
    maker.make(AseAtomsAdaptor.get_atoms(structure), model.resolve(), type_map, run_dir, n_steps=steps)
    speed = parse_loop_time(_run_lammps(run_dir))
    return read_frames(str(run_dir / "traj.lammpstrj"), 1, type_map), speed


def _mechanism_table(frames: list, dump_every: int, timestep_fs: float) -> list[dict[str, Any]]:
    rows = []
    for k, m in enumerate(analyse_trajectory(frames)):
        rows.append({
            "time_ps": round(k * dump_every * timestep_fs / 1000, 3),
            "in_cl_mean": round(m.in_cl_mean, 3), "reduced_in": round(m.reduced_in_fraction, 3),
            "in_in_mean": round(m.in_in_mean, 3), "licl_like_li": round(m.licl_like_li_fraction, 3),
            "largest_in_cluster": m.clusters.largest,
            **{f"percolates_{a}": v for a, v in m.clusters.percolates.items()},
        })
    return rows


@job
def analyse_campaign(
    campaign: dict, seeds: dict, models: list[str] | None = None, temperature: float = 600.0,
    steps: int = 2000, dump_every: int = 100, final: bool = False,
) -> dict[str, Any]:
    """The closing analysis with the final model: like-for-like dynamics on the validation set, cost.

    NNP MD runs from each validation trajectory's start structure at its temperature, length and
    sampling, and is compared with it (partial RDFs, mechanism descriptors side by side). Without a
    validation set, NNP MD of the interface (or first seed) at ``temperature`` gives the mechanism only.
    """
    from seiflow.analysis.validation_jobs import dynamics_comparisons, validation_frames

    c = Campaign.model_validate(campaign)
    type_map = list(c.system.type_map)
    store = ModelStore()
    model_id = (models or [m.model_id for m in store.latest_ensemble(c.name)])[0]
    db = get_database()
    vset = db[VALIDATION_SETS_COLLECTION].find_one({"campaign": c.name}, {"_id": 0})
    frames = validation_frames(c.name, vset.get("reference")) if vset else {}
    comparisons = dynamics_comparisons(vset, frames, model_id, type_map, Path.cwd()) if frames else []
    doc: dict[str, Any] = {"campaign": c.name, "created_at": datetime.now(UTC), "model_id": model_id,
                           "dynamics": [x.model_dump(mode="json") for x in comparisons],
                           "snapshots": nnp_end_snapshots(Path.cwd(), comparisons, type_map)}  # report's picture
    if comparisons:
        first = comparisons[0]
        speed = first.speed_us_step_atom
        doc.update(seed=first.structure, temperature=first.temperature, steps=first.steps,
                   n_frames=first.n_frames, mechanism=first.mechanism, like_for_like=True, rdf={
                       "r": first.rdf_r, "curves": {"nnp": first.rdf_nnp, "reference": first.rdf_reference},
                       "overall": first.rdf_overall, "per_pair": first.rdf_per_pair,
                       "definition": first.rdf_definition, "n_reference_frames": first.n_frames})
        natoms = first.natoms
    else:
        name = "interface" if "interface" in seeds else next(iter(seeds))
        seed = seeds[name] if isinstance(seeds[name], Structure) else Structure.from_dict(seeds[name])
        run_dir = Path.cwd() / "nnp_md"
        nnp, speed = nnp_md(seed, store.fetch(model_id, run_dir), type_map, run_dir, temperature, steps, dump_every)
        doc.update(seed=name, temperature=temperature, steps=steps, n_frames=len(nnp), like_for_like=False,
                   mechanism=_mechanism_table(nnp, dump_every, 1.0))
        natoms = len(seed)
    doc["cost"] = estimate_cost(speed, PRODUCTION_ATOMS, PRODUCTION_STEPS,
                                measured_on=f"{natoms}-atom {doc['seed']}, 1 model").model_dump()
    doc["final_model"] = final
    db[ANALYSES_COLLECTION].replace_one({"campaign": c.name}, doc, upsert=True)
    if final:  # the campaign's model: what the production input and users take
        db[CAMPAIGNS_COLLECTION].update_one({"name": c.name}, {"$set": {"final_model_id": model_id}})
    return {k: v for k, v in doc.items() if k not in ("rdf", "mechanism", "dynamics", "snapshots")} | {
        "rdf_agreement": doc.get("rdf", {}).get("overall")}


def report_extra(campaign: str, db: Database | None = None) -> dict[str, Any]:
    """The stored closing analysis in the shape ``write_report(extra=...)`` shows."""
    db = db if db is not None else get_database()
    doc = db[ANALYSES_COLLECTION].find_one({"campaign": campaign}, {"_id": 0})
    if not doc:
        return {}
    extra: dict[str, Any] = {
        f"NNP MD of the {doc['seed']} at {doc['temperature']:g} K ({doc['steps']} steps): mechanism":
            {"table": doc["mechanism"]},
        "Production hand-off (31,880 atoms, 10 ns, cost at the measured CPU speed)": {"table": [doc["cost"]]},
    }
    if doc.get("rdf"):
        rdf = doc["rdf"]
        extra["rdf"] = {"r": rdf["r"], "curves": rdf["curves"],
                        "table": [{"pair": k, "score": round(v, 4)} for k, v in rdf["per_pair"].items()]
                        + [{"pair": "overall", "score": round(rdf["overall"], 4)}]}
    return extra
