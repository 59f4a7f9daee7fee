"""Each production segment's LAMMPS input: the first starts from the cell, the others from a restart file.

Every segment runs ``run END upto``, so the step counter, not the segment, says where the run stops: a
segment run again from the same restart covers exactly the same steps. The Nosé-Hoover thermostat's state
travels in the restart file (same fix ID), velocities are created once, in the first segment.
"""

from __future__ import annotations

from pathlib import Path

from seiflow.exploration.inputs import DATA_FILE, DUMP_FILE, MODEL_DEVI_FILE
from seiflow.schemas.campaign import ProductionConfig

INPUT_FILE = "in.lammps"
RESTART_IN = "previous.restart"
RESTART_OUT = "segment.restart"


def pair_lines(model: Path, watch_models: list[Path], watch_every: int, type_map: list[str]) -> list[str]:
    """``pair_style deepmd`` and ``pair_coeff``: the production model drives the MD.

    With ``watch_models`` LAMMPS writes the ensemble's deviation every ``watch_every`` steps (only the first
    model runs every step).
    """
    style = ["pair_style deepmd", str(Path(model).resolve())]
    if watch_models:
        style += [str(Path(m).resolve()) for m in watch_models]
        style += ["out_freq", str(watch_every), "out_file", MODEL_DEVI_FILE]
    # LAMMPS types named: a bare * * maps them onto the model's own type order
    return [" ".join(style), f"pair_coeff * * {' '.join(type_map)}"]


def segment_input(config: ProductionConfig, end_step: int, model: Path, watch_models: list[Path],
                  type_map: list[str], first: bool) -> str:
    """The whole ``in.lammps`` of one segment, running up to step ``end_step``."""
    p = config
    dt_ps = p.timestep_fs / 1000.0
    elements = " ".join(type_map)
    start = (["units metal", "boundary p p p", "atom_style atomic", f"read_data {DATA_FILE}"] if first
             else [f"read_restart {RESTART_IN}"])
    lines = [
        *start,
        "neighbor 1.0 bin",
        *pair_lines(model, watch_models, p.watch.every, type_map),
        f"timestep {dt_ps:g}",
    ]
    if first:
        lines.append(f"velocity all create {p.temperature:g} {p.velocity_seed} mom yes rot yes dist gaussian")
    lines += [
        f"fix nvt all nvt temp {p.temperature:g} {p.temperature:g} {p.tdamp_fs / 1000.0:g}",
        "thermo_style custom step temp pe ke etotal press vol",
        f"thermo {p.thermo_every}",
        f"dump traj all custom {p.dump_every} {DUMP_FILE} id element x y z",
        f"dump_modify traj element {elements} sort id",
        f"run {end_step} upto",
        f"write_restart {RESTART_OUT}",
    ]
    return "\n".join(lines) + "\n"
