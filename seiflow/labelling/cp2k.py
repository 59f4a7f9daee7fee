"""CP2K labelling: static PBE single points (energy, forces, stress) under custodian's ``Cp2kJob``.

atomate2 0.1.5's CP2K ``StaticMaker`` is not used: it needs ``PMG_DEFAULT_CP2K_FUNCTIONAL`` and explicit
basis/potential objects and still writes a malformed AUX_FIT line (tried with Debian's CP2K 2023.1). Instead
:class:`~seiflow.labelling.cp2k_inputs.Cp2kInputGenerator` writes a small, explicit input (each element's
basis and potential from CP2K's data files), custodian's ``Cp2kJob`` runs it with custodian's CP2K handlers
(:mod:`seiflow.labelling.cp2k_run`), and pymatgen's ``Cp2kOutput`` parses it.
Units stored are DeePMD's: forces Ha/bohr -> eV/Å, stress GPa -> virial eV (same as VASP frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator
from pymatgen.io.cp2k.outputs import Cp2kOutput

from seiflow.dataset.convert import structure_arrays
from seiflow.labelling.base import ReferenceSettings
from seiflow.labelling.cp2k_inputs import OUTPUT_FILE, Cp2kInputGenerator
from seiflow.labelling.cp2k_md import Cp2kMDMaker
from seiflow.labelling.cp2k_run import GPA_TO_EV_A3, HA_BOHR_TO_EV_A, Cp2kRunFields
from seiflow.labelling.folders import FolderLabelMaker
from seiflow.labelling.presets import CP2K_PRESETS, STUDY_CP2K, Cp2kPreset
from seiflow.registry import REFERENCES, settings_from_dataclass
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pathlib import Path

    from pymatgen.core import Structure

    from seiflow.labelling.handlers import RunOutcome


class Cp2kSettings(ReferenceSettings):
    """``labelling.reference: {code: cp2k, ...}``: CP2K statics under custodian."""

    preset: Literal[tuple(CP2K_PRESETS)] = Field("study_pbe", description="Basis, cutoffs, SCF preset.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Preset fields to change (cutoff, basis, eps_scf...)."
    )

    @model_validator(mode="after")
    def _overrides_are_preset_fields(self) -> Cp2kSettings:
        unknown = sorted(set(self.overrides) - set(Cp2kPreset.model_fields))
        if unknown:
            raise ValueError(
                f"overrides {unknown} are not preset fields; use {', '.join(Cp2kPreset.model_fields)}"
            )
        self.resolved_preset()
        return self

    def resolved_preset(self) -> Cp2kPreset:
        """The preset with the overrides applied."""
        base = CP2K_PRESETS[self.preset]
        return Cp2kPreset.model_validate({**base.model_dump(), **self.overrides})


@dataclass
class Cp2kLabelMaker(Cp2kRunFields, FolderLabelMaker):
    """Static CP2K single points of candidate structures, stored as LabelledFrames (one per structure).

    Parameters
    ----------
    name
        Job name.
    preset
        PBE/GTH/MOLOPT settings.
    cp2k_cmd
        The CP2K command, e.g. ``"mpirun -np 2 cp2k.psmp"``; tests may give another.
    handlers
        custodian CP2K handlers (copied per structure); None: :func:`~seiflow.labelling.handlers.cp2k_handlers`.
    max_errors
        Corrections per structure before it is dropped as failed.
    polling_time_step
        Seconds between custodian's checks of a running CP2K.
    category
        FireWorks category of the job.
    """

    can_relax: ClassVar[bool] = False  # no CELL_OPT input yet: campaigns name relax_with or fix a
    md_maker_type: ClassVar[type[Cp2kMDMaker]] = Cp2kMDMaker  # CP2K NVT MD: its frames share this Reference
    parse_errors: ClassVar[tuple[type[Exception], ...]] = (ValueError, KeyError, IndexError)

    name: str = "cp2k label"
    preset: Cp2kPreset = STUDY_CP2K

    def md_options(self, seed: int) -> dict[str, Any]:
        """How CP2K runs, and the velocity seed."""
        return {**self.run_fields(Cp2kRunFields), "seed": seed}

    def run_one(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write the input for ``structure`` in ``directory`` and run CP2K there under custodian."""
        return self.run_cp2k(Cp2kInputGenerator(self.preset).get_input(structure), directory)

    def parse(
        self, directory: Path, structure: Structure, reference: Reference, provenance: Provenance
    ) -> LabelledFrame:
        """The single point of the run: eV, eV/Å, virial in eV."""
        return frame_from_cp2k_dir(directory, structure, reference, provenance)


REFERENCES.register("cp2k", settings=settings_from_dataclass(
    Cp2kLabelMaker, include=("cp2k_cmd", "max_errors", "polling_time_step"), base=Cp2kSettings,
))(Cp2kLabelMaker)


def frame_from_cp2k_dir(
    directory: Path, structure: Structure, reference: Reference, provenance: Provenance
) -> LabelledFrame:
    """The single point in ``directory/cp2k.out`` as a frame: eV, eV/Å, virial in eV."""
    out = Cp2kOutput(str(directory / OUTPUT_FILE), auto_load=True)
    species, positions, cell, pbc = structure_arrays(structure)
    forces = np.asarray(out.data["forces"][-1], dtype=float) * HA_BOHR_TO_EV_A
    if forces.shape != positions.shape:
        raise ValueError(f"CP2K forces have shape {forces.shape}, expected {positions.shape}")
    stress_gpa = np.asarray(out.data["stress_tensor"][-1], dtype=float)
    volume = abs(float(np.linalg.det(cell)))
    # CP2K's stress has the opposite sign to ASE's (as VASP's): virial = -stress_ase x V = stress_cp2k x V.
    virial = stress_gpa * GPA_TO_EV_A3 * volume
    return LabelledFrame(
        species=species, positions=positions, cell=cell, pbc=pbc, energy=float(out.final_energy),
        forces=forces, virial=virial, reference=reference, provenance=provenance,
    )
