"""One diffusion run: NVT MD of a system with one model, and the mobile ion's D in each region.

The run equilibrates, resets the step counter, then dumps a frame every ``dump_every`` steps. D comes from
the mobile ion's MSD (all time origins, lags up to half the run) by a straight-line fit over its later
part (:func:`seiflow.analysis.dynamics.diffusivity_from_msd`). A phase is one region (``bulk``); the
interface's mobile ions are split by where they are in the first sampled frame: anode, reacted (between
the anode surface and the reaction front) and electrolyte.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from pymatgen.core import Structure

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.dynamics import diffusivity_from_msd, msd, unwrap
from seiflow.analysis.front import front_position, region_masks
from seiflow.errors import InputError
from seiflow.exploration.deviation import read_dump
from seiflow.exploration.health import run_health
from seiflow.exploration.inputs import DATA_FILE, DUMP_FILE, INPUT_FILE, LOG_FILE, write_data
from seiflow.exploration.run import LammpsRunner
from seiflow.production.descriptors import anode_reference
from seiflow.production.inputs import pair_lines
from seiflow.schemas.campaign import INTERFACE_SYSTEM, DiffusionConfig
from seiflow.schemas.properties import RegionDiffusivity

BULK_REGION = "bulk"
FIT_FROM = 0.2  # the MSD fit starts after this share of its lag range (the ballistic part)


def diffusion_input(cfg: DiffusionConfig, temperature: float, model: Path, type_map: list[str]) -> str:
    """``in.lammps``: NVT equilibration, then ``steps`` sampled steps with a frame every ``dump_every``."""
    return "\n".join([
        "units metal", "boundary p p p", "atom_style atomic", f"read_data {DATA_FILE}", "neighbor 1.0 bin",
        *pair_lines(model, [], 0, type_map),
        f"timestep {cfg.timestep_fs / 1000.0:g}",
        f"velocity all create {temperature:g} {cfg.velocity_seed} mom yes rot yes dist gaussian",
        f"fix nvt all nvt temp {temperature:g} {temperature:g} {cfg.tdamp_fs / 1000.0:g}",
        "thermo_style custom step temp pe ke etotal press vol",
        f"thermo {cfg.dump_every}",
        f"run {cfg.equilibrate_steps}",
        "reset_timestep 0",
        f"dump traj all custom {cfg.dump_every} {DUMP_FILE} id element x y z",
        f"dump_modify traj element {' '.join(type_map)} sort id",
        f"run {cfg.steps}",
    ]) + "\n"


def region_masks_of(first: Atoms, species: str, chem: Chemistry, interface: bool) -> dict[str, np.ndarray]:
    """Region -> mask of the mobile atoms in it at the first sampled frame."""
    of_species = np.asarray(first.get_chemical_symbols()) == species
    if not interface:
        return {BULK_REGION: of_species}
    origin, bottom = anode_reference(first, chem)
    if origin is None or bottom is None:
        raise InputError("the interface run's first frame has no anode atoms to place its regions by",
                         "check chemistry.anode, or drop 'interface' from properties.diffusion.systems")
    return region_masks(first, species, origin, bottom, front_position(first, origin, chem))


def region_diffusivities(frames: Sequence[Atoms], dt_ps: float, species: str, chem: Chemistry,
                         interface: bool) -> dict[str, RegionDiffusivity]:
    """The mobile ion's D per region over a trajectory sampled every ``dt_ps`` ps (regions without atoms left out)."""
    pos = unwrap(frames)
    max_lag = max(2, (len(frames) - 1) // 2)
    out: dict[str, RegionDiffusivity] = {}
    for region, mask in region_masks_of(frames[0], species, chem, interface).items():
        if not mask.any():
            continue
        curve = msd(pos, mask, max_lag)
        d = diffusivity_from_msd(np.arange(curve.size) * dt_ps, curve, FIT_FROM, species)
        out[region] = RegionDiffusivity(d_a2_ps=round(d.d_a2_ps, 8), d_err_a2_ps=round(d.d_err_a2_ps, 8),
                                        n_atoms=int(mask.sum()))
    return out


def run_diffusion(cfg: DiffusionConfig, cell: Structure, system: str, temperature: float, model: Path,
                  species: str, chem: Chemistry, type_map: list[str], run_dir: Path
                  ) -> tuple[dict[str, RegionDiffusivity], str | None, int, float]:
    """Run the MD in ``run_dir`` (made afresh); D per region, why there is none (or None), frames, wall s."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    write_data(cell, type_map, run_dir / DATA_FILE)
    (run_dir / INPUT_FILE).write_text(diffusion_input(cfg, temperature, model, type_map))
    t0 = time.monotonic()
    outcome = LammpsRunner().run(run_dir)
    wall = time.monotonic() - t0
    health = run_health(outcome.returncode, outcome.reason, run_dir / LOG_FILE, temperature,
                        cfg.max_temperature_factor, f"diffusion MD of {system} at {temperature:g} K",
                        "fix it, then `lpad rerun_fws` the job")
    frames = [a for _, a in sorted(read_dump(run_dir / DUMP_FILE).items())]
    if not health.healthy:
        return {}, health.reason, len(frames), wall
    if len(frames) < 8:
        return {}, f"{len(frames)} frames: too few for an MSD fit", len(frames), wall
    dt_ps = cfg.dump_every * cfg.timestep_fs / 1000.0
    return region_diffusivities(frames, dt_ps, species, chem, system == INTERFACE_SYSTEM), None, len(frames), wall
