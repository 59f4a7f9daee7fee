"""A short NVT MD driver (ASE) with the local reference: the one-machine stand-in for reference AIMD.

Each sampled step becomes a LabelledFrame with provenance source ``reference_md`` (origin = the
structure's name, ``temperature`` in K, ``frame_index`` = MD step), labelled by the same calculator
that drives the dynamics, so no step is computed twice.

Examples
--------
>>> maker = ReferenceMDMaker(temperature=600.0, steps=40, sample_every=4)      # doctest: +SKIP
>>> job = maker.make(structure, origin="Li3InCl6", campaign="demo")            # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from jobflow import Flow, Job, Maker, job

from seiflow.dataset.convert import structure_arrays
from seiflow.jobconfig import set_category
from seiflow.labelling.base import (
    DEFAULT_ENERGY_WINDOW,
    DEFAULT_MAX_FORCE,
    MD_SOURCE,
    LabelOutput,
    MDJobFields,
    store_results,
)
from seiflow.labelling.calculators import get_calculator
from seiflow.labelling.local import local_reference
from seiflow.schemas.frame import LabelledFrame, Provenance

if TYPE_CHECKING:
    from ase import Atoms
    from pymatgen.core import Structure

    from seiflow.dataset.frames import FrameStore
    from seiflow.labelling.base import LabelMaker
    from seiflow.schemas.campaign import ReferenceMDConfig



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
    from seiflow.errors import InputError

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
) -> list[LabelledFrame]:
    """Run NVT MD from ``structure`` and return a labelled frame every ``sample_every`` steps.

    Velocities start from a Maxwell-Boltzmann distribution at ``temperature`` (K) with ``seed``.
    ``provenance`` (default source ``reference_md``) is copied into each frame with
    ``temperature`` and ``frame_index`` = the MD step set.
    """
    from ase import Atoms
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    species, positions, cell, pbc = structure_arrays(structure)
    atoms = Atoms(species, positions=positions, cell=cell, pbc=pbc)
    atoms.calc = get_calculator(calculator)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature, rng=rng)
    Stationary(atoms)
    dyn = _thermostat(atoms, thermostat, temperature, timestep_fs, damping_fs, rng)
    reference = local_reference(calculator)
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
            reference=reference,
            provenance=base.model_copy(update={"frame_index": step, "temperature": temperature}),
        ))

    dyn.attach(sample, interval=sample_every)
    dyn.run(steps)
    return frames


def supercell_to(structure: Structure, min_atoms: int) -> Structure:
    """The smallest near-isotropic supercell of ``structure`` with at least ``min_atoms`` atoms."""
    n = len(structure)
    if n >= min_atoms:
        return structure.copy()
    lengths = np.array(structure.lattice.abc)
    scale = (min_atoms / n) ** (1 / 3)
    mult = [1, 1, 1]
    while n * math.prod(mult) < min_atoms:
        target = scale * lengths.mean() / lengths
        i = int(np.argmax(target - np.array(mult)))
        mult[i] += 1
    return structure * mult


@job(output_schema=LabelOutput)
def reference_md(
    structure: Structure,
    temperature: float,
    provenance: dict,
    md: dict,
    max_force: float = DEFAULT_MAX_FORCE,
    energy_window: float = DEFAULT_ENERGY_WINDOW,
) -> LabelOutput:
    """Jobflow job: :func:`run_nvt` then store the sampled frames (once each) in the FrameStore."""
    from seiflow.dataset.frames import FrameStore

    prov = Provenance.model_validate(provenance)
    frames = run_nvt(structure, temperature, provenance=prov, **md)
    store: FrameStore = FrameStore()
    return store_results(store, frames[0].reference if frames else local_reference(md["calculator"]),
                         frames, max_force=max_force, energy_window=energy_window)


@dataclass
class ReferenceMDMaker(MDJobFields, Maker):
    """NVT reference MD of one structure at one temperature with a local reference; stores frames.

    Parameters
    ----------
    name
        Job name.
    temperature
        Thermostat temperature, K.
    steps, timestep_fs, sample_every
        MD length, time step (fs) and how often a step becomes a labelled frame.
    calculator
        Local reference: ``chgnet`` or ``sevennet``.
    thermostat, damping_fs, seed
        ``langevin`` (friction 1/damping) or ``bussi`` (tau = damping); initial-velocity seed.
    max_force, energy_window
        Thresholds above which sampled frames are flagged (see ``seiflow.labelling.base``).
    category
        FireWorks ``_category`` of the job.
    source
        Provenance source of the frames: ``reference_md`` (training data) or ``validation``.
    """

    name: str = "reference md"
    temperature: float = 300.0
    steps: int = 40
    timestep_fs: float = 1.0
    sample_every: int = 4
    calculator: str = "chgnet"
    thermostat: Literal["langevin", "bussi"] = "langevin"
    damping_fs: float = 100.0
    seed: int = 0

    def make(
        self, structure: Structure, origin: str | None = None, campaign: str | None = None,
        round: int = 0,
    ) -> Job:
        """A job running the MD from ``structure`` (``origin`` names it); output :class:`LabelOutput`."""
        provenance = Provenance(campaign=campaign, round=round, source=self.source, origin=origin)
        md = {
            "steps": self.steps, "timestep_fs": self.timestep_fs, "sample_every": self.sample_every,
            "calculator": self.calculator, "thermostat": self.thermostat,
            "damping_fs": self.damping_fs, "seed": self.seed,
        }
        md_job = reference_md(structure, self.temperature, provenance.model_dump(mode="json"), md,
                              self.max_force, self.energy_window)
        md_job.name = f"{self.name} {origin or ''} {self.temperature:g}K".replace("  ", " ")
        set_category(md_job, self.category)
        return md_job


def initial_data_flow(
    labeller: LabelMaker,
    structures: dict[str, Structure],
    config: ReferenceMDConfig,
    campaign: str | None = None,
    bulks: tuple[str, ...] = (),
    seed: int = 0,
    source: str = MD_SOURCE,
) -> Flow:
    """One reference-MD job per (structure, temperature), run by the campaign's own reference.

    ``labeller``'s :meth:`~seiflow.labelling.base.LabelMaker.md_maker` decides how: ASE MD with a
    local calculator, VASP AIMD, CP2K MD. Structures named in ``bulks`` are first repeated to
    ``config.bulk_supercell_atoms`` atoms; the interface runs at ``config.interface_temperatures``
    when set (the study: 300 K), the bulks at ``config.temperatures``.
    """
    jobs = []
    for name, structure in structures.items():
        is_bulk = name in bulks
        start = supercell_to(structure, config.bulk_supercell_atoms) if is_bulk else structure
        temperatures = config.temperatures
        if not is_bulk and config.interface_temperatures is not None:
            temperatures = config.interface_temperatures
        for temperature in temperatures:
            maker = labeller.md_maker(temperature, config, seed=seed)
            maker.source = source
            if source != MD_SOURCE:
                maker.name = f"{source} {maker.name}"
            jobs.append(maker.make(start, origin=name, campaign=campaign))
    return Flow(jobs, output=[j.output for j in jobs], name="reference md")


def reference_md_flow(
    structures: dict[str, Structure],
    config: ReferenceMDConfig,
    calculator: str = "chgnet",
    campaign: str | None = None,
    max_force: float = DEFAULT_MAX_FORCE,
    bulks: tuple[str, ...] = (),
) -> Flow:
    """:func:`initial_data_flow` with a local calculator (ASE MD)."""
    from seiflow.labelling.local import LocalLabelMaker

    labeller = LocalLabelMaker(calculator=calculator, max_force=max_force)
    return initial_data_flow(labeller, structures, config, campaign, bulks)
