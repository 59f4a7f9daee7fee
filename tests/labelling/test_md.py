"""The reference-MD job every code shares: one error path for failed runs and unreadable output."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator
from jobflow import Flow, run_locally
from pymatgen.core import Lattice, Structure

from seiflow import store
from seiflow.dataset.frames import FrameStore
from seiflow.labelling.cp2k_inputs import OUTPUT_FILE
from seiflow.labelling.cp2k_md import FORCES_FILE, POSITIONS_FILE, Cp2kMDMaker
from seiflow.labelling.handlers import RunOutcome
from seiflow.labelling.local_md import FRAMES_FILE, LocalMDMaker, run_nvt
from seiflow.labelling.md import ReferenceMDMaker
from seiflow.labelling.vasp_md import VASPRUN, VaspMDMaker
from seiflow.schemas.frame import FrameStatus
from seiflow.testing.flows import add

# each code's MD output files, written with garbage by the fake runs below
OUTPUTS: dict[type[ReferenceMDMaker], list[str]] = {
    LocalMDMaker: [FRAMES_FILE],
    VaspMDMaker: [VASPRUN],
    Cp2kMDMaker: [POSITIONS_FILE, FORCES_FILE, OUTPUT_FILE],
}
CODES = [(LocalMDMaker, "CHGNET"), (VaspMDMaker, "VASP"), (Cp2kMDMaker, "CP2K")]


def _licl() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5] * 3])


def _run(maker: ReferenceMDMaker, tmp_path):
    md_job, after = maker.make(_licl(), origin="LiCl", campaign="c"), add(1, 2)
    responses = run_locally(Flow([md_job, after]), root_dir=tmp_path, create_folders=True,
                            store=store.get_jobstore(), ensure_success=True)
    assert responses[after.uuid][1].output == 3  # the campaign goes on
    return responses[md_job.uuid][1].output


def _failure(out):
    assert (out.n_new, out.n_failed, out.frame_ids) == (0, 1, [])
    failed = FrameStore().get(out.failures[0].frame_id)
    assert failed.status == FrameStatus.FAILED and failed.provenance.origin == "LiCl"
    return out.failures[0].reason


@pytest.mark.parametrize(("cls", "code"), CODES)
def test_unreadable_output_is_a_recorded_failure_for_every_code(seiflow_env, tmp_path, monkeypatch, cls, code):
    def run(self, structure, directory):
        directory.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS[cls]:
            (directory / name).write_text("not what the code writes\n")
        return RunOutcome(ok=True)

    monkeypatch.setattr(cls, "run", run)
    reason = _failure(_run(cls(steps=2, sample_every=1), tmp_path))
    assert reason.startswith(f"unreadable {code} MD output: ")


@pytest.mark.parametrize(("cls", "code"), CODES)
def test_a_failed_run_is_a_recorded_failure_for_every_code(seiflow_env, tmp_path, monkeypatch, cls, code):
    monkeypatch.setattr(cls, "run", lambda self, structure, directory: RunOutcome(ok=False, reason="gave up"))
    assert _failure(_run(cls(steps=2, sample_every=1), tmp_path)) == f"{code} MD failed: gave up"


class Diverging(Calculator):
    """An ASE calculator that fails on its first call."""

    implemented_properties = ("energy", "forces", "stress")

    def calculate(self, atoms=None, properties=None, system_changes=None):
        raise RuntimeError("diverged")


def test_a_local_calculator_that_raises_is_a_failed_run(seiflow_env, tmp_path, monkeypatch):
    monkeypatch.setattr("seiflow.labelling.local_md.get_calculator", lambda name: Diverging())
    reason = _failure(_run(LocalMDMaker(steps=2, sample_every=1), tmp_path))
    assert reason == "CHGNET MD failed: RuntimeError: diverged"


def test_local_md_frames_read_back_are_the_ones_the_dynamics_labelled(seiflow_env, tmp_path):
    out = _run(LocalMDMaker(temperature=600.0, steps=4, sample_every=2, seed=3), tmp_path)
    assert (out.n_new, out.n_failed) == (2, 0)
    stored = sorted(FrameStore().find(campaign="c"), key=lambda f: f.provenance.frame_index)
    direct = run_nvt(_licl(), 600.0, 4, sample_every=2, seed=3)
    assert [f.content_hash() for f in stored] == [f.content_hash() for f in direct]
    for a, b in zip(stored, direct, strict=True):
        assert a.energy == b.energy and np.array_equal(a.forces, b.forces) and np.array_equal(a.virial, b.virial)
        assert (a.provenance.frame_index, a.provenance.temperature) == (b.provenance.frame_index, 600.0)
