"""Run folders keep what a user looks at once the results are stored."""

from __future__ import annotations

from seiflow.runfiles import tidy
from seiflow.training.jobs import TRAINING_SCRATCH


def test_a_stored_models_folder_keeps_logs_inputs_and_models(tmp_path):
    for name in ("input.json", "train.log", "lcurve.out", "frozen.pb", "compressed.pb", "model.ckpt-40.meta",
                 "model.ckpt-40.index", "checkpoint", "checkpoint.tar.gz", "data/train/set.000/box.npy",
                 "test/parity.json", "prev/parent.pb", "model-compression/model.ckpt.meta",
                 "model-compression/checkpoint"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
    assert tidy(tmp_path, TRAINING_SCRATCH, "all") == 0 and (tmp_path / "data").exists()
    freed = tidy(tmp_path, TRAINING_SCRATCH, "user")
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["compressed.pb", "frozen.pb", "input.json", "lcurve.out", "test/parity.json", "train.log"]
    assert freed == 800
