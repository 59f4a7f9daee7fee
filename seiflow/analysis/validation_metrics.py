"""Errors of a model against reference labels.

RMSE/MAE of energy (meV/atom), forces (meV/Å) and stress (MPa), parity data and learning curves.

Predictions come from any ASE calculator: the frozen DeePMD model (``deepmd.calculator.DP``) or a local
reference (``seiflow.labelling.calculators.get_calculator``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase.calculators.calculator import Calculator
from pydantic import BaseModel, Field

from seiflow.constants import EV_A3_TO_MPA
from seiflow.dataset.convert import to_atoms
from seiflow.errors import InputError
from seiflow.schemas.frame import LabelledFrame
from seiflow.schemas.validation import ErrorMetrics

PARITY_POINTS = 5000  # most points kept per parity panel


class ParityData(BaseModel):
    """Reference vs predicted values for parity plots (subsampled to ``PARITY_POINTS``)."""

    e_ref_ev_atom: list[float] = Field(default_factory=list)
    e_pred_ev_atom: list[float] = Field(default_factory=list)
    f_ref_ev_a: list[float] = Field(default_factory=list)
    f_pred_ev_a: list[float] = Field(default_factory=list)
    s_ref_mpa: list[float] = Field(default_factory=list)
    s_pred_mpa: list[float] = Field(default_factory=list)


class LearningCurvePoint(BaseModel):
    """Error of one model vs the number of labels it was trained on."""

    n_labels: int
    round: int | None = None
    metrics: ErrorMetrics


def _rmse_mae(diff: np.ndarray) -> tuple[float | None, float | None]:
    if diff.size == 0:
        return None, None
    return float(np.sqrt(np.mean(diff**2))), float(np.mean(np.abs(diff)))


def _subsample(values: np.ndarray, seed: int = 0) -> list[float]:
    if values.size <= PARITY_POINTS:
        return values.tolist()
    pick = np.random.default_rng(seed).choice(values.size, PARITY_POINTS, replace=False)
    return values[np.sort(pick)].tolist()


def error_metrics(
    e_ref: Sequence[float | None], e_pred: Sequence[float], natoms: Sequence[int],
    f_ref: Sequence[np.ndarray | None], f_pred: Sequence[np.ndarray],
    s_ref: Sequence[np.ndarray | None], s_pred: Sequence[np.ndarray | None],
) -> tuple[ErrorMetrics, ParityData]:
    """Metrics and parity data from per-frame energies (eV), forces (eV/Å) and stresses (eV/Å^3)."""
    if not len(e_pred) == len(natoms) == len(e_ref):
        raise InputError("reference and prediction lists differ in length", "pass one entry per frame")
    e_ok = [k for k, e in enumerate(e_ref) if e is not None]
    e_r = np.array([e_ref[k] / natoms[k] for k in e_ok])
    e_p = np.array([e_pred[k] / natoms[k] for k in e_ok])
    f_ok = [k for k, f in enumerate(f_ref) if f is not None]
    f_r = np.concatenate([np.ravel(f_ref[k]) for k in f_ok]) if f_ok else np.zeros(0)
    f_p = np.concatenate([np.ravel(f_pred[k]) for k in f_ok]) if f_ok else np.zeros(0)
    s_ok = [k for k, s in enumerate(s_ref) if s is not None and s_pred[k] is not None]
    s_r = np.concatenate([np.ravel(s_ref[k]) for k in s_ok]) * EV_A3_TO_MPA if s_ok else np.zeros(0)
    s_p = np.concatenate([np.ravel(s_pred[k]) for k in s_ok]) * EV_A3_TO_MPA if s_ok else np.zeros(0)
    rmse_e, mae_e = _rmse_mae((e_p - e_r) * 1000.0)
    offset = float(np.mean(e_p - e_r) * 1000.0) if e_ok else None
    rmse_ec = _rmse_mae((e_p - e_r) * 1000.0 - offset)[0] if e_ok else None
    rmse_f, mae_f = _rmse_mae((f_p - f_r) * 1000.0)
    rmse_v, mae_v = _rmse_mae(s_p - s_r)
    metrics = ErrorMetrics(
        n_frames=len(e_ref), rmse_e_mev_atom=rmse_e, mae_e_mev_atom=mae_e, e_offset_mev_atom=offset,
        rmse_e_centered_mev_atom=rmse_ec, rmse_f_mev_a=rmse_f,
        mae_f_mev_a=mae_f, rmse_v_mpa=rmse_v, mae_v_mpa=mae_v,
    )
    parity = ParityData(
        e_ref_ev_atom=_subsample(e_r), e_pred_ev_atom=_subsample(e_p), f_ref_ev_a=_subsample(f_r),
        f_pred_ev_a=_subsample(f_p), s_ref_mpa=_subsample(s_r), s_pred_mpa=_subsample(s_p),
    )
    return metrics, parity


def evaluate(frames: Sequence[LabelledFrame], calc: Calculator,
             stress: bool = True) -> tuple[ErrorMetrics, ParityData]:
    """Predict ``frames`` with an ASE calculator and compare with their stored labels."""
    if not frames:
        raise InputError("no labelled frames to validate on", "label a held-out set first")
    e_pred, f_pred, s_pred = [], [], []
    for frame in frames:
        atoms = to_atoms(frame)
        atoms.calc = calc
        e_pred.append(float(atoms.get_potential_energy()))
        f_pred.append(np.asarray(atoms.get_forces()))
        s_pred.append(np.asarray(atoms.get_stress(voigt=False)) if stress and all(frame.pbc) else None)
    return error_metrics(
        [f.energy for f in frames], e_pred, [f.natoms for f in frames], [f.forces for f in frames],
        f_pred, [f.stress() for f in frames], s_pred,
    )


def learning_curve(points: Sequence[LearningCurvePoint]) -> list[LearningCurvePoint]:
    """Points sorted by the number of labels (one per model or round)."""
    return sorted(points, key=lambda p: (p.n_labels, p.round or 0))
