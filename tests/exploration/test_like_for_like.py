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
    frames, _ = nnp_md(start, good_ensemble[0], TYPE_MAP, tmp_path / "reference", T, STEPS, EVERY)
    reference = frames[1:]  # the validation set has no step 0
    cfg = ConvergenceConfig(criteria={"rdf_agreement": {"target": 0.95}}, max_rounds=5)
    verdicts = {}
    for label, model in (("good", good_ensemble[0]), ("poor", poor_ensemble[0])):
        comparison = compare_dynamics("licl", AseAtomsAdaptor.get_atoms(start), reference, label, model,
                                      TYPE_MAP, T, STEPS, EVERY, 1.0, tmp_path / label, CHEM)
        assert comparison.n_frames == STEPS // EVERY and comparison.mechanism
        metrics = round_metrics({"mean": {"rmse_f_mev_a": 1.0}, "rdf_agreement": comparison.rdf_overall})
        selection = SelectionResult(n_frames=10, n_accurate=10, accurate_ratio=1.0, f_trust_lo_used=0.1)
        verdicts[label] = (comparison.rdf_overall, judge("c", 1, selection, cfg, [], metrics))
    assert verdicts["good"][0] > 0.99 and verdicts["good"][1].converged, verdicts
    assert verdicts["poor"][0] < 0.95 and not verdicts["poor"][1].converged, verdicts
