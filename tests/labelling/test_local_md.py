"""The reference NVT MD driver with real CHGNet: sampling, provenance, storage once, job config."""

from __future__ import annotations

import numpy as np
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from seiflow import store
from seiflow.dataset.frames import FrameStore
from seiflow.labelling.local import LocalLabelMaker
from seiflow.labelling.local_md import LocalMDMaker, run_nvt
from seiflow.labelling.md import initial_data_flow, supercell_to
from seiflow.schemas.campaign import ReferenceMDConfig


def licl() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5] * 3])


def test_run_nvt_samples_labelled_frames():
    frames = run_nvt(licl(), temperature=600.0, steps=6, sample_every=3, thermostat="bussi", seed=1)
    assert [f.provenance.frame_index for f in frames] == [3, 6]
    assert all(f.provenance.source == "reference_md" and f.provenance.temperature == 600.0 for f in frames)
    assert frames[0].reference.calculator == "chgnet"
    assert not np.allclose(frames[0].positions, frames[1].positions)
    assert frames[1].virial.shape == (3, 3) and np.isfinite(frames[1].energy)


def test_supercell_to_reaches_min_atoms():
    assert len(supercell_to(licl(), 60)) == 64
    assert len(supercell_to(licl(), 4)) == 8


def test_reference_md_job_stores_frames_once(seiflow_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    maker = LocalMDMaker(temperature=300.0, steps=4, sample_every=2)
    md_job = maker.make(licl(), origin="LiCl", campaign="c")
    assert md_job.config.manager_config["_category"] == "dft"
    responses = run_locally(md_job, store=store.get_jobstore(), ensure_success=True)
    out = responses[md_job.uuid][1].output
    assert out.n_new == 2 and len(out.frame_ids) == 2
    frames = FrameStore()
    assert frames.counts_by("source", campaign="c") == {"reference_md": 2}
    assert {f.provenance.origin for f in frames.find(campaign="c")} == {"LiCl"}
    again = run_locally(maker.make(licl(), origin="LiCl", campaign="c"), store=store.get_jobstore())
    assert frames.count() == 2 and next(iter(again.values()))[1].output.n_duplicate == 2


def test_reference_md_flow_one_job_per_structure_and_temperature():
    config = ReferenceMDConfig(temperatures=[300.0, 600.0], steps=4, bulk_supercell_atoms=60)
    flow = initial_data_flow(LocalLabelMaker(), {"LiCl": licl(), "iface": licl()}, config, campaign="c",
                             bulks=("LiCl",))
    assert len(flow.jobs) == 4
    # every reference's MD job takes (maker, structure, provenance)
    assert len(flow.jobs[0].function_args[1]) == 64 and len(flow.jobs[2].function_args[1]) == 8
