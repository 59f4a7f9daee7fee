"""Mean-squared displacement, tracer diffusivity and an Arrhenius fit with its uncertainty.

Positions are unwrapped by adding minimum-image displacements between consecutive frames (frames must be
close enough in time that no atom moves half a box). D = slope(MSD vs t) / 6 over the diffusive part
(``fit_from`` onward); Arrhenius: ln D = ln D0 - Ea / (kB T), with uncertainties from the fit covariance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from seiflow.analysis.neighbours import species_mask
from seiflow.errors import InputError

KB_EV = 8.617333262e-5  # eV/K
A2_PER_PS_TO_CM2_PER_S = 1e-4  # 1 Å^2/ps = 1e-4 cm^2/s


class Diffusivity(BaseModel):
    """A diffusion coefficient from the linear part of an MSD curve."""

    species: str
    temperature: float | None = None
    d_a2_ps: float = Field(..., description="D in Å^2/ps.")
    d_err_a2_ps: float = Field(..., description="Standard error of D from the fit covariance, Å^2/ps.")
    d_cm2_s: float = Field(..., description="D in cm^2/s.")
    fit_window_ps: tuple[float, float]


class ArrheniusFit(BaseModel):
    """ln D = ln D0 - Ea/(kB T)."""

    activation_energy_ev: float
    activation_energy_err_ev: float = Field(..., description="1 sigma from the fit covariance.")
    prefactor_a2_ps: float = Field(..., description="D0, Å^2/ps.")
    temperatures: list[float]
    diffusivities_a2_ps: list[float]


def unwrap(frames: Sequence[Atoms]) -> np.ndarray:
    """(n_frames, n_atoms, 3) unwrapped Cartesian positions (minimum-image steps between frames)."""
    if len(frames) < 2:
        raise InputError("MSD needs at least two frames", "pass a longer trajectory")
    pos = np.array([f.positions for f in frames])
    out = np.empty_like(pos)
    out[0] = pos[0]
    for k in range(1, len(frames)):
        cell = np.asarray(frames[k].cell)
        step = pos[k] - pos[k - 1]
        frac = np.linalg.solve(cell.T, step.T).T
        frac -= np.round(frac)
        out[k] = out[k - 1] + frac @ cell
    return out


def msd(positions: np.ndarray, mask: np.ndarray | None = None, max_lag: int | None = None) -> np.ndarray:
    """MSD(lag) in Å^2 averaged over atoms and time origins, for lags 0..max_lag (frames)."""
    pos = positions if mask is None else positions[:, mask]
    n = pos.shape[0]
    max_lag = n - 1 if max_lag is None else min(max_lag, n - 1)
    out = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        d = pos[lag:] - pos[:-lag]
        out[lag] = float(np.mean(np.sum(d * d, axis=-1)))
    return out


def diffusivity_from_msd(
    times_ps: np.ndarray, msd_a2: np.ndarray, fit_from: float = 0.2, species: str = "",
    temperature: float | None = None,
) -> Diffusivity:
    """D from a straight-line fit of MSD vs t over times after ``fit_from`` of the range."""
    t, y = np.asarray(times_ps, dtype=float), np.asarray(msd_a2, dtype=float)
    keep = t >= t[0] + fit_from * (t[-1] - t[0])
    if keep.sum() < 3:
        raise InputError("too few MSD points in the fit window", "use more frames or a smaller fit_from")
    (slope, intercept), cov = np.polyfit(t[keep], y[keep], 1, cov=True)
    d = slope / 6.0
    return Diffusivity(
        species=species, temperature=temperature, d_a2_ps=float(d),
        d_err_a2_ps=float(np.sqrt(cov[0, 0]) / 6.0), d_cm2_s=float(d * A2_PER_PS_TO_CM2_PER_S),
        fit_window_ps=(float(t[keep][0]), float(t[keep][-1])),
    )


def trajectory_diffusivity(
    frames: Sequence[Atoms], dt_ps: float, species: str, temperature: float | None = None,
    fit_from: float = 0.2, max_lag_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, Diffusivity]:
    """MSD of ``species`` over a trajectory sampled every ``dt_ps`` ps, and its diffusivity."""
    mask = species_mask(frames[0], species)
    if not mask.any():
        raise InputError(f"no {species} atoms in the trajectory", "pick a species present in it")
    pos = unwrap(frames)
    curve = msd(pos, mask, max(2, int(max_lag_fraction * (len(frames) - 1))))
    times = np.arange(curve.size) * dt_ps
    return times, curve, diffusivity_from_msd(times, curve, fit_from, species, temperature)


def arrhenius_fit(temperatures: Sequence[float], diffusivities: Sequence[float],
                  errors: Sequence[float] | None = None) -> ArrheniusFit:
    """Fit ln D vs 1/T. With ``errors`` the fit is weighted by them (absolute sigma); else residual-scaled.

    Examples
    --------
    >>> T = [400.0, 600.0, 800.0]
    >>> D = [1e-2 * np.exp(-0.3 / (KB_EV * t)) for t in T]
    >>> round(arrhenius_fit(T, D).activation_energy_ev, 6)
    0.3
    """
    t, d = np.asarray(temperatures, dtype=float), np.asarray(diffusivities, dtype=float)
    if t.size < 2 or t.size != d.size or np.any(d <= 0) or np.any(t <= 0):
        raise InputError(
            "Arrhenius fit needs >= 2 temperatures with positive diffusivities",
            "run MD at more temperatures or longer so that the MSD grows",
        )
    x, y = 1.0 / (KB_EV * t), np.log(d)
    design = np.column_stack([np.ones_like(x), -x])  # y = ln D0 - Ea * x
    if errors is not None:
        sigma = np.asarray(errors, dtype=float) / d  # error of ln D
        w = 1.0 / np.maximum(sigma, 1e-300)
        coef, *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
        cov = np.linalg.inv((design * w[:, None]).T @ (design * w[:, None]))
    else:
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        dof = t.size - 2
        resid = y - design @ coef
        scale = float(resid @ resid) / dof if dof > 0 else float("nan")
        cov = np.linalg.inv(design.T @ design) * scale
    return ArrheniusFit(
        activation_energy_ev=float(coef[1]), activation_energy_err_ev=float(np.sqrt(cov[1, 1])),
        prefactor_a2_ps=float(np.exp(coef[0])), temperatures=t.tolist(), diffusivities_a2_ps=d.tolist(),
    )
