"""Constructed structures with known mechanism answers (no calculator needed)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import read

from seiflow.analysis.chemistry import Chemistry, campaign_chemistry
from seiflow.schemas.campaign import load_campaign

STRUCTURES = Path(__file__).resolve().parents[2] / "seiflow" / "data" / "structures"
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def li3incl6() -> Atoms:
    """Pristine ordered Li3InCl6 (bundled C2/m cell) repeated to a bulk block."""
    return read(STRUCTURES / "Li3InCl6_C2m_ordered_conv20_OBELiXde5.cif").repeat((2, 1, 2))


def licl() -> Atoms:
    """Rock-salt LiCl, 2x2x2 conventional cells."""
    return bulk("LiCl", "rocksalt", a=5.13, cubic=True).repeat(2)


def in_in_li_matrix(n_in: int = 4, seed: int = 0) -> Atoms:
    """bcc Li 4x4x4 with ``n_in`` far-apart Li replaced by In (reduced In, no Cl)."""
    atoms = bulk("Li", "bcc", a=3.51, cubic=True).repeat(4)
    picks = np.random.default_rng(seed).choice(len(atoms), n_in, replace=False)
    symbols = atoms.get_chemical_symbols()
    for k in picks:
        symbols[k] = "In"
    atoms.set_chemical_symbols(symbols)
    return atoms


def in_chain_along_x(spacing: float = 3.0, n: int = 4, width: float = 14.0) -> Atoms:
    """One In chain along x that closes through the periodic boundary in x only."""
    positions = [[k * spacing, width / 2, width / 2] for k in range(n)]
    return Atoms(f"In{n}", positions=positions, cell=[n * spacing, width, width], pbc=True)


def isolated_in_clusters() -> Atoms:
    """A trimer, a dimer and two lone In in a 20 Å box: clusters of 3 and 2, nothing percolates."""
    positions = [
        [1.0, 1.0, 1.0], [4.0, 1.0, 1.0], [7.0, 1.0, 1.0],  # trimer (chain, does not wrap)
        [10.0, 10.0, 10.0], [10.0, 13.0, 10.0],  # dimer
        [15.0, 5.0, 15.0],  # lone
        [18.0, 18.0, 18.0],  # lone: 5.2 Å from the trimer through the periodic corner
    ]
    atoms = Atoms("In7", positions=positions, cell=[20.0, 20.0, 20.0], pbc=True)
    return atoms


def in_sheet_xy(spacing: float = 3.2, n: int = 3, height: float = 16.0) -> Atoms:
    """A square In sheet in the xy plane: percolates along x and y, not z."""
    positions = [[i * spacing, j * spacing, height / 2] for i in range(n) for j in range(n)]
    return Atoms(f"In{n * n}", positions=positions, cell=[n * spacing, n * spacing, height], pbc=True)


def wrapped_cluster_not_percolating() -> Atoms:
    """A 3-atom In cluster that straddles the x boundary (wrapped) but does not span the box."""
    positions = [[19.0, 5.0, 5.0], [1.5, 5.0, 5.0], [4.5, 5.0, 5.0]]
    return Atoms("In3", positions=positions, cell=[20.0, 20.0, 20.0], pbc=True)


@functools.lru_cache(maxsize=1)
def study_chemistry() -> Chemistry:
    """The study's chemistry as the demo campaign declares it: Li | Li3InCl6 -> In + LiCl, its cutoffs."""
    return campaign_chemistry(load_campaign(WORKFLOWS / "li_li3incl6_demo.yaml"))
