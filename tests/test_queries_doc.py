"""Every python block of docs/queries.md runs, in order, against a small seeded finished campaign.

The page's convention: its first block sets ``db = MongoClient("...")["..."]`` and ``campaign = "..."``;
those two lines are replaced with this test's server, database and campaign, nothing else.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import ase.io
import yaml

from seiflow.constants import FRAMES_COLLECTION, MODELS_COLLECTION
from seiflow.models.store import ModelStore
from seiflow.store import get_database
from tests.analysis import finished_campaign

DOC = Path(__file__).resolve().parents[1] / "docs" / "queries.md"
DB_LINE = re.compile(r'^db = MongoClient\("[^"]*"\)\["[^"]*"\].*$', re.M)
CAMPAIGN_LINE = re.compile(r'^campaign = "[^"]*"$', re.M)


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_keeps_its_convention():
    first, *rest = blocks()
    assert len(DB_LINE.findall(first)) == 1 and len(CAMPAIGN_LINE.findall(first)) == 1
    assert not any(DB_LINE.search(b) or CAMPAIGN_LINE.search(b) for b in rest)
    assert len(rest) >= 8


def _seed_production(campaign: str, tmp_path: Path) -> None:
    """A finished two-segment production run, as ``seiflow produce`` stores it (documents and frames)."""
    from ase import Atoms

    from seiflow.records.production import ProductionStore
    from seiflow.schemas.production import (
        ProductionRun,
        ProductionSegment,
        ProductionState,
        SegmentAnalysis,
    )

    store = ProductionStore(get_database())
    run_id = f"{campaign}-prod1"
    store.put_run(ProductionRun(campaign=campaign, run_id=run_id, state=ProductionState.FINISHED, model_id="m",
                                n_atoms=4, total_steps=200, segment_steps=100, timestep_fs=1.0, temperature=300.0,
                                dump_every=100, steps_done=200, segments_done=2, first_percolation_ps={"In": 0.2}))
    for k in (0, 1):
        atoms = Atoms("Li2In2", positions=[[0, 0, 0], [1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5]], cell=[5, 5, 5], pbc=True)
        atoms.info.update(step=100 * (k + 1), time_ps=0.1 * (k + 1))
        path = tmp_path / f"seg{k}.extxyz"
        ase.io.write(path, [atoms], format="extxyz")
        store.put_segment(ProductionSegment(
            campaign=campaign, run_id=run_id, segment=k, start_step=100 * k, end_step=100 * (k + 1), n_atoms=4,
            wall_s=1.0, atom_steps_per_s=400.0, n_frames=1, frame_steps=[100 * (k + 1)],
            analysis=SegmentAnalysis(time_ps=[0.1 * (k + 1)], rows=[{"reduced_In": 0.5, "largest_cluster_In": 3 + k}]),
            files={"trajectory": store.put_file(path, run_id, k, "trajectory")}))


def _seed_properties(campaign: str) -> None:
    """A properties stage with one fit and one elastic record, as ``seiflow properties`` stores them."""
    from seiflow.records.properties import PropertyStore
    from seiflow.schemas.properties import ArrheniusResult, ElasticRecord, PropertiesStage

    store = PropertyStore(get_database())
    stage_id = f"{campaign}-props1"
    store.put(PropertiesStage(campaign=campaign, stage_id=stage_id, model_id="m", species="Li",
                              temperatures=[600.0, 800.0], planned_runs=2, elastic=["LiCl"]))
    store.put(ArrheniusResult(campaign=campaign, stage_id=stage_id, system="LiCl", region="bulk", species="Li",
                              temperatures=[600.0, 800.0], d_a2_ps=[0.01, 0.05], activation_energy_ev=0.33,
                              activation_energy_err_ev=0.04))
    c = [[60.0, 30.0, 30.0, 0, 0, 0], [30.0, 60.0, 30.0, 0, 0, 0], [30.0, 30.0, 60.0, 0, 0, 0],
         [0, 0, 0, 20.0, 0, 0], [0, 0, 0, 0, 20.0, 0], [0, 0, 0, 0, 0, 20.0]]
    store.put(ElasticRecord(campaign=campaign, stage_id=stage_id, name="LiCl", source="phase LiCl", model_id="m",
                            n_atoms=64, strain=0.01, relax_ions=True, c_gpa=c, bulk_vrh_gpa=40.0,
                            shear_vrh_gpa=18.0, young_vrh_gpa=47.0, poisson_vrh=0.3))


def test_every_example_runs_on_a_seeded_campaign(seiflow_env, tmp_path, monkeypatch):
    db = get_database()
    name = finished_campaign.seed(db, tmp_path)
    final = db[MODELS_COLLECTION].find_one({"campaign": name}, sort=[("round", -1), ("index", 1)])
    (tmp_path / "frozen.pb").write_bytes(b"frozen graph bytes")  # the query only downloads the file
    file_id = ModelStore(db).put_file(tmp_path / "frozen.pb", final["model_id"], "frozen")
    db[MODELS_COLLECTION].update_one({"_id": final["_id"]}, {"$set": {"files.frozen": file_id,
                                                                      "file_names.frozen": "frozen.pb"}})
    record = {"handlers": ["VaspErrorHandler"], "errors": ["zbrent"], "n_corrections": 1, "walltime_s": 812.5}
    db[FRAMES_COLLECTION].update_one({"campaigns": name, "provenance.source": "exploration"},
                                     {"$set": {"provenance.custodian": record}})  # one DFT label, corrected once
    last = db["validations"].find_one({"campaign": name}, {"_id": 0}, sort=[("round", -1)])
    db["test_results"].insert_one({**last, "source": "test"})  # as the closing analysis stores it
    db["rounds"].update_many({"campaign": name}, {"$set": {"decided_on": {"stopping": "validation"}}})
    _seed_production(name, tmp_path)
    _seed_properties(name)
    lp = yaml.safe_load(seiflow_env.launchpad_file.read_text())
    first, *rest = blocks()
    first = DB_LINE.sub(f'db = MongoClient("mongodb://{lp["host"]}:{lp["port"]}/?directConnection=true")["{lp["name"]}"]', first)
    first = CAMPAIGN_LINE.sub(f'campaign = "{name}"', first)
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    monkeypatch.chdir(out_dir)
    namespace: dict = {}
    printed = []
    for k, code in enumerate([first, *rest]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"{DOC.name} block {k}", "exec"), namespace)  # noqa: S102 - the page's own code
        printed.append(buf.getvalue())
        assert k == 0 or printed[-1].strip(), f"block {k} printed nothing:\n{code}"
    namespace["db"].client.close()
    text = "\n".join(printed)
    assert f"{name} not_converged round 4" in text
    assert "Cl60In10Li162 232" in text and "{'validation': 20" in text.replace("'exploration': 12, ", "")
    assert "1 of 1 DFT labels needed custodian corrections" in text and "{'VaspErrorHandler': 1}" in text
    assert "1 corrections by ['VaspErrorHandler'] in 812.5 s" in text
    assert "[600.0] K, 2000 steps, every 200 -> ['interface']" in text and "20 validation frames" in text
    assert f"{final['model_id']} 198 labels; dp test F 62.0 meV/Å; validation F 148.96 meV/Å" in text
    assert "round 4 198 labels: 152.0 meV/Å on 20 frames" in text
    assert f"final model: {final['model_id']}-frozen.pb 18 bytes" in text
    assert (out_dir / f"{final['model_id']}-frozen.pb").read_bytes() == b"frozen graph bytes"
    assert "interface 600.0 K at 2.0 ps: reduced In 0.4 (reference) 0.4 (NNP)" in text
    assert "interface at 2.0 ps: Cl60In10Li162 232 atoms" in text
    assert "production: 31880 atoms, 10000000 steps at 71 µs/step/atom (232-atom interface, 1 model): 6287 hours" in text
    assert f"{name}-prod1 finished 200 of 200 steps; percolates: {{'In': 0.2}}" in text
    assert "0.1 ps: {'reduced_In': 0.5, 'largest_cluster_In': 3}" in text and "last frame: 0.2 ps, 4 atoms" in text
    assert "Li in LiCl (bulk): Ea 0.33 +/- 0.04 eV; D [0.01, 0.05] Å^2/ps at [600.0, 800.0] K" in text
    assert "LiCl: K 40.0 GPa, G 18.0 GPa, C11 60.0" in text
