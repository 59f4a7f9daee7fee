"""Reaction-mechanism descriptors per frame: In reduction, In-In bonding, LiCl-like Li, metallic In clusters.

Definitions (cutoffs are fields of :class:`MechanismCutoffs`):

- In-Cl coordination: Cl atoms within ``in_cl`` of each In. Pristine Li3InCl6 has 6 (InCl6 octahedra);
  an In with fewer than ``reduced_below`` Cl neighbours counts as reduced (the oxidation-state proxy).
- In-In neighbours: In atoms within ``in_in``; metallic In clusters are the connected components of the
  In-In graph (:class:`freud.cluster.Cluster`) over the In atoms that have at least one In neighbour.
- LiCl-like Li: a Li with at least ``licl_min_cl`` Cl neighbours within ``li_cl``, none of which has an In
  within ``in_cl`` (Cl no longer in an InCl6 octahedron).
- Percolation along axis k: a cluster percolates when walking its bonds through periodic images returns
  to an atom with a different image offset along k (the cluster winds around the periodic box). freud
  has no percolation; this is seiflow's walk over freud's bonds and their image offsets.

All neighbour searches of a frame share one :class:`~seiflow.analysis.structure.FreudFrame` (freud's box
and one AABB tree per element), built for the largest cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order

from seiflow.analysis.structure import FreudFrame, Pairs

AXES = ("x", "y", "z")


class MechanismCutoffs(BaseModel):
    """Distance cutoffs (Å) and thresholds of the mechanism descriptors."""

    in_cl: float = Field(3.1, gt=0, description="In-Cl bond cutoff (In-Cl ~2.55 Å in Li3InCl6).")
    in_in: float = Field(3.6, gt=0, description="In-In metallic bond cutoff (3.25/3.37 Å in In metal).")
    li_cl: float = Field(3.1, gt=0, description="Li-Cl bond cutoff (2.57 Å in LiCl).")
    reduced_below: int = Field(4, ge=1, description="In with fewer Cl neighbours than this is reduced.")
    licl_min_cl: int = Field(4, ge=1, description="Cl neighbours a LiCl-like Li needs at least.")


class ClusterResult(BaseModel):
    """Metallic In clusters of one frame."""

    sizes: list[int] = Field(..., description="Atoms per cluster, largest first (clusters of >= 2 In).")
    size_histogram: dict[int, int] = Field(..., description="Cluster size -> number of clusters.")
    largest: int = Field(..., description="Atoms in the largest cluster (0 if none).")
    percolates: dict[str, bool] = Field(..., description="Axis -> does one cluster span the periodic box.")
    labels: list[int] = Field(..., description="Cluster label per In atom (-1: isolated In).")


class FrameMechanism(BaseModel):
    """All mechanism descriptors of one frame."""

    n_in: int
    in_cl_mean: float = Field(..., description="Mean Cl neighbours per In (nan without In).")
    in_cl_histogram: dict[int, int] = Field(..., description="In-Cl coordination -> number of In.")
    reduced_in_fraction: float = Field(..., description="Fraction of In with < reduced_below Cl.")
    in_in_mean: float = Field(..., description="Mean In neighbours per In.")
    licl_like_li_fraction: float = Field(..., description="Fraction of Li in LiCl-like environments.")
    clusters: ClusterResult


def _image_offsets(n: int, pairs: Pairs, roots: np.ndarray) -> np.ndarray:
    """Image offset of each atom when every cluster is unwrapped along a BFS tree from its root.

    One breadth-first search from an extra hub node bonded to every root covers all clusters; the
    offsets are then filled level by level of the tree.
    """
    key = pairs.i * n + pairs.j
    order_key = np.argsort(key, kind="stable")
    sorted_key = key[order_key]
    hub = n
    rows = np.concatenate([pairs.i, np.full(roots.size, hub)])
    cols = np.concatenate([pairs.j, roots])
    graph = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, pred = breadth_first_order(graph, hub, directed=False, return_predecessors=True)
    nodes = order[1:]
    parents = pred[nodes]
    step = np.zeros((nodes.size, 3), dtype=int)
    inner = parents != hub
    step[inner] = pairs.shift[order_key[np.searchsorted(sorted_key, parents[inner] * n + nodes[inner])]]
    offsets = np.zeros((n + 1, 3), dtype=int)
    done = np.zeros(n + 1, dtype=bool)
    done[hub] = True
    todo = np.ones(nodes.size, dtype=bool)
    while todo.any():
        ready = todo & done[parents]
        offsets[nodes[ready]] = offsets[parents[ready]] + step[ready]
        done[nodes[ready]] = True
        todo &= ~ready
    return offsets[:n]


def percolation_by_cluster(n: int, pairs: Pairs, labels: np.ndarray, roots: np.ndarray) -> dict:
    """Cluster label -> boolean (3,): does the cluster wind around the box along x, y, z.

    Unwrapping the cluster through periodic images along a spanning tree gives each atom an image
    offset; a bond whose two ends disagree on it closes a loop through the periodic boundary.
    """
    offsets = _image_offsets(n, pairs, roots)
    mismatch = (offsets[pairs.i] + pairs.shift - offsets[pairs.j]) != 0
    per_label = np.stack(
        [np.bincount(labels[pairs.i], weights=mismatch[:, k], minlength=n) > 0 for k in range(3)], axis=1
    )
    return {int(labels[root]): per_label[labels[root]] for root in roots}


def _frame(atoms: Atoms, cutoff: float, frame: FreudFrame | None) -> FreudFrame:
    """``frame`` when it was built for ``atoms`` and covers ``cutoff``, else a new one."""
    if frame is not None and frame.atoms is atoms and frame.r_max >= cutoff:
        return frame
    return FreudFrame.from_atoms(atoms, cutoff)


def in_clusters(
    atoms: Atoms, cutoff: float = 3.6, species: str = "In", frame: FreudFrame | None = None
) -> ClusterResult:
    """Connected components of the ``species`` bond graph under ``cutoff``, with percolation per axis.

    ``frame``: a :class:`FreudFrame` of ``atoms`` to reuse (its ``r_max`` at least ``cutoff``).
    """
    n = len(atoms)
    frame = _frame(atoms, cutoff, frame)
    in_idx = frame.indices(species)
    pairs, cluster_idx, n_bonds = frame.clusters(species, cutoff)
    bonded = n_bonds > 0
    # clusters of >= 2 atoms, largest first, ties by their lowest atom index (as before freud)
    ids, first, sizes = np.unique(cluster_idx[bonded], return_index=True, return_counts=True)
    order = np.lexsort((in_idx[bonded][first], -sizes))
    ids, sizes, roots = ids[order], sizes[order], in_idx[bonded][first][order]
    remap = np.full(cluster_idx.size, -1)  # freud's cluster indices are < the number of atoms
    remap[ids] = np.arange(ids.size)
    in_labels = np.where(bonded, remap[cluster_idx], -1)
    labels = np.full(n, -1)
    labels[in_idx] = in_labels
    winding = percolation_by_cluster(n, pairs, labels, roots)
    spans = np.zeros(3, dtype=bool)
    for axes in winding.values():
        spans |= axes
    hist_keys, hist_counts = np.unique(sizes, return_counts=True)
    return ClusterResult(
        sizes=sizes.tolist(),
        size_histogram={int(k): int(v) for k, v in zip(hist_keys, hist_counts, strict=True)},
        largest=int(sizes[0]) if sizes.size else 0,
        percolates={ax: bool(v) for ax, v in zip(AXES, spans, strict=True)},
        labels=in_labels.tolist(),
    )


def licl_like_fraction(atoms: Atoms, cut: MechanismCutoffs, frame: FreudFrame | None = None) -> float:
    """Fraction of Li with >= ``licl_min_cl`` Cl neighbours none of which is bonded to an In."""
    frame = _frame(atoms, max(cut.in_cl, cut.li_cl), frame)
    li = frame.indices("Li")
    if li.size == 0:
        return float("nan")
    cl_with_in = np.zeros(len(atoms), dtype=bool)
    cl_with_in[frame.index_pairs("In", "Cl", cut.in_cl)[1]] = True  # the In-Cl bonds, seen from Cl
    li_i, li_j = frame.index_pairs("Li", "Cl", cut.li_cl)
    n_cl = np.bincount(li_i, minlength=len(atoms))
    touches_in = np.bincount(li_i, weights=cl_with_in[li_j], minlength=len(atoms)) > 0
    like = (n_cl >= cut.licl_min_cl) & ~touches_in
    return float(like[li].mean())


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def analyse_frame(atoms: Atoms, cut: MechanismCutoffs | None = None) -> FrameMechanism:
    """All mechanism descriptors of one frame."""
    cut = cut or MechanismCutoffs()
    frame = FreudFrame.from_atoms(atoms, max(cut.in_cl, cut.in_in, cut.li_cl))
    in_cl = frame.count("In", "Cl", cut.in_cl)
    in_in = frame.count("In", "In", cut.in_in)
    keys, counts = np.unique(in_cl, return_counts=True)
    return FrameMechanism(
        n_in=int(in_cl.size),
        in_cl_mean=_mean(in_cl),
        in_cl_histogram={int(k): int(v) for k, v in zip(keys, counts, strict=True)},
        reduced_in_fraction=_mean((in_cl < cut.reduced_below).astype(float)),
        in_in_mean=_mean(in_in),
        licl_like_li_fraction=licl_like_fraction(atoms, cut, frame),
        clusters=in_clusters(atoms, cut.in_in, frame=frame),
    )


def analyse_trajectory(
    frames: Sequence[Atoms], cut: MechanismCutoffs | None = None
) -> list[FrameMechanism]:
    """:func:`analyse_frame` for each frame."""
    return [analyse_frame(at, cut) for at in frames]
