"""Benchmark 5: structure analysis of ~32,000-atom frames, seiflow (on freud) vs bare freud, side by side.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_analysis.py`` (``--frames bench`` for the synthetic
frame only, ``--no-ase`` to skip the double-precision ASE reference, ``--threads N`` for freud's threads;
default 1, the house rule). Frames: the synthetic 32,280-atom Li | Li3InCl6-like frame (orthorhombic)
and the 31,880-atom scaled demo interface (``seiflow.structures.scale``, 5 x 4 repeat; triclinic,
gamma 70.5°). On each frame and in alternating repeats, times

- seiflow: ``partial_rdfs`` (the demo campaign's 5 pairs) and ``analyse_frame`` with the demo campaign's
  chemistry (In-Cl coordination, the LiCl and In product signatures, In clusters, percolation and its
  dimension), from the ASE frame;
- bare freud, as a user would write it from the same ASE frame: box from the cell, positions into
  freud's frame, one ``freud.density.RDF`` per pair (``a`` atoms as query points against ``b``), and
  for the mechanism the same neighbour queries plus ``freud.cluster.Cluster`` (no percolation: freud has
  none).

Prints the agreement (seiflow vs bare freud; vs ASE ``get_rdf`` on the synthetic frame as pairs moved
to a neighbouring bin by freud's single-precision distances), median timings, and last the ratio
bare freud / seiflow time over both parts and all frames (seiflow's speed relative to bare freud;
goal >= 1.0).
"""

from __future__ import annotations

import argparse
import statistics
import time

import freud
import numpy as np
from _common import ROOT, machine, one_thread
from ase import Atoms
from ase.build import bulk

from seiflow.analysis.chemistry import Chemistry, campaign_chemistry
from seiflow.analysis.mechanism import analyse_frame
from seiflow.analysis.rdf import partial_rdfs
from seiflow.schemas.campaign import load_campaign

RMAX, NBINS = 6.0, 120
CHEM = campaign_chemistry(load_campaign(ROOT / "workflows" / "li_li3incl6_demo.yaml"))
DEFAULT_PAIRS = CHEM.rdf_pairs


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


def scaled_interface(seed: int = 0) -> Atoms:
    """The demo interface scaled to 31,880 atoms (5 x 4 in plane; triclinic), rattled by 0.08 Å."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.schemas.campaign import InterfaceConfig
    from seiflow.structures.bulk import load_bulk, set_lattice_constant
    from seiflow.structures.scale import scale_up

    bulks = {"Li": set_lattice_constant(load_bulk("Li"), 3.44), "Li3InCl6": load_bulk("Li3InCl6")}
    atoms = AseAtomsAdaptor.get_atoms(scale_up(InterfaceConfig(), bulks, repeat=(5, 4)).structure)
    atoms.positions += np.random.default_rng(seed).normal(0, 0.08, atoms.positions.shape)
    return atoms


def bare_system(frame: Atoms) -> tuple[freud.box.Box, np.ndarray, np.ndarray]:
    """freud's box and positions for an ASE frame: Box.from_matrix takes the cell vectors as columns
    and rotates them to its upper-triangular frame, so positions go in through fractional coordinates."""
    box = freud.box.Box.from_matrix(frame.cell[:].T)
    frac = frame.get_scaled_positions(wrap=True)
    return box, box.make_absolute(frac), frame.numbers


def bare_rdfs(frame: Atoms) -> dict[str, np.ndarray]:
    """The 5 partial RDFs with freud alone."""
    from ase.data import atomic_numbers as z

    box, pos, numbers = bare_system(frame)
    out = {}
    for a, b in DEFAULT_PAIRS:
        rdf = freud.density.RDF(bins=NBINS, r_max=RMAX)
        rdf.compute(system=(box, pos[numbers == z[b]]), query_points=pos[numbers == z[a]],
                    neighbors={"exclude_ii": a == b, "mode": "ball", "r_max": RMAX})
        out[f"{a}-{b}"] = rdf.rdf
    return out


def bare_mechanism(frame: Atoms, chem: Chemistry) -> dict:
    """freud's part of the same descriptors: the neighbour queries they need, and the In clusters.

    In-Cl (coordination, reduction), In-In (metal coordination, clusters), Li-Cl and Cl-Li (the LiCl
    signature of Li and of Cl; the Cl that touch In come from the In-Cl bonds).
    """
    from ase.data import atomic_numbers as z

    box, pos, numbers = bare_system(frame)
    li, inn, cl = (pos[numbers == z[s]] for s in ("Li", "In", "Cl"))
    tree_li, tree_cl, tree_in = (freud.locality.AABBQuery(box, p) for p in (li, cl, inn))
    in_cl = tree_cl.query(inn, {"r_max": chem.cutoff("In", "Cl")}).toNeighborList().neighbor_counts
    in_in = tree_in.query(inn, {"r_max": chem.cutoff("In", "In"), "exclude_ii": True}).toNeighborList()
    tree_cl.query(li, {"r_max": chem.cutoff("Li", "Cl")}).toNeighborList()  # Li-Cl
    tree_li.query(cl, {"r_max": chem.cutoff("Li", "Cl")}).toNeighborList()  # Cl-Li
    clusters = freud.cluster.Cluster().compute((box, inn), neighbors=in_in)
    sizes = np.bincount(clusters.cluster_idx)
    return {"in_cl_mean": float(in_cl.mean()), "largest": int(sizes.max()) if in_in.neighbor_counts.any() else 0}


def timed(func, *args):
    start = time.perf_counter()
    out = func(*args)
    return out, time.perf_counter() - start


def moved_pairs(frame: Atoms, a: str, b: str, g_ref: np.ndarray, g: np.ndarray) -> int:
    """Pairs in a different bin between two RDFs (|difference| in pair counts, halved)."""
    sym = np.asarray(frame.get_chemical_symbols())
    edges = np.linspace(0.0, RMAX, NBINS + 1)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    per_pair = frame.get_volume() / ((sym == a).sum() * (sym == b).sum() * shell)
    return int(round(np.abs(np.asarray(g) - np.asarray(g_ref)).__truediv__(per_pair).sum() / 2))


def bench_frame(name: str, frame: Atoms, repeats: int, ase: bool) -> tuple[float, float]:
    """Agreement and median timings on one frame; returns (seiflow, bare freud) seconds per repeat."""
    cut = CHEM
    print(f"\n{name}: {len(frame)} atoms ({frame.get_chemical_formula()}), cell "
          f"{' '.join(f'{x:.2f}' for x in frame.cell.cellpar())}")
    t = {"seiflow rdf": [], "freud rdf": [], "seiflow mechanism": [], "freud mechanism": []}
    for _ in range(repeats):  # alternate, so both sides see the same load
        ours, dt = timed(partial_rdfs, [frame], DEFAULT_PAIRS, RMAX, NBINS)
        t["seiflow rdf"].append(dt)
        bare, dt = timed(bare_rdfs, frame)
        t["freud rdf"].append(dt)
        mech, dt = timed(analyse_frame, frame, cut)
        t["seiflow mechanism"].append(dt)
        bare_mech, dt = timed(bare_mechanism, frame, cut)
        t["freud mechanism"].append(dt)
    for key, g in bare.items():
        diff = float(np.max(np.abs(g - np.asarray(ours.g[key]))))
        print(f"  {key}: max |g_freud - g_seiflow| = {diff:.1e} (single precision: positions, bin edges, normalisation)")
    print(f"  mechanism: In-Cl mean {mech.cations['In'].cn_mean:.4f} (freud {bare_mech['in_cl_mean']:.4f}), largest "
          f"In cluster {mech.clusters['In'].largest} (freud {bare_mech['largest']}), percolates "
          f"{mech.clusters['In'].percolates} (dimension {mech.clusters['In'].dimension})")
    if ase:
        from ase.geometry.rdf import get_rdf

        start = time.perf_counter()
        for a, b in DEFAULT_PAIRS:
            ref, _ = get_rdf(frame, RMAX, NBINS, elements=[a, b])
            key = f"{a}-{b}"
            print(f"  ASE get_rdf {key}: max |g_ase - g_seiflow| = "
                  f"{float(np.max(np.abs(ref - np.asarray(ours.g[key])))):.1e}, "
                  f"{moved_pairs(frame, a, b, ref, ours.g[key])} pairs in a neighbouring bin")
        print(f"  ASE partial RDFs (double precision, once): {time.perf_counter() - start:.2f} s")
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"  median of {repeats}: seiflow RDFs {med['seiflow rdf']:.3f} s, bare freud RDFs "
          f"{med['freud rdf']:.3f} s (ratio {med['freud rdf'] / med['seiflow rdf']:.2f}); seiflow mechanism "
          f"{med['seiflow mechanism']:.3f} s, bare freud queries + clusters {med['freud mechanism']:.3f} s "
          f"(ratio {med['freud mechanism'] / med['seiflow mechanism']:.2f})")
    return med["seiflow rdf"] + med["seiflow mechanism"], med["freud rdf"] + med["freud mechanism"]


def main() -> None:
    one_thread()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", default="bench,interface", help="comma-separated: bench, interface")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="freud's TBB threads")
    p.add_argument("--no-ase", action="store_true", help="skip ASE's double-precision reference")
    args = p.parse_args()
    freud.parallel.set_num_threads(args.threads)
    print(f"{machine()}; freud {freud.__version__}, {args.threads} thread(s)")
    build = {"bench": big_frame, "interface": scaled_interface}
    ours = bare = 0.0
    for name in args.frames.split(","):
        frame, dt = timed(build[name])
        print(f"built {name} in {dt:.1f} s")
        s, f = bench_frame(name, frame, args.repeats, ase=not args.no_ase and name == "bench")
        ours, bare = ours + s, bare + f
    print(f"\nseiflow {ours:.3f} s, bare freud {bare:.3f} s (RDFs + mechanism, medians summed over frames)")
    print(f"ratio: {bare / ours:.2f} (bare freud time / seiflow time; goal >= 1.0)")


if __name__ == "__main__":
    main()
