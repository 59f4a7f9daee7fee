"""Benchmark 1: labels needed to reach a force-RMSE target: seiflow's selection vs random vs DP-GEN's rule.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_label_efficiency.py [--temps 300,600,900]
[--pool-frames 40] [--models 4] [--batch 4] [--rounds 8] [--steps 400] [--target 0.12]``
(quick: ``--pool-frames 8 --models 2 --rounds 2 --steps 100``). The pool is CHGNet MD (ASE Langevin) of
Li32Cl32 at each temperature, the held-out reference set is separate MD runs (other seed); all frames are
labelled by CHGNet (``seiflow.labelling.calculators``) once, so each strategy only decides which labels
it "buys". Every strategy starts from the same initial frames and seeds; each round trains tiny DeePMD
models (``seiflow.training``), measures model 0's force RMSE on the reference set, then picks ``--batch``:
seiflow = candidates between the trust levels, farthest-point sampling over distance histograms starting
from the highest deviation (as ``seiflow.selection.Selector``); DP-GEN = the same candidates, random pick;
random = any unlabelled frame. Prints the learning curves and last labels(seiflow) / labels(random)
(goal <= 1/3; the line before: labels(seiflow) / labels(DP-GEN rule), goal <= 0.7).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import dpdata
import numpy as np
from _common import machine, one_thread

TYPE_MAP = ["Li", "Cl"]
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "licl_deepmd" / "Li32Cl32"


def md_frames(temps: list[float], n: int, stride: int, seed: int) -> list:
    """``n`` CHGNet-labelled frames per temperature (every ``stride`` steps of Langevin MD, 2 fs)."""
    from ase import Atoms, units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from seiflow.labelling.calculators import get_calculator

    raw = dpdata.LabeledSystem(str(DATA), fmt="deepmd/npy")
    symbols = [raw["atom_names"][t] for t in raw["atom_types"]]
    calc, out = get_calculator("chgnet"), []
    for k, temp in enumerate(temps):
        atoms = Atoms(symbols, positions=raw["coords"][0], cell=raw["cells"][0], pbc=True)
        atoms.calc = calc
        rng = np.random.default_rng(seed + k)
        MaxwellBoltzmannDistribution(atoms, temperature_K=temp, rng=rng)
        dyn = Langevin(atoms, 2 * units.fs, temperature_K=temp, friction=0.02, rng=rng)
        for _ in range(n):
            dyn.run(stride)
            out.append((atoms.copy(), atoms.get_potential_energy(), atoms.get_forces().copy(), temp))
    return out


def write_system(frames: list, idx: list[int], path: Path) -> Path:
    """The chosen frames as one deepmd/npy system."""
    atoms = frames[0][0]
    types = np.array([TYPE_MAP.index(s) for s in atoms.get_chemical_symbols()])
    data = {"atom_names": TYPE_MAP, "atom_numbs": [int((types == i).sum()) for i in range(2)],
            "atom_types": types, "orig": np.zeros(3),
            "cells": np.array([frames[i][0].cell[:] for i in idx]),
            "coords": np.array([frames[i][0].positions for i in idx]),
            "energies": np.array([frames[i][1] for i in idx]), "forces": np.array([frames[i][2] for i in idx])}
    dpdata.LabeledSystem(data=data).to("deepmd/npy", str(path))
    return path


def train(system: Path, run_dir: Path, seed: int, steps: int):
    """A tiny DeePMD model (TF), frozen; returns a DeepPot."""
    from deepmd.infer import DeepPot

    from seiflow.schemas.campaign import TrainingConfig
    from seiflow.training import run
    from seiflow.training.inputs import build_input

    config = TrainingConfig(rcut=5.0, descriptor_neurons=[4, 8], fitting_neurons=[16, 16], decay_steps=100)
    run_dir.mkdir(parents=True)
    inp = build_input(config, TYPE_MAP, [system], [48, 48], seed=seed, numb_steps=steps, save_freq=steps)
    (run_dir / "input.json").write_text(json.dumps(inp))
    run.train(run_dir, "tensorflow")
    frozen, _ = run.freeze(run_dir, "tensorflow")
    return DeepPot(str(frozen))


def predict(model, frames: list, idx: list[int]) -> np.ndarray:
    """Forces (n, natoms, 3) for the chosen frames."""
    atoms = frames[0][0]
    types = [TYPE_MAP.index(s) for s in atoms.get_chemical_symbols()]
    coords = np.array([frames[i][0].positions.reshape(-1) for i in idx])
    cells = np.array([frames[i][0].cell[:].reshape(-1) for i in idx])
    return model.eval(coords, cells, types)[1].reshape(len(idx), -1, 3)


def pick(strategy: str, frames: list, unlabelled: list[int], models: list, args, rng) -> list[int]:
    """The next ``args.batch`` frames to label."""
    if strategy == "random" or len(unlabelled) <= args.batch:
        return sorted(rng.choice(unlabelled, size=min(args.batch, len(unlabelled)), replace=False).tolist())
    forces = np.array([predict(m, frames, unlabelled) for m in models])  # (models, frames, atoms, 3)
    devi = np.sqrt(np.mean(np.sum((forces - forces.mean(0)) ** 2, axis=-1), axis=0)).max(axis=1)
    cand = [i for i, d in zip(unlabelled, devi, strict=True) if args.lo <= d <= args.hi]
    if len(cand) < args.batch:  # too few candidates: take the highest deviations below hi
        order = [unlabelled[j] for j in np.argsort(-devi) if devi[j] <= args.hi] or unlabelled
        cand = list(dict.fromkeys(cand + order))[: max(args.batch, len(cand))]
    if strategy == "dpgen":
        return sorted(rng.choice(cand, size=args.batch, replace=False).tolist())
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.selection.fps import DistanceHistogramDescriptor, farthest_point_sampling

    by_devi = sorted(cand, key=lambda i: -devi[unlabelled.index(i)])
    feats = DistanceHistogramDescriptor(TYPE_MAP).features(
        [AseAtomsAdaptor.get_structure(frames[i][0]) for i in by_devi])
    return sorted(by_devi[j] for j in farthest_point_sampling(feats, args.batch, start=0))


def campaign(strategy: str, pool: list, test: list, work: Path, args) -> list[tuple[int, float]]:
    """(labels, force RMSE) per round until the target or the round limit."""
    rng = np.random.default_rng(args.seed)
    labelled = sorted(rng.choice(len(pool), size=args.initial, replace=False).tolist())
    ref = np.array([f[2] for f in test])
    curve = []
    for r in range(args.rounds + 1):
        system = write_system(pool, labelled, work / f"{strategy}_r{r}" / "data")
        n_models = 1 if strategy == "random" else args.models
        models = [train(system, work / f"{strategy}_r{r}" / f"m{k}", args.seed + k, args.steps)
                  for k in range(n_models)]
        rmse = float(np.sqrt(np.mean((predict(models[0], test, list(range(len(test)))) - ref) ** 2)))
        curve.append((len(labelled), rmse))
        print(f"  {strategy} round {r}: {len(labelled)} labels, force RMSE {rmse:.3f} eV/Å", flush=True)
        unlabelled = [i for i in range(len(pool)) if i not in labelled]
        if rmse <= args.target or not unlabelled or r == args.rounds:
            break
        labelled = sorted(labelled + pick(strategy, pool, unlabelled, models, args, rng))
    return curve


def labels_needed(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, rmse in curve if rmse <= target), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--temps", default="300,600,900")
    p.add_argument("--pool-frames", type=int, default=40, help="pool frames per temperature")
    p.add_argument("--test-frames", type=int, default=10, help="reference frames per temperature")
    p.add_argument("--stride", type=int, default=5)
    p.add_argument("--models", type=int, default=4)
    p.add_argument("--initial", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--target", type=float, default=0.12, help="force RMSE target, eV/Å")
    p.add_argument("--lo", type=float, default=0.05, help="force trust level lo, eV/Å")
    p.add_argument("--hi", type=float, default=0.5, help="force trust level hi, eV/Å")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    one_thread()
    print(f"machine: {machine()}")
    temps = [float(t) for t in args.temps.split(",")]
    pool = md_frames(temps, args.pool_frames, args.stride, args.seed)
    test = md_frames(temps, args.test_frames, args.stride, args.seed + 100)
    print(f"pool {len(pool)} frames, reference {len(test)} frames (Li32Cl32, CHGNet, T = {temps} K)")
    need = {}
    with tempfile.TemporaryDirectory(prefix="bench-al-") as tmp:
        for strategy in ("seiflow", "dpgen", "random"):
            curve = campaign(strategy, pool, test, Path(tmp), args)
            need[strategy] = labels_needed(curve, args.target)
            print(f"{strategy}: labels to reach {args.target} eV/Å: {need[strategy] or 'not reached'}; "
                  f"curve {[(n, round(e, 3)) for n, e in curve]}", flush=True)
    s, d, r = need["seiflow"], need["dpgen"], need["random"]
    print(f"labels(seiflow) / labels(DP-GEN rule): {s / d:.2f} (goal <= 0.7)" if s and d
          else "labels(seiflow) / labels(DP-GEN rule): n/a (target not reached by both)")
    print(f"ratio: {s / r:.2f} (labels seiflow / random; goal <= 0.33)" if s and r
          else "ratio: n/a (target not reached by both seiflow and random; raise --rounds or --target)")


if __name__ == "__main__":
    main()
