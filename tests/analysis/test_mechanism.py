"""Mechanism descriptors on constructed structures whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

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
