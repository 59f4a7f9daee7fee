"""The selection job (category ``light``): classify all explored frames, pick the round's candidates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Job, Maker, job
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from seiflow.constants import JobCategory
from seiflow.jobconfig import set_category
from seiflow.schemas.campaign import SelectionConfig
from seiflow.schemas.exploration import ExplorationOutput
from seiflow.schemas.frame import Reference
from seiflow.schemas.round import SelectionResult
from seiflow.selection.selector import selector_from_config


class SelectionOutput(BaseModel):
    """The round's selection document and the selected structures (labelling takes ``structures``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    result: SelectionResult = Field(..., description="Counts, ratios, levels and the picked frames.")
    structures: list[Structure] = Field(default_factory=list, description="The picked structures.")


def labelled_by(reference: Reference | dict) -> Callable[[Structure], bool]:
    """Whether a structure is already stored labelled by ``reference`` (failed records do not count)."""
    from seiflow.dataset.frames import FrameStore
    from seiflow.labelling.base import frame_id_of

    ref = reference if isinstance(reference, Reference) else Reference.model_validate(reference)
    store = FrameStore()
    return lambda structure: store.has(frame_id_of(structure, ref))


def select_from_outputs(
    outputs: list[ExplorationOutput | dict], config: SelectionConfig, type_map: list[str],
    model_path: str | None = None, reference: Reference | dict | None = None,
) -> SelectionOutput:
    """Select among exploration outputs (documents or their serialised dicts).

    With ``reference``, frames already labelled by it (an unchanged seed's first frame, met every round)
    are neither candidates nor sanity labels: labelling would only find them stored.
    """
    if not isinstance(config, SelectionConfig):
        config = SelectionConfig.model_validate(config)
    parsed = [o if isinstance(o, ExplorationOutput) else ExplorationOutput.model_validate(o) for o in outputs]
    structures = [s if isinstance(s, Structure) else Structure.from_dict(s) for o in parsed for s in o.structures]
    selector = selector_from_config(config, type_map, model_path)
    if reference is not None:
        selector.labelled = labelled_by(reference)
    result, picked = selector.select([o.result for o in parsed], structures)
    return SelectionOutput(result=result, structures=picked)


def _model_file(model: str | None) -> str | None:
    """A local model file for the descriptor: the path itself, or the frozen model of a stored id."""
    if model is None or Path(model).is_file():
        return model
    from seiflow.models.store import ModelStore

    return str(ModelStore().fetch(model, Path.cwd() / "models", kind="frozen"))


@job(output_schema=SelectionOutput, data="structures")
def select(
    outputs: list, config: SelectionConfig, type_map: list[str], model_path: str | None = None,
    reference: dict | None = None,
) -> SelectionOutput:
    """Select the round's candidates from all exploration outputs (failed tasks included in the counts).

    ``model_path`` is a model file or a stored model id, for the ``deepmd`` descriptor; ``reference``
    (the labelling reference) skips frames it has already labelled.
    """
    return select_from_outputs(outputs, config, type_map, _model_file(model_path), reference)


def selection_job(*args, **kwargs) -> Job:
    """``select`` with its FireWorks category set."""
    j = select(*args, **kwargs)
    set_category(j, JobCategory.LIGHT)
    return j


@dataclass
class SelectionMaker(Maker):
    """The round's selection job over every exploration output.

    Parameters
    ----------
    name
        Job name.
    config
        The campaign's ``selection`` section.
    type_map
        The campaign's element order.
    reference
        The labelling reference: frames it has already labelled are not picked again. None: no check.
    """

    name: str = "select"
    config: SelectionConfig = field(default_factory=SelectionConfig)
    type_map: list[str] = field(default_factory=list)
    reference: Reference | None = None

    def make(self, outputs: list, model: str | None = None) -> Job:
        """The selection job; ``model`` (a model id or file) feeds the ``deepmd`` descriptor."""
        reference = self.reference.model_dump(mode="json") if self.reference is not None else None
        j = selection_job(outputs, self.config, list(self.type_map), model_path=model, reference=reference)
        j.name = self.name
        return j
