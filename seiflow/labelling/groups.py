"""Candidate labelling that fans out: one labelling job per group of ``group_size`` structures.

A round's selection is only known at run time, so :func:`label_in_groups` (category ``light``) receives the
selected structures, splits them into groups (DP-GEN's ``group_size``) and replaces itself with one
labelling job per group plus a job that merges their outputs. With VASP at an hour or more a frame,
``qlaunch`` then runs the groups side by side on as many nodes as the queue gives. The merge runs
when every group has finished or failed (a group whose job crashed counts its structures as failed),
so the round always closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobflow import Flow, Job, Maker, OnMissing, Response, job
from jobflow.core.job import store_inputs
from pymatgen.core import Structure

from seiflow.constants import JobCategory
from seiflow.jobconfig import keep_own_config
from seiflow.labelling.base import LabelMaker, LabelOutput, provenances_for
from seiflow.schemas.frame import Reference


def merge_outputs(outputs: list[LabelOutput | dict | None], reference: Reference, n_expected: list[int]) -> LabelOutput:
    """One :class:`LabelOutput` from the groups' outputs; a missing output (crashed job) counts as failed."""
    merged = LabelOutput(reference=reference)
    for out, n in zip(outputs, n_expected, strict=True):
        if out is None:
            merged.n_failed += n
            continue
        out = LabelOutput.model_validate(out)
        merged.frame_ids += out.frame_ids
        merged.flagged_ids += out.flagged_ids
        merged.failures += out.failures
        for key in ("n_new", "n_duplicate", "n_failed", "n_flagged", "n_corrected"):
            setattr(merged, key, getattr(merged, key) + getattr(out, key))
    return merged


@job(output_schema=LabelOutput)
def merge_labels(outputs: list, reference: dict, n_expected: list[int]) -> LabelOutput:
    """Merge the groups' label outputs (runs even when a group's job failed)."""
    return merge_outputs(outputs, Reference.model_validate(reference), n_expected)


@job
def label_in_groups(maker: LabelMaker, structures: list, provenance: dict | None, group_size: int) -> Response:
    """Replace this job by one ``maker`` job per group of structures and a merge of their outputs."""
    structures = [s if isinstance(s, Structure) else Structure.from_dict(s) for s in structures]
    reference = maker.reference
    if not structures:
        return Response(output=LabelOutput(reference=reference))
    provs = [p.model_dump(mode="json") for p in provenances_for(structures, provenance)]
    starts = range(0, len(structures), group_size)
    jobs: list[Job] = []
    for k, i in enumerate(starts):
        labeller = maker.make(structures[i : i + group_size], provs[i : i + group_size])
        labeller.name = f"{maker.name} group {k + 1}/{len(starts)}"
        jobs.append(labeller)
    sizes = [len(structures[i : i + group_size]) for i in starts]
    merge = merge_labels([j.output for j in jobs], reference.model_dump(mode="json"), sizes)
    merge.name = f"merge {len(jobs)} groups"
    merge.update_config({"on_missing_references": OnMissing.NONE}, dynamic=False)
    keep_own_config(merge, JobCategory.LIGHT)
    return Response(replace=Flow([*jobs, merge], output=merge.output, name=f"{maker.name} groups"))


@dataclass
class GroupedLabelMaker(Maker):
    """Label a round's candidates in groups of ``group_size``, one firework per group.

    Parameters
    ----------
    name
        Name of the planning job.
    labelling
        The reference's labelling maker (VASP, CP2K, a local calculator).
    group_size
        Structures per labelling job (DP-GEN's ``group_size``); 1: one job per candidate.
    """

    name: str = "label"
    labelling: LabelMaker | None = None
    group_size: int = 1

    @property
    def reference(self) -> Reference:
        """The reference that labels the frames."""
        return self.labelling.reference

    def make(self, structures: Any, provenance: dict | None = None) -> Job:
        """The planning job (category ``light``); its output is the merged :class:`LabelOutput`."""
        planner = label_in_groups(self.labelling, structures, provenance, self.group_size)
        planner.name = self.name
        keep_own_config(planner, JobCategory.LIGHT)
        # jobflow adds a job that stores the replacement's output under this job's id: it is light
        # work, and it and every group job must carry the campaign (workers and status select by it)
        planner.update_config({"_set": {"manager_config->_category": JobCategory.LIGHT.value}},
                              function_filter=store_inputs, dict_mod=True, dynamic=True)
        campaign = (provenance or {}).get("campaign")
        if campaign:
            planner.update_config({"_set": {"manager_config->campaign": campaign}}, dict_mod=True, dynamic=True)
        return planner
