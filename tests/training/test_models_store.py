"""ModelStore against the real test server: put, list, latest ensemble, fetch (no path traversal)."""

from __future__ import annotations

import pytest

from seiflow.errors import InputError
from seiflow.models.store import ModelStore, safe_name
from seiflow.schemas.model import ModelDoc, ValidationMetrics


def _doc(model_id: str, round_: int, index: int, campaign: str = "c1") -> ModelDoc:
    return ModelDoc(
        model_id=model_id, campaign=campaign, round=round_, index=index, seed=index, backend="tensorflow",
        deepmd_version="3.2.0", type_map=["Li", "Cl"], numb_steps=10,
        metrics=ValidationMetrics(rmse_e_mev_atom=1.0, rmse_f_mev_a=2.0, rmse_v_mpa=3.0, n_test_frames=4),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("../../etc/passwd", "passwd"), ("a/b/c.pb", "c.pb"), ("..", "model"), ("x y.pb", "x_y.pb"),
     ("..\\..\\win.pb", "win.pb"), (".hidden", "hidden")],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_put_list_latest_fetch(seiflow_env, tmp_path):
    store = ModelStore()
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(b"frozen-bytes")
    for r in (1, 2):
        for i in (0, 1):
            store.put(_doc(f"m{r}{i}", r, i), {"frozen": pb})
    store.put(_doc("other", 5, 0, campaign="c2"), {"frozen": pb})
    assert [d.model_id for d in store.list(campaign="c1")] == ["m20", "m21", "m10", "m11"]
    assert [d.model_id for d in store.list(campaign="c1", round=1)] == ["m10", "m11"]
    assert [d.model_id for d in store.latest_ensemble("c1")] == ["m20", "m21"]
    assert store.latest_ensemble("nope") == []
    out = store.fetch("m21", tmp_path / "out")
    assert out.parent == (tmp_path / "out").resolve() and out.read_bytes() == b"frozen-bytes"
    with pytest.raises(InputError, match="no model"):
        store.fetch("missing", tmp_path / "out")
    with pytest.raises(InputError, match="compressed"):
        store.fetch("m21", tmp_path / "out", kind="compressed")


def test_fetch_sanitises_stored_names(seiflow_env, tmp_path):
    store = ModelStore()
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(b"x")
    doc = store.put(_doc("../../evil", 1, 0), {"frozen": pb})
    store.collection.update_one({"model_id": doc.model_id}, {"$set": {"file_names.frozen": "../../../x.pb"}})
    out = store.fetch("../../evil", tmp_path / "dest")
    assert out.parent == (tmp_path / "dest").resolve()
    assert list((tmp_path / "dest").iterdir()) == [out]
