"""The production run: the LAMMPS input for the large interface with the compressed model, and its cost.

:class:`ProductionMaker` writes ``conf.lmp`` (ASE's lammps-data writer, types in ``type_map`` order) and
``in.lammps`` (NVT, Nosé-Hoover, dump and alternating restart files, a final restart), ready for a GPU
node (``lmp -in in.lammps``; a CUDA build of DeePMD-kit uses the GPU by itself). :func:`nnp_md` runs the
same input for a short NVT run here (the validation protocol's and the closing analysis's NNP MD),
:func:`measure_speed` times a short run with the same model, and :func:`estimate_cost` scales
µs/step/atom to hours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from pydantic import BaseModel
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.trajectory import read_frames
from seiflow.errors import InputError, SeiflowError
from seiflow.exploration.health import MdHealth, blew_up, thermo_health
from seiflow.exploration.run import failure_reason
from seiflow.schemas.analysis import CostEstimate

INPUT_FILE = "in.lammps"
DATA_FILE = "conf.lmp"
LOOP_RE = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


class ProductionInputs(BaseModel):
    """What :class:`ProductionMaker` wrote."""

    directory: str
    input_file: str
    data_file: str
    n_atoms: int
    n_steps: int
    command: str


@dataclass
class ProductionMaker:
    """LAMMPS NVT production with a (compressed) DeePMD model: 10 ns at 300 K by default."""

    name: str = "production"
    temperature: float = 300.0
    time_ns: float = 10.0
    timestep_fs: float = 1.0
    thermo_every: int = 1000
    dump_every: int = 10_000  # 10 ps between frames: 1,000 frames over 10 ns
    restart_every: int = 100_000
    tdamp_fs: float = 100.0
    seed: int = 12345

    @property
    def n_steps(self) -> int:
        """Run length in steps."""
        return int(round(self.time_ns * 1e6 / self.timestep_fs))

    def input_text(self, model: str, type_map: list[str], n_steps: int | None = None) -> str:
        """The LAMMPS input (``n_steps`` overrides the run length, e.g. for a timing run)."""
        steps = self.n_steps if n_steps is None else n_steps
        masses = "\n".join(
            f"mass {k + 1} {atomic_masses[atomic_numbers[el]]:.4f}" for k, el in enumerate(type_map)
        )
        return f"""# seiflow production: NVT {self.temperature} K, {steps} steps of {self.timestep_fs} fs
units metal
boundary p p p
atom_style atomic
neighbor 1.0 bin
neigh_modify every 10 delay 0 check no
read_data {DATA_FILE}
{masses}
pair_style deepmd {model}
pair_coeff * * {" ".join(type_map)}
timestep {self.timestep_fs / 1000.0}
velocity all create {self.temperature} {self.seed} mom yes rot yes dist gaussian
fix nvt all nvt temp {self.temperature} {self.temperature} {self.tdamp_fs / 1000.0}
thermo_style custom step temp pe ke etotal press vol
thermo {self.thermo_every}
dump traj all custom {self.dump_every} traj.lammpstrj id type x y z
dump_modify traj sort id
restart {self.restart_every} restart.a restart.b
run {steps}
write_restart final.restart
"""

    def make(self, atoms: Atoms, model: str | Path, type_map: list[str], out_dir: str | Path,
             n_steps: int | None = None) -> ProductionInputs:
        """Write ``conf.lmp`` and ``in.lammps`` to ``out_dir``; the model path is written as given."""
        missing = sorted(set(atoms.get_chemical_symbols()) - set(type_map))
        if missing:
            raise InputError(f"type_map lacks {missing}", "use the campaign's system.type_map")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        from ase.io import write

        write(out / DATA_FILE, atoms, format="lammps-data", specorder=type_map, atom_style="atomic")
        (out / INPUT_FILE).write_text(self.input_text(str(model), type_map, n_steps))
        steps = self.n_steps if n_steps is None else n_steps
        return ProductionInputs(
            directory=str(out), input_file=str(out / INPUT_FILE), data_file=str(out / DATA_FILE),
            n_atoms=len(atoms), n_steps=steps, command=f"lmp -in {INPUT_FILE}",
        )


def estimate_cost(us_per_step_atom: float, n_atoms: int, n_steps: int, measured_on: str = "") -> CostEstimate:
    """Hours = µs/step/atom x atoms x steps / 3.6e9."""
    if us_per_step_atom <= 0:
        raise InputError("speed must be positive", "measure it with measure_speed")
    hours = us_per_step_atom * n_atoms * n_steps / 3.6e9
    return CostEstimate(us_per_step_atom=us_per_step_atom, n_atoms=n_atoms, n_steps=n_steps,
                        hours=hours, measured_on=measured_on)


def parse_loop_time(log: str) -> float:
    """µs/step/atom from the last ``Loop time`` line of a LAMMPS log."""
    found = LOOP_RE.findall(log)
    if not found:
        raise SeiflowError("no 'Loop time' line in the LAMMPS output", "check the LAMMPS log for errors")
    seconds, _, steps, atoms = found[-1]
    return float(seconds) * 1e6 / (int(steps) * int(atoms))


def _default_lmp() -> str:
    local = Path(sys.executable).parent / "lmp"
    return str(local) if local.exists() else (shutil.which("lmp") or "lmp")


def measure_speed(atoms: Atoms, model: str | Path, type_map: list[str], work_dir: str | Path,
                  n_steps: int = 20, lmp: str | None = None, timeout: float = 600.0) -> CostEstimate:
    """Run ``n_steps`` of the production input on ``atoms`` and return the measured speed.

    ``lmp`` defaults to the ``lmp`` next to this Python (the venv's, which loads the DeePMD plugin).
    """
    lmp = lmp or _default_lmp()
    maker = ProductionMaker(dump_every=max(n_steps, 1), restart_every=10 * max(n_steps, 1),
                            thermo_every=max(n_steps // 2, 1))
    inputs = maker.make(atoms, Path(model).resolve(), type_map, work_dir, n_steps=n_steps)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "DP_INTRA_OP_PARALLELISM_THREADS": "1", "DP_INTER_OP_PARALLELISM_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    proc = subprocess.run([lmp, "-in", INPUT_FILE, "-log", "log.lammps"], cwd=inputs.directory,
                          capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise SeiflowError(f"LAMMPS timing run failed: {' | '.join(tail)}", "check the model and type_map")
    speed = parse_loop_time(proc.stdout)
    where = f"{os.uname().nodename}, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, {time.perf_counter() - start:.1f} s"
    return estimate_cost(speed, len(atoms), n_steps, measured_on=where)


def _run_lammps(run_dir: Path) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.run([_default_lmp(), "-in", "in.lammps", "-log", "log.lammps"], cwd=run_dir,
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:  # the ERROR line of the log (e.g. lost atoms), not the last lines of noise
        raise SeiflowError(f"NNP MD failed: {failure_reason(run_dir)}", f"see {run_dir / 'log.lammps'}")
    return proc.stdout


def nnp_md(structure: Structure, model: Path, type_map: list[str], run_dir: Path, temperature: float,
           steps: int, dump_every: int, max_temperature_factor: float = 5.0) -> tuple[list, float | None, MdHealth]:
    """NVT MD with one DeePMD model: the dumped frames, µs/step/atom, and the run's health.

    A run that blows up (lost atoms, NaN, hotter than ``max_temperature_factor`` x ``temperature``) is not an
    error: its frames before the blow-up are returned and the health says where it went wrong (speed None
    when LAMMPS stopped).
    """
    maker = ProductionMaker(temperature=temperature, dump_every=dump_every, restart_every=10 * steps,
                            thermo_every=dump_every)
    maker.make(AseAtomsAdaptor.get_atoms(structure), model.resolve(), type_map, run_dir, n_steps=steps)
    crash, speed = None, None
    try:
        speed = parse_loop_time(_run_lammps(run_dir))
    except SeiflowError as exc:
        if not blew_up(str(exc)):
            raise
        crash = str(exc).splitlines()[0]
    health = thermo_health(run_dir / "log.lammps", temperature, max_temperature_factor, crash)
    frames = []
    traj = run_dir / "traj.lammpstrj"
    if traj.is_file() and traj.stat().st_size:
        try:
            frames = read_frames(str(traj), 1, type_map)
        except Exception:  # a dump cut mid-frame by the crash
            if health.healthy:
                raise
    if not health.healthy:
        frames = [f for k, f in enumerate(frames) if k * dump_every < health.onset_step]
    return frames, speed, health
