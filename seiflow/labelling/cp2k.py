"""CP2K labelling: static PBE single points (energy, forces, stress) under custodian's ``Cp2kJob``.

atomate2 0.1.5's CP2K ``StaticMaker`` is not used: it needs ``PMG_DEFAULT_CP2K_FUNCTIONAL`` and explicit
basis/potential objects and still writes a malformed AUX_FIT line (tried with Debian's CP2K 2023.1). Instead
:class:`Cp2kInputGenerator` writes a small, explicit input (Debian's GTH/MOLOPT data), custodian's
``Cp2kJob`` runs it with custodian's CP2K handlers, and pymatgen's ``Cp2kOutput`` parses it.
Units stored are DeePMD's: forces Ha/bohr -> eV/Å, stress GPa -> virial eV (same as VASP frames).
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from custodian.cp2k.jobs import Cp2kJob
from custodian.custodian import ErrorHandler
from pydantic import BaseModel, Field, model_validator
from pymatgen.io.cp2k.outputs import Cp2kOutput

from seiflow.dataset.convert import structure_arrays
from seiflow.labelling.base import ReferenceSettings
from seiflow.labelling.folders import FolderLabelMaker
from seiflow.labelling.handlers import (
    CP2K_VALIDATORS,
    RunOutcome,
    cp2k_handlers,
    run_with_custodian,
)
from seiflow.labelling.presets import CP2K_PRESETS, STUDY_CP2K, Cp2kPreset
from seiflow.registry import REFERENCES
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pymatgen.core import Structure


HA_BOHR_TO_EV_A = 51.42208619083232  # 1 Ha/bohr in eV/Å (CODATA 2018)
GPA_TO_EV_A3 = 1 / 160.21766208  # 1 GPa in eV/Å^3
INPUT_FILE = "cp2k.inp"
OUTPUT_FILE = "cp2k.out"
PROJECT = "seiflow"


@dataclass
class Cp2kInputGenerator:
    """Writes a CP2K ENERGY_FORCE input with analytical stress from a :class:`Cp2kPreset`."""

    preset: Cp2kPreset = STUDY_CP2K

    def _scf(self) -> str:
        p = self.preset
        if p.smearing_temperature is None:
            return f"""    &SCF
      EPS_SCF {p.eps_scf:g}
      MAX_SCF {p.max_scf}
      &OT
        MINIMIZER DIIS
      &END OT
    &END SCF"""
        return f"""    &SCF
      EPS_SCF {p.eps_scf:g}
      MAX_SCF {p.max_scf}
      ADDED_MOS {p.added_mos}
      &SMEAR ON
        METHOD FERMI_DIRAC
        ELECTRONIC_TEMPERATURE [K] {p.smearing_temperature:g}
      &END SMEAR
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA 0.3
      &END MIXING
    &END SCF"""

    def _subsys(self, structure: Structure) -> str:
        p = self.preset
        cell = "\n".join(
            f"      {v} {a:.10f} {b:.10f} {c:.10f}" for v, (a, b, c) in zip("ABC", structure.lattice.matrix, strict=True)
        )
        coords = "\n".join(f"      {s.specie} {x:.10f} {y:.10f} {z:.10f}" for s, (x, y, z) in zip(structure, structure.cart_coords, strict=True))
        kinds = "\n".join(
            f"    &KIND {el}\n      BASIS_SET {p.basis}\n      POTENTIAL GTH-{p.xc}\n    &END KIND"
            for el in sorted({str(s.specie) for s in structure})
        )
        return f"""  &SUBSYS
    &CELL
{cell}
      PERIODIC XYZ
    &END CELL
    &COORD
{coords}
    &END COORD
{kinds}
  &END SUBSYS"""

    def get_input(self, structure: Structure) -> str:
        """The input file text for a static single point of ``structure``."""
        p = self.preset
        return f"""&GLOBAL
  PROJECT {PROJECT}
  RUN_TYPE ENERGY_FORCE
  PRINT_LEVEL MEDIUM
&END GLOBAL
&FORCE_EVAL
  METHOD QUICKSTEP
  STRESS_TENSOR ANALYTICAL
  &DFT
    BASIS_SET_FILE_NAME {p.data_dir}/{p.basis_file}
    POTENTIAL_FILE_NAME {p.data_dir}/{p.potential_file}
    &MGRID
      CUTOFF {p.cutoff:g}
      REL_CUTOFF {p.rel_cutoff:g}
    &END MGRID
{self._scf()}
    &XC
      &XC_FUNCTIONAL {p.xc}
      &END XC_FUNCTIONAL
    &END XC
  &END DFT
{self._subsys(structure)}
  &PRINT
    &FORCES ON
    &END FORCES
    &STRESS_TENSOR ON
    &END STRESS_TENSOR
  &END PRINT
&END FORCE_EVAL
"""


class Cp2kSettings(ReferenceSettings):
    """``labelling.reference: {code: cp2k, ...}``: CP2K statics under custodian."""

    preset: Literal[tuple(CP2K_PRESETS)] = Field("study_pbe", description="Basis, cutoffs, SCF preset.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Preset fields to change (cutoff, basis, eps_scf...)."
    )
    cp2k_cmd: str = Field("cp2k.psmp", description="CP2K command, e.g. 'mpirun -np 2 cp2k.psmp'.")
    max_errors: int = Field(5, ge=0, description="custodian corrections per structure before it is dropped.")
    polling_time_step: float = Field(10.0, gt=0, description="Seconds between custodian's checks of CP2K.")

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


@REFERENCES.register("cp2k")
@dataclass
class Cp2kLabelMaker(FolderLabelMaker):
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
        custodian CP2K handlers (copied per structure); None: :func:`cp2k_handlers`.
    max_errors
        Corrections per structure before it is dropped as failed.
    polling_time_step
        Seconds between custodian's checks of a running CP2K.
    category
        FireWorks category of the job.
    """

    settings_model: ClassVar[type[BaseModel]] = Cp2kSettings
    can_relax: ClassVar[bool] = False  # no CELL_OPT input yet: campaigns name relax_with or fix a
    calculator: ClassVar[str] = "cp2k"
    parse_errors: ClassVar[tuple[type[Exception], ...]] = (ValueError, KeyError, IndexError)

    name: str = "cp2k label"
    preset: Cp2kPreset = STUDY_CP2K
    cp2k_cmd: str = "cp2k.psmp"
    handlers: tuple[ErrorHandler, ...] | None = None
    max_errors: int = 5
    polling_time_step: float = 10.0

    def md_maker_class(self) -> type:
        """CP2K NVT MD: its frames share this Reference."""
        from seiflow.labelling.cp2k_md import Cp2kMDMaker

        return Cp2kMDMaker

    def md_options(self, seed: int) -> dict[str, Any]:
        """CP2K's own MD maker fields."""
        return {"cp2k_cmd": self.cp2k_cmd, "seed": seed}

    def run_one(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write the input for ``structure`` in ``directory`` and run CP2K there under custodian."""
        return run_cp2k(Cp2kInputGenerator(self.preset).get_input(structure), directory, self)


    def parse(
        self, directory: Path, structure: Structure, reference: Reference, provenance: Provenance
    ) -> LabelledFrame:
        """The single point of the run: eV, eV/Å, virial in eV."""
        return frame_from_cp2k_dir(directory, structure, reference, provenance)


def run_cp2k(text: str, directory: Path, maker: Any) -> RunOutcome:
    """Write ``text`` as the input in ``directory`` and run CP2K there under custodian.

    ``maker`` gives the command, handlers (fresh copies; None: :func:`cp2k_handlers`), error budget
    and polling interval.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / INPUT_FILE).write_text(text)
    cp2k_job = Cp2kJob(shlex.split(maker.cp2k_cmd), input_file=INPUT_FILE, output_file=OUTPUT_FILE)
    handlers = copy.deepcopy(list(maker.handlers)) if maker.handlers is not None else cp2k_handlers()
    return run_with_custodian(
        [cp2k_job], handlers, CP2K_VALIDATORS, directory, max_errors=maker.max_errors,
        polling_time_step=maker.polling_time_step, monitor_freq=1,
    )


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
