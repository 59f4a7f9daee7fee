"""The distilled student beside its teacher on the fixed validation set (``training.distill``).

The student (see :mod:`seiflow.training.distill`) is validated in the form production MD would run it
(compressed when its table covered the frames, else frozen); the teacher's errors are the ones its own
validation recorded. Both go into a :class:`~seiflow.schemas.validation.DistillationResult`, the job's output;
the student's errors also into its model document, which is marked with its teacher.
"""

from __future__ import annotations

from pathlib import Path

from jobflow import Job, job

from seiflow.analysis.validation_protocol import validate_model, validation_frames
from seiflow.constants import JobCategory
from seiflow.dataset.frames import FrameStore
from seiflow.jobconfig import set_category
from seiflow.models.store import ModelStore
from seiflow.records.validations import ValidationSetStore
from seiflow.schemas.validation import DistillationResult


@job(output_schema=DistillationResult)
def compare_student(campaign: str, teacher_id: str, student_id: str, data: object = None,
                    after: object = None) -> DistillationResult:
    """Validate the student on the fixed set and record it beside the teacher.

    ``after``: the teacher's validation, which this job waits for.
    """
    store = ModelStore()
    store.set_teacher(student_id, teacher_id)
    student = store.get(student_id)
    kind = "compressed" if "compressed" in student.files else "frozen"
    query = (data.query if hasattr(data, "query") else (data or {}).get("query")) or {}
    result = DistillationResult(teacher_id=teacher_id, student_id=student_id, student_file=kind,
                                n_teacher_frames=FrameStore().count(**query) if query else 0)
    teacher = store.get(teacher_id)
    result.teacher = teacher.validation.overall if teacher.validation else None
    vset = ValidationSetStore().get(campaign)
    frames = validation_frames(campaign, vset.reference) if vset is not None else {}
    if frames:
        validation = validate_model(student_id, store.fetch(student_id, Path.cwd() / "models", kind=kind), frames)
        store.set_validation(student_id, validation)
        result.student = validation.overall
    return result


def compare_student_job(campaign: str, teacher_id: str, student_id: str, data: object = None,
                        after: object = None) -> Job:
    """The comparison job (category ``lammps``), after the student's training and the teacher's validation."""
    j = compare_student(campaign, teacher_id, student_id, data, after)
    j.name = f"{campaign} distilled student"
    set_category(j, JobCategory.LAMMPS)
    return j
