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
    record = frame.provenance.custodian  # a clean run is recorded too: no corrections
    assert (record.n_corrections, record.handlers, out.n_corrected) == (0, [], 0) and record.walltime_s > 0


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
    assert failed.provenance.custodian.n_corrections == 3  # the failure keeps custodian's record too


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


def test_relaxations_run_with_the_makers_handlers_and_budget():
    from custodian.vasp.handlers import VaspErrorHandler

    maker = VaspLabelMaker(vasp_cmd="srun vasp_std", handlers=(VaspErrorHandler(),), max_errors=2,
                           polling_time_step=3.0)
    kwargs = maker.relax_maker().run_vasp_kwargs
    assert [type(h).__name__ for h in kwargs["handlers"]] == ["VaspErrorHandler"]
    assert kwargs["handlers"][0] is not maker.handlers[0]  # a copy: handlers count their corrections
    assert (kwargs["max_errors"], kwargs["custodian_kwargs"]["polling_time_step"]) == (2, 3.0)
    assert kwargs["vasp_cmd"] == "srun vasp_std"


def test_a_run_that_needed_one_correction_keeps_custodians_record_on_its_frame(seiflow_env, tmp_path):
    out, run_dir = _label(tmp_path, errors=["zbrent"])
    assert (out.n_new, out.n_failed, out.n_corrected) == (1, 0, 1)
    record = FrameStore().get(out.frame_ids[0]).provenance.custodian
    assert (record.n_corrections, record.handlers, record.errors) == (1, ["VaspErrorHandler"], ["zbrent"])
    assert record.walltime_s > 0
    corrected = FrameStore().collection.find({"provenance.custodian.n_corrections": {"$gt": 0}}, {"_id": 1})
    assert [doc["_id"] for doc in corrected] == out.frame_ids  # queryable, as docs/queries.md shows


def test_aimd_that_needed_a_correction_keeps_the_record_on_every_sampled_frame(seiflow_env, tmp_path):
    from pymatgen.core import Lattice, Structure

    from seiflow import store
    from seiflow.labelling.vasp_md import VaspMDMaker
    from seiflow.testing.vasp_emulator import write_vasp_std

    exe = write_vasp_std(tmp_path / "bin", errors=["unconverged"])
    licl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5] * 3])
    maker = VaspMDMaker(vasp_cmd=str(exe), potcar_spec=True, steps=4, sample_every=2, polling_time_step=0.2)
    md_job = maker.make(licl, origin="LiCl", campaign="c")
    responses = run_locally(md_job, root_dir=tmp_path, create_folders=True, store=store.get_jobstore(),
                            ensure_success=True)
    out = responses[md_job.uuid][1].output
    assert (out.n_new, out.n_failed, out.n_corrected) == (2, 0, 2)
    records = [f.provenance.custodian for f in FrameStore().find(campaign="c")]
    assert [(r.n_corrections, r.handlers) for r in records] == [(1, ["UnconvergedErrorHandler"])] * 2


def test_potcars_are_pymatgens_input_set_choice_for_any_element():
    from pymatgen.core import Lattice, Structure

    from seiflow.errors import InputError
    from seiflow.labelling.presets import STUDY_AIMD, STUDY_VASP
    from seiflow.labelling.vasp_run import potcar_symbols

    cell = Structure(Lattice.cubic(6.0), ["Li", "P", "S", "Cl"], [[0, 0, 0], [0.5] * 3, [0.25] * 3, [0.75] * 3])
    for generator in (STUDY_VASP.static_generator(), STUDY_AIMD.md_generator(300.0)):
        assert potcar_symbols(cell, generator) == ["Cl", "Li_sv", "P", "S"]
        spec = generator.get_input_set(cell, potcar_spec=True)["POTCAR.spec"]  # what is written: no POTCAR
        assert sorted(spec.split()) == ["Cl", "Li_sv", "P", "S"]
    og = Structure(Lattice.cubic(6.0), ["Li", "Og"], [[0, 0, 0], [0.5] * 3])
    with pytest.raises(InputError, match="no POTCAR for Og in the VASP input set"):
        potcar_symbols(og, STUDY_VASP.static_generator())
