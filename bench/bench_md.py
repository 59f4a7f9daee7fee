"""Benchmark 2: LAMMPS cost of ensemble MD: 1 model vs the 4-model deviation run, compressed vs frozen,
threads vs MPI ranks, on ~1,000-atom LiCl and the demo's 232-atom Li | Li3InCl6 interface.

Run: ``.venv/bin/python bench/bench_md.py [--steps 200] [--atoms 1000] [--repeats 3]`` (quick: ``--steps 40
--atoms 216 --parallel none --repeats 1``). One model with the campaign's default network (rcut 6, [10,20,40] / [60,60,60],
type_map Li In Cl) is trained briefly on tests/data/licl_deepmd, frozen and compressed (``dp --tf``); the
ensemble is 4 copies of it (LAMMPS evaluates every model, so the cost equals 4 different models). Inputs
come from ``seiflow.exploration.inputs`` (NVT 600 K, at each shipped campaign's ``exploration.out_freq``,
read from workflows/*.yaml: the demos' 5, the study's 50; ``--out-freq`` to choose) and run through
``LammpsRunner``. Settings alternate within each repeat and the median is kept. Prints µs/step/atom per
setting from LAMMPS' loop time, by wall time and by CPU time (wall x LAMMPS' "CPU use": what other processes
on a shared machine disturb least), the loop's Pair share, and the floor of the ensemble cost: LAMMPS
evaluates all models on each ``out_freq`` step (including the dynamics' model) and model 0 alone on the
others, so 4 models cost at least 1 + 3 x (deviation steps / steps) x (Pair share) of one model. Last the
ratio 4-model / 1-model, compressed, 1 thread, CPU time, per campaign and the worst (goal <= 1.1); compressed
vs frozen (goal >= 3) and the wall-time ratio are the lines before.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from _common import ROOT, lammps_loop, machine, one_thread

DATA = ROOT / "tests" / "data" / "licl_deepmd" / "Li32Cl32"
TYPE_MAP = ["Li", "In", "Cl"]
SEL = [48, 8, 32]
WORKFLOWS = ROOT / "workflows"


def shipped_out_freqs() -> dict[str, int]:
    """Each shipped campaign's ``exploration.out_freq`` (the ensemble's deviation interval), by file stem."""
    from seiflow.schemas.campaign import load_campaign

    return {p.stem: load_campaign(p).exploration.out_freq for p in sorted(WORKFLOWS.glob("*.yaml"))}


def train_model(work: Path, steps: int) -> tuple[Path, Path]:
    """A briefly trained model with the campaign's default network; (frozen, compressed)."""
    from seiflow.schemas.campaign import TrainingConfig
    from seiflow.training import run
    from seiflow.training.inputs import build_input

    work.mkdir(parents=True)
    inp = build_input(TrainingConfig(), TYPE_MAP, [DATA], SEL, seed=1, numb_steps=steps, save_freq=steps)
    (work / "input.json").write_text(json.dumps(inp))
    run.train(work, "tensorflow")
    frozen, _ = run.freeze(work, "tensorflow")
    compressed, _ = run.compress(work, "tensorflow", frozen)
    return frozen, compressed


def systems(atoms: int) -> dict:
    """Rock-salt LiCl with about ``atoms`` atoms, and the demo interface (232 atoms)."""
    from bench_data import interface_template
    from pymatgen.core import Lattice, Structure

    n = max(1, round((atoms / 8) ** (1 / 3)))
    licl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    licl.make_supercell([n, n, n])
    return {f"LiCl{len(licl)}": licl, f"interface{232}": interface_template()}


def run_md(structure, models: list[Path], steps: int, ranks: int, threads: int, run_dir: Path,
           out_freq: int) -> dict:
    """One exploration run through seiflow's input and runner; LAMMPS' loop timings."""
    from seiflow.exploration.inputs import LOG_FILE, write_inputs
    from seiflow.exploration.run import LammpsRunner
    from seiflow.schemas.exploration import ExplorationTask

    task = ExplorationTask(task_id="bench", seed_name="bench", temperature=600, nsteps=steps, out_freq=out_freq)
    write_inputs(task, structure, TYPE_MAP, models, run_dir)
    outcome = LammpsRunner(mpi_ranks=ranks, omp_threads=threads).run(run_dir)
    if outcome.returncode != 0:
        raise RuntimeError(f"LAMMPS failed in {run_dir}: {outcome.reason}")
    return lammps_loop(run_dir / LOG_FILE)


def floor(n_models: int, steps: int, pair_share: float, out_freq: int) -> float:
    """Least cost of ``n_models`` over one model: the others on the loop's out_freq steps only."""
    return 1 + (n_models - 1) * (steps // out_freq) / steps * pair_share


def settings(parallel: str, out_freqs: list[int]) -> list[tuple[str, int, int, int, int]]:
    """(model kind, number of models, MPI ranks, threads, out_freq) per run: 1 and 4 compressed models at
    each out_freq, frozen at the first (frozen 4 models and the parallel runs only with ``--parallel all``:
    the default must fit 10 minutes)."""
    first = out_freqs[0]
    rows = [("frozen", 1, 1, 1, first)]
    rows += [("compressed", n, 1, 1, f) for f in out_freqs for n in (1, 4)]
    if parallel != "none":
        rows += [("frozen", 4, 1, 1, first)]
        rows += [("compressed", n, 1, 2, first) for n in (1, 4)] + [("compressed", n, 2, 1, first) for n in (1, 4)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="MD steps per run")
    parser.add_argument("--atoms", type=int, default=1000, help="size of the LiCl box")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting (alternating; median)")
    parser.add_argument("--parallel", choices=["all", "none"], default="none", help="also 2 threads / 2 ranks")
    parser.add_argument("--out-freq", type=int, nargs="*", default=None,
                        help="deviation intervals (default: each shipped campaign's exploration.out_freq)")
    args = parser.parse_args()
    one_thread()
    campaigns = shipped_out_freqs()
    out_freqs = sorted(set(args.out_freq or campaigns.values()))
    print(f"machine: {machine()}")
    print("out_freq of the shipped campaigns: " + ", ".join(f"{k} {v}" for k, v in campaigns.items())
          + f"; measured at {out_freqs}")
    runs: dict[tuple, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-md-") as tmp:
        frozen, compressed = train_model(Path(tmp) / "train", args.train_steps)
        files = {"frozen": frozen, "compressed": compressed}
        ensemble = {k: [f] + [shutil.copy(f, f.with_name(f"{i}{f.name}")) for i in range(1, 4)]
                    for k, f in files.items()}
        for rep in range(args.repeats):
            for name, structure in systems(args.atoms).items():
                for kind, n, ranks, threads, out_freq in settings(args.parallel, out_freqs):
                    models = [Path(m) for m in ensemble[kind][:n]]
                    run_dir = Path(tmp) / f"{name}_{kind}_{n}_{ranks}x{threads}_f{out_freq}_{rep}"
                    loop = run_md(structure, models, args.steps, ranks, threads, run_dir, out_freq)
                    runs.setdefault((name, kind, n, ranks, threads, out_freq), []).append(loop)
                    print(f"{name}: {kind} {n} model(s), {ranks} rank(s) x {threads} thread(s), out_freq "
                          f"{out_freq}: "
                          f"{loop['us_wall']:.1f} µs/step/atom wall, {loop['us_cpu']:.1f} CPU "
                          f"({loop['cpu_pct']:.0f} % CPU, Pair {loop['breakdown'].get('Pair', 0):.1f} %)",
                          flush=True)
    wall = {k: float(np.median([r["us_wall"] for r in v])) for k, v in runs.items()}
    cpu = {k: float(np.median([r["us_cpu"] for r in v])) for k, v in runs.items()}
    names = sorted({k[0] for k in runs})
    print(f"\nmedians of {args.repeats} run(s), µs/step/atom (wall / CPU):")
    for key in runs:
        print(f"  {key[0]} {key[1]} {key[2]} model(s) {key[3]}x{key[4]} out_freq {key[5]}: "
              f"{wall[key]:.1f} / {cpu[key]:.1f}")
    pair = {s: float(np.median([r["breakdown"].get("Pair", 100.0) for f in out_freqs
                                for r in runs[(s, "compressed", 1, 1, 1, f)]])) for s in names}
    first = out_freqs[0]
    comp = [cpu[(s, "frozen", n, 1, 1, first)] / cpu[(s, "compressed", n, 1, 1, first)] for s in names
            for n in (1, 4) if (s, "frozen", n, 1, 1, first) in cpu]
    print(f"compressed speed-up over frozen (1 thread, CPU time, out_freq {first}): "
          f"{', '.join(f'{x:.2f}' for x in comp)} (min {min(comp):.2f}; goal >= 3)")
    worst: dict[int, float] = {}
    for f in out_freqs:
        ens = {s: cpu[(s, "compressed", 4, 1, 1, f)] / cpu[(s, "compressed", 1, 1, 1, f)] for s in names}
        ens_wall = {s: wall[(s, "compressed", 4, 1, 1, f)] / wall[(s, "compressed", 1, 1, 1, f)] for s in names}
        floors = {s: floor(4, args.steps, pair[s] / 100.0, f) for s in names}
        worst[f] = max(ens.values())
        users = ", ".join(k for k, v in campaigns.items() if v == f) or "no shipped campaign"
        print(f"out_freq {f} ({users}): 4-model / 1-model, CPU time "
              + ", ".join(f"{s} {ens[s]:.3f} (floor {floors[s]:.3f}, Pair {pair[s]:.1f} %)" for s in names)
              + "; by wall time " + ", ".join(f"{s} {ens_wall[s]:.2f}" for s in names))
    print("ratio: " + ", ".join(f"out_freq {f} {worst[f]:.2f}" for f in out_freqs)
          + f" (4-model / 1-model, compressed, 1 thread, CPU time, worst structure; goal <= 1.1; "
          f"worst over the shipped settings {max(worst.values()):.2f})")


if __name__ == "__main__":
    main()
