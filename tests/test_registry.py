"""Registries: a new part is one registered class; the campaign schema, its docs and the makers pick it up."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel

from seiflow.convergence.base import Criterion
from seiflow.convergence.criteria import criteria_from_config
from seiflow.errors import InputError
from seiflow.registry import CRITERIA, DESCRIPTORS, FILTERS, REFERENCES, Registry
from seiflow.schemas.campaign import campaign_from_dict
from seiflow.schemas.docs import campaign_reference
from seiflow.schemas.round import CriterionResult

MINIMAL = {"name": "m", "system": {"type_map": ["Li", "Cl"]},
           "structures": {"bulks": ["LiCl"], "interface": None, "relax": False}}


def test_registry_maps_names_to_classes_with_their_settings():
    reg = Registry("shape", key="name")

    @reg.register("disc")
    class Disc(BaseModel):
        radius: float = 1.0

    assert reg.names() == ["disc"] and reg.get("disc") is Disc
    assert reg.validate("disc").radius == 1.0 and reg.validate({"name": "disc", "radius": 2}).radius == 2.0
    with pytest.raises(InputError, match="'cube' is not a known shape") as exc:
        reg.get("cube")
    assert "use one of disc" in exc.value.one_line()
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("disc")(type("Other", (BaseModel,), {"__annotations__": {}}))


def test_every_shipped_choice_is_registered():
    assert REFERENCES.names() == ["chgnet", "sevennet", "cp2k", "vasp"]
    assert set(FILTERS.names()) == {"min_distance", "box_skew", "box_length"}
    assert set(DESCRIPTORS.names()) == {"deepmd", "distance_histogram"}
    assert {"accurate_ratio", "force_rmse_mev_a", "rdf_agreement"} <= set(CRITERIA.names())


@pytest.fixture
def new_criterion(monkeypatch):
    """A criterion added the way a user adds one: a class and its registration, nothing else.

    It stays registered for this test only: the registry's maps are copies, put back after it.
    """
    CRITERIA.load()  # the shipped criteria register into the maps that are kept
    for attr in ("_classes", "_settings"):
        monkeypatch.setattr(CRITERIA, attr, dict(getattr(CRITERIA, attr)))
    monkeypatch.setattr(CRITERIA, "_adapter", None)

    @CRITERIA.register("frames_at_least")
    @dataclass
    class FramesAtLeast(Criterion):
        """At least ``n`` explored frames in the last round."""

        n: int = field(default=10, metadata={"description": "Frames needed."})
        name: str = "frames_at_least"

        def check(self, history):
            n = history[-1].selection.n_frames
            return CriterionResult(name=self.name, satisfied=n >= self.n, detail=f"{n} frames")

    return FramesAtLeast


def test_a_new_criterion_is_one_class(new_criterion):
    c = campaign_from_dict({**MINIMAL, "convergence": {"criteria": {"frames_at_least": {"n": 3}}}})
    (crit,) = criteria_from_config(c.convergence)
    assert isinstance(crit, new_criterion) and crit.n == 3
    assert "`convergence.criteria.frames_at_least.n`" in campaign_reference()
    with pytest.raises(InputError, match="convergence.criteria.frames_at_least.n"):
        campaign_from_dict({**MINIMAL, "convergence": {"criteria": {"frames_at_least": {"n": "x"}}}})
    # the dump is a plain mapping, and it validates back to the same campaign
    dumped = c.model_dump(mode="json")
    assert dumped["convergence"]["criteria"] == {"frames_at_least": {"n": 3}}
    assert campaign_from_dict(dumped) == c


def test_reference_choices_build_their_makers():
    from seiflow.labelling.base import label_maker_for

    for ref, maker in (("chgnet", "LocalLabelMaker"), ("vasp", "VaspLabelMaker"), ("cp2k", "Cp2kLabelMaker")):
        c = campaign_from_dict({**MINIMAL, "labelling": {"reference": ref, "max_force": 20.0}})
        made = label_maker_for(c.labelling)
        assert type(made).__name__ == maker and made.max_force == 20.0
    cp2k = campaign_from_dict({**MINIMAL, "labelling": {"reference": {
        "code": "cp2k", "overrides": {"cutoff": 250}, "cp2k_cmd": "mpirun -np 2 cp2k.psmp"}}})
    made = label_maker_for(cp2k.labelling)
    assert made.preset.cutoff == 250 and made.cp2k_cmd == "mpirun -np 2 cp2k.psmp"
    assert made.reference.settings["cutoff"] == 250
    vasp = campaign_from_dict({**MINIMAL, "labelling": {"reference": {"code": "vasp", "vasp_cmd": "srun vasp_std"}}})
    assert label_maker_for(vasp.labelling).vasp_cmd == "srun vasp_std"


def test_who_relaxes_the_bulks():
    from seiflow.structures.jobs import relax_calculator_for

    relaxing = {**MINIMAL, "structures": {**MINIMAL["structures"], "relax": True}}
    assert relax_calculator_for(campaign_from_dict({**relaxing, "labelling": {"reference": "chgnet"}})) == "chgnet"
    assert relax_calculator_for(campaign_from_dict({**relaxing, "labelling": {"reference": "vasp"}})) == "vasp"
    named = {**relaxing, "structures": {**relaxing["structures"], "relax_with": "chgnet"},
             "labelling": {"reference": "cp2k"}}
    assert relax_calculator_for(campaign_from_dict(named)) == "chgnet"
    with pytest.raises(InputError, match="cp2k does not relax cells"):
        campaign_from_dict({**relaxing, "labelling": {"reference": "cp2k"}})
    with pytest.raises(InputError, match="relax_with 'emt' is not"):
        campaign_from_dict({**relaxing, "structures": {**relaxing["structures"], "relax_with": "emt"}})
