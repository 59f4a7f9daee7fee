"""Benchmark 1: labels to a force-RMSE target on the demo interface: seiflow vs DP-GEN, DP-GEN2 and random.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_label_efficiency.py [--seeds 1,2,3] [--rounds 5]
[--batch 4] [--models 2] [--steps 3000] [--target-pool 1.1] [--cache DIR]``.
The pool is CHGNet Langevin MD (2 fs) of the demo campaign's interface (``--campaign``, built by
``seiflow structures interface`` and cached; 116 atoms, Li | Li3InCl6) at the validation temperature and
hotter, a frame every ``--stride`` steps so that each run follows the interface's reaction (``--conditions``
T:volume:rattle:pool:test); the held-out reference set is other MD runs of the same conditions. Every frame is
labelled by CHGNet once, so a strategy only decides which labels it "buys". All start from the same
``--initial`` 300 K frames (a campaign's reference MD) and seeds, train ``--models`` small DeePMD models a
round (TF, worker processes that import TF once; the same trainer for all), measure their mean force RMSE
on the reference set, and buy at most ``--batch`` frames a round:

- ``seiflow``: the campaign's own selection: its selector (``selector_from_config``: trust levels, geometry
  filters, farthest-point sampling on model 0's DeePMD descriptor) with the lower level from calibration
  (``fit_calibration``/``levels_from`` on the (deviation, true max-atom error) pairs of the frames it
  bought, ``f_error_lo`` scaled as the campaign's: ``--target`` x f_error_lo / its force target), DP-GEN2's
  adaptive level (the campaign's ``adaptive_rate``) until the fit holds;
- ``dpgen2``: DP-GEN2's adaptive lower level (the campaign's ``adaptive_rate``), a random pick among candidates;
- ``dpgen-demo`` / ``dpgen-study``: DP-GEN's fixed levels at the shipped campaigns' values (demo 0.15/1.0,
  study 0.10/0.30 eV/Å), a random pick among the frames between them;
- ``random``: any unlabelled frame.

The target is ``--target-pool`` x the RMSE of the same models trained on the whole pool: labels to come within
10 % of what every frame teaches this trainer (``--target-factor F`` instead: F x the initial models' RMSE, the
earlier default, which on the interface sat below the trainer's plateau). Prints the learning curves, the labels each
strategy needed per seed, the test error at equal labels, and last the ratios (summed over seeds):
labels(seiflow) / labels(X) for each X, the goal being <= 1/3 of random.
``--structure licl`` gives the earlier 56-frame Li32Cl32 pool (``--conditions`` default for it: LICL_CONDITIONS).
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
STRATEGIES = ("seiflow", "dpgen2", "dpgen-demo", "dpgen-study", "random")
# Most of the pool near equilibrium (as an exploration's frames are), a few frames from conditions a
# model trained there has not seen; the reference set covers every condition equally.
CONDITIONS = "300:1:0:36:6,900:1:0:8:6,600:0.88:0:4:6,600:1.12:0:4:6,1500:1:0.25:4:6"  # the Li32Cl32 pool
# The interface as an exploration samples it: most frames at the validation temperature (300 K), a few from
# what production and the property runs reach (600 and 900 K, the cell compressed or expanded by 6 % at 450 K);
# the reference set weighs every condition equally. A frame every --stride steps (20 fs at stride 10), so each
# run follows the reaction. The earlier default, 300:1:0:30:8,450:1:0:20:6,600:1:0:20:6 (70 frames spread
# evenly), was learnt by every strategy from 6 labels: 2 a condition reached the trainer's plateau.
INTERFACE_CONDITIONS = "300:1:0:36:6,600:1:0:8:6,900:1:0:6:6,450:0.94:0:4:6,450:1.06:0:4:6"
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "workflows" / "li_li3incl6_demo.yaml"
STUDY = ROOT / "workflows" / "li_li3incl6_study.yaml"
DATA = ROOT / "tests" / "data" / "licl_deepmd" / "Li32Cl32"


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


class Strategy:
    """How one strategy picks a round's labels: its lower force level, candidates, and the pick itself."""

    def __init__(self, name: str, args: argparse.Namespace, target: float):
        from seiflow.schemas.campaign import load_campaign

        self.name, self.args = name, args
        demo = load_campaign(args.campaign)
        self.selection = demo.selection
        if name == "dpgen-study":
            study = load_campaign(STUDY).selection
            self.lo, self.hi = study.f_trust_lo, study.f_trust_hi
        else:
            self.lo, self.hi = demo.selection.f_trust_lo, demo.selection.f_trust_hi
        self.levels = None
        if name in ("seiflow", "dpgen2"):
            from bench_levels import Levels

            cal = demo.selection.calibration
            criterion = demo.convergence.criteria.get("force_rmse_mev_a")
            force_target = (criterion.target if criterion is not None else 160.0) / 1000  # eV/Å
            f_error_lo = round(target * (cal.f_error_lo if cal else 1.0) / force_target, 4)
            settings = argparse.Namespace(
                fixed_lo=self.lo, hi=self.hi, adaptive_rate=demo.selection.adaptive_rate,
                f_error_hi=2 * f_error_lo, quantile=cal.quantile if cal else 0.9,
                min_spearman=cal.min_spearman if cal else 0.3, min_pairs=args.min_pairs or max(3, args.batch),
                batch=args.batch, min_round_pairs=cal.min_round_pairs if cal else 10,
                pooled=not cal.per_round_offset if cal else False)
            self.levels = Levels("calibrated" if name == "seiflow" else "adaptive", settings, f_error_lo)
            self.f_error_lo = f_error_lo

    def pick(self, frames: list, unlabelled: list[int], models: list, rng) -> tuple[list[int], str]:
        """The next frames to label (at most ``--batch``) and a line saying how."""
        batch = self.args.batch
        if self.name == "random":
            return sorted(rng.choice(unlabelled, size=min(batch, len(unlabelled)), replace=False).tolist()), "random"
        per_atom = force_deviation(models, frames, unlabelled)
        devi = per_atom.max(axis=1)
        lo, how = (self.lo, "fixed") if self.levels is None else self.levels.lower(devi)
        if self.name == "seiflow":
            new = seiflow_pick(frames, unlabelled, per_atom, models[0].path, self.selection, lo, self.hi, batch)
            self.levels.bought(frames, new, dict(zip(unlabelled, devi.tolist(), strict=True)), models)
            n_cand = int(((devi >= lo) & (devi < self.hi)).sum())
        else:  # DP-GEN and DP-GEN2: every frame between the levels is a candidate, a random pick
            from bench_levels import candidates

            cand = candidates(unlabelled, per_atom, lo, self.hi)
            new = sorted(rng.choice(cand, size=min(batch, len(cand)), replace=False).tolist()) if cand else []
            n_cand = len(cand)
        return new, (f"levels {lo:.3f}/{self.hi:.2f} eV/Å ({how}); {n_cand} of {len(unlabelled)} candidates "
                     f"(deviation {devi.min():.3f}-{devi.max():.3f})")


def seiflow_pick(frames: list, unlabelled: list[int], per_atom: np.ndarray, model: Path, selection, lo: float,
                 hi: float, batch: int) -> list[int]:
    """The campaign's selector (``selector_from_config``: its filters and FPS descriptor) at levels lo/hi,
    ``max_candidates = batch``, no sanity frames (every strategy buys ``batch`` at most)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.schemas.exploration import (
        Deviation,
        ExplorationResult,
        ExplorationTask,
        TaskStatus,
    )
    from seiflow.selection.selector import selector_from_config

    if lo >= hi:
        return []
    config = selection.model_copy(update={"f_trust_lo": lo, "f_trust_hi": hi, "max_candidates": batch,
                                          "adaptive_lower": False, "n_sanity": 0})
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


def campaign(name: str, pool: list, test: list, trainer: Trainer, target: float, seed: int, args) -> list:
    """(labels, force RMSE) per round until ``target`` or the round limit."""
    rng = np.random.default_rng(seed)
    strategy = Strategy(name, args, target)
    labelled = list(range(args.initial))  # the first frames of the first condition, as a reference MD gives
    curve = []
    for r in range(args.rounds + 1):
        models = trainer.ensemble(pool, labelled, [seed + k for k in range(args.models)])
        rmse = mean_rmse(models, test)
        curve.append((len(labelled), rmse))
        by_condition = np.bincount([pool[i][3] for i in labelled], minlength=max(f[3] for f in pool) + 1)
        print(f"  seed {seed} {name} round {r}: {len(labelled)} labels (per condition {by_condition.tolist()}), "
              f"force RMSE {rmse:.3f} eV/Å", flush=True)
        unlabelled = [i for i in range(len(pool)) if i not in labelled]
        if rmse <= target or not unlabelled or r == args.rounds:
            break
        new, how = strategy.pick(pool, unlabelled, models, rng)
        print(f"  seed {seed} {name} round {r}: {how}; bought {len(new)}", flush=True)
        if not new:
            print(f"  seed {seed} {name}: no candidates; stops", flush=True)
            break
        labelled = sorted(labelled + new)
    return curve


def force_rmse(model, test: list) -> float:
    ref = np.array([f[2] for f in test])
    return float(np.sqrt(np.mean((predict(model, test, list(range(len(test)))) - ref) ** 2)))


def mean_rmse(models: list, test: list) -> float:
    """The models' mean force RMSE on ``test`` (less seed noise than one model's)."""
    return float(np.mean([force_rmse(m, test) for m in models]))


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


def at_equal_labels(curves: dict[str, list], a: str, b: str) -> tuple[int, float] | None:
    """(labels, RMSE(a) / RMSE(b)) at the largest label count both curves hold, or None."""
    common = {n for n, _ in curves[a]} & {n for n, _ in curves[b]}
    if not common:
        return None
    n = max(common)
    rmse = {name: next(e for k, e in curves[name] if k == n) for name in (a, b)}
    return n, rmse[a] / rmse[b]


def interface_structure(args) -> Path | None:
    """The pool's MD start: ``--structure``, the Li32Cl32 toy (``licl``), or the campaign's interface."""
    import subprocess
    import sys

    if args.structure == "licl":
        return None
    if args.structure:
        return Path(args.structure)
    out = (args.cache or Path(tempfile.mkdtemp(prefix="bench-al-iface-"))) / f"interface-{args.campaign.stem}"
    poscar = out / "interface.POSCAR"
    if not poscar.exists():
        seiflow = Path(sys.executable).parent / "seiflow"
        subprocess.run([str(seiflow), "structures", "interface", str(args.campaign), "--out", str(out), "--json"],
                       check=True, capture_output=True, text=True)
    return poscar


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--campaign", type=Path, default=DEMO,
                   help="the campaign whose interface, selection and calibration settings seiflow uses")
    p.add_argument("--structure", default=None,
                   help="MD start of the pool (any file ASE reads); 'licl' for the Li32Cl32 toy pool; "
                        "default: the campaign's interface")
    p.add_argument("--conditions", default=None,
                   help="comma-separated T:volume:rattle:pool:test (K, x cell volume, Å, frames, frames); "
                        f"default {INTERFACE_CONDITIONS} (licl: {CONDITIONS})")
    p.add_argument("--stride", type=int, default=None, help="MD steps between frames (default 10; licl 3)")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help=f"comma-separated, of {STRATEGIES}")
    p.add_argument("--models", type=int, default=2)
    p.add_argument("--initial", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3000,
                   help="training steps a model (at 1,000 the interface's curve is flat from 6 labels: 6 frames "
                        "teach as much as 58)")
    p.add_argument("--workers", type=int, default=2, help="training processes side by side")
    p.add_argument("--target", type=float, default=None,
                   help="force RMSE target, eV/Å (default: --target-pool x the RMSE of the models trained "
                        "on the whole pool)")
    p.add_argument("--target-pool", type=float, default=1.1,
                   help="the target as a multiple of the whole pool's RMSE (the best any pick can reach)")
    p.add_argument("--target-factor", type=float, default=None,
                   help="the target as a multiple of the initial models' RMSE instead")
    p.add_argument("--min-pairs", type=int, default=None,
                   help="seiflow's calibration pairs before the fit sets the level (default --batch, at least 3)")
    p.add_argument("--seed", type=int, default=1, help="seed of the pool's MD")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated model/pick seeds; labels are summed")
    p.add_argument("--cache", type=Path, default=None, help="keep the CHGNet pool and the interface here")
    args = p.parse_args(argv)
    toy = args.structure == "licl"
    args.conditions = args.conditions or (CONDITIONS if toy else INTERFACE_CONDITIONS)
    args.stride = args.stride or (3 if toy else 10)
    args.strategies = tuple(x.strip() for x in args.strategies.split(",") if x.strip())
    unknown = [x for x in args.strategies if x not in STRATEGIES]
    if unknown or "seiflow" not in args.strategies:
        p.error(f"--strategies {','.join(args.strategies)}: give seiflow and any of {', '.join(STRATEGIES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    one_thread()
    print(f"machine: {machine()}")
    start = time.perf_counter()
    args.structure = interface_structure(args)
    pool, test = pool_and_reference(args)
    seeds = [int(x) for x in args.seeds.split(",")]
    names = args.strategies
    need: dict = {name: [] for name in names}
    equal: dict = {name: [] for name in names if name != "seiflow"}
    with tempfile.TemporaryDirectory(prefix="bench-al-") as tmp:
        trainer = Trainer(Path(tmp), args.steps, args.workers)
        try:
            for seed in seeds:
                results = one_seed(seed, pool, test, trainer, args)
                curves = {name: curve for name, (curve, _) in results.items()}
                for name, (curve, target) in results.items():
                    need[name].append(labels_needed(curve, target))
                    print(f"seed {seed} {name}: labels to reach {target:.3f} eV/Å: "
                          f"{need[name][-1] or 'not reached'}; curve {[(n, round(e, 3)) for n, e in curve]}",
                          flush=True)
                for name in equal:
                    if (hit := at_equal_labels(curves, "seiflow", name)) is not None:
                        equal[name].append(hit)
        finally:
            trainer.close()
    print(f"models trained: {trainer.trained}; wall {time.perf_counter() - start:.0f} s")
    cap = args.initial + (args.rounds + 1) * args.batch  # a strategy that never reached: at least this many
    total = {name: sum(n or cap for n in need[name]) for name in names}
    censored = {name: any(n is None for n in need[name]) for name in names}
    print("labels needed per seed (None: not reached in --rounds): "
          + "; ".join(f"{name} {need[name]}" for name in names))
    for name, hits in equal.items():
        if hits:
            ratios = [r for _, r in hits]
            print(f"test error at equal labels, seiflow / {name}: mean {np.mean(ratios):.2f} over {len(hits)} "
                  f"seed(s) (at {[n for n, _ in hits]} labels: {[round(r, 2) for r in ratios]})")

    def ratio(a: str, b: str) -> str:
        """total labels a / total labels b; a bound when either did not always reach the target."""
        if censored[a] and censored[b]:
            return "n/a (neither always reached the target)"
        value = total[a] / total[b]
        sign = ">= " if censored[a] else "<= " if censored[b] else ""
        return f"{sign}{value:.2f}"

    for name in names:
        if name not in ("seiflow", "random"):
            print(f"labels(seiflow) / labels({name}): {ratio('seiflow', name)} (summed over {len(seeds)} seed(s))")
    if "random" in names:
        # no strategy buys less than one batch; where random met the target with the initial frames, all did
        fewest = sum(min(n or cap, args.initial + args.batch) for n in need["random"])
        print(f"floor of the ratio: {fewest / total['random']:.2f} (the fewest labels any strategy can have, "
              f"--initial + --batch a seed, over random's {total['random']}): a goal below it cannot be shown "
              "on this pool and trainer")
        print(f"ratio: {ratio('seiflow', 'random')} (labels seiflow / random, summed over {len(seeds)} seed(s), "
              f"a strategy that never reached counted as {cap}; goal <= 0.33)")


def one_seed(seed: int, pool: list, test: list, trainer: Trainer, args) -> dict:
    """The strategies from the same initial frames with model seeds ``seed``.. : {name: (curve, target)}."""
    from concurrent.futures import ThreadPoolExecutor

    target = args.target
    if target is None:
        seeds = [seed + k for k in range(args.models)]
        first = mean_rmse(trainer.ensemble(pool, list(range(args.initial)), seeds), test)
        if args.target_factor is not None:
            target, how = round(args.target_factor * first, 4), f"{args.target_factor} x the initial"
        else:
            whole = mean_rmse(trainer.ensemble(pool, list(range(len(pool))), seeds), test)
            target, how = round(args.target_pool * whole, 4), f"{args.target_pool} x the whole pool's {whole:.3f}"
        print(f"seed {seed}: initial {args.initial} frames: force RMSE {first:.3f} eV/Å -> target "
              f"{target:.3f} eV/Å ({how})", flush=True)
    names = args.strategies
    with ThreadPoolExecutor(len(names)) as threads:  # training runs in the worker processes
        curves = threads.map(lambda name: campaign(name, pool, test, trainer, target, seed, args), names)
        return {name: (curve, target) for name, curve in zip(names, curves, strict=True)}


if __name__ == "__main__":
    main()
