"""The study's VASP NVT AIMD as reference MD: every ``sample_every``-th ionic step becomes a labelled frame.

Inputs come from atomate2's ``MDSetGenerator`` (``MDMaker``'s input set: Nose-Hoover NVT, ``MDALGO = 2``,
Gamma point) with the preset's INCAR; custodian runs VASP with seiflow's VASP handlers, as for statics.
The frames are read from ``vasprun.xml`` through dpdata (every ionic step has forces and stress there;
an ``NWRITE = 0`` OUTCAR has only the first and last) and stored with the static labeller's Reference,
so AIMD frames and later statics train together. The whole ``vasprun.xml`` goes, gzipped, to the
GridFS bucket ``trajectories`` (its id is in each frame's ``provenance.trajectory``); documents stay small.
The job, and its one error path, are :mod:`seiflow.labelling.md`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from seiflow.labelling.md import ReferenceMDMaker, sampled_step
from seiflow.labelling.presets import STUDY_AIMD, STUDY_VASP, AimdPreset, VaspPreset
from seiflow.labelling.vasp_run import VaspRunFields

if TYPE_CHECKING:
    from pathlib import Path

    from pymatgen.core import Structure

    from seiflow.labelling.handlers import RunOutcome
    from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

RUN_DIR = "vasp_md"
VASPRUN = "vasprun.xml"


def sampled_frames(
    vasprun: Path, reference: Reference, provenance: Provenance, sample_every: int, temperature: float
) -> list[LabelledFrame]:
    """Every ``sample_every``-th ionic step of an MD ``vasprun.xml`` (``frame_index`` = step, from 1)."""
    from seiflow.dataset.importers import frames_from_file

    frames = frames_from_file(vasprun, "vasp/xml", reference, provenance)
    out = []
    for i, frame in enumerate(frames):
        step = i + 1
        if step % sample_every:
            continue
        frame.provenance = sampled_step(provenance, step, temperature)
        out.append(frame)
    return out


@dataclass
class VaspMDMaker(VaspRunFields, ReferenceMDMaker):
    """NVT AIMD of one structure at one temperature with VASP; stores sampled frames.

    Parameters
    ----------
    preset
        The static preset whose INCAR and Reference the MD shares.
    aimd
        Ensemble and time step defaults (the study's: Nose-Hoover, 1 fs).
    steps, sample_every
        Ionic steps (NSW; 1 ps at 1 fs) and sampling (every step) of the study's AIMD.
    vasp_cmd, handlers, max_errors, polling_time_step, potcar_spec
        How VASP runs, as for :class:`~seiflow.labelling.vasp.VaspLabelMaker`.
    **kwargs
        The MD, flagging and provenance fields of :class:`~seiflow.labelling.md.ReferenceMDMaker`.
    """

    folder: ClassVar[str] = RUN_DIR

    name: str = "vasp md"
    preset: VaspPreset = STUDY_VASP
    aimd: AimdPreset = STUDY_AIMD
    steps: int = 1000  # the study's 1 ps
    sample_every: int = 1

    @property
    def reference(self) -> Reference:
        """The static VASP labeller's reference for the same preset."""
        return self.preset.reference()

    def input_preset(self) -> AimdPreset:
        """The AIMD preset with this run's length, time step and the static preset's INCAR."""
        return self.aimd.model_copy(update={
            "nsteps": self.steps, "time_step": self.timestep_fs, "incar": dict(self.preset.incar),
        })

    def run(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write atomate2's MD inputs for ``structure`` in ``directory`` and run VASP under custodian."""
        return self.run_vasp(structure, self.input_preset().md_generator(self.temperature), directory)

    def trajectory(self, directory: Path) -> Path:
        """The whole ``vasprun.xml``."""
        return directory / VASPRUN

    def read_frames(self, directory: Path, structure: Structure, provenance: Provenance) -> list[LabelledFrame]:
        """Every ``sample_every``-th ionic step of the run's ``vasprun.xml``."""
        return sampled_frames(directory / VASPRUN, self.reference, provenance, self.sample_every, self.temperature)
