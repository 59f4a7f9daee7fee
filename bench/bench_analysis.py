"""Benchmark: analysis of one ~32,000-atom Li | Li3InCl6-like frame vs ASE's own RDF.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_analysis.py``. Prints timings of seiflow's partial
RDFs (5 pairs), the mechanism analysis (coordination, clusters, percolation) and ASE's
``ase.geometry.rdf.get_rdf`` for the same 5 partial RDFs, and last the ratio ASE / seiflow.
"""

from __future__ import annotations

import time

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.geometry.rdf import get_rdf

from seiflow.analysis.mechanism import analyse_frame
from seiflow.analysis.rdf import DEFAULT_PAIRS, partial_rdfs

RMAX, NBINS = 6.0, 120


def big_frame(seed: int = 0) -> Atoms:
    """~32,000 atoms: a 12,000-atom bcc Li slab under 2,000 rattled 'Li3InCl6' units on a rock-salt grid."""
    rng = np.random.default_rng(seed)
    li = bulk("Li", "bcc", a=3.51, cubic=True).repeat((20, 20, 15))  # 12,000 atoms, 70.2 x 70.2 x 52.7 Å
    grid = bulk("LiCl", "rocksalt", a=5.4, cubic=True).repeat((13, 13, 15))  # 20,280 sites
    symbols = np.array(grid.get_chemical_symbols())
    cation = np.flatnonzero(symbols == "Li")
    symbols[rng.choice(cation, size=len(cation) // 4, replace=False)] = "In"  # 1 In per 3 Li
    grid.set_chemical_symbols(symbols.tolist())
    grid.set_cell(np.diag([70.2, 70.2, grid.cell[2, 2]]), scale_atoms=True)
    grid.positions[:, 2] += li.cell[2, 2] + 2.0
    frame = li + grid
    frame.set_cell([70.2, 70.2, li.cell[2, 2] + grid.cell[2, 2] + 2.0])
    frame.positions += rng.normal(0, 0.08, frame.positions.shape)
    frame.pbc = True
    return frame


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    frame = big_frame()
    print(f"atoms: {len(frame)} ({frame.get_chemical_formula()})")
    ours, t_rdf = timed(partial_rdfs, [frame], DEFAULT_PAIRS, RMAX, NBINS)
    print(f"seiflow partial RDFs, {len(DEFAULT_PAIRS)} pairs: {t_rdf:.2f} s")
    mech, t_mech = timed(analyse_frame, frame)
    print(f"seiflow mechanism (coordination, clusters, percolation): {t_mech:.2f} s; "
          f"largest In cluster {mech.clusters.largest}, percolates {mech.clusters.percolates}")
    t_ase = 0.0
    for a, b in DEFAULT_PAIRS:
        (ref, _), dt = timed(get_rdf, frame, RMAX, NBINS, elements=[a, b])
        t_ase += dt
        diff = float(np.max(np.abs(ref - np.asarray(ours.g[f"{a}-{b}"]))))
        print(f"  ASE get_rdf {a}-{b}: {dt:.2f} s, max |g_ase - g_seiflow| = {diff:.2e}")
    print(f"ASE partial RDFs, {len(DEFAULT_PAIRS)} pairs: {t_ase:.2f} s")
    freud_rdfs(frame, ours, t_rdf)
    print(f"ratio ASE / seiflow (RDFs): {t_ase / t_rdf:.1f}")


def freud_rdfs(frame: Atoms, ours, t_rdf: float) -> None:
    """The same 5 partial RDFs with freud (``pip install freud-analysis``), when it is installed."""
    try:
        import freud
    except ImportError:
        print("freud: not installed (pip install freud-analysis to compare)")
        return
    box = freud.box.Box.from_matrix(frame.cell[:])
    symbols = np.array(frame.get_chemical_symbols())
    wrapped = box.wrap(frame.positions - frame.cell[:].sum(axis=0) / 2)  # freud's box is centred on 0
    total = 0.0
    for a, b in DEFAULT_PAIRS:
        rdf = freud.density.RDF(bins=NBINS, r_max=RMAX)
        start = time.perf_counter()
        rdf.compute(system=(box, wrapped[symbols == b]), query_points=wrapped[symbols == a],
                    neighbors={"exclude_ii": a == b, "mode": "ball", "r_max": RMAX})
        total += time.perf_counter() - start
        diff = float(np.max(np.abs(rdf.rdf - np.asarray(ours.g[f"{a}-{b}"]))))
        print(f"  freud RDF {a}-{b}: max |g_freud - g_seiflow| = {diff:.2e}")
    print(f"freud {freud.__version__} partial RDFs, {len(DEFAULT_PAIRS)} pairs: {total:.2f} s "
          f"(freud / seiflow time: {total / t_rdf:.2f})")


if __name__ == "__main__":
    main()
