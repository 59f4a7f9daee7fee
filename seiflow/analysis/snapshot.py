"""Snapshots of a run for the report's picture: one frame's atoms, its reducible cations and metallic clusters marked.

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

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.mechanism import analyse_frame, reduced_atoms
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
    """Where a like-for-like NNP MD run writes (``seiflow.analysis.validation_protocol.dynamics_comparisons``)."""
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


def marks(atoms: Atoms, chem: Chemistry) -> dict[str, Any]:
    """What the picture marks: reducible cations by state, atoms of metallic clusters, cluster labels.

    Returns wrapped ``positions``, ``species``, ``state`` per atom ('' for the others, 'coordinated',
    'reduced' or 'cluster'), ``cluster`` per atom (-1 when not in a cluster, else a label unique across
    the metallic elements), the species marked (``cations``, ``metals``) and the counts the caption shows.
    """
    atoms = atoms.copy()
    atoms.wrap()
    m = analyse_frame(atoms, chem)
    frame = FreudFrame.from_atoms(atoms, chem.r_max())
    state = np.full(len(atoms), "", dtype=object)
    cluster = np.full(len(atoms), -1)
    n_reduced = 0
    for el, reduced in reduced_atoms(frame, chem).items():
        state[frame.indices(el)] = np.where(reduced, "reduced", "coordinated")
        n_reduced += int(reduced.sum())
    offset = 0
    for el, result in m.clusters.items():
        labels = np.asarray(result.labels)
        cluster[frame.indices(el)] = np.where(labels >= 0, labels + offset, -1)
        offset += len(result.sizes)
    state[cluster >= 0] = "cluster"
    return {"positions": atoms.positions, "cell": np.asarray(atoms.cell), "species": atoms.get_chemical_symbols(),
            "state": state.tolist(), "cluster": cluster.tolist(), "cations": [c.species for c in chem.reducible],
            "metals": list(m.clusters), "n_cations": sum(c.n for c in m.cations.values()), "n_reduced": n_reduced,
            "largest_cluster": max((c.largest for c in m.clusters.values()), default=0), "n_clusters": offset}
