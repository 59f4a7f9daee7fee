"""Error metrics, parity data, deviation histograms and learning curves."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from seiflow.analysis.validation_metrics import (
    EV_A3_TO_MPA,
    ErrorMetrics,
    LearningCurvePoint,
    error_metrics,
    evaluate,
    learning_curve,
)
from seiflow.errors import InputError
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference


def test_metrics_units():
    natoms = [2, 4]
    e_ref, e_pred = [0.0, 0.0], [0.002, -0.004]  # 1 meV/atom each
    f_ref = [np.zeros((2, 3)), np.zeros((4, 3))]
    f_pred = [np.full((2, 3), 0.01), np.full((4, 3), -0.01)]  # 10 meV/Å each
    s_ref = [np.zeros((3, 3)), np.zeros((3, 3))]
    s_pred = [np.eye(3) * 1e-4, np.eye(3) * -1e-4]
    m, parity = error_metrics(e_ref, e_pred, natoms, f_ref, f_pred, s_ref, s_pred)
    assert m.rmse_e_mev_atom == pytest.approx(1.0)
    assert m.mae_f_mev_a == pytest.approx(10.0)
    assert m.rmse_v_mpa == pytest.approx(1e-4 * EV_A3_TO_MPA * np.sqrt(3 / 9))
    assert len(parity.f_ref_ev_a) == 18


def _frame(atoms, calc):
    atoms.calc = calc
    stress = atoms.get_stress(voigt=False)
    return LabelledFrame(
        species=atoms.get_chemical_symbols(), positions=atoms.positions, cell=np.asarray(atoms.cell),
        energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
        virial=-stress * atoms.get_volume(), reference=Reference(calculator="emt"),
        provenance=Provenance(source="test"),
    )


def test_evaluate_with_ase_calculator():
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        frames.append(_frame(atoms, EMT()))
    same, _ = evaluate(frames, EMT())
    assert same.rmse_e_mev_atom == pytest.approx(0.0, abs=1e-9)
    assert same.rmse_f_mev_a == pytest.approx(0.0, abs=1e-6)
    assert same.rmse_v_mpa == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(InputError):
        evaluate([], EMT())


def test_learning_curve_sorted():
    pts = [LearningCurvePoint(n_labels=n, metrics=ErrorMetrics(n_frames=1)) for n in (30, 10, 20)]
    assert [p.n_labels for p in learning_curve(pts)] == [10, 20, 30]
