"""Task grid, LAMMPS inputs, model_devi parsing, and a crashing LAMMPS run recorded as failed."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from seiflow.errors import InputError
from seiflow.exploration.deviation import read_dump, read_model_devi
from seiflow.exploration.inputs import input_script, write_inputs
from seiflow.exploration.jobs import run_task
from seiflow.exploration.run import LammpsRunner
from seiflow.exploration.tasks import make_tasks, round_nsteps
from seiflow.schemas.campaign import ExplorationConfig, SelectionConfig
from seiflow.schemas.exploration import TaskStatus
from tests.exploration.models import TYPE_MAP, licl_supercell


def test_task_grid_and_round_lengths():
    cfg = ExplorationConfig(ensembles=["nvt", "npt"], temperatures=[300, 600], pressures=[1, 1000],
                            nsteps=100, nsteps_growth=1.5, out_freq=10)
    tasks = make_tasks(["interface", "Li"], cfg, round_index=2)
    assert len(tasks) == 2 * (2 + 2 * 2)
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert "r2-interface-npt-600K-1000bar" in {t.task_id for t in tasks}
    # round 1 runs nsteps; each later round nsteps_growth times more: round 2 = 150
    assert all(t.nsteps == 150 for t in tasks) and round_nsteps(cfg, 1) == 100
    assert round_nsteps(cfg, 3) == 220 and round_nsteps(cfg, 0) == 100
    with pytest.raises(InputError):
        make_tasks([], cfg)


def test_input_script_nvt_npt(tmp_path):
    cfg = ExplorationConfig(ensembles=["nvt", "npt"], temperatures=[600], nsteps=50, out_freq=5)
    nvt, npt = make_tasks(["licl"], cfg)
    models = [tmp_path / "a.pb", tmp_path / "b.pb"]
    text = input_script(nvt, TYPE_MAP, models, triclinic=False, relative=1.0)
    assert f"pair_style deepmd {models[0]} {models[1]} out_freq 5 out_file model_devi.out relative 1" in text
    assert "fix integrate all nvt temp 600 600 0.1" in text
    assert "dump traj all custom 5 traj.dump id element x y z" in text
    assert "aniso 1 1 1" in input_script(npt, TYPE_MAP, models, triclinic=False)
    assert "tri 1 1 1" in input_script(npt, TYPE_MAP, models, triclinic=True)
    write_inputs(nvt, licl_supercell(), TYPE_MAP, models, tmp_path / "run")
    assert "64 atoms" in (tmp_path / "run" / "conf.lmp").read_text()
    with pytest.raises(InputError):
        write_inputs(nvt, Structure(Lattice.cubic(3), ["Na"], [[0, 0, 0]]), TYPE_MAP, models, tmp_path / "x")


def test_read_model_devi_7_and_8_columns(tmp_path):
    path = tmp_path / "model_devi.out"
    path.write_text("#  step max_devi_v min_devi_v avg_devi_v max_devi_f min_devi_f avg_devi_f\n"
                    "0 0.1 0 0.05 0.2 0.01 0.1\n10 0.2 0 0.1 0.3 0.02 0.2\n")
    d = read_model_devi(path)
    assert d.steps == [0, 10] and d.max_devi_f == [0.2, 0.3] and d.max_devi_v == [0.1, 0.2]
    assert d.devi_e is None
    path.write_text("0 0.1 0 0.05 0.2 0.01 0.1 0.003\n0 0.1 0 0.05 0.2 0.01 0.1 0.003\n")
    d = read_model_devi(path)
    assert d.steps == [0] and d.devi_e == [0.003]


def test_bad_model_file_is_a_failed_task(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"this is not a frozen graph")
    task = make_tasks(["licl"], ExplorationConfig(nsteps=10, out_freq=5))[0]
    out = run_task(task, licl_supercell(), [bad, bad], TYPE_MAP, tmp_path / "run", SelectionConfig(),
                   runner=LammpsRunner(timeout_s=300))
    assert out.result.status == TaskStatus.FAILED
    assert out.result.reason and "exit code" in out.result.reason
    assert out.structures == []


def test_read_dump_keys_frames_by_step(tmp_path):
    dump = tmp_path / "traj.dump"
    block = ("ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 4\n0 4\n0 4\n"
             "ITEM: ATOMS id element x y z\n1 Li 0 0 0\n2 Cl 2 2 {z}\n")
    dump.write_text(block.format(step=0, z=2) + block.format(step=20, z=2.5))
    frames = read_dump(dump)
    assert sorted(frames) == [0, 20]
    assert frames[20].get_chemical_symbols() == ["Li", "Cl"]
    assert np.allclose(frames[20].positions[1], [2, 2, 2.5])
