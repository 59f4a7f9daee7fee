"""The campaign report on the real store: a running campaign (parts missing) and one with everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk

from seiflow.analysis.report import describe_reference, write_report
from seiflow.constants import ROUNDS_COLLECTION
from seiflow.controller import campaigns
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.schemas.campaign import load_campaign
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference
from seiflow.schemas.model import ModelDoc, ParityData, TrainingDataRecord, ValidationMetrics
from seiflow.schemas.round import Histogram, RoundReport, SelectionResult
from seiflow.store import get_database

REPO = Path(__file__).resolve().parents[2]
CHGNET = {"calculator": "chgnet", "version": "0.4.2", "model": "0.3.0"}


def _campaign(db):
    campaign = load_campaign(REPO / "workflows" / "li_li3incl6_demo.yaml")
    campaigns.ensure(db, campaign)
    return campaign.name


def _frames(db, name, n=4):
    store = FrameStore(db)
    rng = np.random.default_rng(0)
    for k in range(n):
        atoms = bulk("LiCl", "rocksalt", a=5.13, cubic=True)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        store.add(LabelledFrame(
            species=atoms.get_chemical_symbols(), positions=atoms.positions, cell=np.asarray(atoms.cell),
            energy=-3.0 * len(atoms), forces=np.zeros((len(atoms), 3)), virial=np.zeros((3, 3)),
            reference=Reference(calculator="chgnet", settings={k: v for k, v in CHGNET.items() if k != "calculator"}),
            provenance=Provenance(campaign=name, round=k // 2, source="reference_md"),
        ))


def _models_and_rounds(db, name, tmp_path):
    models = ModelStore(db)
    parity = ParityData(energy_per_atom=[[-3.0, -3.001], [-2.9, -2.902]], force=[[0.1, 0.12], [-0.2, -0.18]],
                        stress_mpa=[[10.0, 12.0], [-5.0, -6.0]])
    (tmp_path / "parity.json").write_text(parity.model_dump_json())
    for rnd, (n_train, rmse_f) in enumerate([(20, 120.0), (40, 80.0)]):
        for idx in range(2):
            doc = ModelDoc(model_id=f"{name}-r{rnd}-m{idx}", campaign=name, round=rnd, index=idx, seed=idx,
                           backend="tensorflow", deepmd_version="3.2.0", type_map=["Li", "In", "Cl"],
                           numb_steps=100, metrics=ValidationMetrics(rmse_e_mev_atom=3.0 / (rnd + 1),
                           rmse_f_mev_a=rmse_f, rmse_v_mpa=50.0, n_test_frames=4),
                           data=TrainingDataRecord(n_train_frames=n_train, n_test_frames=4))
            models.put(doc, {"parity": tmp_path / "parity.json"})
        sel = SelectionResult(n_frames=100, n_accurate=70, n_candidate=20, n_failed=10, accurate_ratio=0.7,
                              candidate_ratio=0.2, failed_ratio=0.1, f_trust_lo_used=0.1,
                              histogram=Histogram(edges=[0, 0.1, 0.2, 0.3], counts=[70, 20, 10]))
        db[ROUNDS_COLLECTION].insert_one(RoundReport(campaign=name, round=rnd, selection=sel).model_dump())


def test_report_on_running_campaign_lists_missing(seiflow_env, tmp_path):
    db = get_database()
    name = _campaign(db)
    result = write_report(db, name, tmp_path / "out")
    assert result["rounds"] == 0 and result["frames"] == 0
    assert any("trained models" in m for m in result["missing"])
    text = Path(result["html"]).read_text()
    assert "Not available yet" in text and name in text
    assert "CHGNet" in json.loads(Path(result["json"]).read_text())["reference"]


def test_report_with_all_parts_via_cli(seiflow_env, tmp_path):
    db = get_database()
    name = _campaign(db)
    _frames(db, name)
    _models_and_rounds(db, name, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "seiflow.cli.main", "report", name, "--out",
                           str(tmp_path / "out"), "--json"], capture_output=True, text=True,
                          env=seiflow_env.subprocess_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"html", "json", "campaign", "rounds", "missing", "figures", "reference"} <= set(result)
    assert result["rounds"] == 2 and result["models"] == 4 and result["frames"] == 4
    assert result["missing"] == []
    assert result["reference"] == "CHGNet 0.3.0 (chgnet 0.4.2) stand-in for DFT"
    assert result["latest_metrics"]["rmse_f_mev_a"] == 80.0
    assert len(result["figures"]) == 4
    page = Path(result["html"]).read_text()
    assert page.count("data:image/png;base64,") == 4 and "<script" not in page
    data = json.loads(Path(result["json"]).read_text())
    assert [p["n_labels"] for p in data["learning_curve"]] == [20, 40]


def test_unknown_campaign_and_reference_words(seiflow_env, tmp_path):
    result = write_report(get_database(), "nope", tmp_path)
    assert result["missing"][0].startswith("campaign document")
    assert describe_reference([], "vasp") == "VASP (configured; no frames yet)"
