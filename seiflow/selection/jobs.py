"""The selection job (category ``light``): classify all explored frames, pick the round's candidates."""

from __future__ import annotations

from jobflow import job
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from seiflow.exploration.jobs import ExplorationOutput
from seiflow.schemas.campaign import SelectionConfig
from seiflow.schemas.round import SelectionResult
from seiflow.selection.selector import selector_from_config

LIGHT_CATEGORY = "light"


class SelectionOutput(BaseModel):
    """The round's selection document and the selected structures (labelling takes ``structures``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    result: SelectionResult
    structures: list[Structure] = Field(default_factory=list)


def select_from_outputs(
    outputs: list[ExplorationOutput | dict], config: SelectionConfig, type_map: list[str],
    model_path: str | None = None,
) -> SelectionOutput:
    """Select among exploration outputs (documents or their serialised dicts)."""
    if not isinstance(config, SelectionConfig):
        config = SelectionConfig.model_validate(config)
    parsed = [o if isinstance(o, ExplorationOutput) else ExplorationOutput.model_validate(o) for o in outputs]
    structures = [s if isinstance(s, Structure) else Structure.from_dict(s) for o in parsed for s in o.structures]
    selector = selector_from_config(config, type_map, model_path)
    result, picked = selector.select([o.result for o in parsed], structures)
    return SelectionOutput(result=result, structures=picked)


@job(output_schema=SelectionOutput, data="structures")
def select(
    outputs: list, config: SelectionConfig, type_map: list[str], model_path: str | None = None
) -> SelectionOutput:
    """Select the round's candidates from all exploration outputs (failed tasks included in the counts)."""
    return select_from_outputs(outputs, config, type_map, model_path)


def selection_job(*args, **kwargs):
    """``select`` with its FireWorks category set."""
    j = select(*args, **kwargs)
    j.update_config({"manager_config": {"_category": LIGHT_CATEGORY}})
    return j
