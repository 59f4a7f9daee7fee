"""Snapshots of a run for the report's picture: one frame's atoms, with its In atoms and In clusters marked.

The closing analysis stores the last frame of each like-for-like NNP MD run (the trajectory itself stays
in the job's run folder); the report draws it next to the start structure and the reference's last frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from seiflow.analysis.mechanism import MechanismCutoffs, analyse_frame
from seiflow.analysis.structure import FreudFrame


class Snapshot(BaseModel):
    """One frame as stored in the ``analyses`` document (``snapshots``)."""

    structure: str = Field(..., description="Structure name (interface, a bulk).")
    temperature: float | None = Field(None, description="K.")
    time_ps: float | None = Field(None, description="Time of the frame in its run, ps.")
    species: list[str]
    cell: list[list[float]] = Field(..., description="Rows are lattice vectors, Å.")
    positions: list[list[float]] = Field(..., description="Cartesian, Å, to 0.001 Å.")

    @classmethod
    def from_atoms(cls, atoms: Atoms, structure: str, temperature: float | None = None,
                   time_ps: float | None = None) -> Snapshot:
        """The snapshot of ``atoms``."""
        return cls(structure=structure, temperature=temperature, time_ps=time_ps,
                   species=atoms.get_chemical_symbols(), cell=np.round(np.asarray(atoms.cell), 4).tolist(),
                   positions=np.round(atoms.positions, 3).tolist())

    def to_atoms(self) -> Atoms:
        """The frame as periodic ASE Atoms."""
        return Atoms(self.species, positions=self.positions, cell=self.cell, pbc=True)


def nnp_run_dir(root: Path, structure: str, temperature: float) -> Path:
    """Where a like-for-like NNP MD run writes (``seiflow.analysis.validation_jobs.dynamics_comparisons``)."""
    return Path(root) / f"nnp_{structure}_{temperature:g}K"


def nnp_end_snapshots(root: Path, comparisons: Sequence[Any], type_map: Sequence[str]) -> list[dict[str, Any]]:
    """The last dumped frame of each comparison's NNP MD (skipped where the trajectory is gone)."""
    from seiflow.analysis.trajectory import read_frames

    out = []
    for c in comparisons:
        traj = nnp_run_dir(root, c.structure, c.temperature) / "traj.lammpstrj"
        if not traj.is_file():
            continue
        last = read_frames(str(traj), 1, list(type_map))[-1]
        time_ps = c.mechanism[-1].get("time_ps") if c.mechanism else None
        out.append(Snapshot.from_atoms(last, c.structure, c.temperature, time_ps).model_dump())
    return out


def marks(atoms: Atoms, cut: MechanismCutoffs | None = None) -> dict[str, Any]:
    """What the picture marks: In atoms by state (in InCl6, reduced, in a cluster) and cluster labels.

    Returns wrapped ``positions``, ``species``, ``in_state`` per atom ('' for non-In, 'InCl6', 'reduced',
    'cluster'), ``cluster`` per atom (-1 when not in a cluster) and the counts shown in the caption.
    """
    cut = cut or MechanismCutoffs()
    atoms = atoms.copy()
    atoms.wrap()
    m = analyse_frame(atoms, cut)
    in_idx = np.flatnonzero(np.asarray(atoms.get_chemical_symbols()) == "In")
    n_cl = FreudFrame.from_atoms(atoms, cut.in_cl).count("In", "Cl", cut.in_cl) if in_idx.size else np.zeros(0)
    cluster = np.full(len(atoms), -1)
    cluster[in_idx] = m.clusters.labels
    state = np.full(len(atoms), "", dtype=object)
    state[in_idx] = np.where(n_cl < cut.reduced_below, "reduced", "InCl6")
    state[cluster >= 0] = "cluster"
    return {"positions": atoms.positions, "cell": np.asarray(atoms.cell), "species": atoms.get_chemical_symbols(),
            "in_state": state.tolist(), "cluster": cluster.tolist(), "n_in": m.n_in,
            "n_reduced": int(round(m.reduced_in_fraction * m.n_in)) if m.n_in else 0,
            "largest_cluster": m.clusters.largest, "n_clusters": len(m.clusters.sizes)}
