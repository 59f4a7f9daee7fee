"""The properties stage: diffusion MD jobs and elastic-constant jobs on the production workers, then the fits.

``start_properties`` (``seiflow properties``, or the closing analysis with ``properties.start: auto``)
makes every cell, records the stage and returns its flow: one job per diffusion run (system x size x
temperature x model; category ``production``: the GPU workers), one per elastic structure, and a light job
that fits each region's Arrhenius law once every run is in. Each job stores its own document when it ends.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jobflow import Flow, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.chemistry import campaign_chemistry
from seiflow.analysis.elastic import elastic_constants
from seiflow.analysis.report_production import last_frame
from seiflow.constants import JobCategory
from seiflow.errors import InputError
from seiflow.jobconfig import keep_own_config, tag_jobs
from seiflow.models.store import ModelStore, safe_name
from seiflow.production.flows import production_models, stored_interface
from seiflow.properties.arrhenius import fit_stage
from seiflow.properties.cells import diffusion_systems, elastic_phases, system_cell, wide_cell
from seiflow.properties.diffusion import run_diffusion
from seiflow.records.properties import PropertyStore
from seiflow.schemas.campaign import Campaign
from seiflow.schemas.chemistry import Chemistry
from seiflow.schemas.properties import DiffusionRun, ElasticRecord, PropertiesStage

SEI = "SEI"


def _structure(cell: Structure | dict) -> Structure:
    """A job's cell: jobflow hands MSONable inputs back as objects, a plain call may pass the dict."""
    return cell if isinstance(cell, Structure) else Structure.from_dict(cell)


def diffusing_species(c: Campaign, chem: Chemistry) -> str | None:
    """``properties.diffusion.species``, else the mobile ion (the anode's element), else None."""
    return c.properties.diffusion.species or (chem.mobile[0] if chem.mobile else None)


def _sei_cell(c: Campaign, db: Any, interface: Structure | None) -> tuple[Structure | None, str]:
    """The SEI structure ``properties.elastic.sei_frame`` asks for, and where it comes from."""
    choice = c.properties.elastic.sei_frame
    if choice == "none":
        return None, ""
    if choice == "interface":
        if interface is None:
            raise InputError("properties.elastic.sei_frame: interface, but the campaign built no interface",
                             "set sei_frame: none (bulks only) or production")
        return interface, "the built interface cell"
    atoms, time_ps = last_frame(db, c.name)
    if atoms is None:
        raise InputError(f"properties.elastic.sei_frame: production, but campaign {c.name} has no production frame",
                         "run `seiflow produce` first, or set sei_frame: interface or none")
    return AseAtomsAdaptor.get_structure(atoms), f"the newest production run's last frame ({time_ps:g} ps)"


def start_properties(c: Campaign, db: Any, model_id: str | None = None) -> tuple[PropertiesStage, Flow]:
    """Record a new properties stage of ``c`` and return its flow (nothing runs yet)."""
    cfg = c.properties
    if not cfg.diffusion.enabled and not cfg.elastic.enabled:
        raise InputError("properties: both diffusion and elastic are disabled", "enable one of them")
    chosen, members = production_models(c, db, model_id)
    chem = campaign_chemistry(c)
    species = diffusing_species(c, chem)
    store = PropertyStore(db)
    stage_id = f"{c.name}-props{store.count_stages(c.name) + 1}"
    interface, report, bulks = stored_interface(db, c.name)
    campaign = c.model_dump(mode="json")
    jobs, runs, how, sizes = [], [], {}, {}
    d = cfg.diffusion
    if d.enabled:
        if species is None:
            raise InputError("properties.diffusion needs a diffusing ion: the campaign names no anode",
                             "set properties.diffusion.species (or chemistry.anode), or diffusion.enabled: false")
        committee = [(m, "member") for m in members] if d.committee else []
        for system in diffusion_systems(c, chem, interface is not None, species):
            sizes[system] = [d.atoms] + ([d.size_check_atoms] if d.size_check_atoms else [])
            n_main = None
            for k, atoms in enumerate(sizes[system]):
                cell, how[system if k == 0 else f"{system} (size check)"] = system_cell(
                    c, system, atoms, interface, report, bulks, species)
                if k and len(cell) <= n_main:
                    raise InputError(f"properties.diffusion.size_check_atoms {atoms} gives {system} no larger cell "
                                     f"than atoms {d.atoms} ({len(cell)} atoms both)",
                                     "set size_check_atoms to about twice atoms, or null for no check")
                n_main = n_main or len(cell)
                models = [(chosen, "production")] + (committee if k == 0 else [])
                for temperature in d.temperatures:
                    for model, role in models:
                        j = diffusion_md(campaign, stage_id, system, cell, temperature, model, role, k > 0)
                        j.name = f"{c.name} properties {stage_id} D {system} {len(cell)} atoms {temperature:g} K {model}"
                        keep_own_config(j, JobCategory.PRODUCTION)
                        jobs.append(j)
                        runs.append(j.output)
        if not runs:
            raise InputError("properties.diffusion: no system holds the mobile ion",
                             "name systems under properties.diffusion.systems, or diffusion.enabled: false")
    elastic = []
    if cfg.elastic.enabled:
        width = 2 * c.training.rcut
        targets = []
        for name in elastic_phases(c):
            cell, made = wide_cell(c.structures.phase(name), width)
            targets.append((name, cell, f"phase {name} {made}"))
        sei, source = _sei_cell(c, db, interface)
        if sei is not None:
            cell, made = wide_cell(sei, width)
            targets.append((SEI, cell, f"{source} {made}"))
        for name, structure, source in targets:
            j = elastic_job(campaign, stage_id, name, source, structure, chosen)
            j.name = f"{c.name} properties {stage_id} elastic {name}"
            keep_own_config(j, JobCategory.PRODUCTION)
            jobs.append(j)
            elastic.append(name)
    if runs:
        fit = fit_diffusion(campaign, stage_id, runs)
        fit.name = f"{c.name} properties {stage_id} Arrhenius fits"
        keep_own_config(fit, JobCategory.LIGHT)
        jobs.append(fit)
    stage = PropertiesStage(campaign=c.name, stage_id=stage_id, model_id=chosen,
                            member_ids=members if d.enabled and d.committee else [], species=species, systems=how,
                            sizes=sizes, temperatures=list(d.temperatures) if d.enabled else [],
                            planned_runs=len(runs), elastic=elastic)
    store.put(stage)
    flow = Flow(jobs, name=f"{c.name} properties {stage_id}")
    tag_jobs(flow, c.name, JobCategory.PRODUCTION.value)
    return stage, flow


@job
def diffusion_md(campaign: dict, stage_id: str, system: str, cell: Structure | dict, temperature: float, model_id: str,
                 role: str, size_check: bool) -> dict:
    """One NVT run with one model; its D per region stored as a ``diffusion_run`` document."""
    c = Campaign.model_validate(campaign)
    chem = campaign_chemistry(c)
    structure = _structure(cell)
    run_dir = Path.cwd() / safe_name(f"{system}-{len(structure)}-{temperature:g}K-{model_id}")
    model = ModelStore().fetch(model_id, run_dir.parent / "models")
    regions, health, n_frames, wall = run_diffusion(c.properties.diffusion, structure, system, temperature, model,
                                                    diffusing_species(c, chem), chem, list(c.system.type_map), run_dir)
    doc = DiffusionRun(campaign=c.name, stage_id=stage_id, system=system, n_atoms=len(structure),
                       size_check=size_check, temperature=temperature, model_id=model_id, role=role,
                       length_ps=c.properties.diffusion.length_ps, n_frames=n_frames, regions=regions, health=health,
                       wall_s=round(wall, 3))
    PropertyStore().put(doc)
    return doc.model_dump(mode="json")


@job
def fit_diffusion(campaign: dict, stage_id: str, runs: list[dict]) -> dict:
    """The Arrhenius fit of every (system, region), stored as ``arrhenius`` documents."""
    c = Campaign.model_validate(campaign)
    store = PropertyStore()
    stage = store.stage(stage_id)
    fits = fit_stage(c.name, stage_id, stage.species or "", stage.temperatures, stage.model_id,
                     [DiffusionRun.model_validate(r) for r in runs])
    for f in fits:
        store.put(f)
    return {"stage_id": stage_id, "fits": [f.model_dump(mode="json") for f in fits]}


@job
def elastic_job(campaign: dict, stage_id: str, name: str, source: str, cell: Structure | dict, model_id: str) -> dict:
    """One structure's stiffness tensor with the production model, stored as an ``elastic`` document."""
    from deepmd.calculator import DP

    c = Campaign.model_validate(campaign)
    cfg = c.properties.elastic
    model = ModelStore().fetch(model_id, Path.cwd() / "models", kind="frozen")
    atoms = AseAtomsAdaptor.get_atoms(_structure(cell))
    t0 = time.monotonic()
    result = elastic_constants(atoms, DP(model=str(model)), cfg.strain, cfg.relax_ions, cfg.fmax)
    doc = ElasticRecord(campaign=c.name, stage_id=stage_id, name=name, source=source, model_id=model_id,
                        n_atoms=len(atoms), strain=cfg.strain, relax_ions=cfg.relax_ions, c_gpa=result.c_gpa,
                        bulk_vrh_gpa=result.bulk_vrh_gpa, shear_vrh_gpa=result.shear_vrh_gpa,
                        young_vrh_gpa=result.young_vrh_gpa, poisson_vrh=result.poisson_vrh,
                        wall_s=round(time.monotonic() - t0, 3))
    PropertyStore().put(doc)
    return doc.model_dump(mode="json")


@job
def auto_properties(campaign: dict, analysis: Any = None) -> Response:
    """Start the properties stage after the closing analysis (``properties.start: auto``)."""
    from seiflow.store import get_database

    c = Campaign.model_validate(campaign)
    stage, flow = start_properties(c, get_database())
    return Response(output={"stage_id": stage.stage_id}, addition=flow)
