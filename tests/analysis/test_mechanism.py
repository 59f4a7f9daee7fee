"""Mechanism descriptors on constructed structures whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from seiflow.analysis.mechanism import (
    MechanismCutoffs,
    analyse_frame,
    analyse_trajectory,
    in_clusters,
)
from seiflow.errors import InputError
from tests.analysis import structures as S


def test_pristine_li3incl6_in_is_fully_cl_coordinated():
    m = analyse_frame(S.li3incl6())
    assert m.in_cl_histogram == {6: m.n_in}
    assert m.reduced_in_fraction == 0.0
    assert m.in_in_mean == 0.0
    assert m.clusters.sizes == []
    assert m.licl_like_li_fraction == 0.0  # every Li shares Cl with an InCl6 octahedron


def test_in_in_li_matrix_is_reduced():
    m = analyse_frame(S.in_in_li_matrix())
    assert m.n_in == 4
    assert m.in_cl_mean == 0.0
    assert m.reduced_in_fraction == 1.0


def test_rocksalt_licl_is_all_licl_like():
    assert analyse_frame(S.licl()).licl_like_li_fraction == 1.0


def test_in_network_percolates_along_x_only():
    clusters = in_clusters(S.in_chain_along_x())
    assert clusters.sizes == [4]
    assert clusters.percolates == {"x": True, "y": False, "z": False}


def test_in_sheet_percolates_in_plane():
    assert in_clusters(S.in_sheet_xy()).percolates == {"x": True, "y": True, "z": False}


def test_isolated_clusters_sizes_and_no_percolation():
    clusters = in_clusters(S.isolated_in_clusters())
    assert clusters.sizes == [3, 2]
    assert clusters.size_histogram == {3: 1, 2: 1}
    assert clusters.labels.count(-1) == 2
    assert not any(clusters.percolates.values())


def test_cluster_across_the_boundary_does_not_percolate():
    clusters = in_clusters(S.wrapped_cluster_not_percolating())
    assert clusters.sizes == [3]
    assert not any(clusters.percolates.values())


def test_percolation_survives_supercell_and_shuffling():
    atoms = S.in_chain_along_x().repeat((3, 2, 1))  # three chains' worth along x, two parallel chains
    order = np.random.default_rng(1).permutation(len(atoms))
    clusters = in_clusters(atoms[order])
    assert clusters.sizes == [12, 12]
    assert clusters.percolates == {"x": True, "y": False, "z": False}


def test_trajectory_and_cutoff_validation():
    frames = analyse_trajectory([S.li3incl6(), S.in_in_li_matrix()])
    assert [f.reduced_in_fraction for f in frames] == [0.0, 1.0]
    with pytest.raises(ValueError):
        MechanismCutoffs(in_cl=-1.0)
    with pytest.raises(InputError):
        in_clusters(S.in_chain_along_x(), cutoff=0.0)


@pytest.mark.parametrize("mirror", [False, True])
def test_chain_along_a_tilted_lattice_vector_percolates_along_it_only(mirror):
    from scipy.spatial.transform import Rotation

    cell = np.array([[12.0, 0.0, 0.0], [4.0, 11.5, 0.0], [-3.0, 2.0, 14.0]])  # |b| = 12.2 Å
    cell = cell @ Rotation.from_euler("xyz", [40, -25, 70], degrees=True).as_matrix().T
    if mirror:
        cell = cell * [1, 1, -1]  # left-handed
    positions = [(k / 4 + 0.01) * cell[1] + 0.3 * cell[0] + 0.4 * cell[2] for k in range(4)]
    atoms = Atoms("In4", positions=positions, cell=cell, pbc=True)
    clusters = in_clusters(atoms)
    assert clusters.sizes == [4]
    assert clusters.percolates == {"x": False, "y": True, "z": False}
    frame = analyse_frame(atoms)
    assert frame.in_in_mean == 2.0 and frame.clusters.largest == 4


def test_mechanism_on_a_rotated_triclinic_frame_matches_the_original():
    atoms = S.li3incl6()
    atoms.rattle(0.15, seed=4)
    turned = atoms.copy()
    turned.set_cell(atoms.cell[:] @ np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]]).T, scale_atoms=True)
    assert analyse_frame(turned).model_dump() == analyse_frame(atoms).model_dump()
