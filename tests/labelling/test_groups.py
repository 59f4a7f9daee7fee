"""Merging the groups' label outputs: every count adds up, a crashed group counts as failed."""

from __future__ import annotations

from seiflow.labelling.base import LabelOutput
from seiflow.labelling.groups import merge_outputs
from seiflow.schemas.frame import Reference

REF = Reference(calculator="vasp")


def test_counts_add_up_and_a_missing_output_is_failed():
    first = LabelOutput(reference=REF, frame_ids=["a", "b"], n_new=2, n_corrected=1)
    second = LabelOutput(reference=REF, frame_ids=["c"], n_new=1, n_corrected=1, n_duplicate=1)
    merged = merge_outputs([first, None, second.model_dump(mode="json")], REF, [2, 3, 2])
    assert merged.frame_ids == ["a", "b", "c"]
    assert (merged.n_new, merged.n_corrected, merged.n_duplicate, merged.n_failed) == (3, 2, 1, 3)
