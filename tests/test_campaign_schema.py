"""The campaign schema: defaults, errors naming fields and allowed values, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from seiflow.errors import InputError
from seiflow.schemas.campaign import Campaign, campaign_from_dict, load_campaign

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")))
def test_shipped_campaigns_validate(path):
    campaign = load_campaign(path)
    assert isinstance(campaign, Campaign)
    for phase in (campaign.anode(), campaign.electrolyte()):  # the type map covers both sides' elements
        elements = {el.symbol for el in campaign.structures.phase(phase).composition.elements}
        assert set(campaign.system.type_map) >= elements, (phase, elements)


def test_minimal_campaign_gets_defaults():
    c = campaign_from_dict({"name": "m", "system": {"type_map": ["Li", "In", "Cl"]}})
    assert c.training.numb_models == 4 and c.training.backend == "tensorflow"
    assert c.convergence.criteria["accurate_ratio"].threshold == 0.99
    assert c.structures.interface.substrate_miller == (1, 1, 0)


def test_the_test_set_repeats_the_validation_md_four_times_longer_unless_told():
    c = campaign_from_dict({"name": "m", "system": {"type_map": ["Li", "In", "Cl"]},
                            "validation": {"steps": 100, "sample_every": 5, "temperatures": [300, 600]}})
    s = c.test_set.settings(c.validation)
    assert (s.steps, s.sample_every, s.temperatures, s.seed) == (400, 20, [300, 600], 2000)
    assert s.steps // s.sample_every == c.validation.steps // c.validation.sample_every  # as many frames
    own = campaign_from_dict({"name": "m", "system": {"type_map": ["Li", "In", "Cl"]},
                              "test_set": {"steps": 50, "structures": ["interface"], "temperatures": [500]}})
    s = own.test_set.settings(own.validation)
    assert (s.steps, s.structures, s.temperatures, s.sample_every) == (50, ["interface"], [500], 16)
    assert campaign_from_dict({"name": "m", "system": {"type_map": ["Li", "In", "Cl"]},
                               "validation": {"enabled": False}, "test_set": {"seed": 1000}}).test_set.enabled


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "m"}, "system: Field required"),
        ({"name": "m", "system": {"type_map": ["Li"]}, "extra": 1}, "extra: unknown key"),
        ({"name": "m", "system": {"type_map": ["Li"], "typemap": []}}, "system.typemap: unknown key"),
        ({"name": "m", "system": {"type_map": ["Qq"]}}, "unknown element 'Qq'"),
        ({"name": "m", "system": {"type_map": ["Li", "Li"]}}, "lists an element twice"),
        ({"name": "../x", "system": {"type_map": ["Li"]}}, "name: use 1-64 letters"),
        (
            {"name": "m", "system": {"type_map": ["Li"]}, "labelling": {"reference": "dft"}},
            "labelling.reference: Input should be 'chgnet', 'sevennet', 'cp2k' or 'vasp' (got 'dft')",
        ),
        (
            {"name": "m", "system": {"type_map": ["Li"]}, "training": {"numb_models": "four"}},
            "training.numb_models: Input should be a valid integer",
        ),
        ({"name": "m", "system": {"type_map": ["Li"]}, "exploration": {"nsteps": 0}}, "exploration.nsteps"),
        (
            {"name": "m", "system": {"type_map": ["Li"]}, "selection": {"v_trust_lo": 0.2, "v_trust_hi": 0.1}},
            "selection: v_trust_hi must be greater than v_trust_lo",
        ),
        (
            {"name": "m", "system": {"type_map": ["Li"]}, "selection": {"e_trust_hi": 0.1}},
            "selection: e_trust_hi is set without e_trust_lo",
        ),
        (
            {"name": "m", "system": {"type_map": ["Li"]}, "convergence": {"criteria": {"speed": {}}}},
            "convergence.criteria: Input should be 'accurate_ratio'",
        ),
        (
            {"name": "m", "system": {"type_map": ["Li"]},
             "labelling": {"reference": {"code": "cp2k", "overrides": {"cutof": 100}}}},
            "labelling.reference.cp2k: overrides ['cutof'] are not preset fields",
        ),
        (
            {"name": "m", "system": {"type_map": ["Li", "In", "Cl"]}, "test_set": {"seed": 1000}},
            "campaign: test_set.seed 1000 equals validation.seed: the test set would repeat the validation MD",
        ),
        ({"name": "m", "system": {"type_map": ["Li"]}, "test_set": {"steps": 0}}, "test_set.steps"),
    ],
)
def test_errors_name_the_field(data, expected):
    with pytest.raises(InputError) as exc:
        campaign_from_dict(data, "c.yaml")
    assert expected in exc.value.message
    assert exc.value.exit_code == 2


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(InputError, match="mapping"):
        campaign_from_dict(["a"], "c.yaml")
    bad = tmp_path / "c.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_campaign(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_campaign(tmp_path / "missing.yaml")


def test_workflows_readme_is_generated_from_the_schema():
    from seiflow.schemas.docs import campaign_reference

    readme = (WORKFLOWS / "README.md").read_text()
    assert readme == campaign_reference(), "run: python -m seiflow.schemas.docs > workflows/README.md"


@pytest.mark.parametrize(
    ("structures", "expected"),
    [
        ({"bulks": ["LiCl"], "interface": None}, None),
        ({"bulks": ["Li3InCl6"], "interface": None}, "lacks In needed by structures.bulks: Li3InCl6"),
        ({"bulks": ["LiCl"]}, "lacks In needed by structures.interface.film: Li3InCl6"),
        ({"bulks": ["NaCl"], "interface": None}, "structures.bulks: NaCl is not a known phase"),
    ],
)
def test_type_map_must_cover_the_phases(structures, expected):
    data = {"name": "m", "system": {"type_map": ["Li", "Cl"]}, "structures": structures}
    if expected is None:
        assert campaign_from_dict(data).structures.bulks == ["LiCl"]
        return
    with pytest.raises(InputError) as exc:
        campaign_from_dict(data)
    assert expected in exc.value.message
