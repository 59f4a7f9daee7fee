"""Labelling with a local reference (CHGNet or SevenNet through ASE): the one-machine stand-in for DFT.

Every frame records the reference in ``frame.reference`` (calculator name, version, model), so data
labelled by a stand-in is never mistaken for DFT.

Examples
--------
>>> from seiflow.labelling.local import LocalLabelMaker
>>> job = LocalLabelMaker(calculator="chgnet").make(structures, {"source": "exploration", "round": 1})  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from jobflow import Job, job
from pydantic import BaseModel

from seiflow.dataset.convert import structure_arrays
from seiflow.jobconfig import set_category
from seiflow.labelling.base import (
    DEFAULT_ENERGY_WINDOW,
    DEFAULT_MAX_FORCE,
    LabelMaker,
    LabelOutput,
    ReferenceSettings,
    pending,
    provenances_for,
    store_results,
)
from seiflow.labelling.calculators import get_calculator, local_reference
from seiflow.labelling.local_md import LocalMDMaker
from seiflow.registry import CALCULATORS, REFERENCES
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from seiflow.dataset.frames import FrameStore
    from seiflow.schemas.campaign import ReferenceMDConfig


def label_one(
    structure: Any, calc: Calculator, reference: Reference, provenance: Provenance
) -> LabelledFrame:
    """Energy, forces and (periodic cells) virial of one structure with an ASE calculator."""
    from ase import Atoms

    species, positions, cell, pbc = structure_arrays(structure)
    atoms = Atoms(species, positions=positions, cell=cell, pbc=pbc)
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    forces = np.array(atoms.get_forces(), dtype=float)
    virial = None
    if all(pbc):
        virial = -np.array(atoms.get_stress(voigt=False), dtype=float) * atoms.get_volume()
    return LabelledFrame(
        species=species, positions=positions, cell=cell, pbc=pbc, energy=energy, forces=forces,
        virial=virial, reference=reference, provenance=provenance,
    )


def label_structures(
    structures: list[Any],
    provenance: Provenance | list | dict | None = None,
    calculator: str = "chgnet",
    store: FrameStore | None = None,
    max_force: float = DEFAULT_MAX_FORCE,
    energy_window: float = DEFAULT_ENERGY_WINDOW,
    ase_calculator: Calculator | None = None,
) -> LabelOutput:
    """Label the structures not yet stored with this reference, store them and report.

    A structure whose calculation raises is recorded as failed with the reason and dropped.
    ``ase_calculator`` replaces the shared calculator of ``calculator`` (frames still record
    ``calculator``'s reference), e.g. to run another ASE calculator in tests.
    """
    from seiflow.dataset.frames import FrameStore

    store = store or FrameStore()
    reference = local_reference(calculator)
    provenances = provenances_for(structures, provenance, source="labelling")
    todo, done = pending(structures, reference, store, provenances)
    frames, failures = [], []
    if todo:
        calc = ase_calculator or get_calculator(calculator)
        for i in todo:
            try:
                frames.append(label_one(structures[i], calc, reference, provenances[i]))
            except Exception as exc:  # any calculator failure drops the frame, the round goes on
                failures.append((structures[i], provenances[i], f"{type(exc).__name__}: {exc}"))
    return store_results(store, reference, frames, failures, done, max_force, energy_window)


@job(output_schema=LabelOutput)
def label_local(
    structures: list[Structure],
    provenance: dict | list[dict] | None = None,
    calculator: str = "chgnet",
    max_force: float = DEFAULT_MAX_FORCE,
    energy_window: float = DEFAULT_ENERGY_WINDOW,
) -> LabelOutput:
    """Jobflow job: :func:`label_structures` on the worker's FrameStore."""
    return label_structures(structures, provenance, calculator, None, max_force, energy_window)


def _plain(provenance: Any) -> Any:
    if isinstance(provenance, Provenance):
        return provenance.model_dump(mode="json")
    if isinstance(provenance, list):
        return [_plain(p) for p in provenance]
    return provenance


class LocalSettings(ReferenceSettings):
    """A local ASE calculator (``labelling.reference: chgnet``), a stand-in for DFT; no settings."""


@dataclass
class LocalLabelMaker(LabelMaker):
    """Label structures with a local ASE reference (a registered local calculator) in one job.

    Registered as a reference under every local calculator's name (``labelling.reference: chgnet``).

    Parameters
    ----------
    name
        Job name.
    calculator
        ``chgnet`` (default, weights ship with the package), ``sevennet``, or any registered one.
    """

    settings_model: ClassVar[type[BaseModel]] = LocalSettings

    name: str = "label local"
    calculator: str = "chgnet"

    @classmethod
    def from_settings(cls, settings: BaseModel, **common: Any) -> LocalLabelMaker:
        """The maker of ``labelling.reference: <calculator name>``."""
        maker = super().from_settings(settings, **common)
        maker.calculator = settings.code
        return maker

    def relax_calculator(self) -> str:
        """The local reference relaxes the bulks itself."""
        return self.calculator

    def md_maker(self, temperature: float, md: ReferenceMDConfig, seed: int = 0) -> LocalMDMaker:
        """ASE NVT MD at ``temperature`` driven and labelled by this calculator."""
        return LocalMDMaker(
            temperature=temperature, steps=md.steps, timestep_fs=md.timestep_fs,
            sample_every=md.sample_every, calculator=self.calculator, seed=seed,
            max_force=self.max_force, energy_window=self.energy_window,
        )

    @property
    def reference(self) -> Reference:
        """The reference (calculator and version) that labels the frames."""
        return local_reference(self.calculator)

    def make(
        self,
        structures: list[Structure],
        provenance: Provenance | list[Provenance] | dict | list[dict] | None = None,
    ) -> Job:
        """A job labelling ``structures`` (a list or an output reference); output :class:`LabelOutput`."""
        labeller = label_local(
            structures, _plain(provenance), self.calculator, self.max_force, self.energy_window
        )
        labeller.name = self.name
        set_category(labeller, self.category)
        return labeller


REFERENCES.include(CALCULATORS, LocalLabelMaker)
