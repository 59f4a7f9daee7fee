"""Partial radial distribution functions and a numeric agreement score between two trajectories.

g_ab(r) is averaged over frames and normalised to 1 for an ideal gas at the frame's densities:
``g_ab(r) = V * n_ab(r) / (N_a * N_b * V_shell)`` with ``n_ab`` the number of directed a->b pairs in the
shell (LAMMPS ``compute rdf`` and ``ase.geometry.rdf.get_rdf`` convention, so g_ab = g_ba). freud finds
and histograms the pairs (:class:`freud.density.RDF`, ``a`` atoms as query points against the ``b`` atoms;
see :mod:`seiflow.analysis.structure`); the counts are normalised here in double precision. freud
measures distances in single precision, so a pair within ~1e-6 Å of a bin edge may land in the
neighbouring bin (the known-answer cells of ``tests/analysis/test_rdf.py`` come out exact).

Agreement score (per pair, in [0, 1])::

    S_ab = 1 - int |g_ab^A(r) - g_ab^B(r)| dr / (int g_ab^A(r) dr + int g_ab^B(r) dr)

that is one minus the L1 distance normalised by the sum of the L1 norms: 1 for identical curves, 0 for
curves with no overlap. The overall score is the mean of the per-pair scores over pairs present in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from seiflow.analysis.structure import FreudFrame
from seiflow.errors import InputError


def element_pairs(frames: Sequence[Atoms]) -> list[tuple[str, str]]:
    """Every unordered pair of the elements in ``frames`` (each element with itself too), in order of appearance."""
    seen = list(dict.fromkeys(el for atoms in frames for el in atoms.get_chemical_symbols()))
    return [(a, b) for i, a in enumerate(seen) for b in seen[i:]]


class RDFResult(BaseModel):
    """Partial RDFs of one trajectory on a common radial grid."""

    r: list[float] = Field(..., description="Bin centres, Å.")
    g: dict[str, list[float]] = Field(..., description="'A-B' -> g(r), averaged over frames.")
    n_frames: int = Field(..., description="Frames averaged.")
    rmax: float = Field(..., description="Largest distance, Å.")


class RDFAgreement(BaseModel):
    """How well two sets of partial RDFs agree (1 = identical)."""

    per_pair: dict[str, float] = Field(..., description="'A-B' -> 1 - normalised L1 distance.")
    overall: float = Field(..., description="Mean of the per-pair scores.")
    definition: str = "S = 1 - int|gA-gB|dr / (int gA dr + int gB dr); overall = mean over pairs"


def pair_key(a: str, b: str) -> str:
    """The dictionary key of a pair, e.g. ``In-Cl``."""
    return f"{a}-{b}"


def partial_rdfs(
    frames: Sequence[Atoms],
    pairs: Sequence[tuple[str, str]] | None = None,
    rmax: float = 6.0,
    nbins: int = 120,
) -> RDFResult:
    """Frame-averaged partial RDFs of ``frames`` for ``pairs`` (None: every pair) up to ``rmax`` Å.

    A pair enters the average over the frames that hold both its elements.

    Examples
    --------
    >>> from ase.build import bulk
    >>> salt = bulk("NaCl", "rocksalt", a=5.64).repeat(3)
    >>> cation, anion = salt.get_chemical_symbols()[:2]
    >>> res = partial_rdfs([salt], [(cation, anion)], rmax=4.0)
    >>> round(res.r[int(np.argmax(res.g[f"{cation}-{anion}"]))], 1)
    2.8
    """
    if not frames:
        raise InputError("no frames to compute RDFs from", "pass a trajectory with at least one frame")
    if rmax <= 0 or nbins < 2:
        raise InputError("rmax must be > 0 and nbins >= 2", "e.g. rmax=6.0, nbins=120")
    pairs = element_pairs(frames) if pairs is None else pairs
    curves: dict[str, list[np.ndarray]] = {pair_key(a, b): [] for a, b in pairs}
    for atoms in frames:
        frame = FreudFrame.from_atoms(atoms, rmax)  # one box and one AABB tree per element per frame
        for a, b in pairs:
            curve = frame.rdf(a, b, rmax, nbins)
            if curve is not None:
                curves[pair_key(a, b)].append(curve)
    g = {key: np.mean(c, axis=0).tolist() for key, c in curves.items() if c}
    edges = np.linspace(0.0, rmax, nbins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return RDFResult(r=centres.tolist(), g=g, n_frames=len(frames), rmax=rmax)


def l1_agreement(r: np.ndarray, g_a: np.ndarray, g_b: np.ndarray) -> float:
    """1 - int|g_a - g_b| dr / (int g_a dr + int g_b dr); 1.0 when both curves are zero."""
    dr = np.gradient(np.asarray(r, dtype=float))
    g_a, g_b = np.asarray(g_a, dtype=float), np.asarray(g_b, dtype=float)
    norm = float(np.sum((np.abs(g_a) + np.abs(g_b)) * dr))
    if norm == 0.0:
        return 1.0
    return float(1.0 - np.sum(np.abs(g_a - g_b) * dr) / norm)


def rdf_agreement(first: RDFResult, second: RDFResult) -> RDFAgreement:
    """Per-pair and overall agreement of two RDF sets computed on the same grid."""
    if len(first.r) != len(second.r) or not np.allclose(first.r, second.r):
        raise InputError(
            "the two RDFs use different radial grids", "compute both with the same rmax and nbins"
        )
    common = [k for k in first.g if k in second.g]
    if not common:
        raise InputError("the two RDF sets share no element pair", "check the species of both trajectories")
    per_pair = {k: l1_agreement(np.asarray(first.r), first.g[k], second.g[k]) for k in common}
    return RDFAgreement(per_pair=per_pair, overall=float(np.mean(list(per_pair.values()))))


def compare_trajectories(
    nnp: Sequence[Atoms],
    reference: Sequence[Atoms],
    pairs: Sequence[tuple[str, str]] | None = None,
    rmax: float = 6.0,
    nbins: int = 120,
) -> tuple[RDFResult, RDFResult, RDFAgreement]:
    """Partial RDFs of an NNP and a reference trajectory and their agreement score (None: every pair)."""
    pairs = element_pairs([*reference[:1], *nnp[:1]]) if pairs is None else pairs
    first = partial_rdfs(nnp, pairs, rmax, nbins)
    second = partial_rdfs(reference, pairs, rmax, nbins)
    return first, second, rdf_agreement(first, second)
