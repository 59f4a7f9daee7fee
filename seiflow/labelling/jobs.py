"""Jobflow jobs around the dataset that labelling flows chain: the training-set export.

The labelling jobs themselves live with their makers (``local.label_local``, ``md.reference_md``).
"""

from __future__ import annotations

from pathlib import Path

from jobflow import job
from pydantic import BaseModel, Field

from seiflow.labelling.local import label_local
from seiflow.labelling.md import reference_md

__all__ = ["TrainingSet", "export_training_set", "label_local", "reference_md"]


class TrainingSet(BaseModel):
    """deepmd/npy systems written for ``dp train``."""

    systems: list[str] = Field(..., description="System folders, one per composition.")
    n_frames: int = Field(..., description="Labelled frames exported.")
    type_map: list[str] = Field(..., description="Element order shared by all systems.")


@job(output_schema=TrainingSet)
def export_training_set(
    out_dir: str, type_map: list[str], campaign: str | None = None, max_round: int | None = None
) -> TrainingSet:
    """Export the campaign's labelled frames up to ``max_round`` (flagged/failed ones excluded)."""
    from seiflow.dataset.frames import FrameStore

    store = FrameStore()
    paths = store.export_deepmd(Path(out_dir), type_map=type_map, campaign=campaign, max_round=max_round)
    n = store.count(campaign=campaign, max_round=max_round)
    return TrainingSet(systems=[str(p) for p in paths], n_frames=n, type_map=type_map)
