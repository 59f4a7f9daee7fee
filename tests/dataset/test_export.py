"""FrameStore.export_deepmd (stored documents -> arrays) writes exactly what dpdata writes for the same frames."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dpdata
import numpy as np
import pytest

from seiflow.constants import ARRAYS_BUCKET
from seiflow.dataset.export import export_deepmd
from seiflow.dataset.frames import FrameStore
from seiflow.schemas.frame import FrameStatus, LabelledFrame, Provenance, Reference

REF = Reference(calculator="test", settings={"level": 1})
TYPE_MAP = ["Li", "In", "Cl"]


def frame(seed: int, species: list[str], virial: bool = True, pbc=(True, True, True)) -> LabelledFrame:
    rng = np.random.default_rng(seed)
    n = len(species)
    return LabelledFrame(
        species=species, positions=rng.uniform(0, 5, (n, 3)), cell=np.eye(3) * 5.0 + rng.normal(0, 0.1, (3, 3)),
        pbc=pbc, energy=float(rng.normal(-3.0 * n, 1)), forces=rng.normal(0, 0.5, (n, 3)),
        virial=rng.normal(0, 1, (3, 3)) if virial else None, reference=REF,
        provenance=Provenance(campaign="c1", round=0, source="import", frame_index=seed),
    )


def mixed_frames() -> list[LabelledFrame]:
    """Several compositions, species out of type order (two orders of one composition), a system
    without virials, a non-periodic one, a large frame (GridFS arrays) and a failed record."""
    frames = [
        frame(0, ["Cl", "Li", "Li"]), frame(1, ["Li", "Cl", "Li"]), frame(2, ["Li", "Li", "Cl"]),
        frame(3, ["Li", "In", "Cl", "Cl", "Li", "Li"]), frame(4, ["Cl", "Cl", "In", "Li", "Li", "Li"]),
        frame(5, ["Cl", "Li", "Li"], virial=False), frame(6, ["Li", "Cl"], pbc=(False, False, False)),
        frame(7, ["Cl"] * 40 + ["Li"] * 70),  # 110 atoms: 2,640-byte arrays go to GridFS below
    ]
    failed = frame(8, ["Cl", "Li", "Li"]).model_copy(
        update={"status": FrameStatus.FAILED, "energy": None, "forces": None, "reason": "x"})
    return [*frames, failed]


def dpdata_reference(frames: list[LabelledFrame], out: Path) -> None:
    """The same frames written by dpdata directly: one LabeledSystem per composition (and virial
    presence), frames in id order, atoms stably sorted by type_map."""
    groups: dict[str, list[LabelledFrame]] = {}
    for f in sorted(frames, key=LabelledFrame.content_hash):
        if f.energy is None or f.forces is None:
            continue
        counts = Counter(f.species)
        key = "".join(f"{el}{counts[el]}" for el in sorted(counts)) + ("" if f.virial is not None else "_novirial")
        groups.setdefault(key, []).append(f)
    for key, group in groups.items():
        orders = [np.argsort([TYPE_MAP.index(s) for s in f.species], kind="stable") for f in group]
        types = np.array([TYPE_MAP.index(s) for s in group[0].species])[orders[0]]
        data = {
            "atom_names": TYPE_MAP, "atom_numbs": [int((types == i).sum()) for i in range(3)],
            "atom_types": types, "orig": np.zeros(3),
            "cells": np.array([f.cell for f in group]),
            "coords": np.array([f.positions[o] for f, o in zip(group, orders, strict=True)]),
            "energies": np.array([f.energy for f in group]),
            "forces": np.array([f.forces[o] for f, o in zip(group, orders, strict=True)]),
        }
        if group[0].virial is not None:
            data["virials"] = np.array([f.virial for f in group])
        if not all(group[0].pbc):
            data["nopbc"] = True
        dpdata.LabeledSystem(data=data).to("deepmd/npy", str(out / key))


def assert_same_tree(ours: Path, reference: Path) -> None:
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    assert sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file()) == files
    for rel in files:
        if rel.suffix == ".npy":
            a, b = np.load(ours / rel), np.load(reference / rel)
            assert a.dtype == b.dtype and a.shape == b.shape, rel
            np.testing.assert_array_equal(a, b, err_msg=str(rel))
        else:
            assert (ours / rel).read_bytes() == (reference / rel).read_bytes(), rel


@pytest.mark.parametrize("block", [2, 1024])  # frames arrive in blocks; 2: several blocks, mixed orders in one
def test_store_export_equals_dpdata_array_by_array(seiflow_env, tmp_path, monkeypatch, block):
    monkeypatch.setattr("seiflow.dataset.export._Rows.BLOCK", block)
    frames = mixed_frames()
    store = FrameStore(inline_array_limit=1024)
    store.add_many(frames)
    assert store.db[f"{ARRAYS_BUCKET}.files"].count_documents({}) >= 2  # GridFS arrays are exported too
    dpdata_reference(frames, tmp_path / "dpdata")
    paths = store.export_deepmd(tmp_path / "store", type_map=TYPE_MAP, campaign="c1")
    assert [p.name for p in paths] == ["Cl1Li1", "Cl1Li2", "Cl1Li2_novirial", "Cl2In1Li3", "Cl40Li70"]
    assert (tmp_path / "store" / "Cl1Li1" / "nopbc").is_file()
    assert_same_tree(tmp_path / "store", tmp_path / "dpdata")
    # frames in memory (the training-data path) give the same files too
    export_deepmd(list(store.find(campaign="c1")), tmp_path / "frames", TYPE_MAP)
    assert_same_tree(tmp_path / "frames", tmp_path / "dpdata")


def test_export_without_type_map_uses_sorted_elements(seiflow_env, tmp_path):
    store = FrameStore()
    store.add_many([frame(0, ["Li", "Cl", "Li"]), frame(1, ["Cl", "Li", "Li", "Li"])])
    paths = store.export_deepmd(tmp_path / "out")
    assert [p.name for p in paths] == ["Cl1Li2", "Cl1Li3"]
    assert (paths[0] / "type_map.raw").read_text().split() == ["Cl", "Li"]
    assert (paths[0] / "type.raw").read_text().split() == ["0", "1", "1"]
