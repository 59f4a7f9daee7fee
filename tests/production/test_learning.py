"""Learning from the production run, end to end through real workers: a deliberately under-trained ensemble
stops the run as uncertain, boxes carved around the uncertain atoms are labelled by the campaign's reference
(CHGNet) and trained on (their masked atoms never in the loss), the new production model is checked on the
fixed validation set, and the run resumes from the last restart and finishes."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import dpdata
import numpy as np
import pytest
import yaml
from ase.build import bulk

from seiflow.analysis.report import write_report
from seiflow.cli.main import main
from seiflow.controller.status import campaign_status
from seiflow.dataset.carved import ATOM_PREF_FILE, core_weights
from seiflow.dataset.frames import FrameStore
from seiflow.labelling.base import label_maker_for
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
from seiflow.records.production import ProductionStore
from seiflow.records.validations import ValidationSetStore, ValidationStore
from seiflow.schemas.campaign import Campaign, campaign_from_dict
from seiflow.schemas.frame import LabelledFrame, Provenance
from seiflow.schemas.production import ProductionState
from seiflow.schemas.validation import ValidationSet
from seiflow.store import get_database, get_launchpad
from seiflow.training.data import prepare_data, training_data
from seiflow.training.jobs import train_model
from tests.production.helpers import TINY

LICL_FRAMES = Path(__file__).resolve().parents[1] / "data" / "licl_deepmd" / "Li32Cl32"  # CHGNet labels
N_VALIDATION = 6  # of its 30 frames, the fixed validation set; the other 24 are the campaign's labels

# 216 atoms of LiCl (a 15.4 Å cube: the conventional cell x 3 in a file, repeated 3 x 3 in-plane) at 300 K,
# 2 segments of 400 steps, the ensemble and a frame every 20 steps (every uncertain step can be carved from).
# Boxes: core 2.5 + rcut 4 + buffer 0.5 Å -> a 14 Å cube of ~160 atoms, ~10 of them in the core.
PRODUCTION = {"structure": "LiCl_column", "atoms": 216, "temperature": 300.0, "length_ns": 0.0008, "segment_ps": 0.4,
              "dump_every": 20, "thermo_every": 20, "watch": {"every": 20, "f_level": 0.3, "max_fraction": 0.2},
              "learning": {"core_a": 2.5, "buffer_a": 0.5, "max_cells": 4, "max_rounds": 3}}


def learning_campaign(folder: Path) -> Campaign:
    column = bulk("LiCl", "rocksalt", a=5.14, cubic=True).repeat((1, 1, 3))
    ase.io.write(folder / "licl_column.extxyz", column)
    data = yaml.safe_load(TINY.read_text())
    data["name"] = "learns"
    data["structures"]["phases"] = {"LiCl_column": {"file": str(folder / "licl_column.extxyz")}}
    # the fine-tuning starts at the first round's rate: these models saw 20 steps, there is little to keep
    data["training"].update(numb_steps=20, numb_steps_next=1500, final_numb_steps=1500, validation_fraction=0.0,
                            start_lr=0.005, resume_start_lr=None, axis_neuron=4, fitting_neurons=[16, 16])
    data["production"] = PRODUCTION
    return campaign_from_dict(data)


def seed_frames(campaign: Campaign) -> None:
    """The committed CHGNet frames as the campaign's labels (24) and its fixed validation set (6)."""
    reference = label_maker_for(campaign.labelling).reference
    system = dpdata.LabeledSystem(str(LICL_FRAMES), fmt="deepmd/npy")
    symbols = [system["atom_names"][t] for t in system["atom_types"]]
    store = FrameStore()
    for i in range(system.get_nframes()):
        source = "validation" if i < N_VALIDATION else "reference_md"
        store.add(LabelledFrame(
            species=symbols, positions=system["coords"][i], cell=system["cells"][i], energy=float(system["energies"][i]),
            forces=system["forces"][i], virial=system["virials"][i], reference=reference,
            provenance=Provenance(campaign=campaign.name, round=0, source=source, origin="LiCl", frame_index=i,
                                  temperature=600.0)))
    ValidationSetStore().put(ValidationSet(
        campaign=campaign.name, reference=reference, structures={}, temperatures=[600.0], steps=12,
        sample_every=2, timestep_fs=1.0, seed=1, dynamics=[]))


def poor_models(campaign: Campaign) -> list[str]:
    """Round 1 trained 20 steps from scratch through seiflow's own training job: two members and the production
    model (index 2), which the campaign then hands to production."""
    c = campaign
    data = training_data(c.name, label_maker_for(c.labelling).reference)
    ids = [train_model.original(c.training, list(c.system.type_map), data, c.name, 1, i, c.training.seed + i).model_id
           for i in range(3)]
    campaigns.set_final_model(get_database(), c.name, ids[2])
    return ids


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_an_uncertain_production_learns_from_carved_boxes_and_resumes_to_the_end(seiflow_env, tmp_path, capsys,
                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = get_database()
    campaign = learning_campaign(tmp_path)
    campaigns.ensure(db, campaign)
    seed_frames(campaign)
    ids = poor_models(campaign)

    with pytest.raises(SystemExit) as exc:
        main(["produce", "learns", "--local", "--json"])
    out = capsys.readouterr()
    status = campaign_status(get_launchpad(), db, "learns")
    run = ProductionStore(db).latest("learns")
    learned = [r.model_dump(exclude={"skipped", "started_at", "finished_at"}) for r in run.learning]
    assert exc.value.code == 0, (out.err[-1500:], status["last_error"], learned)
    assert run.state == ProductionState.FINISHED, (run.state, run.stop_reason, run.learning)
    assert run.steps_done == run.total_steps == 800
    assert len(run.learning) >= 1
    first = run.learning[0]
    assert first.segment == 0 and first.models_before == [ids[2], ids[0], ids[1]]
    assert first.watch_before.fraction > 0.2 and first.time_ps is not None
    assert first.n_carved >= first.n_selected >= 1 and first.n_selected <= 4
    assert first.n_labelled >= 1 and first.n_labelled + first.n_flagged == first.n_selected
    assert all(120 <= n <= 200 for n in first.box_atoms), first.box_atoms
    assert all(0 < k < n for k, n in zip(first.core_atoms, first.box_atoms, strict=True))
    assert first.box_edge_a == pytest.approx(14.0)
    # the old and the new production model on the same 6 frames; the new one is not worse
    assert first.validation_rmse_f_after <= first.validation_rmse_f_before * 1.05, first
    validated = ValidationStore(db).get("learns", first.round)
    assert validated.n_frames == N_VALIDATION and len(validated.models) == 2
    assert validated.mean.rmse_f_mev_a == pytest.approx(first.validation_rmse_f_after), "the round reports the new model"
    last = run.learning[-1]
    assert last.outcome == "resumed" and last.watch_after is not None and last.watch_after.fraction <= 0.2
    assert last.watch_after.max_devi_f < first.watch_before.max_devi_f
    assert run.model_id == last.models_after[0] != ids[2] and run.watch_model_ids == last.models_after[1:]
    assert campaigns.get(db, "learns")["final_model_id"] == run.model_id
    segs = ProductionStore(db).history(run.run_id)
    assert [s.segment for s in segs] == [0, 1] and all(s.health is None for s in segs)
    assert [s for seg in segs for s in seg.frame_steps] == list(range(0, 801, 20)), "no gap, no repeated frame"

    # the carved frames: stored like any frame, with origin and per-atom weights from their geometry
    carved = list(FrameStore().find(campaign="learns", source="production"))
    assert len(carved) == sum(r.n_labelled for r in run.learning)
    for f in carved:
        p = f.provenance
        assert p.production_run == run.run_id and p.time_ps is not None and p.centre_atom is not None
        assert np.array_equal(f.atom_pref, core_weights(f.positions, f.cell, p.carve_core_a))
        assert 0 < f.atom_pref.sum() < f.natoms
    # ...trained on: forces of the core only (pref_f 0, the weighted term on), never their energy or virial
    model = ModelStore(db).get(run.model_id)
    assert model.data.n_carved_frames == len(carved) and model.init == "init_frz_model"
    loss = model.input["loss"]
    assert loss["start_pref_f"] == loss["limit_pref_f"] == 0 and loss["start_pref_pf"] > 0
    record = prepare_data(training_data("learns", label_maker_for(campaign.labelling).reference),
                          tmp_path / "check", list(campaign.system.type_map), 0.0, 1)
    assert record.n_train_frames == 24 + len(carved) and record.n_carved_frames == len(carved)
    systems = sorted((tmp_path / "check" / "train").iterdir())
    boxes = [s for s in systems if s.name.endswith("_carved")]
    assert boxes and all(not (s / "set.000" / "energy.npy").exists() for s in boxes)
    masked = sum(int((np.load(s / "set.000" / ATOM_PREF_FILE) == 0).sum()) for s in boxes)
    assert masked == sum(f.natoms - int(f.atom_pref.sum()) for f in carved), "every cut atom weighs 0"
    assert all(np.all(np.load(s / "set.000" / ATOM_PREF_FILE) == 1) for s in systems if s not in boxes)

    # the report marks where the run learned
    written = write_report(db, "learns", tmp_path / "report")
    data = json.loads(Path(written["json"]).read_text())["production"]
    assert [r["round"] for r in data["learning"]] == [r.round for r in run.learning]
    assert "Learning from the production run" in Path(written["html"]).read_text()


def test_boxes_cover_the_uncertain_atoms_most_deviating_first_and_a_stop_says_why_it_cannot_learn(tmp_path):
    from seiflow.production.learning import box_centres, why_not_learn
    from seiflow.schemas.production import (
        LearningRound,
        ProductionRun,
        ProductionSegment,
        UncertainAtoms,
        WatchResult,
    )

    frame = bulk("LiCl", "rocksalt", a=5.14, cubic=True).repeat(3)
    near, far = 0, int(np.argmax(frame.get_distances(0, range(len(frame)), mic=True)))
    neighbour = int(np.argsort(frame.get_distances(0, range(len(frame)), mic=True))[1])  # 2.57 Å from atom 0
    located = UncertainAtoms(step=100, time_ps=0.1, max_devi_f=0.9, indices=[near, neighbour, far],
                             devi_f=[0.5, 0.9, 0.7])
    assert box_centres(frame, located, core_a=2.6) == [neighbour, far], "atom 0 shares its neighbour's core"
    assert box_centres(frame, located, core_a=1.0) == [neighbour, far, near]

    c = learning_campaign(tmp_path)
    run = ProductionRun(campaign=c.name, run_id="r", model_id="m", n_atoms=216, total_steps=800, segment_steps=400,
                        timestep_fs=1.0, temperature=300.0, dump_every=20)
    seg = ProductionSegment(campaign=c.name, run_id="r", segment=0, start_step=0, end_step=400, n_atoms=216,
                            wall_s=1.0, atom_steps_per_s=1.0, n_frames=0, watch=WatchResult(level=0.3))
    assert "no stored frame beyond the level" in why_not_learn(c, run, seg)
    seg.watch.located = [located]
    assert why_not_learn(c, run, seg) is None
    run.learning = [LearningRound(round=2 + k, segment=0) for k in range(3)]
    assert "3 learning rounds done" in why_not_learn(c, run, seg)
    off = c.model_copy(update={"production": c.production.model_copy(
        update={"learning": c.production.learning.model_copy(update={"enabled": False})})})
    assert "enabled is false" in why_not_learn(off, run, seg)
