"""The campaign report on the real store: a running campaign (parts missing) and one with everything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from seiflow.analysis.jobs import report_extra
from seiflow.analysis.report import describe_reference, write_report
from seiflow.constants import ROUNDS_COLLECTION
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
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


def test_report_shows_the_calibration_sanity_labels_and_criteria(seiflow_env, tmp_path):
    """Rounds with calibration documents (as calibrate_round stores them): the fit and levels per round,
    the sanity labels, each criterion with why, and the deviation-vs-error figure with the fit."""
    from seiflow.constants import CALIBRATIONS_COLLECTION
    from seiflow.convergence.calibration import fit_calibration

    db = get_database()
    name = _campaign(db)
    _frames(db, name)
    _models_and_rounds(db, name, tmp_path)
    rng = np.random.default_rng(3)
    for rnd in (0, 1):
        dev = rng.uniform(0.1, 0.6, 30)
        err = 3.0 * dev ** 1.2 * np.exp(rng.normal(0, 0.2, 30))
        pairs = [{"max_devi_f": float(d), "f_error": float(e), "e_error_ev_atom": 0.01, "sanity": i < 4}
                 for i, (d, e) in enumerate(zip(dev, err, strict=True))]
        fit = fit_calibration(dev[4:], err[4:], 0.9).model_dump()
        db[CALIBRATIONS_COLLECTION].insert_one({
            "campaign": name, "round": rnd, "pairs": pairs, "n_pairs_fitted": 26, "fit": fit,
            "levels": {"f_trust_lo": 0.25, "f_trust_hi": 1.0},
            "sanity": {"n": 4, "max_f_error": float(err[:4].max()), "p90_f_error": float(np.quantile(err[:4], 0.9))}})
        db[ROUNDS_COLLECTION].update_one({"campaign": name, "round": rnd}, {"$set": {
            "levels_next": {"f_trust_lo": 0.25 + 0.01 * rnd, "f_trust_hi": 1.0, "calibrated": 1.0},
            "criteria": [{"name": "accurate_ratio", "satisfied": rnd == 1, "detail": f"ratio {0.5 + 0.45 * rnd}"},
                         {"name": "sanity_error", "satisfied": True, "detail": "p90 0.6 eV/Å vs <= 1.0"}]}})
    result = write_report(db, name, tmp_path / "out")
    data = json.loads(Path(result["json"]).read_text())
    assert [r["round"] for r in data["calibration"]] == [0, 1]
    row = data["calibration"][1]
    assert row["new_labels"] == 26 and row["f_trust_lo_next"] == 0.26 and row["next_level_from"] == "calibration"
    assert row["sanity_n"] == 4 and row["slope"] > 0 and 0 < row["coverage"] <= 1
    assert [(c["round"], c["criterion"], c["met"]) for c in data["criteria"]] == [
        (0, "accurate_ratio", False), (0, "sanity_error", True), (1, "accurate_ratio", True), (1, "sanity_error", True)]
    page = Path(result["html"]).read_text()
    assert "Trust-level calibration" in page and "Convergence criteria per round" in page and "ratio 0.95" in page
    assert any(f.startswith("Deviation against true error") for f in result["figures"])


def test_unknown_campaign_and_reference_words(seiflow_env, tmp_path):
    result = write_report(get_database(), "nope", tmp_path)
    assert result["missing"][0].startswith("campaign document")
    assert describe_reference([], "vasp") == "VASP (configured; no frames yet)"


# -- the verdict and the validation part, on a seeded finished campaign (tests/analysis/finished_campaign.py) --

def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_report_of_finished_campaign_opens_with_verdict(seiflow_env, tmp_path):
    from tests.analysis import finished_campaign

    db = get_database()
    name = finished_campaign.seed(db, tmp_path)
    result = write_report(db, name, tmp_path / "out", extra=report_extra(name, db))
    v = result["verdict"]
    rows = {r["quantity"]: r for r in json.loads(Path(result["json"]).read_text())["verdict"]["rows"]}
    assert v["accuracy_reached"] is False and v["mechanism_reproduced"] is True and v["mechanism"] == "yes"
    assert {r["quantity"]: r for r in v["rows"]}["force RMSE"] == {
        "quantity": "force RMSE", "unit": "meV/Å", "campaign": 152.0, "study": 46.2, "ratio": 3.3,
        "status": "3.3x the study's"}
    assert rows["energy RMSE"]["campaign"] == 4.1 and rows["energy RMSE"]["ratio"] == 2.6
    assert rows["stress RMSE"]["status"] == "meets the study"
    assert rows["RDF agreement"]["status"] == "below the target"
    assert v["headline"].startswith("Not yet at the study's accuracy: force error 3.3x the study's (152 vs 46.2")
    explore, train, label, rdf = v["actions"]
    assert explore.startswith("Explore like the validation MD") and "force RMSE 2.4x the dp-test error" in explore
    assert train.startswith("Train longer or larger") and "force RMSE flat over the last round (-5 %)" in train
    assert label.startswith("Label more") and "energy RMSE still falling (16 % over the last round)" in label
    assert rdf.startswith("Label more configurations like the validation MD") and "In-In" in rdf
    assert "mostly a constant offset (+3.2 meV/atom" in rows["energy RMSE"]["action"]
    assert result["validation_metrics"]["round"] == 4 and result["validation_metrics"]["n_labels"] == 198
    data = json.loads(Path(result["json"]).read_text())
    assert data["verdict"]["mechanism"]["checks"][3]["descriptor"].startswith("In-Cl coordination")
    assert [p["n_labels"] for p in data["validation"]["curve"]] == [90, 126, 162, 198]
    assert data["validation"]["parity"]["reason"] == "the final model has no frozen file in GridFS"
    assert {r["structure"] for r in data["validation"]["per_structure"]} == {"interface", "LiCl"}
    page = Path(result["html"]).read_text()
    assert page.index("Verdict") < page.index("The fixed validation set") < page.index("<h2>Frames")
    captions = " | ".join(result["figures"])
    for words in ("Learning curve on the fixed validation set", "Mechanism descriptors against time",
                  "Partial RDFs, reference vs NNP", "The interface at the start and the end"):
        assert words in captions, words
    assert "Partial RDFs" not in result["figures"]  # the closing analysis's RDFs: now reference vs NNP above
    assert page.count("data:image/png;base64,") == len(result["figures"]) == 7


@pytest.mark.slow
def test_report_screenshot_with_headless_chromium(seiflow_env, tmp_path):
    from tests.analysis import finished_campaign

    db = get_database()
    name = finished_campaign.seed(db, tmp_path)
    result = write_report(db, name, tmp_path / "out", extra=report_extra(name, db))
    png = tmp_path / "report.png"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "report_screenshot.sh"), result["html"], str(png)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(png.resolve())
    assert _png_size(png) == (1200, 3000) and png.stat().st_size > 100_000
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))[..., :3]
    assert (pixels.min(axis=2) < 0.9).mean() > 0.05  # not a blank page
    assert len(np.unique((pixels[::4, ::4] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 200  # figures
    if os.environ.get("SEIFLOW_KEEP_SCREENSHOT"):  # a folder: keep the report and its screenshot to look at
        for path in (png, Path(result["html"])):
            shutil.copy(path, os.environ["SEIFLOW_KEEP_SCREENSHOT"])


def test_screenshot_script_refuses_a_missing_report(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "scripts" / "report_screenshot.sh"), str(tmp_path / "no.html")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "no such file" in proc.stderr


@pytest.mark.slow
def test_validation_parity_predicts_with_the_final_models_frozen_file(seiflow_env, tmp_path):
    """A real (tiny) DeePMD model trained by seiflow; the report predicts the validation frames with it."""
    from jobflow import run_locally

    from seiflow.analysis import report_validation
    from seiflow.constants import MODELS_COLLECTION, VALIDATION_SETS_COLLECTION
    from seiflow.schemas.campaign import TrainingConfig
    from seiflow.store import get_jobstore
    from seiflow.training.data import TrainingDataSpec
    from seiflow.training.jobs import DeepmdTrainMaker
    from tests.training.conftest import DATA

    system = DATA / "Li32Cl32"
    config = TrainingConfig(numb_models=1, rcut=4.5, rcut_smth=0.5, sel="auto", descriptor_neurons=[4, 8],
                            fitting_neurons=[16, 16], numb_steps=40, start_lr=1e-3, stop_lr=1e-5, decay_steps=10,
                            validation_fraction=0.2, compress=False, seed=11)
    job = DeepmdTrainMaker(config=config, type_map=["Li", "Cl"]).make(
        TrainingDataSpec(systems=[str(system)]), campaign="licl", round=1, index=0)
    out = run_locally(job, store=get_jobstore(), ensure_success=True, log=False)[job.uuid][1].output
    db = get_database()
    box, coord = np.load(system / "set.000" / "box.npy"), np.load(system / "set.000" / "coord.npy")
    energy, force = np.load(system / "set.000" / "energy.npy"), np.load(system / "set.000" / "force.npy")
    virial = np.load(system / "set.000" / "virial.npy")
    names = np.array(["Li", "Cl"])[np.loadtxt(system / "type.raw", dtype=int)].tolist()
    frames = [LabelledFrame(species=names, positions=coord[k].reshape(-1, 3), cell=box[k].reshape(3, 3),
                            energy=float(energy.ravel()[k]), forces=force[k].reshape(-1, 3), virial=virial[k].reshape(3, 3),
                            reference=Reference(calculator="chgnet"),
                            provenance=Provenance(campaign="licl", round=0, source="validation", origin="LiCl",
                                                  frame_index=k, temperature=300.0))
                   for k in range(6)]
    frames.append(frames[0].model_copy(update={"species": ["In", *names[1:]],
                                               "provenance": frames[0].provenance.model_copy(
                                                   update={"origin": "interface"})}))
    FrameStore(db).add_many(frames)
    db[VALIDATION_SETS_COLLECTION].insert_one({"campaign": "licl", "reference": {"calculator": "chgnet",
                                                                              "settings": {}}})
    model = db[MODELS_COLLECTION].find_one({"model_id": out.model_id}, {"_id": 0})
    parity = report_validation.validation_parity(db, "licl", model)
    meta = parity["meta"]
    assert meta["n_frames"] == 6 and meta["skipped"] == {"interface": 1} and list(parity["groups"]) == ["LiCl"]
    assert len(parity["groups"]["LiCl"].f_ref_ev_a) == 6 * 64 * 3 and meta["metrics"]["rmse_f_mev_a"] > 0
    figs = report_validation.figures(db, "licl", [], [], parity, None, {})
    assert list(figs) == [f"Parity on the validation set: final model {out.model_id}, 6 frames never trained on"]
    assert report_validation.validation_parity(db, "licl", {**model, "files": {}})["meta"]["reason"] == \
        "the final model has no frozen file in GridFS"
