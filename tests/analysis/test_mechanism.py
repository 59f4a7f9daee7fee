"""Mechanism descriptors on constructed structures whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import read

from seiflow.analysis.mechanism import (
    analyse_frame,
    analyse_trajectory,
    metal_clusters,
)
from seiflow.errors import InputError
from tests.analysis import structures as S

CHEM = S.study_chemistry()


def in_clusters(atoms, cutoff: float = 3.6):
    """The study's In clusters (In-In within 3.6 Å)."""
    return metal_clusters(atoms, "In", cutoff)


def test_pristine_li3incl6_in_is_fully_cl_coordinated():
    m = analyse_frame(S.li3incl6(), CHEM)
    assert m.cations["In"].cn_histogram == {6: m.cations["In"].n}
    assert m.cations["In"].reduced_fraction == 0.0
    assert m.metal_cn_mean["In"] == 0.0
    assert m.clusters["In"].sizes == []
    assert m.product_fraction["LiCl"] == 0.0  # every Li shares Cl with an InCl6 octahedron


def test_in_in_li_matrix_is_reduced():
    m = analyse_frame(S.in_in_li_matrix(), CHEM)
    assert m.cations["In"].n == 4
    assert m.cations["In"].cn_mean == 0.0
    assert m.cations["In"].reduced_fraction == 1.0


def test_rocksalt_licl_is_all_licl_like():
    assert analyse_frame(S.licl(), CHEM).product_fraction["LiCl"] == 1.0


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
    frames = analyse_trajectory([S.li3incl6(), S.in_in_li_matrix()], CHEM)
    assert [f.cations["In"].reduced_fraction for f in frames] == [0.0, 1.0]
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
    frame = analyse_frame(atoms, CHEM)
    assert frame.metal_cn_mean["In"] == 2.0 and frame.clusters["In"].largest == 4


def test_mechanism_on_a_rotated_triclinic_frame_matches_the_original():
    atoms = S.li3incl6()
    atoms.rattle(0.15, seed=4)
    turned = atoms.copy()
    turned.set_cell(atoms.cell[:] @ np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]]).T, scale_atoms=True)
    assert analyse_frame(turned, CHEM).model_dump() == analyse_frame(atoms, CHEM).model_dump()


def test_percolation_dimension_counts_independent_directions():
    assert in_clusters(S.in_chain_along_x()).dimension == 1
    assert in_clusters(S.in_sheet_xy()).dimension == 2
    assert in_clusters(S.isolated_in_clusters()).dimension == 0
    assert in_clusters(read(S.STRUCTURES / "In_I4mmm_a3.2523_c4.9461.cif").repeat((2, 2, 2))).dimension == 3
    # a wire along the face diagonal winds around x and y, but spans one direction only
    wire = Atoms("In5", positions=[[2.4 * k, 2.4 * k, 7.0] for k in range(5)], cell=[12.0, 12.0, 14.0], pbc=True)
    clusters = in_clusters(wire)
    assert clusters.percolates == {"x": True, "y": True, "z": False}
    assert clusters.dimension == 1 and clusters.dimensions == [1]
