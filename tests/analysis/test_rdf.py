"""Partial RDFs and their agreement score."""

from __future__ import annotations

import numpy as np
import pytest
from ase.geometry.rdf import get_rdf

from seiflow.analysis.rdf import compare_trajectories, l1_agreement, partial_rdfs, rdf_agreement
from seiflow.errors import InputError
from tests.analysis import structures as S

PAIRS = S.study_chemistry().rdf_pairs  # Li-Li, Li-Cl, In-Cl, In-In, Li-In


def _rattled(atoms, sigma, n, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        a = atoms.copy()
        a.positions += rng.normal(0, sigma, a.positions.shape)
        frames.append(a)
    return frames


def test_rdf_matches_ase_analysis():
    frames = _rattled(S.licl(), 0.1, 2)
    ours = partial_rdfs(frames, [("Li", "Cl"), ("Li", "Li")], rmax=4.5, nbins=45)
    for a, b in [("Li", "Cl"), ("Li", "Li")]:
        ref, _ = get_rdf(frames, 4.5, 45, elements=[a, b])
        assert np.allclose(ours.g[f"{a}-{b}"], ref, rtol=1e-6, atol=1e-6), (a, b)


def test_agreement_with_itself_is_one_and_drops_when_perturbed():
    traj = _rattled(S.li3incl6(), 0.05, 3)
    _, _, same = compare_trajectories(traj, traj, PAIRS)
    assert same.overall == pytest.approx(1.0)
    assert set(same.per_pair) == {"Li-Li", "Li-Cl", "In-Cl", "In-In", "Li-In"}
    _, _, small = compare_trajectories(traj, _rattled(S.li3incl6(), 0.15, 3, seed=1), PAIRS)
    _, _, large = compare_trajectories(traj, _rattled(S.li3incl6(), 0.4, 3, seed=2), PAIRS)
    assert 1.0 > small.overall > large.overall > 0.0
    assert small.per_pair["In-Cl"] < 0.99


def test_agreement_bounds_and_errors():
    r = np.linspace(0.05, 5, 50)
    g = np.exp(-((r - 2.5) ** 2))
    assert l1_agreement(r, g, np.zeros_like(g)) == pytest.approx(0.0)
    assert l1_agreement(r, np.zeros_like(g), np.zeros_like(g)) == 1.0
    first = partial_rdfs([S.licl()], [("Li", "Cl")], rmax=4.0, nbins=40)
    other = partial_rdfs([S.licl()], [("Li", "Cl")], rmax=5.0, nbins=40)
    with pytest.raises(InputError):
        rdf_agreement(first, other)
    with pytest.raises(InputError):
        partial_rdfs([])
    missing = partial_rdfs([S.licl()], [("In", "Cl")], rmax=4.0, nbins=40)
    assert missing.g == {}


@pytest.mark.parametrize("left_handed", [False, True])
def test_triclinic_rdf_matches_brute_force_minimum_image(left_handed):
    # a rotated, strongly tilted cell; rmax 7 Å is beyond half its 7.7 Å plane spacings (replicated)
    from tests.analysis.brute import brute_rdf, triclinic_frame

    atoms = triclinic_frame(left_handed=left_handed)
    pairs = [("Li", "Cl"), ("Cl", "Li"), ("Li", "Li"), ("In", "Cl")]
    ours = partial_rdfs([atoms], pairs, rmax=7.0, nbins=70)
    for a, b in pairs:
        assert np.allclose(ours.g[f"{a}-{b}"], brute_rdf(atoms, a, b, 7.0, 70), rtol=1e-12, atol=1e-12)
    assert ours.g["Li-Cl"] == ours.g["Cl-Li"]


def test_rdf_ignores_the_cell_orientation():
    from scipy.spatial.transform import Rotation

    frames = _rattled(S.li3incl6(), 0.1, 2)
    rotation = Rotation.from_euler("zyx", [30, 20, 10], degrees=True).as_matrix()
    turned = []
    for atoms in frames:
        t = atoms.copy()
        t.set_cell(atoms.cell[:] @ rotation.T, scale_atoms=True)
        t.positions += 5.0  # and shifted out of the cell
        turned.append(t)
    first, second = partial_rdfs(frames), partial_rdfs(turned)
    assert rdf_agreement(first, second).overall == pytest.approx(1.0, abs=1e-6)
