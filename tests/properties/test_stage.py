"""The properties stage through the CLI and real workers: Li diffusion in a phase and in the interface's
regions at two temperatures with the production model and its committee, a size check, elastic constants of
the phase and of the interface cell; the results in MongoDB, the report and ``seiflow status``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from pymatgen.core import Lattice, Structure

from seiflow.analysis.report import write_report
from seiflow.cli.main import main
from seiflow.controller.status import campaign_status
from seiflow.records import campaigns
from seiflow.records.properties import PropertyStore
from seiflow.schemas.campaign import campaign_from_dict
from seiflow.store import get_database, get_launchpad
from tests.production.helpers import TINY, register

PROPERTIES = {
    "diffusion": {"temperatures": [200, 300], "systems": ["LiCl", "interface"], "atoms": 64, "size_check_atoms": 240,
                  "length_ps": 0.6, "equilibrate_ps": 0.05, "timestep_fs": 1.0, "dump_every": 25,
                  "max_temperature_factor": 4.0},
    "elastic": {"phases": ["LiCl"], "sei_frame": "interface", "relax_ions": True, "fmax": 0.1},
}


def li_licl_interface() -> Structure:
    """64 atoms of rock-salt LiCl under 54 of bcc Li strained to its 10.28 Å square, periodic along z."""
    a = 5.14 * 2
    licl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.14), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]) * 2
    li_z = [10.7 + 1.755 * k for k in range(6)]
    species, coords = [s.specie.symbol for s in licl], [list(s.coords) for s in licl]
    for k, z in enumerate(li_z):
        shift = 0.5 if k % 2 else 0.0
        for i in range(3):
            for j in range(3):
                species.append("Li")
                coords.append([(i + shift) * a / 3, (j + shift) * a / 3, z])
    return Structure(Lattice.from_parameters(a, a, li_z[-1] + 3.0, 90, 90, 90), species, coords,
                     coords_are_cartesian=True)


@pytest.mark.slow
def test_the_properties_stage_runs_through_the_workers_into_the_store_and_report(seiflow_env, good_ensemble,
                                                                               tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = get_database()
    data = yaml.safe_load(TINY.read_text())
    data.update(name="props", chemistry={"anode": "Li", "electrolyte": "LiCl"}, properties=PROPERTIES)
    data["training"]["numb_models"] = 3
    campaign = campaign_from_dict(data)
    ids = register(db, campaign, good_ensemble[:3])  # the production model and a committee of two
    campaigns.set_structures(db, campaign.name, {"interface": li_licl_interface().as_dict()})

    with pytest.raises(SystemExit) as exc:
        main(["properties", "props", "--local", "--json"])
    out = capsys.readouterr()
    assert exc.value.code == 0, (out.err[-2000:], campaign_status(get_launchpad(), db, "props")["last_error"])
    result = json.loads(out.out)
    # 2 systems x 2 temperatures x (production model + 2 members) + 2 x 2 size-check runs
    assert result["planned_runs"] == result["runs_done"] == 16, result
    assert result["model_id"] == ids[0] and result["member_ids"] == ids[1:] and result["species"] == "Li"
    assert set(result["systems"]) == {"LiCl", "interface", "LiCl (size check)", "interface (size check)"}

    store = PropertyStore(db)
    stage = store.latest("props")
    runs = store.runs(stage.stage_id)
    licl = [r for r in runs if r.system == "LiCl"]
    assert all(r.health is None for r in licl), [(r.temperature, r.health) for r in licl]
    assert {r.n_atoms for r in licl} == {64, 216} and all(set(r.regions) == {"bulk"} for r in licl)
    assert all(r.regions["bulk"].n_atoms == r.n_atoms // 2 and r.n_frames == 25 for r in licl), \
        "0.6 ps of 1 fs steps, a frame every 25 steps, from step 0"
    assert {r.model_id for r in licl if r.temperature == 300 and not r.size_check} == set(ids), \
        "the same run with each model"
    # these LiCl-only models never saw Li metal: the interface overheats (MD health), which gives no D
    failed = [r for r in runs if r.health]
    assert result["runs_failed"] == len(failed) and all(r.system == "interface" and not r.regions for r in failed)
    assert all("above 4 x the thermostat" in r.health for r in failed), [r.health for r in failed]
    healthy = [r for r in runs if r.system == "interface" and not r.health]
    assert all({"anode", "electrolyte"} <= set(r.regions) for r in healthy), [r.regions for r in healthy]

    fits = {(f.system, f.region): f for f in store.fits(stage.stage_id)}
    lf = fits["LiCl", "bulk"]
    assert set(fits) - {("LiCl", "bulk")} <= {("interface", r) for r in ("anode", "reacted", "electrolyte")}
    assert lf.d_a2_ps == [next(r.regions["bulk"].d_a2_ps for r in licl if r.model_id == ids[0]
                               and not r.size_check and r.temperature == t) for t in (200.0, 300.0)]
    assert len(lf.d_members_a2_ps) == 2 and all(len(d) == 2 and None not in d for d in lf.d_members_a2_ps)
    assert lf.size_check.atoms == (64, 216) and set(lf.size_check.ratio) == {"200", "300"}
    assert all(x is not None for x in lf.d_committee_std_a2_ps)
    if len(lf.members_activation_energy_ev) == 2:
        assert lf.activation_energy_err_ev == pytest.approx(np.std(lf.members_activation_energy_ev, ddof=1), abs=1e-6)
    assert lf.activation_energy_ev is not None or "fewer than two temperatures" in lf.note

    elastic = {e.name: e for e in store.elastic(stage.stage_id)}
    assert set(elastic) == {"LiCl", "SEI"} and elastic["SEI"].n_atoms == 118
    c = np.array(elastic["LiCl"].c_gpa)
    assert abs(c[0, 0] - c[1, 1]) < 0.05 * abs(c[0, 0]) and abs(c[0, 0] - c[2, 2]) < 0.05 * abs(c[0, 0]), c
    assert elastic["LiCl"].bulk_vrh_gpa > 0 and elastic["LiCl"].model_id == ids[0]
    assert [e["name"] for e in result["elastic"]] == ["LiCl", "SEI"]

    written = write_report(db, "props", tmp_path / "report")
    assert written["properties"]["runs_done"] == 16
    saved = json.loads(Path(written["json"]).read_text())["properties"]
    assert len(saved["runs"]) == 16 and len(saved["arrhenius"]) == len(fits) and len(saved["elastic"]) == 2
    assert sum(r["health"] != "ok" for r in saved["runs"]) == len(failed)
    assert any(f.startswith("Properties: Li diffusivity against 1000/T") for f in written["figures"])
    assert "<h2>Transport and mechanics</h2>" in Path(written["html"]).read_text()
    status = campaign_status(get_launchpad(), db, "props")["properties"]
    assert status == {"stage_id": stage.stage_id, "planned_runs": 16, "runs_done": 16, "runs_failed": len(failed),
                      "fits": len(fits), "elastic_done": 2, "elastic_planned": 2}
