"""The Arrhenius fit of the properties stage: central values from the production model, error bars from the
committee, the size check, and what the campaign file refuses."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from seiflow.analysis.dynamics import KB_EV
from seiflow.errors import InputError
from seiflow.properties.arrhenius import fit_stage
from seiflow.properties.cells import bulk_repeat, diffusion_systems, system_cell
from seiflow.schemas.campaign import campaign_from_dict
from seiflow.schemas.properties import DiffusionRun, RegionDiffusivity
from tests.production.helpers import TINY

T = [600.0, 800.0, 1000.0]


def _runs(model: str, role: str, ea: float, atoms: int = 100, check: bool = False, d0: float = 50.0):
    return [DiffusionRun(campaign="c", stage_id="s", system="LiX", n_atoms=atoms, size_check=check, temperature=t,
                         model_id=model, role=role, length_ps=10.0, n_frames=100,
                         regions={"bulk": RegionDiffusivity(d_a2_ps=d0 * np.exp(-ea / (KB_EV * t)), d_err_a2_ps=0.0,
                                                            n_atoms=20)}) for t in T]


def test_central_values_come_from_the_production_model_and_error_bars_from_the_committee():
    runs = (_runs("prod", "production", 0.30) + _runs("m1", "member", 0.28) + _runs("m2", "member", 0.30)
            + _runs("m3", "member", 0.32) + _runs("prod", "production", 0.30, atoms=200, check=True, d0=55.0))
    (fit,) = fit_stage("c", "s", "Li", T, "prod", runs)
    assert fit.system == "LiX" and fit.region == "bulk" and fit.species == "Li"
    assert fit.activation_energy_ev == pytest.approx(0.30, abs=1e-6)
    assert fit.members_activation_energy_ev == pytest.approx([0.28, 0.30, 0.32], abs=1e-6)
    assert fit.activation_energy_err_ev == pytest.approx(0.02, abs=1e-6), "std of the members' Ea"
    assert fit.activation_energy_fit_err_ev == pytest.approx(0.0, abs=1e-5), "an exact Arrhenius law"
    for k, t in enumerate(T):
        members = [50.0 * np.exp(-ea / (KB_EV * t)) for ea in (0.28, 0.30, 0.32)]
        assert fit.d_committee_std_a2_ps[k] == pytest.approx(np.std(members, ddof=1), rel=1e-4)
    assert fit.size_check.atoms == (100, 200)
    assert fit.size_check.ratio == {"600": 1.1, "800": 1.1, "1000": 1.1}


def test_without_a_committee_the_fit_gives_the_error_and_no_positive_d_gives_a_note():
    rng = np.random.default_rng(0)
    runs = _runs("prod", "production", 0.25)
    for r in runs:  # noise: the fit's own error is no longer zero
        r.regions["bulk"].d_a2_ps *= float(np.exp(rng.normal(0, 0.1)))
    (fit,) = fit_stage("c", "s", "Li", T, "prod", runs)
    assert fit.members_activation_energy_ev == [] and fit.d_members_a2_ps == []
    assert fit.activation_energy_err_ev == fit.activation_energy_fit_err_ev > 0
    frozen = _runs("prod", "production", 0.25)
    for r in frozen[1:]:
        r.regions["bulk"].d_a2_ps = -0.001  # no diffusion: the MSD does not grow
    (none,) = fit_stage("c", "s", "Li", T, "prod", frozen)
    assert none.activation_energy_ev is None and "fewer than two temperatures" in none.note


def _campaign(chemistry: dict | None = None, **properties):
    data = yaml.safe_load(TINY.read_text())
    data["properties"] = properties
    if chemistry:
        data["chemistry"] = chemistry
    return campaign_from_dict(data)


def test_the_campaign_file_refuses_what_the_stage_cannot_run():
    with pytest.raises(InputError, match="properties.start: auto runs right after convergence"):
        _campaign(start="auto")
    with pytest.raises(InputError, match="an MSD fit needs at least 8"):
        _campaign(diffusion={"length_ps": 0.5})
    with pytest.raises(InputError, match="size_check_atoms 100 is not larger than atoms 200"):
        _campaign(diffusion={"atoms": 200, "size_check_atoms": 100})
    with pytest.raises(InputError, match=r"properties.diffusion.species Na is not in system.type_map \['Li', 'Cl'\]"):
        _campaign(diffusion={"species": "Na"})
    with pytest.raises(InputError, match="properties.diffusion.systems: NaCl is not a known phase"):
        _campaign(diffusion={"systems": ["NaCl"]})
    c = _campaign(diffusion={"systems": ["interface"]}, elastic={"sei_frame": "none"})
    from seiflow.analysis.chemistry import campaign_chemistry

    with pytest.raises(InputError, match="names 'interface' but the campaign built none"):
        diffusion_systems(c, campaign_chemistry(c), has_interface=False)


def test_a_phase_is_repeated_near_cubic_and_must_hold_the_mobile_ion():
    c = _campaign()
    licl = c.structures.phase("LiCl")
    assert bulk_repeat(licl, 500) == (4, 4, 4) and len(licl) == 8
    cell, how = system_cell(c, "LiCl", 500, None, {}, {}, "Li")
    assert len(cell) == 512 and "x 4 x 4 x 4" in how
    with pytest.raises(InputError, match="holds no Na"):
        system_cell(c, "LiCl", 500, None, {}, {}, "Na")


def test_the_interface_splits_the_mobile_ions_by_region_and_each_region_gets_its_own_d():
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.analysis.chemistry import campaign_chemistry
    from seiflow.properties.diffusion import region_diffusivities, region_masks_of
    from tests.properties.test_stage import li_licl_interface

    c = _campaign(chemistry={"anode": "Li", "electrolyte": "LiCl"})
    first = AseAtomsAdaptor.get_atoms(li_licl_interface())
    electrolyte_li = np.array([s == "Li" for s in first.get_chemical_symbols()]) & (first.positions[:, 2] < 9.0)
    rng = np.random.default_rng(3)
    sigma, dt_ps, frames = 0.05, 0.1, [first]
    for _ in range(199):  # electrolyte Li random-walk (D = sigma^2 / (2 dt) = 0.0125 Å^2/ps); the anode stays
        nxt = frames[-1].copy()
        nxt.positions[electrolyte_li] += rng.normal(0, sigma, (int(electrolyte_li.sum()), 3))
        frames.append(nxt)
    chem = campaign_chemistry(c)
    regions = region_diffusivities(frames, dt_ps, "Li", chem, interface=True)
    masks = region_masks_of(first, "Li", chem, interface=True)
    assert sum(v.n_atoms for v in regions.values()) == 86, "every Li in one region"
    assert regions["anode"].d_a2_ps == pytest.approx(0, abs=1e-9) and not (masks["anode"] & electrolyte_li).any()
    for name, v in regions.items():  # stationary metal atoms count as zero in the region's mean
        share = (masks[name] & electrolyte_li).sum() / masks[name].sum()
        assert v.n_atoms == masks[name].sum()
        assert v.d_a2_ps == pytest.approx(share * sigma**2 / (2 * dt_ps), rel=0.3, abs=1e-6), name
    assert max(v.d_a2_ps for v in regions.values()) > 0.005
