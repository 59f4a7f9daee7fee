"""NVT MD with a local reference (ASE): the one-machine stand-in for reference AIMD.

The calculator that drives the dynamics labels every sampled step, so no step is computed twice. The run
writes its sampled steps to ``local_md/frames.npz`` (float64, exact) and the shared job of
:mod:`seiflow.labelling.md` reads them back and stores them, as it does for VASP and CP2K.

Examples
--------
>>> maker = LocalMDMaker(temperature=600.0, steps=40, sample_every=4)      # doctest: +SKIP
>>> job = maker.make(structure, origin="Li3InCl6", campaign="demo")       # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from seiflow.dataset.convert import structure_arrays
from seiflow.errors import InputError
from seiflow.labelling.calculators import get_calculator, local_reference
from seiflow.labelling.handlers import RunOutcome
from seiflow.labelling.md import MD_SOURCE, ReferenceMDMaker, sampled_step
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pathlib import Path

    from ase import Atoms
    from pymatgen.core import Structure

FRAMES_FILE = "frames.npz"  # the sampled steps of a local MD run, in its folder


def _thermostat(atoms: Atoms, kind: str, temperature: float, timestep_fs: float, damping_fs: float, rng):
    from ase import units

    if kind == "langevin":
        from ase.constraints import FixCom
        from ase.md.langevin import Langevin

        atoms.set_constraint(FixCom())
        return Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature,
                        friction=1.0 / (damping_fs * units.fs), fixcm=False, rng=rng)
    if kind == "bussi":
        from ase.md.bussi import Bussi

        return Bussi(atoms, timestep_fs * units.fs, temperature_K=temperature,
                     taut=damping_fs * units.fs, rng=rng)
    raise InputError(f"unknown thermostat {kind!r}", "use 'langevin' or 'bussi'")


def run_nvt(
    structure: Any,
    temperature: float,
    steps: int,
    timestep_fs: float = 1.0,
    sample_every: int = 4,
    calculator: str = "chgnet",
    thermostat: Literal["langevin", "bussi"] = "langevin",
    damping_fs: float = 100.0,
    seed: int = 0,
    provenance: Provenance | None = None,
    labeller: tuple[Any, Reference] | None = None,
) -> list[LabelledFrame]:
    """Run NVT MD from ``structure`` and return a labelled frame every ``sample_every`` steps.

    Velocities start from a Maxwell-Boltzmann distribution at ``temperature`` (K) with ``seed``.
    ``provenance`` (default source ``reference_md``) is copied into each frame with
    ``temperature`` and ``frame_index`` = the MD step set. ``labeller``: an ASE calculator and the
    reference its labels carry, instead of the registered local ``calculator`` (e.g. a DeePMD teacher).
    """
    from ase import Atoms
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    species, positions, cell, pbc = structure_arrays(structure)
    atoms = Atoms(species, positions=positions, cell=cell, pbc=pbc)
    atoms.calc = labeller[0] if labeller else get_calculator(calculator)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature, rng=rng)
    Stationary(atoms)
    dyn = _thermostat(atoms, thermostat, temperature, timestep_fs, damping_fs, rng)
    reference = labeller[1] if labeller else local_reference(calculator)
    base = provenance or Provenance(source=MD_SOURCE)
    frames: list[LabelledFrame] = []

    def sample() -> None:
        step = dyn.nsteps
        if step == 0:
            return
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume() if all(pbc) else None
        frames.append(LabelledFrame(
            species=species, positions=atoms.get_positions(), cell=np.array(atoms.cell[:]), pbc=pbc,
            energy=float(atoms.get_potential_energy()),
            forces=atoms.get_forces(apply_constraint=False), virial=virial,
            reference=reference, provenance=sampled_step(base, step, temperature),
        ))

    dyn.attach(sample, interval=sample_every)
    dyn.run(steps)
    return frames


def save_frames(frames: list[LabelledFrame], path: Path) -> None:
    """The sampled steps' labels as float64 arrays in one ``.npz`` (virials NaN for open cells)."""
    n = frames[0].natoms if frames else 0
    np.savez(
        path,
        steps=np.array([f.provenance.frame_index for f in frames], dtype=int),
        positions=np.array([f.positions for f in frames], dtype=float).reshape(-1, n, 3),
        energy=np.array([f.energy for f in frames], dtype=float),
        forces=np.array([f.forces for f in frames], dtype=float).reshape(-1, n, 3),
        virial=np.array([np.full((3, 3), np.nan) if f.virial is None else f.virial for f in frames],
                        dtype=float).reshape(-1, 3, 3),
    )


@dataclass
class LocalMDMaker(ReferenceMDMaker):
    """NVT reference MD with a local ASE reference (CHGNet, SevenNet); stores the sampled frames.

    Parameters
    ----------
    calculator
        Local reference: ``chgnet`` or ``sevennet``.
    thermostat, damping_fs, seed
        ``langevin`` (friction 1/damping) or ``bussi`` (tau = damping); initial-velocity seed.
    **kwargs
        The MD, flagging and provenance fields of :class:`~seiflow.labelling.md.ReferenceMDMaker`.
    """

    folder: ClassVar[str] = "local_md"

    calculator: str = "chgnet"
    thermostat: Literal["langevin", "bussi"] = "langevin"
    damping_fs: float = 100.0
    seed: int = 0

    @property
    def reference(self) -> Reference:
        """The local calculator's reference."""
        return local_reference(self.calculator)

    def run(self, structure: Structure, directory: Path) -> RunOutcome:
        """Run the MD in this process and save its sampled steps; a calculator that raises is a failed run."""
        directory.mkdir(parents=True, exist_ok=True)
        try:
            frames = run_nvt(
                structure, self.temperature, self.steps, timestep_fs=self.timestep_fs,
                sample_every=self.sample_every, calculator=self.calculator, thermostat=self.thermostat,
                damping_fs=self.damping_fs, seed=self.seed,
            )
        except InputError:
            raise  # a wrong setting (thermostat, calculator) is the campaign's error, not the run's
        except Exception as exc:  # any calculator failure drops the structure, the campaign goes on
            return RunOutcome(ok=False, reason=f"{type(exc).__name__}: {exc}")
        save_frames(frames, directory / FRAMES_FILE)
        return RunOutcome(ok=True)

    def read_frames(self, directory: Path, structure: Structure, provenance: Provenance) -> list[LabelledFrame]:
        """The saved sampled steps, labelled by this calculator."""
        species, _, cell, pbc = structure_arrays(structure)
        data = np.load(directory / FRAMES_FILE)
        reference = self.reference
        return [
            LabelledFrame(
                species=species, positions=data["positions"][k], cell=cell, pbc=pbc,
                energy=float(data["energy"][k]), forces=data["forces"][k],
                virial=None if np.isnan(data["virial"][k]).all() else data["virial"][k],
                reference=reference, provenance=sampled_step(provenance, int(step), self.temperature),
            )
            for k, step in enumerate(data["steps"])
        ]
