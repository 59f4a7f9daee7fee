"""The emulator's physics: a cheap calculator and VASP's ionic loops (static, MD, relaxation).

MD follows VASP's conventions: velocity Verlet with POTIM in fs; each ionic step records the structure,
its forces, stress and energy, and the kinetic energy of the velocities at that step; temperature is
``2 EK / ((3N - 3) kB)``; TEBEG ramps linearly to TEEND. Thermostats are stand-ins: MDALGO=2/4/5 or
SMASS>=0 (Nose-Hoover, NHC, CSVR in VASP) use a Berendsen rescaling, MDALGO=3 a Langevin step with
LANGEVIN_GAMMA, MDALGO=1 Andersen collisions, SMASS=-1 plain rescaling every NBLOCK steps, and SMASS=-3
(VASP's default) is NVE. The cell stays fixed in MD. Random numbers come from a fixed seed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes
from ase.data import covalent_radii

from seiflow.testing.vaspemu.inputs import EmulatorInputError, RunInputs

KB_PER_EV_A3 = 1.0 / (0.1 * units.GPa)  # kB per eV/Å^3
MVV2E = 1.0 / units.fs**2  # eV per amu (Å/fs)^2
SEED_ENV = "SEIFLOW_VASP_EMULATOR_SEED"
BERENDSEN_STEPS = 20  # Berendsen coupling time, in time steps


def neighbour_pairs(cart: np.ndarray, cell: np.ndarray, cutoff: float) -> tuple[np.ndarray, ...]:
    """All ordered pairs (i, j, distance, vector j - i) within ``cutoff`` over periodic images.

    Plain numpy, one image shift at a time (ASE's neighbour list pulls in scipy, slow to import).
    """
    widths = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    reach = np.ceil(cutoff / widths).astype(int)
    frac = cart @ np.linalg.inv(cell)
    cart = (frac - np.floor(frac)) @ cell
    out: list[list[np.ndarray]] = [[], [], [], []]
    for shift in np.ndindex(*(2 * reach + 1)):
        offset = (np.array(shift) - reach) @ cell
        vec = cart[None, :, :] + offset - cart[:, None, :]
        dist = np.linalg.norm(vec, axis=2)
        keep = (dist < cutoff) & (dist > 1e-8)
        i, j = np.nonzero(keep)
        for bucket, values in zip(out, (i, j, dist[keep], vec[keep]), strict=True):
            bucket.append(values)
    return tuple(np.concatenate(b) for b in out)


class PairPotential(Calculator):
    """Smooth Morse pairs for any elements: ``r0`` from covalent radii, one depth and width for all.

    Periodic, with energy, forces and stress (ASE's sign), deterministic and fast (numpy over ASE's
    neighbour list). Each atom also carries a constant reference energy so totals look like DFT's.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, depth: float = 0.3, width: float = 1.5, scale: float = 1.1,
                 cutoff: float = 6.0, taper: float = 1.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.depth, self.width, self.scale = depth, width, scale
        self.cutoff, self.r_on = cutoff, cutoff - taper

    def calculate(self, atoms: Atoms | None = None, properties: list[str] | None = None,
                  system_changes: list[str] = all_changes) -> None:
        """Energy, forces and stress of ``atoms``."""
        super().calculate(atoms, properties or ["energy"], system_changes)
        atoms = self.atoms
        i, j, d, vec = neighbour_pairs(atoms.get_positions(), np.array(atoms.cell[:]), self.cutoff)
        z = atoms.numbers
        r0 = self.scale * (covalent_radii[z[i]] + covalent_radii[z[j]])
        x = np.exp(-self.width * (d - r0))
        phi = self.depth * (x * x - 2 * x)
        dphi = 2 * self.width * self.depth * (x - x * x)
        t = np.clip((d - self.r_on) / (self.cutoff - self.r_on), 0.0, 1.0)
        fc = 1 - 10 * t**3 + 15 * t**4 - 6 * t**5
        dfc = (-30 * t**2 + 60 * t**3 - 30 * t**4) / (self.cutoff - self.r_on)
        de = dphi * fc + phi * dfc  # d(pair energy)/dr
        energy = 0.5 * float(np.sum(phi * fc)) - float(np.sum(2.0 + 0.02 * z))
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, i, (de / d)[:, None] * vec)
        virial = 0.5 * np.einsum("p,pa,pb->ab", de / d, vec, vec)
        stress = virial / atoms.get_volume()
        self.results = {
            "energy": energy, "free_energy": energy, "forces": forces,
            "stress": stress.flat[[0, 4, 8, 5, 2, 1]],
        }


def get_emulator_calculator(name: str) -> Calculator:
    """``pair`` (default, any elements), or a local reference (``chgnet``, ``sevennet``)."""
    if name == "pair":
        return PairPotential()
    from seiflow.registry import CALCULATORS as LOCAL

    if name in LOCAL:
        from seiflow.labelling.calculators import get_calculator

        return get_calculator(name)
    raise EmulatorInputError(f"unknown emulator calculator {name!r}",
                             f"use --calculator (or SEIFLOW_VASP_EMULATOR_CALC) pair / {' / '.join(LOCAL.names())}")


@dataclass
class IonicStep:
    """One ionic step as VASP reports it."""

    cell: np.ndarray
    positions: np.ndarray  # Cartesian Å
    energy: float  # free energy (TOTEN), the calculator's energy
    forces: np.ndarray  # eV/Å
    stress_kb: np.ndarray | None  # VASP's "in kB" tensor (pressure positive), None when ISIF=0
    kinetic: float = 0.0
    temperature: float = 0.0
    seconds: float = 0.0


@dataclass
class Trajectory:
    """All ionic steps and the structure VASP writes to CONTCAR."""

    steps: list[IonicStep]
    final_cell: np.ndarray
    final_positions: np.ndarray
    final_velocities: np.ndarray | None = None  # Å/fs
    initial_velocities: np.ndarray | None = None  # Å/fs
    converged: bool = True
    thermostat: str | None = None
    extra: dict = field(default_factory=dict)


def _atoms(inputs: RunInputs, calc: Calculator) -> Atoms:
    atoms = Atoms(inputs.symbols, positions=inputs.cart, cell=inputs.cell, pbc=True)
    atoms.set_masses([inputs.masses[t] for t in inputs.type_of_site])
    atoms.calc = calc
    return atoms


def _evaluate(atoms: Atoms, isif: int) -> IonicStep:
    start = time.perf_counter()
    calc = atoms.calc
    energy = float(calc.get_property("free_energy", atoms) if "free_energy" in calc.implemented_properties
                   else calc.get_property("energy", atoms))
    forces = np.array(atoms.get_forces())
    stress = None
    if isif > 0:
        voigt = np.asarray(atoms.get_stress(voigt=True))
        xx, yy, zz, yz, xz, xy = voigt
        stress = -np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]) * KB_PER_EV_A3
    return IonicStep(np.array(atoms.cell[:]), atoms.get_positions(), energy, forces, stress,
                     seconds=time.perf_counter() - start)


def _rng() -> np.random.Generator:
    return np.random.default_rng(int(os.environ.get(SEED_ENV, "20260101")))


def _temperature(masses: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    kinetic = 0.5 * MVV2E * float(np.sum(masses[:, None] * v * v))
    dof = max(3 * len(masses) - 3, 1)
    return kinetic, 2 * kinetic / (dof * units.kB)


def _maxwell_boltzmann(masses: np.ndarray, temp: float, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((len(masses), 3)) * np.sqrt(units.kB * max(temp, 0.0) / (masses * MVV2E))[:, None]
    v -= np.sum(masses[:, None] * v, axis=0) / masses.sum()
    _, t_now = _temperature(masses, v)
    return v * np.sqrt(temp / t_now) if t_now > 0 else v


def thermostat_kind(inputs: RunInputs) -> str:
    """Which stand-in thermostat the INCAR asks for (see the module docstring)."""
    mdalgo, smass = int(inputs.get("MDALGO", 0)), float(inputs.get("SMASS", -3))
    if mdalgo == 3:
        return "langevin"
    if mdalgo == 1:
        return "andersen" if float(inputs.get("ANDERSEN_PROB", 0.0)) > 0 else "nve"
    if mdalgo in (2, 4, 5) or (mdalgo == 0 and smass >= 0):
        return "berendsen"
    return "rescale" if smass == -1 else "nve"


def _thermostat(kind: str, inputs: RunInputs, v: np.ndarray, masses: np.ndarray, target: float,
                step: int, rng: np.random.Generator) -> np.ndarray:
    dt = inputs.potim
    if kind == "berendsen":
        _, t_now = _temperature(masses, v)
        lam = np.sqrt(1 + (target / t_now - 1) / BERENDSEN_STEPS) if t_now > 0 else 1.0
        return v * float(np.clip(lam, 0.8, 1.25))
    if kind == "rescale" and (step + 1) % int(inputs.get("NBLOCK", 1)) == 0:
        _, t_now = _temperature(masses, v)
        return v * np.sqrt(target / t_now) if t_now > 0 else v
    if kind == "langevin":
        gammas = inputs.get("LANGEVIN_GAMMA", [10.0] * len(inputs.type_counts))
        gamma = np.asarray([float(gammas[t]) for t in inputs.type_of_site]) / 1000.0  # ps^-1 -> fs^-1
        c1 = np.exp(-gamma * dt)
        sigma = np.sqrt((1 - c1**2) * units.kB * target / (masses * MVV2E))
        return c1[:, None] * v + sigma[:, None] * rng.standard_normal(v.shape)
    if kind == "andersen":
        hit = rng.random(len(masses)) < float(inputs.get("ANDERSEN_PROB", 0.0))
        fresh = rng.standard_normal(v.shape) * np.sqrt(units.kB * target / (masses * MVV2E))[:, None]
        return np.where(hit[:, None], fresh, v)
    return v


def run_md(inputs: RunInputs, atoms: Atoms) -> Trajectory:
    """NSW velocity-Verlet steps of POTIM fs; the last step's update gives CONTCAR's positions."""
    rng, dt, nsw = _rng(), inputs.potim, inputs.nsw
    masses = np.asarray(atoms.get_masses(), float)
    if inputs.velocities is not None and np.any(inputs.velocities):
        v = np.array(inputs.velocities, float)
    else:
        v = _maxwell_boltzmann(masses, inputs.tebeg, rng)
    v0, kind, steps = v.copy(), thermostat_kind(inputs), []
    step = _evaluate(atoms, inputs.isif)
    for n in range(nsw):
        step.kinetic, step.temperature = _temperature(masses, v)
        steps.append(step)
        v_half = v + 0.5 * dt * step.forces / (masses[:, None] * MVV2E)
        atoms.set_positions(atoms.get_positions() + dt * v_half)
        if n == nsw - 1:
            v = v_half
            break
        step = _evaluate(atoms, inputs.isif)
        v = v_half + 0.5 * dt * step.forces / (masses[:, None] * MVV2E)
        target = inputs.tebeg + (inputs.teend - inputs.tebeg) * (n + 1) / max(nsw - 1, 1)
        v = _thermostat(kind, inputs, v, masses, target, n, rng)
    return Trajectory(steps, np.array(atoms.cell[:]), atoms.get_positions(), v, v0, thermostat=kind)


def run_relax(inputs: RunInputs, atoms: Atoms) -> Trajectory:
    """Up to NSW optimiser steps (BFGS for IBRION 1/2, FIRE for 3), cell too for ISIF 3/4."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    isif = inputs.isif
    target = FrechetCellFilter(atoms, constant_volume=isif == 4) if isif in (3, 4) else atoms
    opt = (FIRE if inputs.ibrion == 3 else BFGS)(target, logfile=None)
    ediffg = float(inputs.get("EDIFFG", 10 * inputs.ediff))
    steps: list[IonicStep] = []
    converged = False
    for _ in range(inputs.nsw):
        steps.append(_evaluate(atoms, isif))
        if ediffg < 0:
            converged = float(np.linalg.norm(steps[-1].forces, axis=1).max()) < -ediffg
        elif len(steps) > 1:
            converged = abs(steps[-1].energy - steps[-2].energy) < ediffg
        if converged:
            break
        opt.step()
    return Trajectory(steps, np.array(atoms.cell[:]), atoms.get_positions(), converged=converged)


def run_ionic_loop(inputs: RunInputs, calc: Calculator) -> Trajectory:
    """Static, MD or relaxation, as INCAR says."""
    atoms = _atoms(inputs, calc)
    mode = inputs.mode
    if mode == "md":
        return run_md(inputs, atoms)
    if mode == "relax":
        return run_relax(inputs, atoms)
    step = _evaluate(atoms, inputs.isif)
    return Trajectory([step], step.cell, step.positions)
