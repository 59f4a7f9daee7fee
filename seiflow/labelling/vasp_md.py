"""The study's VASP NVT AIMD as reference MD: every ``sample_every``-th ionic step becomes a labelled frame.

Inputs come from atomate2's ``MDSetGenerator`` (``MDMaker``'s input set: Nose-Hoover NVT, ``MDALGO = 2``,
Gamma point) with the preset's INCAR; custodian runs VASP with seiflow's VASP handlers, as for statics.
The frames are read from ``vasprun.xml`` through dpdata (every ionic step has forces and stress there;
an ``NWRITE = 0`` OUTCAR has only the first and last) and stored with the static labeller's Reference,
so AIMD frames and later statics train together. The whole ``vasprun.xml`` goes, gzipped, to the
GridFS bucket ``trajectories`` (its id is in each frame's ``provenance.trajectory``); documents stay small.
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobflow import Job, Maker, job

from seiflow.jobconfig import set_category
from seiflow.labelling.base import (
    LabelOutput,
    MDJobFields,
    store_results,
)
from seiflow.labelling.handlers import (
    VASP_HANDLERS,
    VASP_VALIDATORS,
    RunOutcome,
    run_with_custodian,
)
from seiflow.labelling.presets import STUDY_AIMD, STUDY_VASP, AimdPreset, VaspPreset
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from custodian.custodian import ErrorHandler
    from pymatgen.core import Structure

RUN_DIR = "vasp_md"


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
        frame.provenance = provenance.model_copy(update={"frame_index": step, "temperature": temperature})
        out.append(frame)
    return out


@job(output_schema=LabelOutput)
def vasp_md(maker: VaspMDMaker, structure: Structure, provenance: dict) -> LabelOutput:
    """Run the AIMD under custodian, store the sampled steps and the trajectory; failures are recorded."""
    from seiflow.dataset.frames import FrameStore
    from seiflow.dataset.trajectories import TrajectoryStore

    prov = Provenance.model_validate(provenance)
    store = FrameStore()
    directory = Path.cwd() / RUN_DIR
    outcome = maker.run(structure, directory)
    if not outcome.ok:
        return store_results(store, maker.reference, [], [(structure, prov, outcome.reason or "VASP failed")])
    trajectory = TrajectoryStore(store.db).put(
        directory / "vasprun.xml", campaign=prov.campaign, source=prov.source, origin=prov.origin,
        temperature=maker.temperature, code="vasp",
    )
    prov = prov.model_copy(update={"trajectory": trajectory})
    frames = sampled_frames(directory / "vasprun.xml", maker.reference, prov, maker.sample_every, maker.temperature)
    return store_results(store, maker.reference, frames, max_force=maker.max_force,
                         energy_window=maker.energy_window)


@dataclass
class VaspMDMaker(MDJobFields, Maker):
    """NVT AIMD of one structure at one temperature with VASP; stores sampled frames.

    Parameters
    ----------
    name
        Job name.
    preset
        The static preset whose INCAR and Reference the MD shares.
    aimd
        Ensemble and time step defaults (the study's: Nose-Hoover, 1 fs).
    temperature, steps, timestep_fs, sample_every
        Thermostat temperature (K), ionic steps (NSW), time step (fs, POTIM) and sampling.
    vasp_cmd
        The VASP command; tests give the emulator.
    handlers, max_errors, polling_time_step
        custodian's VASP handlers (copied per run), corrections before giving up, polling interval.
    potcar_spec
        Write ``POTCAR.spec`` instead of ``POTCAR`` (tests, dry runs).
    max_force, energy_window, category
        Flagging thresholds, and the FireWorks category.
    source
        Provenance source of the frames: ``reference_md`` (training data) or ``validation``.
    """

    name: str = "vasp md"
    preset: VaspPreset = STUDY_VASP
    aimd: AimdPreset = STUDY_AIMD
    temperature: float = 300.0
    steps: int = 1000
    timestep_fs: float = 1.0
    sample_every: int = 1
    vasp_cmd: str | None = None  # None: the running worker's ATOMATE2_VASP_CMD
    handlers: tuple[ErrorHandler, ...] = VASP_HANDLERS
    max_errors: int = 5
    polling_time_step: float = 10.0
    potcar_spec: bool = False

    @property
    def reference(self) -> Reference:
        """The static VASP labeller's reference for the same preset."""
        return Reference(calculator="vasp", settings=self.preset.reference_settings())

    def input_preset(self) -> AimdPreset:
        """The AIMD preset with this run's length, time step and the static preset's INCAR."""
        return self.aimd.model_copy(update={
            "nsteps": self.steps, "time_step": self.timestep_fs, "incar": dict(self.preset.incar),
        })

    def run(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write atomate2's MD inputs for ``structure`` in ``directory`` and run VASP under custodian."""
        from atomate2.vasp.files import write_vasp_input_set
        from custodian.vasp.jobs import VaspJob

        from seiflow.labelling.vasp import worker_vasp_cmd

        directory.mkdir(parents=True, exist_ok=True)
        generator = self.input_preset().md_generator(self.temperature)
        write_vasp_input_set(structure, generator, directory, potcar_spec=self.potcar_spec)
        vasp_job = VaspJob(shlex.split(worker_vasp_cmd(self.vasp_cmd)), auto_npar=False)
        return run_with_custodian(
            [vasp_job], copy.deepcopy(list(self.handlers)), VASP_VALIDATORS, directory,
            max_errors=self.max_errors, polling_time_step=self.polling_time_step, monitor_freq=1,
        )

    def make(
        self, structure: Structure, origin: str | None = None, campaign: str | None = None, round: int = 0
    ) -> Job:
        """A job running the AIMD from ``structure`` (``origin`` names it); output :class:`LabelOutput`."""
        provenance = Provenance(campaign=campaign, round=round, source=self.source, origin=origin)
        md_job = vasp_md(self, structure, provenance.model_dump(mode="json"))
        md_job.name = f"{self.name} {origin or ''} {self.temperature:g}K".replace("  ", " ")
        set_category(md_job, self.category)
        return md_job
