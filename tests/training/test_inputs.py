"""The DeePMD input and data preparation (no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seiflow.errors import InputError
from seiflow.training.data import held_out_dir, prepare_data, train_systems
from seiflow.training.inputs import auto_sel, build_input, max_neighbours
from seiflow.training.run import EV_A3_TO_MPA, checkpoint_step, read_test_details
from tests.training.conftest import TYPE_MAP


def test_auto_sel_counts_rocksalt_neighbours(licl_system):
    # rocksalt a=5.14: within 4.5 Å each atom has 6 unlike (2.57 Å) + 12 like (3.63 Å) neighbours,
    # 8 unlike at 4.45 Å sit right at the edge; displacements add or remove a few
    counts = max_neighbours([licl_system], TYPE_MAP, 4.5)
    assert 12 <= counts[0] <= 20 and 12 <= counts[1] <= 20
    sel = auto_sel([licl_system], TYPE_MAP, 4.5)
    assert all(s % 4 == 0 and s >= c * 1.1 for s, c in zip(sel, counts, strict=True))


def test_build_input_fields(tiny_config, licl_system):
    inp = build_input(tiny_config, TYPE_MAP, [licl_system], [20, 20], seed=5, numb_steps=40)
    assert inp["model"]["type_map"] == TYPE_MAP
    assert inp["model"]["descriptor"]["sel"] == [20, 20]
    assert inp["model"]["descriptor"]["seed"] == 5 and inp["training"]["seed"] == 5
    assert inp["learning_rate"]["decay_steps"] == 10
    assert inp["loss"]["start_pref_f"] == 1000.0
    json.dumps(inp)
    with pytest.raises(InputError, match="sel"):
        build_input(tiny_config, TYPE_MAP, [licl_system], [20], seed=5, numb_steps=40)


def test_a_round_resumed_from_the_last_model_starts_gently(tiny_config, licl_system):
    # DP-GEN's training_reuse_*: a lower first learning rate, energy-heavier first prefactors
    inp = build_input(tiny_config, TYPE_MAP, [licl_system], [20, 20], seed=5, numb_steps=40, resumed=True)
    assert inp["learning_rate"]["start_lr"] == 1e-4
    assert (inp["loss"]["start_pref_e"], inp["loss"]["start_pref_f"]) == (0.1, 100.0)
    assert inp["learning_rate"]["stop_lr"] <= 1e-4
    plain = tiny_config.model_copy(update={"resume_start_lr": None})
    inp = build_input(plain, TYPE_MAP, [licl_system], [20, 20], seed=5, numb_steps=40, resumed=True)
    assert inp["learning_rate"]["start_lr"] == plain.start_lr and inp["loss"]["start_pref_f"] == 1000.0


def test_prepare_data_splits_and_is_reused(tmp_path, licl_data):
    record = prepare_data(licl_data, tmp_path / "data", TYPE_MAP, 0.2, seed=3)
    assert (record.n_train_frames, record.n_test_frames) == (24, 6)
    assert not set(record.frame_ids) & set(record.test_frame_ids)
    assert len(train_systems(tmp_path / "data")) == 1 and held_out_dir(tmp_path / "data") is not None
    again = prepare_data(licl_data, tmp_path / "data", TYPE_MAP, 0.5, seed=99)
    assert again == record  # a rerun keeps the data the checkpoint was trained on


def test_prepare_data_rejects_non_system(tmp_path):
    from seiflow.training.data import TrainingDataSpec

    with pytest.raises(InputError, match="deepmd/npy"):
        prepare_data(TrainingDataSpec(systems=[str(tmp_path)]), tmp_path / "d", TYPE_MAP, 0.1, 1)


def test_checkpoint_step_and_metrics_parsing(tmp_path):
    assert checkpoint_step(tmp_path) is None
    for step in (20, 30):
        for ext in (".index", ".meta", ".data-00000-of-00001"):
            (tmp_path / f"model.ckpt-{step}{ext}").write_text("x")
    (tmp_path / "model.ckpt-40.index").write_text("x")  # killed while saving: incomplete
    assert checkpoint_step(tmp_path) == 30
    prefix = tmp_path / "detail"
    np.savetxt(prefix.with_suffix(".e_peratom.out"), [[1.0, 1.001], [2.0, 1.999]])
    np.savetxt(prefix.with_suffix(".f.out"), [[0.1, 0.2, 0.3, 0.1, 0.2, 0.4]])
    np.savetxt(prefix.with_suffix(".s.out"), [[1e-3] * 9 + [0.0] * 9])
    metrics, parity = read_test_details(prefix)
    assert metrics.rmse_e_mev_atom == pytest.approx(1.0)
    assert metrics.rmse_f_mev_a == pytest.approx(100 / np.sqrt(3))
    assert metrics.rmse_v_mpa == pytest.approx(1e-3 * EV_A3_TO_MPA)
    assert metrics.n_test_frames == 2 and len(parity.force) == 3


def test_prepare_data_from_frame_store(seiflow_env, tmp_path, licl_system):
    from seiflow.dataset.frames import FrameStore
    from seiflow.dataset.importers import frames_from_file
    from seiflow.schemas.frame import Provenance, Reference
    from seiflow.training.data import TrainingDataSpec

    frames = frames_from_file(
        licl_system, "deepmd/npy", Reference(calculator="chgnet"),
        Provenance(campaign="licl", round=0, source="reference_md"),
    )
    ids = [fid for fid, _ in FrameStore().add_many(frames)]
    spec = TrainingDataSpec(query={"campaign": "licl", "max_round": 0})
    record = prepare_data(spec, tmp_path / "data", TYPE_MAP, 0.1, seed=1)
    assert (record.n_train_frames, record.n_test_frames) == (27, 3)
    assert sorted(record.frame_ids + record.test_frame_ids) == sorted(ids)
    (system,) = train_systems(tmp_path / "data")
    assert (system / "type_map.raw").read_text().split() == TYPE_MAP
    with pytest.raises(InputError, match="no labelled frames"):
        prepare_data(TrainingDataSpec(query={"campaign": "none"}), tmp_path / "d2", TYPE_MAP, 0.1, 1)
