"""Reaction-mechanism descriptors per frame: In reduction, In-In bonding, LiCl-like Li, metallic In clusters.

Definitions (cutoffs are fields of :class:`MechanismCutoffs`):

- In-Cl coordination: Cl atoms within ``in_cl`` of each In. Pristine Li3InCl6 has 6 (InCl6 octahedra);
  an In with fewer than ``reduced_below`` Cl neighbours counts as reduced (the oxidation-state proxy).
- In-In neighbours: In atoms within ``in_in``; metallic In clusters are the connected components of the
  In-In graph (scipy.sparse.csgraph) over the In atoms that have at least one In neighbour.
- LiCl-like Li: a Li with at least ``licl_min_cl`` Cl neighbours within ``li_cl``, none of which has an In
  within ``in_cl`` (Cl no longer in an InCl6 octahedron).
- Percolation along axis k: a cluster percolates when walking its bonds through periodic images returns
  to an atom with a different image offset along k (the cluster winds around the periodic box).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from seiflow.analysis.neighbours import Pairs, count_neighbours, pairs_between, species_mask

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
    """Image offset of each atom when every cluster is unwrapped along a BFS tree from its root."""
    key = pairs.i * n + pairs.j
    order_key = np.argsort(key, kind="stable")
    sorted_key = key[order_key]
    graph = coo_matrix((np.ones(len(pairs.i)), (pairs.i, pairs.j)), shape=(n, n)).tocsr()
    offsets = np.zeros((n, 3), dtype=int)
    for root in roots:
        order, pred = breadth_first_order(graph, int(root), directed=False, return_predecessors=True)
        nodes = order[1:]
        edges = order_key[np.searchsorted(sorted_key, pred[nodes] * n + nodes)]
        for node, parent, edge in zip(nodes, pred[nodes], edges, strict=True):
            offsets[node] = offsets[parent] + pairs.shift[edge]
    return offsets


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


def in_clusters(atoms: Atoms, cutoff: float = 3.6, species: str = "In") -> ClusterResult:
    """Connected components of the ``species`` bond graph under ``cutoff``, with percolation per axis."""
    n = len(atoms)
    in_idx = np.flatnonzero(species_mask(atoms, species))
    pairs = pairs_between(atoms, species, species, cutoff)
    graph = coo_matrix((np.ones(len(pairs.i)), (pairs.i, pairs.j)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    bonded = np.zeros(n, dtype=bool)
    bonded[pairs.i] = True
    in_labels = np.where(bonded[in_idx], labels[in_idx], -1)
    cluster_ids, sizes = np.unique(in_labels[in_labels >= 0], return_counts=True)
    order = np.argsort(-sizes, kind="stable")
    cluster_ids, sizes = cluster_ids[order], sizes[order]
    first = {int(lab): int(in_idx[k]) for k, lab in enumerate(in_labels) if lab >= 0}
    roots = np.array([first[int(cid)] for cid in cluster_ids], dtype=int)
    winding = percolation_by_cluster(n, pairs, labels, roots)
    spans = np.zeros(3, dtype=bool)
    for axes in winding.values():
        spans |= axes
    remap = {int(c): k for k, c in enumerate(cluster_ids)}
    hist_keys, hist_counts = np.unique(sizes, return_counts=True)
    return ClusterResult(
        sizes=sizes.tolist(),
        size_histogram={int(k): int(v) for k, v in zip(hist_keys, hist_counts, strict=True)},
        largest=int(sizes[0]) if sizes.size else 0,
        percolates={ax: bool(v) for ax, v in zip(AXES, spans, strict=True)},
        labels=[remap.get(int(x), -1) for x in in_labels],
    )


def licl_like_fraction(atoms: Atoms, cut: MechanismCutoffs) -> float:
    """Fraction of Li with >= ``licl_min_cl`` Cl neighbours none of which is bonded to an In."""
    li = species_mask(atoms, "Li")
    if not li.any():
        return float("nan")
    cl_with_in = np.zeros(len(atoms), dtype=bool)
    cl_with_in[pairs_between(atoms, "Cl", "In", cut.in_cl).i] = True
    li_cl = pairs_between(atoms, "Li", "Cl", cut.li_cl)
    n_cl = np.bincount(li_cl.i, minlength=len(atoms))
    touches_in = np.bincount(li_cl.i, weights=cl_with_in[li_cl.j], minlength=len(atoms)) > 0
    like = (n_cl >= cut.licl_min_cl) & ~touches_in
    return float(like[li].mean())


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def analyse_frame(atoms: Atoms, cut: MechanismCutoffs | None = None) -> FrameMechanism:
    """All mechanism descriptors of one frame."""
    cut = cut or MechanismCutoffs()
    in_cl = count_neighbours(atoms, "In", "Cl", cut.in_cl)
    in_in = count_neighbours(atoms, "In", "In", cut.in_in)
    keys, counts = np.unique(in_cl, return_counts=True)
    return FrameMechanism(
        n_in=int(in_cl.size),
        in_cl_mean=_mean(in_cl),
        in_cl_histogram={int(k): int(v) for k, v in zip(keys, counts, strict=True)},
        reduced_in_fraction=_mean((in_cl < cut.reduced_below).astype(float)),
        in_in_mean=_mean(in_in),
        licl_like_li_fraction=licl_like_fraction(atoms, cut),
        clusters=in_clusters(atoms, cut.in_in),
    )


def analyse_trajectory(
    frames: Sequence[Atoms], cut: MechanismCutoffs | None = None
) -> list[FrameMechanism]:
    """:func:`analyse_frame` for each frame."""
    return [analyse_frame(at, cut) for at in frames]
