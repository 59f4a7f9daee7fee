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


def _li6ps5cl_like() -> Structure:
    """A small cell with the argyrodite's elements (not its structure): Li, P, S, Cl."""
    return Structure(Lattice.cubic(6.0), ["Li", "P", "S", "Cl"], [[0, 0, 0], [0.5] * 3, [0.25] * 3, [0.75] * 3])


def test_every_elements_basis_and_potential_come_from_cp2ks_data_files():
    from seiflow.labelling.cp2k_inputs import kind_names

    assert kind_names("P", TINY) == ("DZVP-MOLOPT-SR-GTH-q5", "GTH-PBE-q5")
    assert kind_names("S", TINY) == ("DZVP-MOLOPT-SR-GTH-q6", "GTH-PBE-q6")
    assert kind_names("In", TINY) == ("DZVP-MOLOPT-SR-GTH-q13", "GTH-PBE-q13")  # the file's GTH-PBE for In
    subsys = Cp2kInput.from_str(Cp2kInputGenerator(TINY).get_input(_li6ps5cl_like()))["FORCE_EVAL"]["SUBSYS"]
    kinds = {k.upper(): (subsys[k]["BASIS_SET"].values[0], subsys[k]["POTENTIAL"].values[0])
             for k in subsys.subsections if k.upper() != "CELL" and k.upper() != "COORD"}
    assert kinds == {"KIND LI": ("DZVP-MOLOPT-SR-GTH-q3", "GTH-PBE-q3"), "KIND P": ("DZVP-MOLOPT-SR-GTH-q5", "GTH-PBE-q5"),
                     "KIND S": ("DZVP-MOLOPT-SR-GTH-q6", "GTH-PBE-q6"), "KIND CL": ("DZVP-MOLOPT-SR-GTH-q7", "GTH-PBE-q7")}


def test_an_element_the_data_files_lack_is_a_one_line_error_naming_it_and_the_file():
    from seiflow.errors import InputError

    la = Structure(Lattice.cubic(5.3), ["La", "Cl"], [[0, 0, 0], [0.5] * 3])
    with pytest.raises(InputError) as err:  # Debian's BASIS_MOLOPT has no SR basis for the lanthanides
        Cp2kInputGenerator(TINY).get_input(la)
    assert err.value.message == "no DZVP-MOLOPT-SR-GTH basis set for La in /usr/share/cp2k/BASIS_MOLOPT"
    assert "\n" not in err.value.one_line()


def test_the_basis_matches_the_valence_of_the_potential(tmp_path):
    """As CP2K reads its files: the first GTH-PBE entry of the element, and the basis for its valence."""
    from seiflow.errors import InputError
    from seiflow.labelling.cp2k_inputs import kind_names

    (tmp_path / "BASIS_MOLOPT").write_text(
        "# a data file in CP2K's layout\n Rh DZVP-MOLOPT-SR-GTH DZVP-MOLOPT-SR-GTH-q17\n 1\n 2 0 2 6 2 2 1\n"
        " Rh DZVP-MOLOPT-SR-GTH-q9\n 1\n Na DZVP-MOLOPT-SR-GTH DZVP-MOLOPT-SR-GTH-q9\n 1\n")
    (tmp_path / "GTH_POTENTIALS").write_text(
        "Rh GTH-PBE-q9 GTH-PBE\n 4 4 1\n Rh GTH-PBE-q17\n 4 6 7\nNa GTH-PBE-q1 GTH-PBE\n 1\n")
    preset = TINY.model_copy(update={"data_dir": str(tmp_path)})
    assert kind_names("Rh", preset) == ("DZVP-MOLOPT-SR-GTH-q9", "GTH-PBE-q9")
    with pytest.raises(InputError, match=r"no DZVP-MOLOPT-SR-GTH basis set for Na in .*BASIS_MOLOPT \(only for"):
        kind_names("Na", preset)  # its basis is for 9 valence electrons, its GTH-PBE potential for 1
    with pytest.raises(InputError, match=rf"no GTH-PBE pseudopotential for Li in {tmp_path}/GTH_POTENTIALS"):
        kind_names("Li", preset)
    with pytest.raises(InputError, match="CP2K data file .*nowhere/GTH_POTENTIALS not found"):
        kind_names("Rh", preset.model_copy(update={"data_dir": str(tmp_path / "nowhere")}))
