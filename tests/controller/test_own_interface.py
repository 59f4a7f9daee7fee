"""A campaign of another chemistry from the user's own structure files, end to end through two workers.

Li metal | CuCl (tests/data/structures_cucl): every phase is a file next to the campaign, none bundled. The
files are deleted after the campaign is loaded, as on a cluster whose workers never see the user's disk:
the interface is built, the initial data labelled, two rounds run with validation, and the closing
analysis and the report speak of this chemistry (reduced Cu, Cu clusters, LiCl and Cu product fractions).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from seiflow.analysis.jobs import report_extra
from seiflow.analysis.report import write_report
from seiflow.cli.main import cli
from seiflow.controller.flows import campaign_flow
from seiflow.controller.runner import run_locally
from seiflow.controller.submit import submit
from seiflow.records import campaigns
from seiflow.schemas.campaign import load_campaign
from seiflow.store import get_database, get_launchpad

HERE = Path(__file__).resolve().parent
CAMPAIGN = HERE / "tiny_cucl_campaign.yaml"
FILES = HERE.parent / "data" / "structures_cucl"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_campaign_of_user_files_and_another_chemistry_runs_to_its_report(seiflow_env, tmp_path):
    folder = tmp_path / "user" / "campaigns"
    folder.mkdir(parents=True)
    shutil.copytree(FILES, tmp_path / "user" / "data" / "structures_cucl")
    shutil.copy(CAMPAIGN, folder / CAMPAIGN.name)
    campaign = load_campaign(folder / CAMPAIGN.name)
    shutil.rmtree(tmp_path / "user" / "data")  # the workers never see the user's files
    assert {s.label() for s in campaign.structures.phases.values()} == {
        "file:Li_bcc.cif", "file:CuCl.cif", "file:Cu.cif", "file:LiCl.cif"}
    lp = get_launchpad()
    lp.reset("", require_password=False)
    submit(campaign, campaign_flow(campaign), lp)
    db = get_database()
    stored = campaigns.get(db, "tiny_cucl")["definition"]["structures"]["phases"]
    assert stored["CuCl"]["structure"]["sites"], "the store carries the structures"
    lines: list[str] = []
    outcome = run_locally(seiflow_env.settings, "tiny_cucl", n_workers=2, timeout_s=1500, poll_s=2,
                          progress=lines.append)
    assert outcome.state == "not_converged", (outcome.error, lines[-20:])
    assert {fw["state"] for fw in lp.fireworks.find({}, {"state": 1})} == {"COMPLETED"}
    # the interface was built from the files, and labelled with the bulks (initial data)
    origins = set(db.frames.distinct("provenance.origin", {"provenance.campaign": "tiny_cucl",
                                                           "provenance.source": "reference_md"}))
    assert {"interface", "CuCl", "Cu"} <= origins, origins
    assert [r["round"] for r in db.rounds.find({"campaign": "tiny_cucl"}).sort("round", 1)] == [1, 2]
    assert [v["round"] for v in db.validations.find({"campaign": "tiny_cucl"}).sort("round", 1)] == [1, 2]
    # where each round's time went, from the workers' launches; status and the report show it
    for rep in db.rounds.find({"campaign": "tiny_cucl"}):
        times = rep["times"]
        assert {"training", "validation", "exploration", "selection", "labelling"} <= set(times["stages"]), times
        assert all(0 <= t["span_s"] <= times["wall_s"] and t["n_jobs"] >= 1 for t in times["stages"].values())
        assert times["stages"]["training"]["n_jobs"] == 2 and times["stages"]["training"]["busy_s"] > 0
    status = CliRunner().invoke(cli, ["status", "tiny_cucl", "--json"])
    assert status.exit_code == 0 and all(r["times"]["wall_s"] > 0 for r in json.loads(status.output)["rounds"])
    hours = json.loads(status.output)["job_hours"]
    assert {"train", "lammps", "dft", "light"} <= set(hours) and all(v > 0 for v in hours.values()), hours
    # the closing analysis looked for this chemistry's reaction
    analysis = db.analyses.find_one({"campaign": "tiny_cucl"})
    chem = analysis["chemistry"]
    assert chem["mobile"] == ["Li"] and chem["anions"] == ["Cl"]
    assert [(c["species"], c["pristine_cn"], c["reduced_below"]) for c in chem["reducible"]] == [("Cu", 4.0, 3)]
    assert [m["phase"] for m in chem["metallic"]] == ["Cu"]
    assert analysis["like_for_like"] and analysis["cost"]["n_atoms"] == 20000
    row = analysis["mechanism"][-1]
    for key in ("reduced_Cu", "cn_Cu", "product_LiCl", "product_Cu", "largest_cluster_Cu", "percolation_dim_Cu"):
        assert f"{key}_nnp" in row and f"{key}_reference" in row, (key, row)
    assert not any("In" in key.split("_") for key in row)
    written = write_report(db, "tiny_cucl", seiflow_env.root / "report", extra=report_extra("tiny_cucl", db))
    html = Path(written["html"]).read_text()
    for words in ("Cu reduced (% of Cu with &lt; 3 Cl)", "Li in LiCl environments (%)",
                  "Cu in Cu environments (%)", "Cu clusters (largest Cu-Cu cluster, atoms)",
                  "20,000 atoms, 2 ns", "Where each round's time went"):
        assert words in html, words
    assert "In-Cl" not in html and "LiCl-like" not in html


LPSCL = HERE / "tiny_lpscl_campaign.yaml"
SHIPPED = HERE.parent.parent / "workflows" / "li_li6ps5cl_demo.yaml"


def test_shipped_li6ps5cl_campaign_validates_from_its_files():
    """workflows/li_li6ps5cl_demo.yaml: every phase a shipped file, P(+5) the reducible cation, three products."""
    result = CliRunner().invoke(cli, ["validate", str(SHIPPED), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["valid"] is True, out
    phases = load_campaign(SHIPPED).structures.phases
    assert all(p.label().startswith("file:") for p in phases.values()), phases
    chem = out["chemistry"]
    assert sorted(chem["anions"]) == ["Cl", "S"], chem
    assert [(c["species"], c["pristine_cn"], c["reduced_below"]) for c in chem["reducible"]] == [("P", 4.0, 3)]
    assert chem["products"] == ["Li2S", "Li3P", "LiCl"]
    assert {s["phase"] for s in chem["signatures"]} == {"Li2S", "Li3P", "LiCl"}
    assert chem["metallic"] == []


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_tiny_li6ps5cl_campaign_runs_a_round_and_reports_p_reduction(seiflow_env):
    """The shipped Li6PS5Cl structures through the loop: interface built, labelled, one round, analysed."""
    campaign = load_campaign(LPSCL)
    lp = get_launchpad()
    lp.reset("", require_password=False)
    submit(campaign, campaign_flow(campaign), lp)
    db = get_database()
    lines: list[str] = []
    outcome = run_locally(seiflow_env.settings, "tiny_lpscl", n_workers=2, timeout_s=1200, poll_s=2,
                          progress=lines.append)
    assert outcome.state == "not_converged", (outcome.error, lines[-20:])
    origins = set(db.frames.distinct("provenance.origin", {"provenance.campaign": "tiny_lpscl"}))
    assert {"interface", "Li6PS5Cl"} <= origins, origins
    analysis = db.analyses.find_one({"campaign": "tiny_lpscl"})
    row = analysis["mechanism"][-1]
    for key in ("reduced_P", "cn_P", "product_Li2S", "product_Li3P", "product_LiCl"):
        assert f"{key}_nnp" in row and f"{key}_reference" in row, (key, row)
    assert not any(k.startswith(("largest_cluster_", "metal_cn_")) for k in row), row
    written = write_report(db, "tiny_lpscl", seiflow_env.root / "report", extra=report_extra("tiny_lpscl", db))
    html = Path(written["html"]).read_text()
    for words in ("P reduced (% of P with &lt; 3 ", "in Li2S environments (%)", "in Li3P environments (%)"):
        assert words in html, words
