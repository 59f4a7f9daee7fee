"""Production speed with and without the extrapolation watch (issue 30 goal: watched within 1.1x of unwatched).

Run: ``.venv/bin/python bench/bench_production.py [--atoms 2000] [--steps 400] [--repeats 3]`` (quick:
``--atoms 216 --steps 40 --repeats 1 --train-steps 10``). One model with the campaign's default network
(rcut 6, [10,20,40] / [60,60,60], type_map Li In Cl) is trained briefly on tests/data/licl_deepmd, frozen
and compressed (``bench_md.train_model``); the watch is 3 more copies of it (LAMMPS evaluates every model on
a watched step, so the cost equals 3 different models). Each run is a first production segment as seiflow
writes it (``seiflow.production.inputs.segment_input``: NVT 300 K, dump and thermo as the shipped campaigns'
production sections, the watch at their ``production.watch.every``), through ``LammpsRunner``, 1 thread.
Settings alternate within each repeat; the median µs/step/atom (CPU time: wall x LAMMPS' CPU use) is kept.
The floor of the watch's cost is 1 + 3 x (watched steps / steps) x (Pair share). The ratio is printed last.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from _common import ROOT, lammps_loop, machine, one_thread
from bench_md import TYPE_MAP, train_model

WORKFLOWS = ROOT / "workflows"


def shipped_watch() -> dict[str, tuple[int, int]]:
    """Each shipped campaign's (production.watch.every, production.dump_every), by file stem."""
    from seiflow.schemas.campaign import load_campaign

    out = {}
    for p in sorted(WORKFLOWS.glob("*.yaml")):
        prod = load_campaign(p).production
        out[p.stem] = (prod.watch.every, prod.dump_every)
    return out


def licl(atoms: int):
    """Rock-salt LiCl with about ``atoms`` atoms."""
    from pymatgen.core import Lattice, Structure

    n = max(1, round((atoms / 8) ** (1 / 3)))
    cell = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cell.make_supercell([n, n, n])
    return cell


def run_segment(structure, model: Path, watchers: list[Path], steps: int, every: int, dump_every: int,
                run_dir: Path) -> dict:
    """One first segment through seiflow's input and runner; LAMMPS' loop timings."""
    from seiflow.exploration.inputs import DATA_FILE, LOG_FILE, write_data
    from seiflow.exploration.run import LammpsRunner
    from seiflow.production.inputs import INPUT_FILE, segment_input
    from seiflow.schemas.campaign import ProductionConfig

    run_dir.mkdir(parents=True)
    write_data(structure, TYPE_MAP, run_dir / DATA_FILE)
    config = ProductionConfig(dump_every=dump_every, thermo_every=max(steps // 4, 1),
                              watch={"every": every, "enabled": bool(watchers)})
    (run_dir / INPUT_FILE).write_text(segment_input(config, steps, model, watchers, TYPE_MAP, first=True))
    outcome = LammpsRunner(mpi_ranks=1, omp_threads=1).run(run_dir)
    if outcome.returncode != 0:
        raise RuntimeError(f"LAMMPS failed in {run_dir}: {outcome.reason}")
    return lammps_loop(run_dir / LOG_FILE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, default=2000)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    one_thread()
    work = Path(tempfile.mkdtemp(prefix="seiflow-bench-production-"))
    print(f"# {machine()}; {args.steps} steps, {args.repeats} repeats, work {work}", flush=True)
    try:
        _, model = train_model(work / "model", args.train_steps)
        watchers = [work / f"watch{i}.pb" for i in range(3)]
        for w in watchers:
            shutil.copy(model, w)
        cell = licl(args.atoms)
        campaigns = shipped_watch()
        print("shipped production watch (every, dump_every):", campaigns, flush=True)
        settings = sorted({(e, d) for e, d in campaigns.values()})
        # a run shorter than the shipped dump interval dumps only step 0: dump as often as the watch there
        rows = [("unwatched", 0, settings[0][1])] + [("watched", e, d) for e, d in settings]
        results: dict[tuple, list[dict]] = {r: [] for r in rows}
        for rep in range(args.repeats):
            for kind, every, dump in rows:
                run_dir = work / f"{kind}-{every}-{rep}"
                every_eff = every or 1
                dump_eff = min(dump, args.steps) // every_eff * every_eff or every_eff
                loop = run_segment(cell, model, watchers if kind == "watched" else [], args.steps, every_eff,
                                   dump_eff, run_dir)
                results[(kind, every, dump)].append(loop)
                print(f"{kind} every {every}: {loop['us_cpu']:.2f} µs/step/atom (CPU), {loop['us_wall']:.2f} wall, "
                      f"Pair {loop['breakdown'].get('Pair', float('nan')):.1f} %", flush=True)
        base = float(np.median([x["us_cpu"] for x in results[rows[0]]]))
        pair = float(np.median([x["breakdown"].get("Pair", 100.0) for x in results[rows[0]]])) / 100.0
        print("\n| setting | µs/step/atom (CPU, median) | ratio to unwatched | floor |\n|---|---|---|---|")
        print(f"| unwatched, {len(cell)} atoms | {base:.2f} | 1.00 | 1.00 |")
        worst = 0.0
        for kind, every, dump in rows[1:]:
            v = float(np.median([x["us_cpu"] for x in results[(kind, every, dump)]]))
            fl = 1 + 3 * (args.steps // every) / args.steps * pair
            worst = max(worst, v / base)
            who = ", ".join(k for k, (e, _) in campaigns.items() if e == every)
            print(f"| watched every {every} ({who}) | {v:.2f} | {v / base:.3f} | {fl:.3f} |")
        print(f"\nratio: {worst:.3f} (watched / unwatched, worst shipped setting; goal <= 1.1)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
