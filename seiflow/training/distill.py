"""Distillation (DP-GEN2's ``dp-dist``): a compressed se_e2_a student of the production model.

The converged campaign's production model, the teacher (often an attention model DeePMD cannot compress),
runs NVT MD (ASE, DeePMD's calculator) from the campaign's exploration seeds at ``distill.temperatures``;
every ``sample_every`` steps its energy, forces and virial label the frame. The frames are stored with
source ``distillation`` and a ``deepmd`` reference naming the teacher, so no query for the reference's labels
(the ensemble's training, the production model's) ever reads them. The student trains on them from scratch
with se_e2_a and the campaign's network, is compressed with a table checked against them and the
validation frames, and is validated on the fixed validation set beside the teacher
(:mod:`seiflow.analysis.distillation`).
"""

from __future__ import annotations

from pathlib import Path

from jobflow import Job, job

from seiflow.constants import JobCategory
from seiflow.dataset.frames import FrameStore
from seiflow.jobconfig import set_category
from seiflow.labelling.local_md import run_nvt
from seiflow.models.store import ModelStore
from seiflow.schemas.campaign import Campaign, DistillConfig, TrainingConfig
from seiflow.schemas.frame import Provenance, Reference
from seiflow.training.data import TrainingDataSpec

TEACHER_SOURCE = "distillation"


def teacher_reference(teacher_id: str) -> Reference:
    """The reference of the frames a teacher labels: DeePMD, naming the model."""
    return Reference(calculator="deepmd", settings={"model_id": teacher_id})


def student_config(c: Campaign) -> TrainingConfig:
    """The student's training: se_e2_a with the campaign's network, from scratch, the distill settings."""
    cfg = c.training.distill or DistillConfig()
    data = c.training.model_dump(mode="json", exclude={"finetune", "distill", "descriptor", "sel"})
    return TrainingConfig.model_validate({
        **data, "descriptor": "se_e2_a", "sel": "auto", "numb_steps": cfg.numb_steps,
        "numb_steps_next": cfg.numb_steps, "decay_steps": max(1, cfg.numb_steps // 200),
        "next_round_init": "scratch", "compress": cfg.compress, "seed": cfg.seed,
    })


@job(output_schema=TrainingDataSpec)
def teacher_frames(campaign: str, teacher_id: str, seeds: dict, temperatures: list[float],
                   config: dict) -> TrainingDataSpec:
    """Run the teacher's MD from every seed at every temperature, store the frames it labels; their query."""
    from deepmd.calculator import DP
    from pymatgen.core import Structure

    cfg = DistillConfig.model_validate(config)
    model = ModelStore().fetch(teacher_id, Path.cwd() / "teacher", kind="frozen")
    reference = teacher_reference(teacher_id)
    labeller = (DP(model=str(model)), reference)  # the model's own type map names the atoms
    frames = []
    for k, (name, structure) in enumerate(sorted(seeds.items())):
        structure = structure if isinstance(structure, Structure) else Structure.from_dict(structure)
        for j, temperature in enumerate(temperatures):
            frames += run_nvt(structure, temperature, cfg.steps, timestep_fs=cfg.timestep_fs,
                              sample_every=cfg.sample_every, seed=cfg.seed + 100 * k + j, labeller=labeller,
                              provenance=Provenance(campaign=campaign, source=TEACHER_SOURCE, origin=name))
    FrameStore().add_many(frames)
    return TrainingDataSpec(query={"campaign": campaign, "source": TEACHER_SOURCE,
                                   "reference": reference.model_dump(mode="json")})


def teacher_frames_job(c: Campaign, teacher_id: str, seeds: dict) -> Job:
    """The job labelling the student's frames with the teacher (category ``lammps``: MD on CPU)."""
    cfg = c.training.distill or DistillConfig()
    temperatures = cfg.temperatures or list(c.exploration.temperatures)
    j = teacher_frames(c.name, teacher_id, seeds, temperatures, cfg.model_dump(mode="json"))
    j.name = f"{c.name} teacher frames"
    set_category(j, JobCategory.LAMMPS)
    return j
