"""Benchmark 2: LAMMPS cost of ensemble MD: 1 model vs the 4-model deviation run, compressed vs frozen,
threads vs MPI ranks, on ~1,000-atom LiCl and the demo's 232-atom Li | Li3InCl6 interface.

Run: ``.venv/bin/python bench/bench_md.py [--steps 200] [--atoms 1000]`` (quick: ``--steps 40 --atoms 216
--parallel none``). One model with the campaign's default network (rcut 6, [10,20,40] / [60,60,60],
type_map Li In Cl) is trained briefly on tests/data/licl_deepmd, frozen and compressed (``dp --tf``); the
ensemble is 4 copies of it (LAMMPS evaluates every model, so the cost equals 4 different models). Inputs
come from ``seiflow.exploration.inputs`` (NVT 600 K, the campaign's out_freq 20) and run through
``LammpsRunner``. Prints µs/step/atom (wall, from LAMMPS' loop time) per setting, and last the ratio
4-model / 1-model, compressed, 1 thread (goal <= 1.3); compressed vs frozen (goal >= 3) is the line before.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from _common import ROOT, machine, one_thread

DATA = ROOT / "tests" / "data" / "licl_deepmd" / "Li32Cl32"
TYPE_MAP = ["Li", "In", "Cl"]
SEL = [48, 8, 32]
_LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


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


def us_per_step_atom(run_dir: Path) -> float:
    match = _LOOP.search((run_dir / "log.lammps").read_text())
    if not match:
        raise RuntimeError(f"no loop time in {run_dir / 'log.lammps'}")
    seconds, _, steps, natoms = match.groups()
    return float(seconds) / int(steps) / int(natoms) * 1e6


def run_md(structure, models: list[Path], steps: int, ranks: int, threads: int, run_dir: Path) -> float:
    from seiflow.exploration.inputs import write_inputs
    from seiflow.exploration.run import LammpsRunner
    from seiflow.schemas.exploration import ExplorationTask

    task = ExplorationTask(task_id="bench", seed_name="bench", temperature=600, nsteps=steps, out_freq=20)
    write_inputs(task, structure, TYPE_MAP, models, run_dir)
    outcome = LammpsRunner(mpi_ranks=ranks, omp_threads=threads).run(run_dir)
    if outcome.returncode != 0:
        raise RuntimeError(f"LAMMPS failed in {run_dir}: {outcome.reason}")
    return us_per_step_atom(run_dir)


def settings(parallel: str) -> list[tuple[str, int, int, int]]:
    """(model kind, number of models, MPI ranks, threads) per run."""
    rows = [(kind, n, 1, 1) for kind in ("frozen", "compressed") for n in (1, 4)]
    if parallel != "none":
        rows += [("compressed", n, 1, 2) for n in (1, 4)] + [("compressed", n, 2, 1) for n in (1, 4)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="MD steps per run")
    parser.add_argument("--atoms", type=int, default=1000, help="size of the LiCl box")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--parallel", choices=["all", "none"], default="all", help="also 2 threads / 2 ranks")
    args = parser.parse_args()
    one_thread()
    print(f"machine: {machine()}")
    results: dict[tuple, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-md-") as tmp:
        frozen, compressed = train_model(Path(tmp) / "train", args.train_steps)
        files = {"frozen": frozen, "compressed": compressed}
        ensemble = {k: [f] + [shutil.copy(f, f.with_name(f"{i}{f.name}")) for i in range(1, 4)]
                    for k, f in files.items()}
        for name, structure in systems(args.atoms).items():
            for kind, n, ranks, threads in settings(args.parallel):
                models = [Path(m) for m in ensemble[kind][:n]]
                run_dir = Path(tmp) / f"{name}_{kind}_{n}_{ranks}x{threads}"
                us = run_md(structure, models, args.steps, ranks, threads, run_dir)
                results[(name, kind, n, ranks, threads)] = us
                print(f"{name}: {kind} {n} model(s), {ranks} rank(s) x {threads} thread(s): "
                      f"{us:.1f} µs/step/atom ({args.steps} steps)")
    names = sorted({k[0] for k in results})
    ens = [results[(s, "compressed", 4, 1, 1)] / results[(s, "compressed", 1, 1, 1)] for s in names]
    comp = [results[(s, "frozen", n, 1, 1)] / results[(s, "compressed", n, 1, 1)] for s in names for n in (1, 4)]
    print(f"compressed speed-up over frozen (1 thread): {', '.join(f'{x:.2f}' for x in comp)} "
          f"(min {min(comp):.2f}; goal >= 3)")
    print(f"ratio: {float(np.max(ens)):.2f} (4-model / 1-model, compressed, 1 thread, worst of "
          f"{', '.join(names)}; goal <= 1.3)")


if __name__ == "__main__":
    main()
