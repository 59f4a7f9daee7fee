"""VASP labelling under custodian: static single points of candidates (and their relaxations).

Inputs come from atomate2's generators with the study's preset (:mod:`seiflow.labelling.presets`);
custodian's VASP handlers correct what they can (how VASP runs: :mod:`seiflow.labelling.vasp_run`; the
study's NVT AIMD: :mod:`seiflow.labelling.vasp_md`). The VASP command is a Maker field, so tests give the
fake in :mod:`seiflow.testing.fake_vasp` instead of patching modules.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from seiflow.dataset.convert import structure_arrays
from seiflow.dataset.importers import frames_from_file
from seiflow.errors import InputError
from seiflow.labelling.base import ReferenceSettings
from seiflow.labelling.folders import FolderLabelMaker
from seiflow.labelling.presets import STUDY_VASP, VASP_PRESETS, VaspPreset
from seiflow.labelling.vasp_md import VaspMDMaker
from seiflow.labelling.vasp_run import VaspRunFields
from seiflow.registry import REFERENCES, settings_from_dataclass
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pathlib import Path

    from jobflow import Maker
    from pymatgen.core import Structure

    from seiflow.labelling.handlers import RunOutcome


MATCH_TOLERANCE = 1e-3  # Å; parsed sites are matched back to the candidate's order


class VaspSettings(ReferenceSettings):
    """``labelling.reference: {code: vasp, ...}``: VASP statics under custodian."""

    preset: Literal[tuple(VASP_PRESETS)] = Field("study_pbe", description="INCAR/k-point preset.")

    def resolved_preset(self) -> VaspPreset:
        """The named preset."""
        return VASP_PRESETS[self.preset]


@dataclass
class VaspLabelMaker(VaspRunFields, FolderLabelMaker):
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
        custodian handlers (copied per structure: they count their corrections); relaxations use them too.
    max_errors
        Corrections custodian may make per structure before the structure is dropped as failed.
    potcar_spec
        Write ``POTCAR.spec`` (symbols only) instead of ``POTCAR``: for tests and dry runs.
    polling_time_step
        Seconds between custodian's checks of a running VASP.
    category
        FireWorks category of the job.
    """

    md_maker_type: ClassVar[type[VaspMDMaker]] = VaspMDMaker  # the study's NVT AIMD (VASP seeds its velocities)
    parse_errors: ClassVar[tuple[type[Exception], ...]] = (InputError, ValueError)

    name: str = "vasp label"
    preset: VaspPreset = STUDY_VASP

    def relax_maker(self) -> Maker:
        """atomate2's ``RelaxMaker`` (cell and positions, ISIF 3) with this preset, command and handlers."""
        from atomate2.vasp.jobs.core import RelaxMaker
        from atomate2.vasp.sets.core import RelaxSetGenerator

        generator = RelaxSetGenerator(
            user_incar_settings={**self.preset.incar, "ISIF": 3},
            user_kpoints_settings={"reciprocal_density": self.preset.reciprocal_density},
            auto_ispin=False,
        )
        base = RelaxMaker()
        command = {"vasp_cmd": self.vasp_cmd, "vasp_gamma_cmd": self.vasp_cmd} if self.vasp_cmd else {}
        return RelaxMaker(
            name=f"{self.name} relax", input_set_generator=generator,
            run_vasp_kwargs={**base.run_vasp_kwargs, **command, "handlers": copy.deepcopy(list(self.handlers)),
                             "max_errors": self.max_errors,
                             "custodian_kwargs": {"polling_time_step": self.polling_time_step}},
            write_input_set_kwargs={"potcar_spec": self.potcar_spec},
        )

    def md_options(self, seed: int) -> dict[str, Any]:
        """How VASP runs (VASP seeds its own velocities)."""
        return self.run_fields(VaspRunFields)

    def run_one(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write inputs for ``structure`` in ``directory`` and run VASP there under custodian."""
        return self.run_vasp(structure, self.preset.static_generator(), directory)

    def parse(
        self, directory: Path, structure: Structure, reference: Reference, provenance: Provenance
    ) -> LabelledFrame:
        """The last ionic step of the run, in the candidate's site order."""
        return frame_from_vasp_dir(directory, structure, reference, provenance)


REFERENCES.register("vasp", settings=settings_from_dataclass(
    VaspLabelMaker, include=("vasp_cmd", "max_errors", "potcar_spec", "polling_time_step"), base=VaspSettings,
))(VaspLabelMaker)


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
