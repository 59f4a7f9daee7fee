"""Existing labelled frames as a campaign's initial data (``labelling.initial_data``).

The study started from more than 100,000 frames of AIMD it already had. Each entry (a file, a folder or a
glob, with its format or one guessed from the name) is read through dpdata and stored once: a frame
already in the store is only tagged with the campaign. Frames ``labelled_by: campaign`` get the campaign's
reference, so they train with its labels; ``labelled_by: other`` keep their own (never trained on).
"""

from __future__ import annotations

from jobflow import Job, job

from seiflow.constants import JobCategory
from seiflow.jobconfig import set_category
from seiflow.labelling.base import LabelOutput
from seiflow.schemas.frame import Provenance, Reference

IMPORT_SOURCE = "import"


def import_entries(entries: list[dict], reference: Reference, campaign: str | None) -> LabelOutput:
    """Read and store every file of every entry; the output counts new and already stored frames."""
    from seiflow.dataset.frames import FrameStore
    from seiflow.dataset.importers import expand, format_of, frames_from_file
    from seiflow.schemas.campaign import InitialDataConfig

    store = FrameStore()
    out = LabelOutput(reference=reference)
    for raw in entries:
        entry = InitialDataConfig.model_validate(raw)
        own = entry.labelled_by == "campaign"
        for path in expand(entry.path):
            prov = Provenance(campaign=campaign, round=0, source=IMPORT_SOURCE, origin=str(path))
            frames = frames_from_file(path, format_of(path, entry.fmt), reference if own else None, prov)
            results = store.add_many(frames)
            store.tag_campaign([frame_id for frame_id, inserted in results if not inserted], campaign)
            new = sum(inserted for _, inserted in results)
            out.n_new += new
            out.n_duplicate += len(results) - new
            if own:
                out.frame_ids += [frame_id for frame_id, _ in results]
    return out


@job(output_schema=LabelOutput)
def import_initial_data(entries: list[dict], reference: dict, campaign: str | None = None) -> LabelOutput:
    """Jobflow job: :func:`import_entries` on the worker's FrameStore (paths as that worker sees them)."""
    return import_entries(entries, Reference.model_validate(reference), campaign)


def import_job(entries: list[dict], reference: Reference, campaign: str | None) -> Job:
    """The import job of a campaign's ``labelling.initial_data`` (category ``dft``, as the labelling)."""
    j = import_initial_data(entries, reference.model_dump(mode="json"), campaign)
    j.name = f"{campaign} import initial data" if campaign else "import initial data"
    set_category(j, JobCategory.DFT)
    return j
