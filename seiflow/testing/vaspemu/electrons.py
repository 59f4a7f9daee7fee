"""Synthetic electronic output: SCF histories, energy terms, eigenvalues and a total DOS.

None of it is physics; it is shaped like VASP's so parsers and custodian's handlers see what they
expect. The SCF free energy converges geometrically onto the calculator's energy (the last step equals
it, and its change is below EDIFF unless the run is meant to look unconverged). Bands have a 3 eV gap
(so smearing/k-spacing handlers see an insulator), smearing entropy is zero, so ``E_fr = E_0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seiflow.testing.vaspemu.inputs import RunInputs

VBM, EFERMI, CBM = 1.0, 1.2, 4.0  # eV
FIRST_SCF, LATER_SCF = 14, 6  # SCF steps for the first ionic step and for the next ones


@dataclass
class ScfStep:
    """One electronic step (an OSZICAR ``DAV:``/``RMM:`` line and a vasprun ``<scstep>``)."""

    energy: float  # free energy
    de: float
    deps: float
    ncg: int
    rms: float
    rms_c: float | None
    algo: str


def scf_count(inputs: RunInputs, first: bool, unconverged: bool = False) -> int:
    """How many SCF steps an ionic step takes: NELM when unconverged, else between NELMIN and NELM-1."""
    if unconverged:
        return inputs.nelm
    n = FIRST_SCF if first else LATER_SCF
    return max(1, min(max(n, inputs.nelmin), inputs.nelm - 1))


def scf_steps(inputs: RunInputs, energy: float, n: int, first: bool, converged: bool = True) -> list[ScfStep]:
    """``n`` SCF steps ending exactly on ``energy``; the last change is below EDIFF when ``converged``."""
    span = 60.0 * inputs.nions if first else 0.02 * inputs.nions
    last_change = (0.3 if converged else 300.0) * inputs.ediff
    q = (last_change / span) ** (1.0 / max(n - 2, 1)) if n > 2 else 0.1
    algo = str(inputs.get("ALGO", "Normal")).lower()
    ncg = 2 * inputs.nbands * len(inputs.kpoints.weights) * inputs.ispin
    nelmdl = abs(int(inputs.get("NELMDL", -5 if first else 0))) if first else 0
    steps: list[ScfStep] = []
    previous = 0.0
    for k in range(n):
        e = energy + span * (q**k - q ** (n - 1)) if n > 1 else energy
        de = e - previous if k else e
        name = "RMM" if (algo == "veryfast" or (algo == "fast" and k >= 5)) else "DAV"
        rms = 10.0 * q ** (k / 2) if first else 0.1 * q ** (k / 2)
        steps.append(ScfStep(e, de, 1.3 * de, ncg, rms, 0.5 * rms if k >= nelmdl and n > 1 else None, name))
        previous = e
    return steps


def energy_terms(inputs: RunInputs, e_fr: float) -> dict[str, float]:
    """VASP's decomposition of a free energy (vasprun ``<scstep>`` names), adding up to ``e_fr``."""
    zval = np.asarray([inputs.potcars[t].zval for t in inputs.type_of_site])
    terms = {
        "alphaZ": 2.0 * float(zval.sum()),
        "ewald": -12.0 * float((zval**1.5).sum()),
        "hartreedc": -3.0 * float(zval.sum()),
        "XCdc": -4.0 * float(zval.sum()),
        "pawpsdc": 60.0 * float(zval.sum()),
        "pawaedc": -55.0 * float(zval.sum()),
        "eentropy": 0.0,
        "atom": 25.0 * float((zval**1.2).sum()),
    }
    terms["bandstr"] = e_fr - sum(terms.values())
    order = ("alphaZ", "ewald", "hartreedc", "XCdc", "pawpsdc", "pawaedc", "eentropy", "bandstr", "atom")
    return {k: terms[k] for k in order}


@dataclass
class Bands:
    """Eigenvalues and occupations, shape (spin, k-point, band); occupations in [0, 1] as vasprun has."""

    eigenvalues: np.ndarray
    occupations: np.ndarray
    efermi: float
    magnetization: float


def bands(inputs: RunInputs) -> Bands:
    """An insulator's bands: NELECT/2 filled bands per spin below VBM, empty ones from CBM up."""
    kpts = inputs.kpoints.kpoints
    nb, ispin, nelect = inputs.nbands, inputs.ispin, inputs.nelect
    disp = 1.0 - np.cos(2 * np.pi * kpts).mean(axis=1)  # 0 at Gamma, up to 2
    filled = [int(np.ceil(nelect / 2)), int(nelect // 2)] if ispin == 2 else [int(nelect // 2)]
    eig = np.zeros((ispin, len(kpts), nb))
    occ = np.zeros_like(eig)
    for s, n_occ in enumerate(filled):
        j = np.arange(nb)
        valence = VBM - 12.0 * (n_occ - 1 - j) / max(n_occ, 1) - 0.2 * disp[:, None]
        conduction = CBM + 0.3 * (j - n_occ) + 0.2 * disp[:, None]
        eig[s] = np.where(j < n_occ, valence, conduction)
        occ[s, :, : min(n_occ, nb)] = 1.0
        if ispin == 1 and nelect % 2 and n_occ < nb:  # an odd electron: a half-filled band at E_F
            eig[s, :, n_occ] = EFERMI
            occ[s, :, n_occ] = 0.5
    mag = float(filled[0] - filled[1]) if ispin == 2 else 0.0
    return Bands(eig, occ, EFERMI, mag)


def total_dos(inputs: RunInputs, b: Bands) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies (NEDOS), and per spin the total DOS and its integral, Gaussian-broadened by SIGMA."""
    nedos = int(inputs.get("NEDOS", 301))
    emin, emax = float(inputs.get("EMIN", 10.0)), float(inputs.get("EMAX", -10.0))
    if emin >= emax:
        emin, emax = float(b.eigenvalues.min()) - 1.0, float(b.eigenvalues.max()) + 1.0
    energies = np.linspace(emin, emax, nedos)
    width = max(float(inputs.get("SIGMA", 0.2)), 0.05)
    weights = np.broadcast_to(inputs.kpoints.weights[:, None], b.eigenvalues.shape[1:]).ravel()
    dos = np.zeros((inputs.ispin, nedos))
    for s in range(inputs.ispin):
        x = (energies[:, None] - b.eigenvalues[s].ravel()[None, :]) / width
        dos[s] = (np.exp(-x * x / 2) @ weights) * (2.0 / inputs.ispin) / (width * np.sqrt(2 * np.pi))
    step = energies[1] - energies[0] if nedos > 1 else 1.0
    return energies, dos, np.cumsum(dos, axis=1) * step
