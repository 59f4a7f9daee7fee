"""VASP labelling through custodian with the fake VASP (real outputs, real error texts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow, run_locally
from pymatgen.io.vasp import Incar, Poscar

from seiflow.dataset.frames import FrameStore
from seiflow.labelling.vasp import VaspLabelMaker
from seiflow.schemas.frame import FrameStatus
from seiflow.testing.fake_vasp import fake_vasp_cmd
from seiflow.testing.flows import add

REF = Path(__file__).resolve().parents[1] / "data" / "vasp_runs" / "h2o_static"


def _structure():
    return Poscar.from_file(REF / "POSCAR").structure


def _label(tmp_path, **fake) -> tuple:
    maker = VaspLabelMaker(
        vasp_cmd=fake_vasp_cmd(REF, **fake), potcar_spec=True, max_errors=3, polling_time_step=1
    )
    label = maker.make([_structure()], {"source": "test", "origin": "h2o"})
    after = add(1, 2)  # the round goes on after the labelling job
    responses = run_locally(Flow([label, after]), root_dir=tmp_path, create_folders=True, ensure_success=True)
    out = responses[label.uuid][1].output
    assert responses[after.uuid][1].output == 3
    return out, next(tmp_path.glob("job_*/vasp_0000"), None)


def _custodian_errors(run_dir: Path) -> list[str]:
    log = json.loads((run_dir / "custodian.json").read_text())
    return [str(e) for run in log for c in run["corrections"] for e in c["errors"]]


def test_static_label_stores_frame_in_deepmd_units(seiflow_env, tmp_path):
    out, run_dir = _label(tmp_path)
    assert (out.n_new, out.n_failed) == (1, 0)
    frame = FrameStore().get(out.frame_ids[0])
    assert frame.energy == pytest.approx(-28.46658469)  # last ionic step of the real run
    assert frame.species == ["O", "O", "H", "H", "H", "H"]  # the candidate's order, not VASP's sorted one
    assert np.allclose(frame.forces[0], [0.07241276, 0.66735904, -0.13411144])
    kb_to_ev_a3 = 0.1 / 160.21766208
    assert frame.virial[0, 0] == pytest.approx(0.37701983 * kb_to_ev_a3 * frame.volume, rel=1e-5)
    incar = Incar.from_file(run_dir / "INCAR")
    assert (incar["GGA"].upper(), incar["ENCUT"], incar["NSW"]) == ("PE", 520, 0)
    assert (run_dir / "POTCAR.spec").is_file() and not (run_dir / "POTCAR").exists()


@pytest.mark.parametrize(
    ("scenario", "handler_error"),
    [
        ("zbrent", "zbrent"),  # VaspErrorHandler
        ("unconverged", "Unconverged"),  # UnconvergedErrorHandler
        ("nonconverging", "Non-converging job"),  # NonConvergingErrorHandler
        ("positive_energy", "Positive energy"),  # PositiveEnergyErrorHandler
        ("kpoints_trans", "kpoints_trans"),  # StdErrHandler
    ],
)
def test_scripted_error_is_corrected_and_completes(seiflow_env, tmp_path, scenario, handler_error):
    out, run_dir = _label(tmp_path, errors=[scenario])
    assert (out.n_new, out.n_failed) == (1, 0)
    assert handler_error in _custodian_errors(run_dir)
    assert list(run_dir.glob("error.*.tar.gz")) or scenario == "unconverged"


def test_failing_every_time_is_recorded_and_round_goes_on(seiflow_env, tmp_path):
    out, run_dir = _label(tmp_path, always="zbrent")
    assert (out.n_new, out.n_failed, out.frame_ids) == (0, 1, [])
    assert "MaxErrors" in out.failures[0].reason or "Max" in out.failures[0].reason
    failed = FrameStore().get(out.failures[0].frame_id)
    assert failed.status == FrameStatus.FAILED and failed.energy is None
    assert _custodian_errors(run_dir).count("zbrent") == 3


def test_relabelling_skips_stored_frames(seiflow_env, tmp_path):
    first, _ = _label(tmp_path / "a")
    again, run_dir = _label(tmp_path / "b", always="zbrent")  # would fail if VASP ran again
    assert run_dir is None
    assert again.frame_ids == first.frame_ids and (again.n_duplicate, again.n_failed) == (1, 0)


def test_aimd_inputs_come_from_atomate2s_md_set_with_the_preset(tmp_path):
    from seiflow.labelling.vasp_md import VaspMDMaker

    for temperature in (300.0, 600.0):
        maker = VaspMDMaker(vasp_cmd="vasp_std", temperature=temperature, steps=1000)
        job = maker.make(_structure(), origin="LiCl", campaign="c")
        assert job.config.manager_config["_category"] == "dft"
        incar = maker.input_preset().md_generator(temperature).get_input_set(_structure(), potcar_spec=True).incar
        assert (incar["MDALGO"], incar["POTIM"], incar["NSW"], incar["GGA"].upper()) == (2, 1.0, 1000, "PE")
        assert incar["TEBEG"] == temperature
        assert maker.reference == VaspLabelMaker().reference  # AIMD frames train with the statics
