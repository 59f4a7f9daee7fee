"""LAMMPS inputs for one exploration task: ``conf.lmp`` (ASE) and ``in.lammps`` with ``pair_style deepmd``."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.errors import InputError
from seiflow.schemas.exploration import Ensemble, ExplorationTask

DATA_FILE = "conf.lmp"
INPUT_FILE = "in.lammps"
MODEL_DEVI_FILE = "model_devi.out"
DUMP_FILE = "traj.dump"
LOG_FILE = "log.lammps"


def write_data(structure: Structure, type_map: list[str], path: Path) -> None:
    """Write a LAMMPS data file with types in ``type_map`` order and masses."""
    missing = sorted({site.specie.symbol for site in structure} - set(type_map))
    if missing:
        raise InputError(
            f"structure has elements {missing} that are not in system.type_map {type_map}",
            "add them to system.type_map or drop that seed",
        )
    atoms = AseAtomsAdaptor.get_atoms(structure)
    ase.io.write(path, atoms, format="lammps-data", specorder=type_map, masses=True)


def _is_triclinic(structure: Structure) -> bool:
    return not np.allclose(structure.lattice.angles, 90.0, atol=1e-6)


def pair_style_line(
    model_files: list[Path], out_freq: int, relative: float | None = None, relative_v: float | None = None
) -> str:
    """``pair_style deepmd`` over the whole ensemble, writing ``model_devi.out`` every ``out_freq`` steps."""
    if not model_files:
        raise InputError("exploration needs at least one model", "train the ensemble first")
    parts = ["pair_style deepmd", *(str(Path(m).resolve()) for m in model_files)]
    parts += ["out_freq", str(out_freq), "out_file", MODEL_DEVI_FILE]
    if relative is not None:
        parts += ["relative", f"{relative:g}"]
    if relative_v is not None:
        parts += ["relative_v", f"{relative_v:g}"]
    return " ".join(parts)


def integrator_line(task: ExplorationTask, triclinic: bool) -> str:
    """The thermostat (NVT) or thermostat + barostat (NPT) fix; damping 100 and 1000 timesteps."""
    dt_ps = task.timestep_fs / 1000.0
    t = f"temp {task.temperature:g} {task.temperature:g} {100 * dt_ps:g}"
    if task.ensemble == Ensemble.NVT:
        return f"fix integrate all nvt {t}"
    if task.pressure is None:
        raise InputError(f"task {task.task_id} is NPT without a pressure", "set exploration.pressures")
    couple = "tri" if triclinic else "aniso"
    p = f"{couple} {task.pressure:g} {task.pressure:g} {1000 * dt_ps:g}"
    return f"fix integrate all npt {t} {p}"


def input_script(
    task: ExplorationTask, type_map: list[str], model_files: list[Path], triclinic: bool, **pair_kw
) -> str:
    """The whole ``in.lammps``: metal units, velocities at T, dump of element/positions every out_freq."""
    elements = " ".join(type_map)
    lines = [
        "units metal",
        "boundary p p p",
        "atom_style atomic",
        "neighbor 1.0 bin",
        f"read_data {DATA_FILE}",
        pair_style_line(model_files, task.out_freq, **pair_kw),
        f"pair_coeff * * {elements}",  # LAMMPS types named: a bare * * maps them onto the model's own order
        f"timestep {task.timestep_fs / 1000.0:g}",
        f"velocity all create {task.temperature:g} {task.velocity_seed} mom yes rot yes dist gaussian",
        integrator_line(task, triclinic),
        "thermo_style custom step temp pe ke etotal press vol",
        f"thermo {task.out_freq}",
        f"dump traj all custom {task.out_freq} {DUMP_FILE} id element x y z",
        f"dump_modify traj element {elements} sort id",
        f"run {task.nsteps}",
    ]
    return "\n".join(lines) + "\n"


def write_inputs(
    task: ExplorationTask,
    structure: Structure,
    type_map: list[str],
    model_files: list[Path],
    run_dir: Path,
    relative: float | None = None,
    relative_v: float | None = None,
) -> Path:
    """Write ``conf.lmp`` and ``in.lammps`` into ``run_dir``; returns the input file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_data(structure, type_map, run_dir / DATA_FILE)
    script = input_script(
        task, type_map, model_files, _is_triclinic(structure), relative=relative, relative_v=relative_v
    )
    path = run_dir / INPUT_FILE
    path.write_text(script)
    return path
