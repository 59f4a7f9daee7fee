"""VASP labelling under custodian: static single points of candidates, and the study's NVT AIMD.

Inputs come from atomate2's generators with the study's preset (:mod:`seiflow.labelling.presets`);
custodian's VASP handlers correct what they can. The VASP command is a Maker field, so tests give the
fake in :mod:`seiflow.testing.fake_vasp` instead of patching modules. POTCARs come from pymatgen's normal
setting (``PMG_VASP_PSP_DIR``); ``potcar_spec=True`` writes ``POTCAR.spec`` instead (tests, dry runs).
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from atomate2.vasp.files import write_vasp_input_set
from custodian.custodian import ErrorHandler
from custodian.vasp.jobs import VaspJob
from pydantic import BaseModel, Field

from seiflow.dataset.convert import structure_arrays
from seiflow.dataset.importers import frames_from_file
from seiflow.errors import InputError
from seiflow.labelling.base import ReferenceSettings
from seiflow.labelling.folders import FolderLabelMaker
from seiflow.labelling.handlers import (
    VASP_HANDLERS,
    VASP_VALIDATORS,
    RunOutcome,
    run_with_custodian,
)
from seiflow.labelling.presets import STUDY_VASP, VASP_PRESETS, VaspPreset
from seiflow.registry import REFERENCES
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from jobflow import Maker
    from pymatgen.core import Structure


MATCH_TOLERANCE = 1e-3  # Å; parsed sites are matched back to the candidate's order


class VaspSettings(ReferenceSettings):
    """``labelling.reference: {code: vasp, ...}``: VASP statics under custodian."""

    preset: Literal[tuple(VASP_PRESETS)] = Field("study_pbe", description="INCAR/k-point preset.")
    vasp_cmd: str | None = Field(
        None, description="VASP command; None: atomate2's VASP_CMD on the worker that runs the job."
    )
    max_errors: int = Field(5, ge=0, description="custodian corrections per structure before it is dropped.")
    potcar_spec: bool = Field(False, description="Write POTCAR.spec instead of POTCAR (dry runs, tests).")
    polling_time_step: float = Field(10.0, gt=0, description="Seconds between custodian's checks of VASP.")

    def resolved_preset(self) -> VaspPreset:
        """The named preset."""
        return VASP_PRESETS[self.preset]


@REFERENCES.register("vasp")
@dataclass
class VaspLabelMaker(FolderLabelMaker):
    """Static VASP single points of candidate structures, stored as LabelledFrames (one per structure).

    Parameters
    ----------
    name
        Job name.
    preset
        INCAR/k-point settings (the study's PBE preset by default).
    vasp_cmd
        The VASP command (atomate2's ``VASP_CMD`` setting by default); tests give the fake.
    handlers
        custodian handlers (copied per structure: they count their corrections).
    max_errors
        Corrections custodian may make per structure before the structure is dropped as failed.
    potcar_spec
        Write ``POTCAR.spec`` (symbols only) instead of ``POTCAR``: for tests and dry runs.
    polling_time_step
        Seconds between custodian's checks of a running VASP.
    category
        FireWorks category of the job.
    """

    settings_model: ClassVar[type[BaseModel]] = VaspSettings
    calculator: ClassVar[str] = "vasp"
    parse_errors: ClassVar[tuple[type[Exception], ...]] = (InputError, ValueError)

    name: str = "vasp label"
    preset: VaspPreset = STUDY_VASP
    vasp_cmd: str | None = None  # None: the running worker's ATOMATE2_VASP_CMD (its qadapter sets it)
    handlers: tuple[ErrorHandler, ...] = VASP_HANDLERS
    max_errors: int = 5
    potcar_spec: bool = False
    polling_time_step: float = 10.0

    def relax_maker(self) -> Maker:
        """atomate2's ``RelaxMaker`` (cell and positions, ISIF 3) with this preset and VASP command."""
        from atomate2.vasp.jobs.core import RelaxMaker
        from atomate2.vasp.sets.core import RelaxSetGenerator

        generator = RelaxSetGenerator(
            user_incar_settings={**self.preset.incar, "ISIF": 3},
            user_kpoints_settings={"reciprocal_density": self.preset.reciprocal_density},
            auto_ispin=False,
        )
        base = RelaxMaker()
        return RelaxMaker(
            name=f"{self.name} relax", input_set_generator=generator,
            run_vasp_kwargs={**base.run_vasp_kwargs, **({"vasp_cmd": self.vasp_cmd, "vasp_gamma_cmd": self.vasp_cmd}
                                                         if self.vasp_cmd else {}),
                             "max_errors": self.max_errors,
                             "custodian_kwargs": {"polling_time_step": self.polling_time_step}},
            write_input_set_kwargs={"potcar_spec": self.potcar_spec},
        )

    def md_maker_class(self) -> type:
        """The study's NVT AIMD (VASP seeds its own velocities)."""
        from seiflow.labelling.vasp_md import VaspMDMaker

        return VaspMDMaker

    def md_options(self, seed: int) -> dict[str, Any]:
        """VASP's own MD maker fields."""
        return {"vasp_cmd": self.vasp_cmd, "potcar_spec": self.potcar_spec}

    def run_one(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write inputs for ``structure`` in ``directory`` and run VASP there under custodian."""
        directory.mkdir(parents=True, exist_ok=True)
        write_vasp_input_set(
            structure, self.preset.static_generator(), directory, potcar_spec=self.potcar_spec
        )
        vasp_job = VaspJob(shlex.split(worker_vasp_cmd(self.vasp_cmd)), auto_npar=False)
        return run_with_custodian(
            [vasp_job],
            copy.deepcopy(list(self.handlers)),
            VASP_VALIDATORS,
            directory,
            max_errors=self.max_errors,
            polling_time_step=self.polling_time_step,
            monitor_freq=1,
        )

    def parse(
        self, directory: Path, structure: Structure, reference: Reference, provenance: Provenance
    ) -> LabelledFrame:
        """The last ionic step of the run, in the candidate's site order."""
        return frame_from_vasp_dir(directory, structure, reference, provenance)


def worker_vasp_cmd(vasp_cmd: str | None) -> str:
    """The VASP command: the maker's, else atomate2's VASP_CMD as the running worker sets it."""
    if vasp_cmd:
        return vasp_cmd
    from atomate2 import SETTINGS

    return SETTINGS.VASP_CMD


def match_order(species: list[str], positions: np.ndarray, cell: np.ndarray, frame: LabelledFrame) -> np.ndarray:
    """``perm`` with ``frame``'s site ``perm[i]`` at candidate site ``i`` (same species, periodic distance)."""
    inv = np.linalg.inv(cell)
    diff = (positions @ inv)[:, None, :] - (np.asarray(frame.positions) @ inv)[None, :, :]
    diff -= np.round(diff)
    dist = np.linalg.norm(diff @ cell, axis=2)
    same = np.asarray(species)[:, None] == np.asarray(frame.species)[None, :]
    dist[~same] = np.inf
    perm = dist.argmin(axis=1)
    if len(set(perm.tolist())) != len(perm) or dist[np.arange(len(perm)), perm].max() > MATCH_TOLERANCE:
        raise ValueError("the VASP output structure does not match the candidate structure")
    return perm


def frame_from_vasp_dir(
    directory: Path, structure: Structure, reference: Reference, provenance: Provenance
) -> LabelledFrame:
    """The last ionic step of ``directory/vasprun.xml`` as a frame in the candidate's site order."""
    parsed = frames_from_file(directory / "vasprun.xml", "vasp/xml", reference, provenance)[-1]
    species, positions, cell, pbc = structure_arrays(structure)
    if np.abs(np.asarray(parsed.cell) - cell).max() > MATCH_TOLERANCE:
        raise ValueError("the VASP output cell differs from the candidate's")
    perm = match_order(species, positions, cell, parsed)
    return LabelledFrame(
        species=species, positions=positions, cell=cell, pbc=pbc, energy=parsed.energy,
        forces=np.asarray(parsed.forces)[perm], virial=parsed.virial,
        reference=reference, provenance=provenance,
    )
