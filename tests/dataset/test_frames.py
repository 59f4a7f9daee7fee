"""FrameStore against a real MongoDB-protocol server: dedup, GridFS arrays, queries, failures, export."""

from __future__ import annotations

import threading

import dpdata
import numpy as np
import pytest

from seiflow.constants import ARRAYS_BUCKET
from seiflow.dataset.frames import FrameStore
from seiflow.errors import InputError
from seiflow.schemas.frame import FrameStatus, LabelledFrame, Provenance, Reference

REF = Reference(calculator="test", settings={"level": 1})


def make_frame(seed: int = 0, n_li: int = 2, round_: int = 0, source: str = "import", natoms_cl: int = 1):
    rng = np.random.default_rng(seed)
    species = ["Cl"] * natoms_cl + ["Li"] * n_li
    n = len(species)
    return LabelledFrame(
        species=species,
        positions=rng.uniform(0, 5, (n, 3)),
        cell=np.eye(3) * 5.0,
        energy=-3.0 * n + rng.normal(0, 0.01),
        forces=rng.normal(0, 0.1, (n, 3)),
        virial=rng.normal(0, 0.1, (3, 3)),
        reference=REF,
        provenance=Provenance(campaign="c1", round=round_, source=source, frame_index=seed),
    )


def test_add_get_roundtrip_and_dedup(seiflow_env):
    store = FrameStore()
    frame = make_frame(1)
    frame_id, inserted = store.add(frame)
    assert inserted and frame_id == frame.content_hash()
    again_id, again = store.add(make_frame(1))
    assert (again_id, again) == (frame_id, False)
    assert store.count() == 1 and store.has(frame_id)
    back = store.get(frame_id)
    np.testing.assert_array_equal(back.positions, frame.positions)
    np.testing.assert_array_equal(back.forces, frame.forces)
    np.testing.assert_array_equal(back.virial, frame.virial)
    assert back.energy == frame.energy and back.species == frame.species
    assert back.provenance == frame.provenance and back.reference == REF
    with pytest.raises(InputError):
        store.get("nope")


def test_large_arrays_go_to_gridfs(seiflow_env):
    store = FrameStore(inline_array_limit=1024)
    frame = make_frame(2, n_li=100)  # 101 atoms: 2,424 bytes of positions
    frame_id, _ = store.add(frame)
    doc = store.collection.find_one({"_id": frame_id})
    assert "gridfs_id" in doc["arrays"]["positions"] and "data" in doc["arrays"]["cell"]
    np.testing.assert_array_equal(store.get(frame_id).forces, frame.forces)
    # a lost race deletes its own GridFS files
    n_files = store.db[f"{ARRAYS_BUCKET}.files"].count_documents({})
    store.add(make_frame(2, n_li=100))
    assert store.db[f"{ARRAYS_BUCKET}.files"].count_documents({}) == n_files


def test_concurrent_adds_store_one(seiflow_env):
    store = FrameStore()
    results = []

    def worker():
        results.append(FrameStore().add(make_frame(3)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(inserted for _, inserted in results) == 1
    assert store.count(status=None) == 1


def test_queries_and_counts(seiflow_env):
    store = FrameStore()
    store.add_many([make_frame(i, round_=i % 2) for i in range(4)])
    store.add_many([make_frame(10 + i, n_li=3, source="reference_md") for i in range(2)])
    assert store.count() == 6
    assert store.count(round=1) == 2 and store.count(max_round=0) == 4
    assert store.counts_by("round") == {"0": 4, "1": 2}
    assert store.counts_by("source") == {"import": 4, "reference_md": 2}
    assert store.counts_by("formula") == {"Cl1Li2": 4, "Cl1Li3": 2}
    assert len(list(store.find(formula="Cl1Li3"))) == 2
    assert len(store.ids(source="import", campaign="c1")) == 4
    with pytest.raises(InputError):
        store.counts_by("colour")


def test_failure_recorded_then_replaced(seiflow_env):
    store = FrameStore()
    frame = make_frame(5)
    failed_id = store.record_failure(frame, REF, frame.provenance, "SCF did not converge")
    assert failed_id == frame.content_hash()
    assert store.count() == 0 and store.count(status="failed") == 1
    assert not store.has(failed_id) and store.has(failed_id, include_failed=True)
    assert store.get(failed_id).reason == "SCF did not converge"
    assert store.add(frame) == (failed_id, True)
    assert store.get(failed_id).status == FrameStatus.LABELLED


def test_export_deepmd_one_system_per_composition(seiflow_env, tmp_path):
    store = FrameStore()
    frames = [make_frame(i) for i in range(3)] + [make_frame(20, n_li=3)]
    frames[1].species = ["Li", "Cl", "Li"]  # atoms out of type order are sorted on export
    store.add_many(frames)
    paths = store.export_deepmd(tmp_path / "out", type_map=["Li", "In", "Cl"], campaign="c1")
    assert [p.name for p in paths] == ["Cl1Li2", "Cl1Li3"]
    system = dpdata.LabeledSystem(str(paths[0]), fmt="deepmd/npy")
    assert system.get_nframes() == 3 and system["atom_names"] == ["Li", "In", "Cl"]
    assert (paths[0] / "type_map.raw").read_text().split() == ["Li", "In", "Cl"]
    assert list(system["atom_types"]) == [0, 0, 2]
    by_id = {f.content_hash(): f for f in frames}
    exported = sorted(by_id)  # find() sorts by id
    first = by_id[[i for i in exported if by_id[i].natoms == 3][0]]
    np.testing.assert_allclose(system["energies"][0], first.energy)
    assert system["virials"].shape == (3, 3, 3)


def test_add_many_batches_and_dedupes_like_add(seiflow_env):
    """Batched writes: duplicates inside a batch and against the store count once; a failed
    record is replaced by its labelled frame."""
    from seiflow.dataset.frames import FrameStore
    from seiflow.schemas.frame import FrameStatus

    store = FrameStore()
    frames = [make_frame(seed=i) for i in range(7)]
    failed = make_frame(seed=7).model_copy(update={"status": FrameStatus.FAILED, "energy": None, "reason": "x"})
    store.add(failed)
    store.add(frames[0])
    result = store.add_many([*frames, frames[3], make_frame(seed=7)], batch=4)
    assert [inserted for _, inserted in result] == [False, True, True, True, True, True, True, False, True]
    assert store.count() == 8 and store.count(status=None) == 8
    assert store.get(result[-1][0]).status == FrameStatus.LABELLED


def test_a_frame_labelled_once_serves_every_campaign(seiflow_env):
    """The same structure and reference is stored once, and each campaign that meets it trains on it."""
    from pymatgen.core import Lattice, Structure

    from seiflow.dataset.frames import FrameStore
    from seiflow.labelling.base import pending

    store = FrameStore()
    first = make_frame(seed=11)
    store.add(first)
    again = first.model_copy(update={"provenance": Provenance(campaign="c2", round=0, source="import")})
    assert store.add(again) == (first.content_hash(), False)
    assert store.count(campaign="c1") == store.count(campaign="c2") == 1

    structure = Structure(Lattice(first.cell), first.species, first.positions, coords_are_cartesian=True)
    todo, done = pending([structure], REF, store, [Provenance(campaign="c3", source="exploration")])
    assert (todo, done) == ([], [first.content_hash()])
    assert store.ids(campaign="c3") == [first.content_hash()]
    assert store.count() == 1


def test_batch_content_hash_equals_frame_content_hash():
    """add_many's per-batch hashing (species and reference parts worked out once) gives the very ids
    LabelledFrame.content_hash gives, so frames stored before and after it deduplicate."""
    from seiflow.dataset.frames import _Shared

    other = Reference(calculator="vasp", settings={"encut": 520, "kpts": [2, 2, 1], "a": {"z": 1, "b": 2}})
    frames = [make_frame(i, n_li=1 + i % 3) for i in range(6)]
    frames += [f.model_copy(update={"reference": other}) for f in frames[:3]]
    frames.append(frames[0].model_copy(update={"reference": Reference(calculator="test", settings={"level": 1})}))
    frames.append(frames[1].model_copy(update={"species": list(reversed(frames[1].species))}))
    shared = _Shared()
    assert [shared.content_hash(f) for f in frames] == [f.content_hash() for f in frames]
    assert len({f.content_hash() for f in frames}) == len(frames) - 1  # the equal reference copy


def test_documents_with_active_learning_extras_load_into_the_declared_fields(seiflow_env):
    """Frames stored before max_devi_f, sanity and temperature were declared carried them as extra keys."""
    store = FrameStore()
    frame_id, _ = store.add(make_frame(7, source="exploration"))
    old = {"campaign": "c1", "round": 1, "source": "exploration", "origin": "r1_t0", "frame_index": 7,
           "max_devi_f": 0.31, "max_devi_v": 0.02, "devi_e": 0.004, "sanity": True, "temperature": 600.0}
    store.collection.update_one({"_id": frame_id}, {"$set": {"provenance": old}})
    back = store.get(frame_id).provenance
    assert (back.max_devi_f, back.max_devi_v, back.devi_e) == (0.31, 0.02, 0.004)
    assert back.sanity is True and back.temperature == 600.0 and back.custodian is None
    assert not back.model_extra  # nothing left undeclared
    assert store.collection.count_documents({"provenance.max_devi_f": {"$gt": 0.3}}) == 1
