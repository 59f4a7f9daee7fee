"""CP2K labelling: input generation, a failing command recorded as failed, and a real CP2K run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow, run_locally
from pymatgen.core import Lattice, Structure
from pymatgen.io.cp2k.inputs import Cp2kInput
from pymatgen.io.cp2k.outputs import Cp2kOutput

from seiflow.dataset.frames import FrameStore
from seiflow.labelling.cp2k import HA_BOHR_TO_EV_A, Cp2kInputGenerator, Cp2kLabelMaker
from seiflow.labelling.presets import Cp2kPreset
from seiflow.schemas.frame import FrameStatus
from seiflow.testing.flows import add

TINY = Cp2kPreset(name="tiny-test", cutoff=200, rel_cutoff=30, added_mos=10)  # 2-atom Li, ~13 s a run


def _li(a: float) -> Structure:
    return Structure(Lattice.cubic(a), ["Li", "Li"], [[0, 0, 0], [0.52, 0.5, 0.5]])


def _run(maker, structures, tmp_path):
    label, after = maker.make(structures, {"source": "test"}), add(1, 2)
    responses = run_locally(Flow([label, after]), root_dir=tmp_path, create_folders=True, ensure_success=True)
    assert responses[after.uuid][1].output == 3  # the round goes on
    return responses[label.uuid][1].output


def test_input_is_valid_cp2k_with_stress():
    text = Cp2kInputGenerator(TINY).get_input(_li(3.3))
    ci = Cp2kInput.from_str(text)
    assert ci["FORCE_EVAL"]["STRESS_TENSOR"].values[0].upper() == "ANALYTICAL"
    assert ci["FORCE_EVAL"]["DFT"]["MGRID"]["CUTOFF"].values[0] == 200
    assert "GTH-PBE" in text and "/usr/share/cp2k/BASIS_MOLOPT" in text


def test_failing_command_is_recorded_and_round_goes_on(seiflow_env, tmp_path):
    maker = Cp2kLabelMaker(preset=TINY, cp2k_cmd="false", max_errors=1, polling_time_step=0.5)
    out = _run(maker, [_li(3.3)], tmp_path)
    assert (out.n_new, out.n_failed) == (0, 1) and out.failures[0].reason
    assert FrameStore().get(out.failures[0].frame_id).status == FrameStatus.FAILED


@pytest.mark.cp2k
@pytest.mark.slow
def test_real_cp2k_stores_ev_per_angstrom_and_virial(seiflow_env, tmp_path):
    maker = Cp2kLabelMaker(preset=TINY, polling_time_step=1)
    out = _run(maker, [_li(3.30), _li(3.33)], tmp_path)
    assert (out.n_new, out.n_failed) == (2, 0)
    frames = [FrameStore().get(i) for i in out.frame_ids]
    frames.sort(key=lambda f: f.volume)
    raw = Cp2kOutput(str(next(tmp_path.glob("job_*/cp2k_0000/cp2k.out"))), auto_load=True)
    raw_forces = np.asarray(raw.data["forces"][-1])  # Ha/bohr
    assert np.allclose(frames[0].forces, raw_forces * HA_BOHR_TO_EV_A)
    assert frames[0].forces[1, 0] < 0  # the displaced atom is pushed back
    assert frames[0].energy == pytest.approx(raw.final_energy)  # eV
    # Stress in VASP/DeePMD convention: the pressure from the virial equals -dE/dV.
    e, v = [f.energy for f in frames], [f.volume for f in frames]
    p_fd = -(e[1] - e[0]) / (v[1] - v[0])
    p_virial = np.mean([np.trace(f.virial) / (3 * f.volume) for f in frames])
    assert p_virial == pytest.approx(p_fd, rel=0.15)


def test_monitors_read_a_half_written_output_as_no_error_yet(tmp_path):
    """custodian's CP2K monitors parse cp2k.out while CP2K writes it: a partial file must not crash the job."""
    import shutil
    import warnings

    from custodian.cp2k.handlers import UnconvergedScfErrorHandler

    from seiflow.labelling.handlers import WhileRunning, cp2k_handlers

    run = Path(__file__).resolve().parents[1] / "data" / "cp2k_runs" / "li2_static"
    lines = (run / "cp2k.out").read_text().splitlines(keepends=True)
    shutil.copy(run / "cp2k.inp", tmp_path)
    (tmp_path / "cp2k.out").write_text("".join(lines[:220]))  # cut inside the atomic kind information
    warnings.simplefilter("ignore")
    with pytest.raises(IndexError):
        UnconvergedScfErrorHandler().check(str(tmp_path))
    assert WhileRunning(UnconvergedScfErrorHandler()).check(str(tmp_path)) is False
    assert all(isinstance(h, WhileRunning) for h in cp2k_handlers() if h.is_monitor)
    (tmp_path / "cp2k.out").write_text("".join(lines))
    assert WhileRunning(UnconvergedScfErrorHandler()).check(str(tmp_path)) is False  # a clean, finished run
