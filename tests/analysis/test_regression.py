"""The generic analysis, given the study's chemistry, gives the Li | Li3InCl6 figures it gave before.

The frames and the figures are stored in tests/data/regression (see its PROVENANCE.md): computed by the
Li/In/Cl-specific analysis at f9a34c5, before species came from the campaign.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from ase.io import read

from seiflow.analysis.front import reaction_front
from seiflow.analysis.mechanism import analyse_frame
from seiflow.analysis.rdf import compare_trajectories, partial_rdfs
from tests.analysis.structures import study_chemistry

DATA = Path(__file__).resolve().parents[1] / "data" / "regression"
FIGURES = json.loads((DATA / "li_li3incl6_figures.json").read_text())
SETS = ("reference", "nnp", "deep", "constructed")


def frames(name: str) -> list:
    return read(DATA / f"li_li3incl6_{name}.extxyz", ":")


def same(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == pytest.approx(b, rel=0, abs=1e-12)


@pytest.mark.parametrize("name", SETS)
def test_mechanism_figures_unchanged(name):
    chem = study_chemistry()
    for k, (atoms, want) in enumerate(zip(frames(name), FIGURES[name]["frames"], strict=True)):
        m = analyse_frame(atoms, chem)
        cation, clusters = m.cations["In"], m.clusters["In"]
        got = {"n_in": cation.n, "in_cl_mean": cation.cn_mean,
               "in_cl_histogram": {str(c): n for c, n in cation.cn_histogram.items()},
               "reduced_in_fraction": cation.reduced_fraction, "in_in_mean": m.metal_cn_mean["In"],
               "licl_like_li_fraction": m.product_fraction["LiCl"], "cluster_sizes": clusters.sizes,
               "largest": clusters.largest, "percolates": clusters.percolates}
        for key, value in want.items():
            assert same(got[key], value), f"{name} frame {k}: {key} {got[key]} != {value}"


@pytest.mark.parametrize("name", ["reference", "nnp", "deep"])
def test_front_and_rdfs_unchanged(name):
    chem, want = study_chemistry(), FIGURES[name]
    traj = frames(name)
    front = reaction_front(traj, 0.2, chem)
    assert front.origin_a == pytest.approx(want["front"]["origin_a"], abs=1e-12)
    assert front.position_a == pytest.approx(want["front"]["position_a"], abs=1e-12)
    assert same(front.growth_rate_a_ps, want["front"]["growth_rate_a_ps"])
    rdf = partial_rdfs(traj, chem.rdf_pairs)
    assert list(rdf.g) == want["rdf"]["pairs"]
    for key, curve in want["rdf"]["g"].items():
        assert rdf.g[key] == pytest.approx(curve, abs=1e-12)


def test_rdf_agreement_unchanged():
    chem, want = study_chemistry(), FIGURES["agreement_nnp_vs_reference"]
    _, _, agreement = compare_trajectories(frames("nnp"), frames("reference"), chem.rdf_pairs)
    assert agreement.overall == pytest.approx(want["overall"], abs=1e-12)
    assert agreement.per_pair == pytest.approx(want["per_pair"], abs=1e-12)
