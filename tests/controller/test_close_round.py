"""The controller's close_round job: the round report counts the new labels and those custodian corrected."""

from __future__ import annotations

from pathlib import Path

import yaml
from pymatgen.core import Lattice, Structure

from seiflow.controller.flows import close_round
from seiflow.labelling.base import LabelOutput
from seiflow.records import campaigns
from seiflow.records.rounds import RoundStore
from seiflow.schemas.campaign import campaign_from_dict
from seiflow.schemas.frame import Reference
from seiflow.schemas.round import SelectionResult
from seiflow.store import get_database

TINY = Path(__file__).with_name("tiny_campaign.yaml")


def test_the_round_report_counts_the_new_labels_that_needed_corrections(seiflow_env):
    campaign = campaign_from_dict({**yaml.safe_load(TINY.read_text()), "name": "corr"})
    db = get_database()
    campaigns.ensure(db, campaign)
    licl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5] * 3])
    ref = Reference(calculator="vasp")
    labels = [LabelOutput(reference=ref, n_new=3, n_corrected=1).model_dump(mode="json"),
              [LabelOutput(reference=ref, n_new=2, n_corrected=2, n_duplicate=4).model_dump(mode="json")], None]
    selection = SelectionResult(n_frames=10, n_accurate=5, n_candidate=5, accurate_ratio=0.5,
                                candidate_ratio=0.5, f_trust_lo_used=0.05)
    r = campaign.convergence.max_rounds  # the round cap: the campaign stops, no next round is built
    response = close_round.original(campaign.model_dump(mode="json"), r, {"LiCl": licl}, labels=labels,
                                    selection=selection.model_dump(mode="json"), models=["m1"], metrics=[])
    assert (response.output["n_labelled"], response.output["n_corrected"]) == (5, 3)
    report = RoundStore(db).get("corr", r)
    assert (report.n_labelled, report.n_corrected) == (5, 3) and report.stop
