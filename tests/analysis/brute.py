"""Brute-force periodic geometry for checking the freud-based analysis: every pair, every image."""

from __future__ import annotations

import itertools

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation


def triclinic_frame(n: int = 60, seed: int = 0, left_handed: bool = False) -> Atoms:
    """Random Li/In/Cl atoms in a strongly tilted cell, rotated off the LAMMPS orientation."""
    rng = np.random.default_rng(seed)
    cell = np.array([[9.0, 0.0, 0.0], [3.5, 8.0, 0.0], [-2.5, 3.0, 10.0]])
    cell = cell @ Rotation.random(random_state=seed).as_matrix().T  # rows rotated: not upper triangular
    if left_handed:
        cell = cell[[1, 0, 2]]
    symbols = rng.choice(["Li", "In", "Cl"], size=n, p=[0.5, 0.2, 0.3])
    frac = rng.uniform(-0.3, 1.3, (n, 3))  # some atoms outside the cell: wrapping is the code's job
    return Atoms(symbols=symbols.tolist(), positions=frac @ cell, cell=cell, pbc=True)


def image_range(cell: np.ndarray, cutoff: float) -> range:
    """Image indices -k..k that hold every image within ``cutoff`` of any atom in the cell."""
    volume = abs(np.linalg.det(cell))
    spacing = min(volume / np.linalg.norm(np.cross(cell[k - 2], cell[k - 1])) for k in range(3))
    k = int(np.ceil(cutoff / spacing)) + 1
    return range(-k, k + 1)


def all_pairs(atoms: Atoms, a: str, b: str, cutoff: float) -> dict[tuple[int, int, tuple], float]:
    """(i, j, image) -> distance for every a->b pair closer than ``cutoff``, over all periodic images."""
    cell = np.asarray(atoms.cell[:])
    pos = atoms.positions
    sym = np.asarray(atoms.get_chemical_symbols())
    ia, ib = np.flatnonzero(sym == a), np.flatnonzero(sym == b)
    found = {}
    span = image_range(cell, cutoff)
    for shift in itertools.product(span, span, span):
        d = np.linalg.norm(pos[ib][None, :, :] + np.asarray(shift) @ cell - pos[ia][:, None, :], axis=2)
        for p, q in zip(*np.nonzero(d < cutoff), strict=True):
            i, j = int(ia[p]), int(ib[q])
            if i != j or any(shift):
                found[(i, j, shift)] = float(d[p, q])
    return found


def brute_rdf(atoms: Atoms, a: str, b: str, rmax: float, nbins: int) -> np.ndarray:
    """g_ab(r) = V n_ab / (N_a N_b V_shell) from every pair and image."""
    d = np.array(list(all_pairs(atoms, a, b, rmax).values()))
    edges = np.linspace(0.0, rmax, nbins + 1)
    counts, _ = np.histogram(d, bins=edges)
    sym = np.asarray(atoms.get_chemical_symbols())
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return counts * atoms.get_volume() / ((sym == a).sum() * (sym == b).sum() * shell)
