"""No validation or test frame ever enters a training set: every training query excludes both sources."""

from __future__ import annotations

import numpy as np

from seiflow.dataset.frames import FrameStore
from seiflow.labelling.local import local_reference
from seiflow.schemas.frame import LabelledFrame, Provenance
from seiflow.training.data import prepare_data, training_data


def frames(source: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    ref = local_reference("chgnet")
    out = []
    for i in range(n):
        pos = rng.uniform(0, 5, (4, 3))
        out.append(LabelledFrame(
            species=["Li", "Li", "Cl", "Cl"], positions=pos, cell=np.eye(3) * 5.0, energy=-10.0 + 0.01 * i,
            forces=rng.normal(0, 0.1, (4, 3)), virial=np.eye(3) * 0.1, reference=ref,
            provenance=Provenance(campaign="c", round=0, source=source, origin="LiCl", frame_index=i),
        ))
    return out


def test_training_data_never_holds_validation_or_test_frames(seiflow_env, tmp_path):
    store = FrameStore()
    store.add_many(frames("reference_md", 8, 0) + frames("exploration", 4, 1))
    validation_ids = [i for i, _ in store.add_many(frames("validation", 6, 2) + frames("test", 5, 3))]
    spec = training_data("c", local_reference("chgnet"))
    assert store.count(**spec.query) == 12
    for attempt in range(2):  # a rerun (restart) reuses its record: still no validation or test frame
        record = prepare_data(spec, tmp_path / "data", ["Li", "Cl"], 0.2, seed=1)
        ids = set(record.frame_ids) | set(record.test_frame_ids)
        assert len(ids) == 12 and not ids & set(validation_ids), attempt
    other = training_data("c", local_reference("chgnet").model_copy(update={"settings": {"model": "x"}}))
    assert store.count(**other.query) == 0  # another reference's frames are not this campaign's data
