"""Benchmark 1: labels needed to reach a force-RMSE target: seiflow's selection vs random vs DP-GEN's rule.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_label_efficiency.py [--conditions ...] [--models 3]
[--batch 2] [--rounds 6] [--steps 1000] [--target-factor 0.6] [--cache DIR]``.
The pool is CHGNet MD (ASE Langevin, 2 fs) of Li32Cl32 under several conditions (``--conditions``
T:volume:rattle:pool:test): by default most frames at 300 K, a few at 900 K, compressed, expanded and from a
rattled 1,500 K start, as an exploration pool is dominated by well-sampled configurations; the held-out
reference set is other MD runs, the same number of frames per condition. Every frame is labelled by CHGNet
once, so a strategy only decides which labels it "buys". All start from the same ``--initial`` 300 K frames
(a campaign's reference MD) and seeds. Each round trains small DeePMD models (TF, in worker processes that
import TF once), measures the models' mean force RMSE on the reference set (every strategy trains ``--models`` per round), then picks up to ``--batch`` frames:
seiflow = ``seiflow.selection.selector_from_config`` (the campaign's selector: trust levels, geometry
filters, farthest-point sampling on model 0's DeePMD descriptor from the highest deviation); DP-GEN = every
frame between the same trust levels, a random pick; random = any unlabelled frame. The target is
``--target-factor`` x the initial model's RMSE. Prints the learning curves, then labels(seiflow) /
labels(DP-GEN rule) (goal <= 0.7) and last labels(seiflow) / labels(random) (goal <= 1/3).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import dpdata
import numpy as np
from _common import machine, one_thread

ELEMENTS = ("Li", "In", "Cl")  # the campaign's type_map order; a pool uses those it contains
STRATEGIES = ("seiflow", "dpgen", "random")
# Most of the pool near equilibrium (as an exploration's frames are), a few frames from conditions a
# model trained there has not seen; the reference set covers every condition equally.
CONDITIONS = "300:1:0:36:6,900:1:0:8:6,600:0.88:0:4:6,600:1.12:0:4:6,1500:1:0.25:4:6"
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "licl_deepmd" / "Li32Cl32"


class Condition(NamedTuple):
    """One part of the pool: MD at ``temp`` K in the cell scaled to ``volume`` x, started from positions
    rattled by ``rattle`` Å; ``pool`` frames go to the pool and ``test`` (another run) to the reference set."""

    temp: float
    volume: float
    rattle: float
    pool: int
    test: int

    @classmethod
    def parse(cls, text: str) -> Condition:
        try:
            t, v, r, p, n = text.split(":")
            return cls(float(t), float(v), float(r), int(p), int(n))
        except ValueError:
            raise SystemExit(f"--conditions entry {text!r}: give T:volume:rattle:pool:test, "
                             "e.g. 300:1.0:0:36:6") from None


def type_map(frames: list) -> list[str]:
    """The DeePMD type map of a pool's frames (all share one composition): ELEMENTS they contain, in order."""
    present = set(frames[0][0].get_chemical_symbols())
    return [e for e in ELEMENTS if e in present]


def start_atoms(structure: Path | None):
    """The MD start: ``structure`` (any file ASE reads, e.g. the demo's interface POSCAR) or Li32Cl32."""
    from ase import Atoms
    from ase.io import read

    if structure is not None:
        return read(structure)
    raw = dpdata.LabeledSystem(str(DATA), fmt="deepmd/npy")
    return Atoms([raw["atom_names"][t] for t in raw["atom_types"]], positions=raw["coords"][0],
                 cell=raw["cells"][0], pbc=True)


def md_frames(conditions: list[Condition], which: str, stride: int, seed: int, cache: Path | None = None,
              structure: Path | None = None) -> list:
    """CHGNet-labelled frames (every ``stride`` steps of Langevin MD, 2 fs): ``which`` = pool or test counts.

    Frames are (atoms, energy, forces, condition index). With ``cache`` they are kept in an .npz named by
    the settings and read back on the next run (the pool is input data: every strategy labels from it).
    """
    from ase import Atoms, units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    first = start_atoms(structure)
    symbols = first.get_chemical_symbols()
    tag = "_".join(f"{c.temp:g}-{c.volume:g}-{c.rattle:g}-{getattr(c, which)}" for c in conditions)
    name = f"{which}-{first.get_chemical_formula()}-{tag}-{stride}-{seed}.npz"
    if cache is not None and (cache / name).exists():
        d = np.load(cache / name)
        return [(Atoms(symbols, positions=p, cell=c, pbc=True), float(e), f, int(k))
                for p, c, e, f, k in zip(d["pos"], d["cell"], d["energy"], d["forces"], d["cond"], strict=True)]
    from seiflow.labelling.calculators import get_calculator

    calc, out = get_calculator("chgnet"), []
    for k, cond in enumerate(conditions):
        rng = np.random.default_rng(seed + k)
        atoms = Atoms(symbols, positions=first.positions, cell=first.cell[:], pbc=True)
        atoms.set_cell(atoms.cell[:] * cond.volume ** (1 / 3), scale_atoms=True)
        atoms.positions += rng.normal(0, cond.rattle, atoms.positions.shape) if cond.rattle else 0
        atoms.calc = calc
        MaxwellBoltzmannDistribution(atoms, temperature_K=cond.temp, rng=rng)
        dyn = Langevin(atoms, 2 * units.fs, temperature_K=cond.temp, friction=0.02, rng=rng)
        for _ in range(getattr(cond, which)):
            dyn.run(stride)
            out.append((atoms.copy(), atoms.get_potential_energy(), atoms.get_forces().copy(), k))
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cache / name, pos=[f[0].positions for f in out], cell=[f[0].cell[:] for f in out],
                 energy=[f[1] for f in out], forces=[f[2] for f in out], cond=[f[3] for f in out])
    return out


def write_system(frames: list, idx: list[int], path: Path) -> Path:
    """The chosen frames as one deepmd/npy system."""
    atoms, names = frames[0][0], type_map(frames)
    types = np.array([names.index(s) for s in atoms.get_chemical_symbols()])
    data = {"atom_names": names, "atom_numbs": [int((types == i).sum()) for i in range(len(names))],
            "atom_types": types, "orig": np.zeros(3),
            "cells": np.array([frames[i][0].cell[:] for i in idx]),
            "coords": np.array([frames[i][0].positions for i in idx]),
            "energies": np.array([frames[i][1] for i in idx]), "forces": np.array([frames[i][2] for i in idx])}
    dpdata.LabeledSystem(data=data).to("deepmd/npy", str(path))
    return path


class Model(NamedTuple):
    pot: Any  # deepmd.infer.DeepPot
    path: Path


_TF: dict = {}
SECONDS_FILE = "train_seconds"  # written next to frozen.pb by the worker


def _train_in_worker(run_dir: str) -> str:
    """``dp train`` + ``dp freeze`` of ``run_dir/input.json`` inside a worker process (TF imported once)."""
    if not _TF:
        from deepmd.tf.entrypoints.freeze import freeze
        from deepmd.tf.entrypoints.train import train
        from deepmd.tf.env import tf

        _TF.update(tf=tf, train=train, freeze=freeze)
    tf, cwd, start = _TF["tf"], Path.cwd(), time.perf_counter()
    try:
        os.chdir(run_dir)
        with tf.Graph().as_default():
            _TF["train"](INPUT="input.json", init_model=None, restart=None, output="out.json",
                         init_frz_model=None, mpi_log="master", log_level=40, log_path=None,
                         skip_neighbor_stat=True)
        with tf.Graph().as_default():
            _TF["freeze"](checkpoint_folder=".", output="frozen.pb")
    finally:
        os.chdir(cwd)
    (Path(run_dir) / SECONDS_FILE).write_text(f"{time.perf_counter() - start:.3f}")
    return str(Path(run_dir) / "frozen.pb")


def train_seconds(model: Model) -> float:
    """Seconds ``model`` took to train and freeze in its worker (TF's import not counted)."""
    return float((model.path.parent / SECONDS_FILE).read_text())


class Trainer:
    """Tiny DeePMD models (TF), trained and frozen by ``workers`` long-lived processes.

    ``dp train`` + ``dp freeze`` as subprocesses cost ~30-40 s a model here, mostly TF start-up; in a
    worker that imported TF once, a model costs its data statistics, graph build and steps. Models are
    cached by (frames, seed): strategies holding the same labels (round 0) share them, as they would
    share a real round 0. Short training needs a fast schedule: lr ``start_lr`` -> ``stop_lr`` over
    ``steps`` (the campaign's 1e-3 -> 3.5e-8 is meant for 10^5 steps).
    """

    def __init__(self, work: Path, steps: int, workers: int = 2, start_lr: float = 1e-2, stop_lr: float = 1e-4):
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor

        self.work, self.steps, self.start_lr, self.stop_lr = work, steps, start_lr, stop_lr
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.futures: dict = {}
        self.models: dict = {}
        self.lock = threading.Lock()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    @property
    def trained(self) -> int:
        return len(self.futures)

    def submit(self, frames: list, idx: list[int], seed: int):
        """Start training on ``frames[idx]`` with ``seed`` (once per key); returns its future."""
        from seiflow.schemas.campaign import TrainingConfig
        from seiflow.training.inputs import build_input

        key = (tuple(idx), seed)
        with self.lock:
            if key in self.futures:
                return self.futures[key]
            run_dir = self.work / f"model{len(self.futures):04d}"
            system = write_system(frames, idx, run_dir / "data")
            config = TrainingConfig(rcut=5.0, descriptor_neurons=[4, 8], fitting_neurons=[16, 16],
                                    start_lr=self.start_lr, stop_lr=self.stop_lr,
                                    decay_steps=max(1, self.steps // 20))
            names = type_map(frames)
            inp = build_input(config, names, [system.resolve()], [48] * len(names), seed=seed,
                              numb_steps=self.steps, save_freq=self.steps, disp_freq=self.steps)
            (run_dir / "input.json").write_text(json.dumps(inp))
            self.futures[key] = self.pool.submit(_train_in_worker, str(run_dir))
            return self.futures[key]

    def ensemble(self, frames: list, idx: list[int], seeds: list[int]) -> list[Model]:
        """The models for these seeds, trained side by side."""
        from deepmd.infer import DeepPot

        futures = [(seed, self.submit(frames, idx, seed)) for seed in seeds]
        out = []
        for seed, future in futures:
            path = Path(future.result())
            with self.lock:
                key = (tuple(idx), seed)
                if key not in self.models:
                    self.models[key] = Model(DeepPot(str(path)), path)
                out.append(self.models[key])
        return out

    def model(self, frames: list, idx: list[int], seed: int) -> Model:
        return self.ensemble(frames, idx, [seed])[0]


def predict(model, frames: list, idx: list[int]) -> np.ndarray:
    """Forces (n, natoms, 3) for the chosen frames."""
    atoms, names = frames[0][0], type_map(frames)
    types = [names.index(s) for s in atoms.get_chemical_symbols()]
    coords = np.array([frames[i][0].positions.reshape(-1) for i in idx])
    cells = np.array([frames[i][0].cell[:].reshape(-1) for i in idx])
    return model.pot.eval(coords, cells, types)[1].reshape(len(idx), -1, 3)


def force_deviation(models: list, frames: list, idx: list[int]) -> np.ndarray:
    """DeePMD's per-atom force deviation (frames, atoms), eV/Å: the ensemble's std of the force vector."""
    forces = np.array([predict(m, frames, idx) for m in models])  # (models, frames, atoms, 3)
    return np.sqrt(np.mean(np.sum((forces - forces.mean(0)) ** 2, axis=-1), axis=0))


def pick(strategy: str, frames: list, unlabelled: list[int], models: list, args, rng) -> list[int]:
    """The next frames to label (at most ``args.batch``)."""
    if strategy == "random":
        return sorted(rng.choice(unlabelled, size=min(args.batch, len(unlabelled)), replace=False).tolist())
    per_atom = force_deviation(models, frames, unlabelled)
    devi = per_atom.max(axis=1)
    print(f"  {strategy}: max_devi_f over {len(devi)} unlabelled frames: min {devi.min():.3f}, median "
          f"{np.median(devi):.3f}, max {devi.max():.3f} eV/Å; {int(((devi >= args.lo) & (devi < args.hi)).sum())} "
          f"between the trust levels", flush=True)
    if strategy == "dpgen":  # DP-GEN: every frame between the trust levels is a candidate, a random pick
        cand = [i for i, d in zip(unlabelled, devi, strict=True) if args.lo <= d < args.hi]
        return sorted(rng.choice(cand, size=min(args.batch, len(cand)), replace=False).tolist()) if cand else []
    return seiflow_pick(frames, unlabelled, per_atom, models[0].path, args)


def seiflow_pick(frames: list, unlabelled: list[int], per_atom: np.ndarray, model: Path, args) -> list[int]:
    """seiflow's own selector (``selector_from_config`` with the campaign defaults, these trust levels and
    ``max_candidates = --batch``): trust levels, geometry filters, FPS on the DeePMD descriptor of model 0."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.schemas.campaign import SelectionConfig
    from seiflow.schemas.exploration import (
        Deviation,
        ExplorationResult,
        ExplorationTask,
        TaskStatus,
    )
    from seiflow.selection.selector import selector_from_config

    config = SelectionConfig(f_trust_lo=args.lo, f_trust_hi=args.hi, max_candidates=args.batch)
    selector = selector_from_config(config, type_map(frames), model_path=model)
    task = ExplorationTask(task_id="pool", seed_name="pool", temperature=600, nsteps=max(unlabelled) + 1,
                           out_freq=1)
    deviation = Deviation(steps=unlabelled, max_devi_f=per_atom.max(axis=1).tolist(),
                          avg_devi_f=per_atom.mean(axis=1).tolist(), max_devi_v=[0.0] * len(unlabelled))
    result = ExplorationResult(task=task, status=TaskStatus.COMPLETED, n_frames=len(unlabelled),
                               deviation=deviation, kept_steps=unlabelled)
    structures = []
    for i in unlabelled:
        structure = AseAtomsAdaptor.get_structure(frames[i][0])
        structure.properties["provenance"] = {"origin": "pool", "frame_index": i}
        structures.append(structure)
    _, picked = selector.select([result], structures)
    return sorted(s.properties["provenance"]["frame_index"] for s in picked)


def campaign(strategy: str, pool: list, test: list, trainer: Trainer, target: float, seed: int, args) -> list:
    """(labels, force RMSE) per round until ``target`` or the round limit."""
    rng = np.random.default_rng(seed)
    labelled = list(range(args.initial))  # the first frames of the first condition, as a reference MD gives
    curve = []
    for r in range(args.rounds + 1):
        models = trainer.ensemble(pool, labelled, [seed + k for k in range(args.models)])
        rmse = float(np.mean([force_rmse(m, test) for m in models]))  # less seed noise than one model
        curve.append((len(labelled), rmse))
        by_condition = np.bincount([pool[i][3] for i in labelled], minlength=max(f[3] for f in pool) + 1)
        print(f"  seed {seed} {strategy} round {r}: {len(labelled)} labels (per condition {by_condition.tolist()}), "
              f"force RMSE {rmse:.3f} eV/Å", flush=True)
        unlabelled = [i for i in range(len(pool)) if i not in labelled]
        if rmse <= target or not unlabelled or r == args.rounds:
            break
        new = pick(strategy, pool, unlabelled, models, args, rng)
        if not new:
            print(f"  {strategy} round {r}: no candidates between the trust levels; stops", flush=True)
            break
        labelled = sorted(labelled + new)
    return curve


def force_rmse(model, test: list) -> float:
    ref = np.array([f[2] for f in test])
    return float(np.sqrt(np.mean((predict(model, test, list(range(len(test)))) - ref) ** 2)))


def labels_needed(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, rmse in curve if rmse <= target), None)


def pool_and_reference(args) -> tuple[list, list]:
    """The CHGNet pool and the held-out reference set of ``args.conditions`` (cached in ``args.cache``)."""
    start = time.perf_counter()
    conditions = [Condition.parse(c) for c in args.conditions.split(",")]
    pool = md_frames(conditions, "pool", args.stride, args.seed, args.cache, args.structure)
    test = md_frames(conditions, "test", args.stride, args.seed + 100, args.cache, args.structure)
    formula = pool[0][0].get_chemical_formula()
    print(f"pool {len(pool)} frames, reference {len(test)} frames ({formula}, CHGNet; T:volume:rattle:pool:test "
          f"{args.conditions}), {time.perf_counter() - start:.0f} s", flush=True)
    return pool, test


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conditions", default=CONDITIONS,
                   help="comma-separated T:volume:rattle:pool:test (K, x cell volume, Å, frames, frames)")
    p.add_argument("--structure", type=Path, default=None,
                   help="MD start of the pool (any file ASE reads, e.g. the demo's interface POSCAR; "
                        "default: Li32Cl32)")
    p.add_argument("--stride", type=int, default=3, help="MD steps between frames")
    p.add_argument("--models", type=int, default=3)
    p.add_argument("--initial", type=int, default=2)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2, help="training processes side by side")
    p.add_argument("--target", type=float, default=None,
                   help="force RMSE target, eV/Å (default: --target-factor x the RMSE of the model "
                        "trained on the initial frames)")
    p.add_argument("--target-factor", type=float, default=0.6)
    p.add_argument("--lo", type=float, default=0.05, help="force trust level lo, eV/Å")
    p.add_argument("--hi", type=float, default=0.5, help="force trust level hi, eV/Å")
    p.add_argument("--seed", type=int, default=1, help="seed of the pool's MD")
    p.add_argument("--seeds", default="1", help="comma-separated model/pick seeds; labels are averaged")
    p.add_argument("--cache", type=Path, default=None, help="keep the CHGNet pool here for later runs")
    args = p.parse_args()
    one_thread()
    print(f"machine: {machine()}")
    start = time.perf_counter()
    pool, test = pool_and_reference(args)
    seeds = [int(x) for x in args.seeds.split(",")]
    need: dict = {name: [] for name in STRATEGIES}
    with tempfile.TemporaryDirectory(prefix="bench-al-") as tmp:
        trainer = Trainer(Path(tmp), args.steps, args.workers)
        try:
            for seed in seeds:
                for strategy, (curve, target) in one_seed(seed, pool, test, trainer, args).items():
                    need[strategy].append(labels_needed(curve, target))
                    print(f"seed {seed} {strategy}: labels to reach {target:.3f} eV/Å: "
                          f"{need[strategy][-1] or 'not reached'}; curve {[(n, round(e, 3)) for n, e in curve]}",
                          flush=True)
        finally:
            trainer.close()
    print(f"models trained: {trainer.trained}; wall {time.perf_counter() - start:.0f} s")
    cap = args.initial + (args.rounds + 1) * args.batch  # a strategy that never reached: at least this many
    total = {name: sum(n or cap for n in need[name]) for name in STRATEGIES}
    censored = {name: any(n is None for n in need[name]) for name in STRATEGIES}
    print("labels needed per seed (None: not reached in --rounds) "
          + ", ".join(f"{name} {need[name]}" for name in STRATEGIES))

    def ratio(a: str, b: str) -> str:
        """total labels a / total labels b; a bound when either did not always reach the target."""
        if censored[a] and censored[b]:
            return "n/a (neither always reached the target)"
        value = total[a] / total[b]
        sign = ">= " if censored[a] else "<= " if censored[b] else ""
        return f"{sign}{value:.2f}"

    print(f"labels(seiflow) / labels(DP-GEN rule): {ratio('seiflow', 'dpgen')} "
          f"(summed over {len(seeds)} seed(s); goal <= 0.7)")
    print(f"ratio: {ratio('seiflow', 'random')} (labels seiflow / random, summed over {len(seeds)} seed(s), "
          f"a strategy that never reached counted as {cap}; goal <= 0.33)")


def one_seed(seed: int, pool: list, test: list, trainer: Trainer, args) -> dict:
    """The three strategies from the same initial frames with model seeds ``seed``.. : (curve, target)."""
    from concurrent.futures import ThreadPoolExecutor

    target = args.target
    if target is None:
        first = float(np.mean([force_rmse(m, test) for m in trainer.ensemble(
            pool, list(range(args.initial)), [seed + k for k in range(args.models)])]))
        target = round(args.target_factor * first, 4)
        print(f"seed {seed}: initial {args.initial} frames: force RMSE {first:.3f} eV/Å -> target "
              f"{target:.3f} eV/Å ({args.target_factor} x)", flush=True)
    with ThreadPoolExecutor(len(STRATEGIES)) as threads:  # training runs in the worker processes
        curves = threads.map(lambda name: campaign(name, pool, test, trainer, target, seed, args), STRATEGIES)
        return {name: (curve, target) for name, curve in zip(STRATEGIES, curves, strict=True)}


if __name__ == "__main__":
    main()
