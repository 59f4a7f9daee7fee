"""Elastic constants from finite strain and stress with any ASE calculator (the frozen NNP or a reference).

For each Voigt component k (xx, yy, zz, yz, xz, xy) the cell is strained by +/- ``strain`` (engineering
shear for k >= 3), ions optionally relaxed, and C[:, k] = (sigma(+) - sigma(-)) / (2 strain): central
differences cancel a residual stress to first order. Stress uses ASE's sign (positive = tensile).

With ``relax_ions`` the unstrained cell is first relaxed with the same calculator (ions, and with
``relax_cell`` the cell too): starting each strained relaxation from a structure that is not the
calculator's own minimum lets the +/- cells relax into the same nearby minimum, which cancels the very
stress difference being measured (a negative C11 for a bundled electrolyte cell with a demo model did).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from pydantic import BaseModel, Field

from seiflow.errors import InputError

EV_A3_TO_GPA = 160.21766208
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


class ElasticResult(BaseModel):
    """The 6x6 stiffness tensor (GPa, Voigt order xx yy zz yz xz xy) and derived isotropic moduli."""

    c_gpa: list[list[float]]
    bulk_voigt_gpa: float
    bulk_reuss_gpa: float
    shear_voigt_gpa: float
    shear_reuss_gpa: float
    bulk_vrh_gpa: float = Field(..., description="Voigt-Reuss-Hill average bulk modulus.")
    shear_vrh_gpa: float
    young_vrh_gpa: float
    poisson_vrh: float
    strain: float
    n_atoms: int


def strain_matrix(k: int, amount: float) -> np.ndarray:
    """Symmetric strain tensor for Voigt component ``k`` (engineering shear: off-diagonals amount/2)."""
    eps = np.zeros((3, 3))
    a, b = VOIGT[k]
    if a == b:
        eps[a, a] = amount
    else:
        eps[a, b] = eps[b, a] = amount / 2.0
    return eps


def _stress_voigt(atoms: Atoms, calc: Calculator, relax_ions: bool, fmax: float) -> np.ndarray:
    atoms.calc = calc
    if relax_ions:
        from ase.optimize import BFGS

        BFGS(atoms, logfile=None).run(fmax=fmax, steps=200)
    s = atoms.get_stress(voigt=False)
    return np.array([s[a, b] for a, b in VOIGT])


def relax_reference(atoms: Atoms, calc: Calculator, fmax: float, relax_cell: bool = True,
                    steps: int = 500) -> Atoms:
    """A copy of ``atoms`` at the calculator's own minimum: ions, and with ``relax_cell`` the cell (no stress)."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    relaxed = atoms.copy()
    relaxed.calc = calc
    BFGS(FrechetCellFilter(relaxed) if relax_cell else relaxed, logfile=None).run(fmax=fmax, steps=steps)
    relaxed.calc = None
    return relaxed


def isotropic_moduli(c: np.ndarray) -> dict[str, float]:
    """Voigt, Reuss and Hill bulk/shear moduli, Young's modulus and Poisson ratio from C (GPa)."""
    kv = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[1, 2] + c[0, 2])) / 9.0
    gv = (c[0, 0] + c[1, 1] + c[2, 2] - (c[0, 1] + c[1, 2] + c[0, 2])
          + 3 * (c[3, 3] + c[4, 4] + c[5, 5])) / 15.0
    s = np.linalg.inv(c)
    kr = 1.0 / (s[0, 0] + s[1, 1] + s[2, 2] + 2 * (s[0, 1] + s[1, 2] + s[0, 2]))
    gr = 15.0 / (4 * (s[0, 0] + s[1, 1] + s[2, 2]) - 4 * (s[0, 1] + s[1, 2] + s[0, 2])
                 + 3 * (s[3, 3] + s[4, 4] + s[5, 5]))
    k, g = (kv + kr) / 2, (gv + gr) / 2
    return {
        "bulk_voigt_gpa": kv, "bulk_reuss_gpa": kr, "shear_voigt_gpa": gv, "shear_reuss_gpa": gr,
        "bulk_vrh_gpa": k, "shear_vrh_gpa": g, "young_vrh_gpa": 9 * k * g / (3 * k + g),
        "poisson_vrh": (3 * k - 2 * g) / (2 * (3 * k + g)),
    }


def elastic_constants(atoms: Atoms, calc: Calculator, strain: float = 0.01,
                      relax_ions: bool = False, fmax: float = 0.02, relax_cell: bool = True) -> ElasticResult:
    """Stiffness tensor of a periodic bulk (or SEI region cut as a periodic cell) from +/- strain.

    ``relax_ions``: relaxed-ion constants, from the calculator's own relaxed structure (the cell too with
    ``relax_cell``); else clamped-ion constants of ``atoms`` as given.
    """
    if not all(atoms.pbc):
        raise InputError("elastic constants need a cell periodic in x, y and z", "pass a bulk cell")
    if not 1e-4 <= strain <= 0.05:
        raise InputError(f"strain {strain} outside [1e-4, 0.05]", "use a small strain such as 0.01")
    if relax_ions:
        atoms = relax_reference(atoms, calc, fmax, relax_cell)
    cell0 = np.asarray(atoms.cell)
    c = np.zeros((6, 6))
    for k in range(6):
        sig = []
        for sign in (1.0, -1.0):
            strained = atoms.copy()
            strained.set_cell(cell0 @ (np.eye(3) + strain_matrix(k, sign * strain)), scale_atoms=True)
            sig.append(_stress_voigt(strained, calc, relax_ions, fmax))
        c[:, k] = (sig[0] - sig[1]) / (2 * strain) * EV_A3_TO_GPA
    c = 0.5 * (c + c.T)
    return ElasticResult(c_gpa=c.round(4).tolist(), strain=strain, n_atoms=len(atoms),
                         **{k: float(v) for k, v in isotropic_moduli(c).items()})
