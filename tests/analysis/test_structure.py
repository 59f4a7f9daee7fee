"""freud-based neighbour search against brute force: triclinic, tiny and non-periodic cells."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from seiflow.analysis.neighbours import count_neighbours, pairs_between
from seiflow.analysis.structure import FreudFrame, upper_triangular
from seiflow.errors import InputError
from tests.analysis.brute import all_pairs, triclinic_frame


def _as_dict(pairs) -> dict:
    return {(int(i), int(j), tuple(int(x) for x in s)): float(d)
            for i, j, s, d in zip(pairs.i, pairs.j, pairs.shift, pairs.d, strict=True)}


@pytest.mark.parametrize("left_handed", [False, True])
@pytest.mark.parametrize(("a", "b", "cutoff"), [("Li", "Cl", 3.1), ("In", "In", 3.6), ("Li", "Li", 6.5)])
def test_pairs_match_brute_force_on_rotated_triclinic_cells(left_handed, a, b, cutoff):
    atoms = triclinic_frame(left_handed=left_handed)
    ref = all_pairs(atoms, a, b, cutoff)
    ours = _as_dict(pairs_between(atoms, a, b, cutoff))
    assert len(ref) > 10
    assert set(ours) == set(ref)  # same pairs and the same image offsets
    assert max(abs(ours[k] - ref[k]) for k in ref) < 1e-9  # distances in double precision


def test_box_has_the_cell_lengths_and_angles():
    atoms = triclinic_frame()
    matrix = upper_triangular(atoms.cell[:])
    assert np.allclose(matrix, np.triu(matrix))
    assert np.allclose(matrix.T @ matrix, atoms.cell[:] @ atoms.cell[:].T)  # same metric tensor
    frame = FreudFrame.from_atoms(atoms, 4.5)
    assert frame.reps == (2, 2, 1)  # 4.5 Å is beyond half the 7.7 Å plane spacings of a and b, not c
    assert np.allclose(frame.box.to_matrix(), matrix * [2, 2, 1], atol=1e-4)


def test_one_atom_cell_finds_its_own_images():
    li = bulk("Li", "bcc", a=3.51)  # primitive: one atom, triclinic cell, 3.04 Å plane spacing
    assert count_neighbours(li, "Li", "Li", 3.2).tolist() == [8]
    assert count_neighbours(li, "Li", "Li", 3.6).tolist() == [14]
    pairs = pairs_between(li, "Li", "Li", 3.2)
    assert np.allclose(pairs.d, 3.51 * np.sqrt(3) / 2)
    assert not (pairs.shift == 0).all(axis=1).any()  # never the atom itself


def test_non_periodic_axis_and_cell_without_volume():
    slab = Atoms("In2", positions=[[1, 1, 0.5], [1, 1, 9.5]], cell=[10, 10, 10], pbc=[True, True, False])
    assert pairs_between(slab, "In", "In", 3.6).i.size == 0  # 1 Å apart only through z, not periodic
    slab.pbc = True
    assert pairs_between(slab, "In", "In", 3.6).shift.tolist() == [[0, 0, -1], [0, 0, 1]]
    molecule = Atoms("In3", positions=[[0, 0, 0], [3.0, 0, 0], [9.0, 0, 0]])
    pairs = pairs_between(molecule, "In", "In", 3.6)
    assert sorted(zip(pairs.i.tolist(), pairs.j.tolist(), strict=True)) == [(0, 1), (1, 0)]
    assert np.allclose(pairs.d, 3.0) and not pairs.shift.any()


def test_freud_clusters_are_the_connected_components_of_brute_force_bonds():
    atoms = triclinic_frame(n=120, seed=3)
    frame = FreudFrame.from_atoms(atoms, 3.6)
    _, cluster_idx, _ = frame.clusters("In", 3.6)
    ids = frame.indices("In")
    where = {int(k): n for n, k in enumerate(ids)}
    bonds = np.array([(where[i], where[j]) for i, j, _ in all_pairs(atoms, "In", "In", 3.6)])
    graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(ids.size, ids.size))
    n_ref, ref = connected_components(graph, directed=False)
    assert len(set(cluster_idx.tolist())) == n_ref
    same_ref = ref[:, None] == ref[None, :]
    assert (same_ref == (cluster_idx[:, None] == cluster_idx[None, :])).all()


def test_cutoff_errors():
    frame = FreudFrame.from_atoms(bulk("NaCl", "rocksalt", a=5.64), 3.0)
    with pytest.raises(InputError):
        frame.pairs("Na", "Cl", 4.0)  # beyond the frame's r_max
    with pytest.raises(InputError):
        frame.pairs("Na", "Xx", 3.0)
    with pytest.raises(InputError):
        FreudFrame.from_atoms(bulk("NaCl", "rocksalt", a=5.64), 0.0)
