"""Reaction-mechanism descriptors per frame, for the campaign's own chemistry (:mod:`seiflow.analysis.chemistry`).

Definitions (species, bonds and thresholds come from :class:`~seiflow.analysis.chemistry.Chemistry`):

- **reduced cations**: each reducible electrolyte cation's anion coordination (anions within the pair's
  bond cutoff); fewer than ``reduced_below`` (measured on the pristine electrolyte) counts as reduced. For
  Li | Li3InCl6: In with fewer than 4 Cl within 3.1 Å (pristine: 6).
- **product fractions**: the atoms whose environment matches each product's signature (its first-shell
  counts, and no bond, its own or its neighbours', to an element the product lacks), as a fraction of
  their element; one number per product counts its mobile-ion atoms (Li in LiCl), else all its atoms (In).
- **metallic clusters**: connected components (:class:`freud.cluster.Cluster`) of the bond graph of each
  metallic product's element over the atoms that have at least one such neighbour (In-In within 3.6 Å).
- **percolation**: a cluster spans axis k when walking its bonds through periodic images returns to an atom
  with a different image offset along k (it winds around the box); its **dimension** (0-3) is the number
  of independent periodic directions it winds along: the rank of those winding vectors. freud has no
  percolation; this is seiflow's walk over freud's bonds and their image offsets.

All neighbour searches of a frame share one :class:`~seiflow.analysis.structure.FreudFrame` (freud's box
and one AABB tree per element), built for the largest bond cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.structure import FreudFrame, Pairs

AXES = ("x", "y", "z")


class ClusterResult(BaseModel):
    """Clusters of one metallic element in one frame."""

    species: str = Field("", description="The element.")
    sizes: list[int] = Field(..., description="Atoms per cluster, largest first (clusters of >= 2 atoms).")
    size_histogram: dict[int, int] = Field(..., description="Cluster size -> number of clusters.")
    largest: int = Field(..., description="Atoms in the largest cluster (0 if none).")
    percolates: dict[str, bool] = Field(..., description="Axis -> does one cluster span the periodic box.")
    dimension: int = Field(0, description="Most independent periodic directions one cluster spans (0-3).")
    dimensions: list[int] = Field(default_factory=list, description="That number per cluster, as ``sizes``.")
    labels: list[int] = Field(..., description="Cluster label per atom of the element (-1: isolated).")


class CationState(BaseModel):
    """Anion coordination and reduction of one reducible cation in one frame."""

    species: str
    n: int = Field(..., description="Atoms of it in the frame.")
    cn_mean: float = Field(..., description="Mean anion neighbours per atom (nan without atoms).")
    cn_histogram: dict[int, int] = Field(..., description="Anion coordination -> number of atoms.")
    reduced_fraction: float = Field(..., description="Fraction with fewer anions than reduced_below.")


class FrameMechanism(BaseModel):
    """All mechanism descriptors of one frame."""

    cations: dict[str, CationState] = Field(default_factory=dict, description="Per reducible cation.")
    products: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Product -> element -> fraction of that element's atoms in it."
    )
    product_fraction: dict[str, float] = Field(
        default_factory=dict, description="Product -> fraction of its counted atoms (mobile ion, else all)."
    )
    metal_cn_mean: dict[str, float] = Field(
        default_factory=dict, description="Metallic element -> mean same-element neighbours per atom."
    )
    clusters: dict[str, ClusterResult] = Field(default_factory=dict, description="Per metallic element.")


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


def _winding(n: int, pairs: Pairs, labels: np.ndarray, roots: np.ndarray) -> dict[int, np.ndarray]:
    """Cluster label -> the winding vectors (image offsets) of the loops its bonds close, shape (m, 3)."""
    offsets = _image_offsets(n, pairs, roots)
    mismatch = offsets[pairs.i] + pairs.shift - offsets[pairs.j]
    closing = np.any(mismatch != 0, axis=1)
    out: dict[int, np.ndarray] = {int(labels[root]): np.zeros((0, 3), dtype=int) for root in roots}
    for label in np.unique(labels[pairs.i[closing]]):
        out[int(label)] = mismatch[closing & (labels[pairs.i] == label)]
    return out


def percolation_by_cluster(n: int, pairs: Pairs, labels: np.ndarray, roots: np.ndarray) -> dict:
    """Cluster label -> boolean (3,): does the cluster wind around the box along x, y, z.

    Unwrapping the cluster through periodic images along a spanning tree gives each atom an image
    offset; a bond whose two ends disagree on it closes a loop through the periodic boundary.
    """
    return {label: np.any(v != 0, axis=0) if v.size else np.zeros(3, dtype=bool)
            for label, v in _winding(n, pairs, labels, roots).items()}


def dimension_of(winding: np.ndarray) -> int:
    """Independent periodic directions a cluster spans: the rank of its winding vectors (0-3)."""
    return int(np.linalg.matrix_rank(winding.astype(float))) if winding.size else 0


def _frame(atoms: Atoms, cutoff: float, frame: FreudFrame | None) -> FreudFrame:
    """``frame`` when it was built for ``atoms`` and covers ``cutoff``, else a new one."""
    if frame is not None and frame.atoms is atoms and frame.r_max >= cutoff:
        return frame
    return FreudFrame.from_atoms(atoms, cutoff)


def metal_clusters(atoms: Atoms, species: str, cutoff: float, frame: FreudFrame | None = None) -> ClusterResult:
    """Connected components of the ``species`` bond graph under ``cutoff``, with percolation per axis.

    ``frame``: a :class:`FreudFrame` of ``atoms`` to reuse (its ``r_max`` at least ``cutoff``).
    """
    n = len(atoms)
    frame = _frame(atoms, cutoff, frame)
    idx = frame.indices(species)
    pairs, cluster_idx, n_bonds = frame.clusters(species, cutoff)
    bonded = n_bonds > 0
    # clusters of >= 2 atoms, largest first, ties by their lowest atom index
    ids, first, sizes = np.unique(cluster_idx[bonded], return_index=True, return_counts=True)
    order = np.lexsort((idx[bonded][first], -sizes))
    ids, sizes, roots = ids[order], sizes[order], idx[bonded][first][order]
    remap = np.full(cluster_idx.size, -1)  # freud's cluster indices are < the number of atoms
    remap[ids] = np.arange(ids.size)
    own_labels = np.where(bonded, remap[cluster_idx], -1)
    labels = np.full(n, -1)
    labels[idx] = own_labels
    winding = _winding(n, pairs, labels, roots)
    spans = np.zeros(3, dtype=bool)
    for vectors in winding.values():
        if vectors.size:
            spans |= np.any(vectors != 0, axis=0)
    dims = [dimension_of(winding[int(labels[root])]) for root in roots]
    hist_keys, hist_counts = np.unique(sizes, return_counts=True)
    return ClusterResult(
        species=species,
        sizes=sizes.tolist(),
        size_histogram={int(k): int(v) for k, v in zip(hist_keys, hist_counts, strict=True)},
        largest=int(sizes[0]) if sizes.size else 0,
        percolates={ax: bool(v) for ax, v in zip(AXES, spans, strict=True)},
        dimension=max(dims, default=0),
        dimensions=dims,
        labels=own_labels.tolist(),
    )


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def anion_coordination(frame: FreudFrame, chem: Chemistry, species: str) -> np.ndarray:
    """Anion neighbours of each atom of ``species`` (index order), over the anions it bonds to."""
    cn = np.zeros(frame.indices(species).size, dtype=int)
    for anion in chem.anions:
        cutoff = chem.cutoff(species, anion)
        if cutoff is not None:
            cn += frame.count(species, anion, cutoff)
    return cn


def reduced_atoms(frame: FreudFrame, chem: Chemistry) -> dict[str, np.ndarray]:
    """Reducible cation -> boolean per atom of it (index order): is it reduced."""
    return {c.species: anion_coordination(frame, chem, c.species) < c.reduced_below for c in chem.reducible}


def _bonds_to(frame: FreudFrame, chem: Chemistry, a: str, others: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) frame indices of the bonds from atoms of ``a`` to atoms of the elements ``others``."""
    found = [frame.index_pairs(a, b, cutoff) for b in sorted(others) if (cutoff := chem.cutoff(a, b)) is not None]
    if not found:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate([i for i, _ in found]), np.concatenate([j for _, j in found])


def product_atoms(frame: FreudFrame, chem: Chemistry) -> dict[str, dict[str, np.ndarray]]:
    """Product -> element -> boolean per atom of the element (index order): does it match the product.

    Only the bonds that can decide are searched: those from the matched element and the elements it bonds
    to (``near``) to a foreign element (``touches``), and those from the matched element to them.
    """
    symbols = np.asarray(frame.atoms.get_chemical_symbols())
    present = set(symbols.tolist())
    out: dict[str, dict[str, np.ndarray]] = {}
    for sig in chem.signatures:
        foreign = set(sig.foreign) & present
        near = {el for el in present if el == sig.species or chem.cutoff(sig.species, el) is not None}
        touching = {el for el in near if any(chem.cutoff(el, f) is not None for f in foreign)}
        touches = np.zeros(symbols.size, dtype=bool)
        for el in touching:
            i, _ = _bonds_to(frame, chem, el, foreign)
            touches[i] = True  # bonded to an element the product lacks
        own = frame.indices(sig.species)
        spoiled = touches[own]
        i, j = _bonds_to(frame, chem, sig.species, touching)
        bad = np.zeros(symbols.size, dtype=bool)
        bad[i[touches[j]]] = True  # ... or bonded to an atom that is
        ok = ~(spoiled | bad[own])
        for other, least in sig.needs.items():
            ok &= frame.count(sig.species, other, chem.cutoff(sig.species, other)) >= least
        out.setdefault(sig.phase, {})[sig.species] = ok
    return out


def analyse_frame(atoms: Atoms, chem: Chemistry) -> FrameMechanism:
    """All mechanism descriptors of one frame."""
    frame = FreudFrame.from_atoms(atoms, chem.r_max())
    cations = {}
    for c in chem.reducible:
        cn = anion_coordination(frame, chem, c.species)
        keys, counts = np.unique(cn, return_counts=True)
        cations[c.species] = CationState(
            species=c.species, n=int(cn.size), cn_mean=_mean(cn),
            cn_histogram={int(k): int(v) for k, v in zip(keys, counts, strict=True)},
            reduced_fraction=_mean((cn < c.reduced_below).astype(float)),
        )
    matches = product_atoms(frame, chem)
    products = {p: {el: _mean(ok.astype(float)) for el, ok in per.items()} for p, per in matches.items()}
    fraction = {}
    for p, per in matches.items():
        counted = [per[el] for el in chem.counted_species(p) if el in per]
        fraction[p] = _mean(np.concatenate(counted).astype(float)) if counted else float("nan")
    metal_cn, clusters = {}, {}
    for el in chem.cluster_species():
        cutoff = chem.cutoff(el, el)
        if cutoff is None:
            continue
        metal_cn[el] = _mean(frame.count(el, el, cutoff))
        clusters[el] = metal_clusters(atoms, el, cutoff, frame)
    return FrameMechanism(cations=cations, products=products, product_fraction=fraction,
                          metal_cn_mean=metal_cn, clusters=clusters)


def analyse_trajectory(frames: Sequence[Atoms], chem: Chemistry) -> list[FrameMechanism]:
    """:func:`analyse_frame` for each frame."""
    return [analyse_frame(at, chem) for at in frames]


def mechanism_row(m: FrameMechanism, digits: int = 4) -> dict[str, Any]:
    """One frame's descriptors as a flat row.

    Keys: ``cn_X``, ``reduced_X``, ``product_P``, ``metal_cn_M``, ``largest_cluster_M``, ``percolation_dim_M``
    (X a reducible cation, P a product, M a metallic element).
    """
    row: dict[str, Any] = {}
    for el, c in m.cations.items():
        row[f"cn_{el}"] = round(c.cn_mean, digits)
        row[f"reduced_{el}"] = round(c.reduced_fraction, digits)
    for p, value in m.product_fraction.items():
        row[f"product_{p}"] = round(value, digits)
    for el, value in m.metal_cn_mean.items():
        row[f"metal_cn_{el}"] = round(value, digits)
    for el, c in m.clusters.items():
        row[f"largest_cluster_{el}"] = c.largest
        row[f"percolation_dim_{el}"] = c.dimension
    return row


def describe(key: str, chem: Chemistry) -> tuple[str, float]:
    """A row key's label for tables and plots, and the factor its value is shown with (100: percent)."""
    kind, _, what = key.partition("_")
    if key.startswith("metal_cn_"):
        el = key.removeprefix("metal_cn_")
        return f"{el}-{el} neighbours per {el}", 1.0
    if key.startswith("largest_cluster_"):
        return f"largest {key.removeprefix('largest_cluster_')} cluster (atoms)", 1.0
    if key.startswith("percolation_dim_"):
        return f"{key.removeprefix('percolation_dim_')} network dimension (0-3)", 1.0
    if kind == "cn":
        anions = next((c.anions for c in chem.reducible if c.species == what), chem.anions)
        return f"{what}-{'/'.join(anions)} coordination ({'/'.join(anions)} per {what})", 1.0
    if kind == "reduced":
        below = next((c.reduced_below for c in chem.reducible if c.species == what), None)
        return f"reduced {what} (%)" + (f", < {below} anions" if below else ""), 100.0
    if kind == "product":
        counted = "/".join(chem.counted_species(what)) or "atoms"
        return f"{counted} in {what} environments (%)", 100.0
    return key, 1.0
