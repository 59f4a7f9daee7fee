"""Carved frames in the data: weights from the box's geometry whatever the atom order, forces-only systems
with atom_pref in type order, weights of 1 for every other system, and a force loss weighted per atom."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from seiflow.dataset.carved import ATOM_PREF_FILE, core_weights, masked_force_loss
from seiflow.dataset.export import export_deepmd
from seiflow.labelling.base import flag_absurd, store_results
from seiflow.production.carve import carve
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference
from seiflow.training.data import TrainingDataSpec, prepare_data

REF = Reference(calculator="test")


def _frame(atoms, weights=None, core=None, seed=0) -> LabelledFrame:
    rng = np.random.default_rng(seed)
    return LabelledFrame(
        species=atoms.get_chemical_symbols(), positions=atoms.positions, cell=np.asarray(atoms.cell),
        energy=-3.0 * len(atoms), forces=rng.normal(size=(len(atoms), 3)), virial=np.eye(3), reference=REF,
        atom_pref=weights, provenance=Provenance(source="production" if core else "reference_md", carve_core_a=core))


def _box(seed: int = 0):
    frame = bulk("LiCl", "rocksalt", a=5.14, cubic=True).repeat((4, 4, 4))
    frame.rattle(0.05, seed=seed)
    return carve(frame, [7], cutoff=3.0, buffer=0.5, core=1.5)


def test_the_weights_follow_the_atoms_when_the_reference_reorders_them(frame_store):
    box = _box()
    atoms = box.atoms
    order = np.argsort(atoms.get_chemical_symbols(), kind="stable")[::-1]  # as VASP would sort, reversed
    shuffled = atoms[order]
    frame = _frame(shuffled, core=box.core_half_width)
    out = store_results(frame_store, REF, [frame])
    stored = frame_store.get(out.frame_ids[0])
    assert np.array_equal(stored.atom_pref, box.atom_pref[order]), "the core moved with its atoms"
    assert 0 < stored.atom_pref.sum() < len(atoms) and stored.carved


def test_carved_frames_export_as_forces_only_systems_with_their_weights_in_type_order(tmp_path):
    box = _box()
    plain = bulk("LiCl", "rocksalt", a=5.14, cubic=True)
    frames = [_frame(box.atoms, box.atom_pref, box.core_half_width), _frame(plain)]
    paths = {p.name: p for p in export_deepmd(frames, tmp_path / "out", ["Li", "Cl"])}
    carved = next(p for name, p in paths.items() if name.endswith("_carved"))
    assert set(paths) == {"Cl4Li4", carved.name}
    weights = np.load(carved / "set.000" / ATOM_PREF_FILE)
    types = np.loadtxt(carved / "type.raw", dtype=int)
    symbols = np.array(box.atoms.get_chemical_symbols())
    expected = np.concatenate([box.atom_pref[symbols == "Li"], box.atom_pref[symbols == "Cl"]])
    assert weights.shape == (1, len(box.atoms)) and np.array_equal(weights[0], expected)
    assert list(types) == sorted(types)
    assert not (carved / "set.000" / "energy.npy").exists() and not (carved / "set.000" / "virial.npy").exists()
    assert (paths["Cl4Li4"] / "set.000" / "energy.npy").exists()


def test_training_data_trains_carved_frames_whole_and_weighs_every_other_system_1(tmp_path):
    box = _box()
    out = tmp_path / "systems"
    plain = [_frame(bulk("LiCl", "rocksalt", a=5.14, cubic=True), seed=i) for i in range(5)]
    systems = export_deepmd([_frame(box.atoms, box.atom_pref, box.core_half_width), *plain], out, ["Li", "Cl"])
    record = prepare_data(TrainingDataSpec(systems=[str(s) for s in systems]), tmp_path / "data", ["Li", "Cl"],
                          0.2, seed=1)
    assert record.n_train_frames == 1 + 4 and record.n_test_frames == 1, "a carved system is never held out"
    train = sorted((tmp_path / "data" / "train").iterdir())
    pref = {p.name: np.load(p / "set.000" / ATOM_PREF_FILE) for p in train}
    assert any(name.endswith("_carved") and (w == 0).any() for name, w in pref.items())
    assert all(np.all(w == 1) for name, w in pref.items() if not name.endswith("_carved"))


def test_the_force_loss_moves_to_the_weighted_term_and_core_weights_read_the_geometry():
    loss = masked_force_loss({"start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000, "limit_pref_f": 1})
    assert loss == {"start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_pf": 1000, "limit_pref_pf": 1,
                    "start_pref_f": 0.0, "limit_pref_f": 0.0}
    cell = np.eye(3) * 10.0
    positions = np.array([[5.0, 5.0, 5.0], [6.4, 5.0, 3.6], [6.6, 5.0, 5.0], [0.1, 9.9, 5.0]])
    assert list(core_weights(positions, cell, 1.5)) == [1.0, 1.0, 0.0, 0.0]


def test_a_carved_frame_is_judged_on_its_core_forces_only():
    box = _box()
    cut = _frame(box.atoms, box.atom_pref, box.core_half_width)
    cut.forces[np.flatnonzero(box.atom_pref == 0)[0]] = [200.0, 0.0, 0.0]  # a contact across the cut face
    cut.energy = 1e3  # far from any median: never trained on
    core = _frame(box.atoms, box.atom_pref, box.core_half_width)
    core.forces[np.flatnonzero(box.atom_pref == 1)[0]] = [200.0, 0.0, 0.0]
    flag_absurd([cut, core])
    assert cut.status == "labelled" and core.status == "flagged" and "core atoms" in core.reason


@pytest.fixture
def frame_store(seiflow_env):
    from seiflow.dataset.frames import FrameStore

    return FrameStore()
