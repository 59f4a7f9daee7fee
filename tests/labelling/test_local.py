"""The local reference labeller (real CHGNet), its dedup, failures, flags, and its job through FireWorks."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from fireworks.core.fworker import FWorker
from fireworks.core.rocket_launcher import rapidfire
from jobflow.managers.fireworks import flow_to_workflow
from pymatgen.core import Lattice, Structure

from seiflow import store
from seiflow.constants import JOBSTORE_DOCS_COLLECTION
from seiflow.dataset.frames import FrameStore
from seiflow.labelling.base import LabelOutput
from seiflow.labelling.local import LocalLabelMaker, label_structures, local_reference


def licl(shift: float = 0.0) -> Structure:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.translate_sites([0], [shift, 0, 0], frac_coords=False)
    return s


def test_label_stores_once_and_records_reference(seiflow_env):
    structures = [licl(0.0), licl(0.1)]
    prov = {"campaign": "c", "round": 1, "source": "exploration", "origin": "test"}
    out = label_structures(structures, prov)
    assert (out.n_new, out.n_duplicate, out.n_failed, out.n_flagged) == (2, 0, 0, 0)
    again = label_structures([licl(0.1), licl(0.0)], prov)
    assert (again.n_new, again.n_duplicate) == (0, 2)
    assert sorted(again.frame_ids) == sorted(out.frame_ids)
    frames = FrameStore()
    assert frames.count() == 2
    frame = frames.get(out.frame_ids[1])
    assert frame.reference.calculator == "chgnet" and frame.reference.settings["model"] == "0.3.0"
    assert frame.provenance.frame_index == 1 and frame.provenance.round == 1
    assert frame.forces.shape == (8, 3) and frame.virial.shape == (3, 3)
    assert abs(frame.forces[0, 0]) > 1e-3  # the displaced Li feels a force
    np.testing.assert_allclose(frame.forces.sum(axis=0), 0, atol=1e-3)


def test_absurd_frames_are_flagged_not_trained_on(seiflow_env):
    out = label_structures([licl(0.3)], {"source": "exploration"}, max_force=1e-3)
    assert out.n_flagged == 1 and out.flagged_ids and not out.frame_ids
    frames = FrameStore()
    assert frames.count() == 0 and frames.count(status="flagged") == 1
    assert "max |F|" in frames.get(out.flagged_ids[0]).reason


def test_calculator_failure_is_recorded_and_dropped(seiflow_env):
    """ASE's EMT has no Li/Cl parameters: the failure is recorded with its reason, the batch goes on."""
    out = label_structures([licl(0.2)], {"source": "exploration"}, ase_calculator=EMT())
    assert out.n_failed == 1 and out.n_new == 0 and "NotImplementedError" in out.failures[0].reason
    assert FrameStore().count(status="failed") == 1
    retry = label_structures([licl(0.2)], {"source": "exploration"})  # a failure may be retried
    assert retry.n_new == 1 and FrameStore().count(status="failed") == 0


def test_maker_job_runs_through_fireworks_in_dft_category(seiflow_env, tmp_path, monkeypatch):
    maker = LocalLabelMaker(max_force=40.0)
    job = maker.make([licl(0.0), licl(0.05)], {"campaign": "c", "round": 0, "source": "reference_md"})
    wf = flow_to_workflow(job, store=store.get_jobstore())
    assert wf.fws[0].spec["_category"] == "dft"
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    lp.add_wf(wf)
    monkeypatch.chdir(tmp_path)
    rapidfire(lp, FWorker(category="dft"), nlaunches=0)
    doc = store.get_database()[JOBSTORE_DOCS_COLLECTION].find_one({"uuid": job.uuid})
    out = LabelOutput.model_validate(doc["output"])
    assert out.n_new == 2 and out.reference == local_reference("chgnet")
    assert FrameStore().counts_by("source", campaign="c") == {"reference_md": 2}


def test_unknown_calculator_is_input_error(seiflow_env):
    from seiflow.errors import InputError

    with pytest.raises(InputError):
        LocalLabelMaker(calculator="mace").reference  # noqa: B018
