"""Session-scoped tiny DeePMD ensembles, trained for real (``dp --tf train`` + ``freeze``) once per run."""

from __future__ import annotations

import pytest

from tests.exploration.models import build_ensemble

POOR_STEPS = 20  # "too little training": 20 steps
GOOD_STEPS = 600


@pytest.fixture(scope="session")
def poor_ensemble(tmp_path_factory):
    """Four models trained 20 steps on 30 CHGNet-labelled LiCl frames: they disagree a lot."""
    return build_ensemble(tmp_path_factory.mktemp("poor"), 4, POOR_STEPS)


@pytest.fixture(scope="session")
def good_ensemble(tmp_path_factory):
    """Four models trained 600 steps on the same data: they agree near equilibrium at 300 K."""
    return build_ensemble(tmp_path_factory.mktemp("good"), 4, GOOD_STEPS)
