"""Production hand-off: LAMMPS input for the big cell, cost scaling, and a real timed run with DeePMD."""

from __future__ import annotations

import pytest
from ase.build import bulk

from seiflow.analysis.production import (
    ProductionMaker,
    estimate_cost,
    measure_speed,
    parse_loop_time,
)
from seiflow.errors import InputError, SeiflowError


def test_production_input_for_large_cell(tmp_path):
    atoms = bulk("LiCl", "rocksalt", a=5.13, cubic=True).repeat((20, 20, 10))  # 32,000 atoms
    out = ProductionMaker().make(atoms, "compressed.pb", ["Li", "In", "Cl"], tmp_path)
    text = (tmp_path / "in.lammps").read_text()
    assert out.n_atoms == 32_000 and out.n_steps == 10_000_000
    for line in ("pair_style deepmd compressed.pb", "pair_coeff * * Li In Cl", "fix nvt all nvt temp 300.0 300.0",
                 "timestep 0.001", "restart 100000 restart.a restart.b", "run 10000000", "mass 2 114.8"):
        assert line in text, line
    data = (tmp_path / "conf.lmp").read_text()
    assert "32000 atoms" in data and "3 atom types" in data
    with pytest.raises(InputError):
        ProductionMaker().make(atoms, "m.pb", ["Li"], tmp_path)


def test_cost_scaling_and_log_parsing():
    est = estimate_cost(71.0, 32_000, 10_000_000)
    assert est.hours == pytest.approx(71e-6 * 32_000 * 1e7 / 3600)
    log = "Loop time of 2.5 on 1 procs for 100 steps with 1000 atoms\n"
    assert parse_loop_time(log) == pytest.approx(25.0)
    with pytest.raises(SeiflowError):
        parse_loop_time("nothing")
    with pytest.raises(InputError):
        estimate_cost(0.0, 1, 1)


@pytest.mark.slow
def test_measured_speed_with_real_deepmd(tmp_path):
    from tests.exploration.models import COMMITTED_DATA, labelled_frames, train_model

    data_dir = COMMITTED_DATA
    if not data_dir.is_dir():
        data_dir = tmp_path / "data"
        labelled_frames(8).to("deepmd/npy", str(data_dir))
    model = train_model(data_dir, tmp_path / "m", numb_steps=20, seed=1)
    atoms = bulk("LiCl", "rocksalt", a=5.13, cubic=True).repeat(3)
    est = measure_speed(atoms, model, ["Li", "Cl"], tmp_path / "run", n_steps=10)
    assert 0 < est.us_per_step_atom < 10_000
    assert est.n_atoms == 216
    assert (tmp_path / "run" / "final.restart").exists()
