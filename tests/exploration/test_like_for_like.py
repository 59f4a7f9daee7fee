"""Like-for-like dynamics and the rdf_agreement criterion, with real DeePMD models in real LAMMPS.

The reference trajectory is NNP MD of the good model itself: a model that reproduces its own reference
trajectory must pass the criterion, a poorly trained one must not.
"""

from __future__ import annotations

import pytest
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.production import nnp_md
from seiflow.analysis.validation_jobs import round_metrics
from seiflow.analysis.validation_protocol import compare_dynamics
from seiflow.convergence.report import judge
from seiflow.schemas.campaign import ConvergenceConfig
from seiflow.schemas.round import SelectionResult
from tests.exploration.models import TYPE_MAP, licl_supercell

pytestmark = pytest.mark.slow

STEPS, EVERY, T = 200, 10, 300.0
CHEM = Chemistry(type_map=TYPE_MAP, rdf_pairs=[("Li", "Li"), ("Li", "Cl"), ("In", "Cl"), ("In", "In"), ("Li", "In")])


def test_rdf_agreement_criterion_passes_for_a_model_that_reproduces_its_reference(
    good_ensemble, poor_ensemble, tmp_path,
):
    start = licl_supercell()
    frames, _, _ = nnp_md(start, good_ensemble[0], TYPE_MAP, tmp_path / "reference", T, STEPS, EVERY)
    reference = frames[1:]  # the validation set has no step 0
    cfg = ConvergenceConfig(criteria={"rdf_agreement": {"target": 0.95}}, max_rounds=5)
    verdicts = {}
    for label, model in (("good", good_ensemble[0]), ("poor", poor_ensemble[0])):
        comparison = compare_dynamics("licl", AseAtomsAdaptor.get_atoms(start), reference, label, model,
                                      TYPE_MAP, T, STEPS, EVERY, 1.0, tmp_path / label, CHEM)
        if label == "good":
            assert comparison.n_frames == STEPS // EVERY and comparison.mechanism and comparison.unstable is None
        else:  # 20-step models overheat the cell (MD health): only the frames before that are compared
            assert comparison.unstable and "above 5 x the thermostat's 300 K" in comparison.unstable, comparison
            assert comparison.n_frames < STEPS // EVERY
            verdicts["poor_onset"] = comparison.unstable
        metrics = round_metrics({"mean": {"rmse_f_mev_a": 1.0}, "rdf_agreement": comparison.rdf_overall})
        selection = SelectionResult(n_frames=10, n_accurate=10, accurate_ratio=1.0, f_trust_lo_used=0.1)
        verdicts[label] = (comparison.rdf_overall, judge("c", 1, selection, cfg, [], metrics))
    assert verdicts["good"][0] > 0.99 and verdicts["good"][1].converged, verdicts
    assert (verdicts["poor"][0] or 0.0) < 0.95 and not verdicts["poor"][1].converged, verdicts


def test_nnp_md_that_loses_atoms_returns_its_frames_before_the_crash(poor_ensemble, tmp_path, monkeypatch):
    """A blown-up NNP MD (the closing analysis', the validation's) is a health verdict, not an exception."""
    from seiflow.analysis import production

    maker = production.ProductionMaker  # a 100 fs step: LAMMPS stops with "Lost atoms" within a few steps
    monkeypatch.setattr(production, "ProductionMaker", lambda **kw: maker(timestep_fs=100.0, **kw))
    frames, speed, health = nnp_md(licl_supercell(), poor_ensemble[0], TYPE_MAP, tmp_path / "lost", T, 200, 5)
    assert not health.healthy and "Lost atoms" in health.reason, health
    assert speed is None and all(k * 5 < health.onset_step for k in range(len(frames)))
