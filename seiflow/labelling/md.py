"""Reference MD: the recipe every reference's NVT MD shares, and the initial-data flow built from it.

A :class:`ReferenceMDMaker` runs NVT MD of one structure at one temperature in its own folder (ASE with a
local calculator: :mod:`seiflow.labelling.local_md`; VASP AIMD: :mod:`seiflow.labelling.vasp_md`; CP2K
MD: :mod:`seiflow.labelling.cp2k_md`), reads every sampled step back as a
:class:`~seiflow.schemas.frame.LabelledFrame` labelled by the same reference (so no step is computed
twice) and stores them once each. Provenance: source ``reference_md`` (or ``validation``, ``test``), origin =
the structure's name, ``temperature`` in K, ``frame_index`` = MD step; step 0 (the input) is not stored.

Every frame keeps custodian's record of the run (``provenance.custodian``; None for local MD).
One error path for every code: a run that fails (custodian could not repair it, the calculator raised)
or whose output cannot be read (:attr:`ReferenceMDMaker.parse_errors`) is recorded as a failure of the
structure with its reason; the job itself succeeds, so the campaign goes on.

Examples
--------
>>> from seiflow.labelling.local_md import LocalMDMaker
>>> job = LocalMDMaker(temperature=600.0, steps=40).make(structure, origin="LiCl", campaign="c")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from jobflow import Flow, Job, Maker, job

from seiflow.constants import JobCategory
from seiflow.errors import InputError
from seiflow.jobconfig import set_category
from seiflow.labelling.base import (
    DEFAULT_ENERGY_WINDOW,
    DEFAULT_MAX_FORCE,
    LabelOutput,
    store_results,
)
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from seiflow.labelling.base import LabelMaker
    from seiflow.labelling.handlers import RunOutcome
    from seiflow.schemas.campaign import ReferenceMDConfig

MD_SOURCE = "reference_md"  # provenance source of the initial (training) reference MD frames


@dataclass
class ReferenceMDMaker(Maker, ABC):
    """NVT MD of one structure at one temperature with a reference; stores the sampled frames.

    Subclasses write and run the code (:meth:`run`) and read the sampled steps back
    (:meth:`read_frames`); :meth:`make` and the job are shared.

    Parameters
    ----------
    name
        Job name (the origin and temperature are appended).
    temperature
        Thermostat temperature, K.
    steps, timestep_fs, sample_every
        MD length, time step (fs) and how often a step becomes a labelled frame.
    max_force, energy_window
        Thresholds above which sampled frames are flagged (see :mod:`seiflow.labelling.base`).
    category
        FireWorks ``_category`` of the job.
    source
        Provenance source of the frames: ``reference_md`` (training data), ``validation`` or ``test`` (never trained on).
    """

    folder: ClassVar[str] = "reference_md"  # the run's folder in the job's directory
    # what unreadable output raises: a missing file, seiflow's importer (dpdata), the CP2K readers
    parse_errors: ClassVar[tuple[type[Exception], ...]] = (InputError, OSError, ValueError)

    name: str = "reference md"
    temperature: float = 300.0
    steps: int = 40
    timestep_fs: float = 1.0
    sample_every: int = 4
    max_force: float = DEFAULT_MAX_FORCE
    energy_window: float = DEFAULT_ENERGY_WINDOW
    category: str = JobCategory.DFT.value
    source: str = MD_SOURCE  # or "validation" / "test" for the sets never trained on

    @property
    @abstractmethod
    def reference(self) -> Reference:
        """The reference that labels the frames (the same as the code's static labeller's)."""

    @abstractmethod
    def run(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write the inputs for MD from ``structure`` in ``directory`` and run it there."""

    @abstractmethod
    def read_frames(self, directory: Path, structure: Structure, provenance: Provenance) -> list[LabelledFrame]:
        """The sampled steps of the finished run in ``directory`` (``frame_index`` = step, step 0 left out)."""

    def trajectory(self, directory: Path) -> Path | list[Path] | None:
        """The file(s) kept whole in the GridFS bucket ``trajectories``; None: nothing kept."""
        return None

    def make(
        self, structure: Structure, origin: str | None = None, campaign: str | None = None, round: int = 0
    ) -> Job:
        """A job running the MD from ``structure`` (``origin`` names it); output :class:`LabelOutput`."""
        provenance = Provenance(campaign=campaign, round=round, source=self.source, origin=origin)
        md_job = reference_md(self, structure, provenance.model_dump(mode="json"))
        md_job.name = f"{self.name} {origin or ''} {self.temperature:g}K".replace("  ", " ")
        set_category(md_job, self.category)
        return md_job


def sampled_step(provenance: Provenance, step: int, temperature: float) -> Provenance:
    """The provenance of the frame at MD ``step`` of a run at ``temperature`` (K)."""
    return provenance.model_copy(update={"frame_index": step, "temperature": temperature})


@job(output_schema=LabelOutput)
def reference_md(maker: ReferenceMDMaker, structure: Structure, provenance: dict[str, Any]) -> LabelOutput:
    """Jobflow job: run ``maker``'s MD in its folder, store the sampled frames (once each) and the trajectory.

    A failed run, or output that cannot be read, is recorded as a failure of ``structure`` with its reason.
    """
    from seiflow.dataset.frames import FrameStore
    from seiflow.dataset.trajectories import TrajectoryStore

    prov = Provenance.model_validate(provenance)
    reference = maker.reference
    store = FrameStore()
    directory = Path.cwd() / maker.folder
    code = reference.calculator.upper()
    outcome = maker.run(structure, directory)
    prov = prov.model_copy(update={"custodian": outcome.custodian})  # every sampled frame keeps it
    frames: list[LabelledFrame] = []
    failures: list[tuple[Any, Provenance, str]] = []
    if not outcome.ok:
        failures.append((structure, prov, f"{code} MD failed: {outcome.reason or 'unknown failure'}"))
    else:
        try:
            files = maker.trajectory(directory)
            if files is not None:
                trajectory = TrajectoryStore(store.db).put(
                    files, campaign=prov.campaign, source=prov.source, origin=prov.origin,
                    temperature=maker.temperature, code=reference.calculator,
                )
                prov = prov.model_copy(update={"trajectory": trajectory})
            frames = maker.read_frames(directory, structure, prov)
        except maker.parse_errors as exc:
            failures.append((structure, prov, f"unreadable {code} MD output: {exc}"))
    return store_results(store, reference, frames, failures,
                         max_force=maker.max_force, energy_window=maker.energy_window)


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
