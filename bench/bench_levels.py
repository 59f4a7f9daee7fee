"""Benchmark 7 (issue 18): labels and wall time to a force-RMSE target: calibrated vs fixed vs adaptive levels.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_levels.py [--rounds 3] [--models 2] [--batch 4]
[--steps 500] [--target-factor 0.55] [--seeds 1] [--cache DIR]`` (the defaults: 9.5 min at load 6 with the
pool cached; quick: ``--rounds 1``, 3.6 min at load 5).
The pool, reference set, models and training are ``bench_label_efficiency.py``'s (imported from it): CHGNet
Langevin MD of Li32Cl32 under several conditions, every frame labelled by CHGNet once, so a strategy only
decides which labels it "buys"; tiny DeePMD models trained in worker processes. On the demo system:
``--structure DIR/interface.POSCAR`` (the demo campaign's 116-atom Li | Li3InCl6 interface, written by
``seiflow structures interface workflows/li_li3incl6_demo.yaml --out DIR``) with
``--conditions 300:1:0:40:10,600:1:0:12:6`` (the validation temperature and the hotter reference MD).

The three strategies start from the same ``--initial`` frames with the same model and pick seeds, train
``--models`` models a round, and buy at most ``--batch`` frames a round, a random pick among the round's
candidates (``TrustLevels.classify``: max force deviation between the lower level and ``--hi``). Only the
lower force level differs:

- fixed: ``--fixed-lo`` (0.15 eV/Å);
- adaptive: DP-GEN2's adaptive lower level (``seiflow.selection.trust_levels.AdaptiveLower`` with
  ``--adaptive-rate``: the top ``rate`` x frames non-failed frames are candidates);
- calibrated: every bought frame's deviation (of the ensemble that chose it) is paired with its true error
  (``seiflow.convergence.calibration_jobs.ensemble_errors``: max-atom force error of the ensemble mean);
  the pairs are fitted by ``fit_calibration`` (``--quantile``) and ``levels_from`` gives the lower level
  where the error bound reaches ``--f-error-lo``, once ``--min-pairs`` pairs with rank correlation
  ``--min-spearman`` exist; until then the adaptive level, as the campaign does (``plan_next_round``).
  As in the campaign, each batch of labels is a round with its own offset (the newest, merged with earlier
  batches until ``--min-round-pairs`` pairs, sets the level) and one shared slope; ``--pooled``: one line.
  ``--min-pairs`` defaults to ``--batch``: the campaign's 20 pairs are fewer than its 50 candidates a
  round, so its calibration also starts after the first round of new labels.
  The upper level stays ``--hi`` for all three, so the comparison is of the lower level alone.

Wall time of a strategy = training (the worker-measured seconds of every model it used, round 0's shared
ones included) + selection (deviations, levels, and for calibrated its errors and fit). Prints the learning
curves and, last, labels and wall-time ratios (summed over ``--seeds``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine, one_thread
from bench_label_efficiency import (
    CONDITIONS,
    Trainer,
    force_deviation,
    labels_needed,
    mean_rmse,
    pool_and_reference,
    train_seconds,
    type_map,
)

STRATEGIES = ("fixed", "adaptive", "calibrated")


def labelled_frames(frames: list, idx: list[int]) -> list:
    """``frames[idx]`` as seiflow's LabelledFrame (CHGNet labels), for ``ensemble_errors``."""
    from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

    return [LabelledFrame(species=frames[i][0].get_chemical_symbols(), positions=frames[i][0].positions,
                          cell=frames[i][0].cell[:], energy=frames[i][1], forces=frames[i][2],
                          reference=Reference(calculator="chgnet"),
                          provenance=Provenance(source="exploration", origin="pool", frame_index=i))
            for i in idx]


class Levels:
    """The lower force level of one strategy, and the calibration pairs it has gathered."""

    def __init__(self, strategy: str, args: argparse.Namespace, f_error_lo: float):
        from seiflow.schemas.campaign import CalibrationConfig
        from seiflow.selection.trust_levels import AdaptiveLower

        self.strategy, self.args = strategy, args
        self.adaptive = AdaptiveLower(rate=args.adaptive_rate)  # as selector_from_config builds it
        self.config = CalibrationConfig(f_error_lo=f_error_lo, f_error_hi=max(args.f_error_hi, 2 * f_error_lo),
                                        quantile=args.quantile, min_spearman=args.min_spearman,
                                        min_pairs=args.min_pairs or max(3, args.batch),
                                        min_round_pairs=getattr(args, "min_round_pairs", 10),
                                        per_round_offset=not getattr(args, "pooled", False))
        self.pairs: list[tuple[float, float, int]] = []  # (max_devi_f, max-atom force error eV/Å, purchase)
        self.purchases = 0  # each labelling batch is one round of the campaign's calibration

    def lower(self, devi: np.ndarray) -> tuple[float, str]:
        """The lower level for these per-frame deviations, and how it was set."""
        if self.strategy == "fixed":
            return self.args.fixed_lo, "fixed"
        if self.strategy == "calibrated":
            from seiflow.convergence.calibration import fit_calibration
            from seiflow.convergence.calibration_jobs import levels_from

            fit = None
            if len(self.pairs) >= 3:  # as calibrate_round: fit from 3 pairs, use it from min_pairs
                dev, err, rounds = np.array(self.pairs).T
                fit = fit_calibration(dev, err, self.config.quantile,
                                      rounds=rounds if self.config.per_round_offset else None,
                                      min_round_pairs=self.config.min_round_pairs).model_dump()
            levels = levels_from(fit, self.config)
            if levels:
                return levels["f_trust_lo"], (f"calibrated: {fit['n_pairs']} pairs, slope {fit['slope']:.2f}, "
                                              f"spearman {fit['spearman']:.2f}, coverage {fit['coverage']:.2f}")
            why = f"{len(self.pairs)} pairs" + (f", spearman {fit['spearman']:.2f}" if fit else "")
            return self.adaptive.lower_level(devi, self.args.hi), f"adaptive ({why}: not calibrated yet)"
        return self.adaptive.lower_level(devi, self.args.hi), "adaptive"

    def bought(self, frames: list, new: list[int], devi: dict[int, float], models: list) -> None:
        """Pair the new labels' deviations with the choosing ensemble's true errors (calibrated only)."""
        if self.strategy != "calibrated" or not new:
            return
        from seiflow.convergence.calibration_jobs import ensemble_errors

        errors = ensemble_errors(labelled_frames(frames, new), [m.path for m in models], type_map(frames))
        self.purchases += 1
        self.pairs += [(devi[i], float(e), self.purchases) for i, e in zip(new, errors[:, 0], strict=True)]


def candidates(unlabelled: list[int], per_atom: np.ndarray, lo: float, hi: float) -> list[int]:
    """The unlabelled frames seiflow's trust levels call candidates at lower level ``lo``."""
    from seiflow.schemas.exploration import Deviation
    from seiflow.selection.trust_levels import FrameClass, TrustLevels
    from seiflow.selection.trust_levels import Levels as Trust

    if lo >= hi:
        return []
    deviation = Deviation(steps=unlabelled, max_devi_f=per_atom.max(axis=1).tolist(),
                          avg_devi_f=per_atom.mean(axis=1).tolist(), max_devi_v=[0.0] * len(unlabelled))
    classes = TrustLevels(force=Trust(lo, hi)).classify(deviation, f_lo=lo)
    return [i for i, c in zip(unlabelled, classes, strict=True) if c == FrameClass.CANDIDATE]


def campaign(strategy: str, pool: list, test: list, trainer: Trainer, target: float, f_error_lo: float,
             seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One strategy's rounds until ``target``: curve of (labels, RMSE, wall s), seconds, levels used."""
    rng = np.random.default_rng(seed)
    levels = Levels(strategy, args, f_error_lo)
    labelled = list(range(args.initial))
    curve, used = [], []
    train_s = select_s = 0.0
    for r in range(args.rounds + 1):
        models = trainer.ensemble(pool, labelled, [seed + k for k in range(args.models)])
        train_s += sum(train_seconds(m) for m in models)
        rmse = mean_rmse(models, test)
        curve.append((len(labelled), rmse, train_s + select_s))
        print(f"  seed {seed} {strategy} round {r}: {len(labelled)} labels, force RMSE {rmse:.3f} eV/Å, "
              f"wall {train_s + select_s:.0f} s", flush=True)
        unlabelled = [i for i in range(len(pool)) if i not in labelled]
        if rmse <= target or not unlabelled or r == args.rounds:
            break
        start = time.perf_counter()
        per_atom = force_deviation(models, pool, unlabelled)
        devi = per_atom.max(axis=1)
        lo, how = levels.lower(devi)
        cand = candidates(unlabelled, per_atom, lo, args.hi)
        new = sorted(rng.choice(cand, size=min(args.batch, len(cand)), replace=False).tolist()) if cand else []
        levels.bought(pool, new, dict(zip(unlabelled, devi.tolist(), strict=True)), models)
        select_s += time.perf_counter() - start
        used.append(lo)
        print(f"  seed {seed} {strategy} round {r}: lower level {lo:.3f} eV/Å ({how}); {len(cand)} of "
              f"{len(unlabelled)} candidates (deviation {devi.min():.3f}-{devi.max():.3f}); bought "
              f"{len(new)} (conditions {[pool[i][3] for i in new]})", flush=True)
        if not new:
            print(f"  seed {seed} {strategy}: no candidates; stops", flush=True)
            break
        labelled = sorted(labelled + new)
    return {"curve": curve, "train_s": train_s, "select_s": select_s, "levels": used,
            "models": len(curve) * args.models}


def to_target(result: dict[str, Any], target: float) -> tuple[int | None, float | None]:
    """(labels, wall s) when the target was first met, or (None, None)."""
    n = labels_needed([(labels, rmse) for labels, rmse, _ in result["curve"]], target)
    wall = next((w for labels, rmse, w in result["curve"] if rmse <= target), None)
    return n, wall


def one_seed(seed: int, pool: list, test: list, trainer: Trainer, args: argparse.Namespace) -> dict:
    """The three strategies side by side from the same frames and seeds: {name: (result, target)}."""
    from concurrent.futures import ThreadPoolExecutor

    target = args.target
    if target is None:
        first = mean_rmse(trainer.ensemble(pool, list(range(args.initial)), [seed + k for k in range(args.models)]), test)
        target = round(args.target_factor * first, 4)
        print(f"seed {seed}: initial {args.initial} frames: force RMSE {first:.3f} eV/Å -> target "
              f"{target:.3f} eV/Å ({args.target_factor} x)", flush=True)
    f_error_lo = args.f_error_lo if args.f_error_lo is not None else round(3 * target, 4)
    print(f"seed {seed}: calibrated lower level where the {args.quantile} quantile of the max-atom force "
          f"error reaches {f_error_lo:.3f} eV/Å", flush=True)
    with ThreadPoolExecutor(len(STRATEGIES)) as threads:  # training runs in the worker processes
        results = threads.map(
            lambda name: campaign(name, pool, test, trainer, target, f_error_lo, seed, args), STRATEGIES)
        return {name: (result, target) for name, result in zip(STRATEGIES, results, strict=True)}


def ratio(a: list, b: list, cap_a: list, cap_b: list) -> str:
    """sum(a) / sum(b) over seeds, a None counted as its cap; a bound when either was not always reached."""
    ca, cb = any(x is None for x in a), any(x is None for x in b)
    if ca and cb:
        return "n/a (neither always reached the target)"
    total_a = sum(x if x is not None else c for x, c in zip(a, cap_a, strict=True))
    total_b = sum(x if x is not None else c for x, c in zip(b, cap_b, strict=True))
    sign = ">= " if ca else "<= " if cb else ""
    return f"{sign}{total_a / total_b:.2f}"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conditions", default=CONDITIONS,
                   help="comma-separated T:volume:rattle:pool:test (as bench_label_efficiency.py)")
    p.add_argument("--structure", type=Path, default=None,
                   help="MD start of the pool (any file ASE reads), e.g. the demo's interface: "
                        "`seiflow structures interface workflows/li_li3incl6_demo.yaml --out DIR` writes "
                        "DIR/interface.POSCAR (default: Li32Cl32)")
    p.add_argument("--stride", type=int, default=3, help="MD steps between frames")
    p.add_argument("--models", type=int, default=2, help="models per round (every strategy)")
    p.add_argument("--initial", type=int, default=2)
    p.add_argument("--batch", type=int, default=4, help="frames bought per round at most")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=500, help="training steps per model")
    p.add_argument("--workers", type=int, default=2, help="training processes side by side")
    p.add_argument("--target", type=float, default=None,
                   help="force RMSE target on the reference set, eV/Å (default: --target-factor x the "
                        "RMSE of the models trained on the initial frames)")
    p.add_argument("--target-factor", type=float, default=0.55)
    p.add_argument("--fixed-lo", type=float, default=0.15, help="the fixed lower force level, eV/Å")
    p.add_argument("--hi", type=float, default=1.0, help="upper force level of all three, eV/Å")
    p.add_argument("--adaptive-rate", type=float, default=0.05,
                   help="DP-GEN2's adaptive lower level: fraction of frames made candidates")
    p.add_argument("--f-error-lo", type=float, default=None,
                   help="calibration target for the lower level (max-atom force error, eV/Å; default 3 x "
                        "--target: the largest atom error of a 64-atom frame whose components have that RMSE)")
    p.add_argument("--f-error-hi", type=float, default=0.6,
                   help="calibration's upper error (only levels_from's check; at least 2 x --f-error-lo)")
    p.add_argument("--quantile", type=float, default=0.9)
    p.add_argument("--min-pairs", type=int, default=None,
                   help="pairs before the fit sets the level (default --batch, at least 3: one round of "
                        "labels, as the campaign's 20 of its 50 candidates)")
    p.add_argument("--min-spearman", type=float, default=0.3)
    p.add_argument("--min-round-pairs", type=int, default=10,
                   help="pairs the newest offset is fitted on (the campaign's selection.calibration default)")
    p.add_argument("--pooled", action="store_true",
                   help="one line through every pair instead of one slope and the newest round's offset")
    p.add_argument("--seed", type=int, default=1, help="seed of the pool's MD")
    p.add_argument("--seeds", default="1", help="comma-separated model/pick seeds; summed in the ratios")
    p.add_argument("--cache", type=Path, default=None, help="keep the CHGNet pool here for later runs")
    return p.parse_args()


def main() -> None:
    args = parse()
    one_thread()
    print(f"machine: {machine()}")
    start = time.perf_counter()
    pool, test = pool_and_reference(args)
    seeds = [int(x) for x in args.seeds.split(",")]
    labels: dict[str, list] = {name: [] for name in STRATEGIES}
    wall: dict[str, list] = {name: [] for name in STRATEGIES}
    wall_cap: dict[str, list] = {name: [] for name in STRATEGIES}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-levels-") as tmp:
        trainer = Trainer(Path(tmp), args.steps, args.workers)
        try:
            for seed in seeds:
                for name, (result, target) in one_seed(seed, pool, test, trainer, args).items():
                    n, w = to_target(result, target)
                    labels[name].append(n)
                    wall[name].append(w)
                    wall_cap[name].append(result["curve"][-1][2])
                    curve = [(k, round(e, 3), round(s)) for k, e, s in result["curve"]]
                    print(f"seed {seed} {name}: target {target:.3f} eV/Å: labels {n or 'not reached'}, wall "
                          f"{f'{w:.0f} s' if w is not None else 'not reached'}; training {result['train_s']:.0f} s "
                          f"({result['models']} models), selection {result['select_s']:.1f} s; lower levels "
                          f"{[round(x, 3) for x in result['levels']]}; curve (labels, RMSE, wall s) {curve}",
                          flush=True)
                    rows.append((seed, name, target, n, w, result))
        finally:
            trainer.close()
    print(f"models trained: {trainer.trained}; elapsed {time.perf_counter() - start:.0f} s")
    print("| seed | strategy | target eV/Å | labels to target | wall to target s | curve: labels (RMSE) |")
    print("|---|---|---:|---:|---:|---|")
    for seed, name, target, n, w, result in rows:
        curve = ", ".join(f"{k} ({e:.3f})" for k, e, _ in result["curve"])
        print(f"| {seed} | {name} | {target:.3f} | {n or 'not reached'} | "
              f"{f'{w:.0f}' if w is not None else 'not reached'} | {curve} |")
    cap = [args.initial + (args.rounds + 1) * args.batch] * len(seeds)  # not reached: at least this many
    print(f"(sums over {len(seeds)} seed(s); not reached counts as {cap[0]} labels and its whole wall time, "
          "which makes the ratio a bound)")
    print(f"wall(calibrated) / wall(adaptive): {ratio(wall['calibrated'], wall['adaptive'], wall_cap['calibrated'], wall_cap['adaptive'])}")
    print(f"wall(calibrated) / wall(fixed): {ratio(wall['calibrated'], wall['fixed'], wall_cap['calibrated'], wall_cap['fixed'])}")
    print(f"labels(calibrated) / labels(adaptive): {ratio(labels['calibrated'], labels['adaptive'], cap, cap)}")
    print(f"ratio: {ratio(labels['calibrated'], labels['fixed'], cap, cap)} (labels calibrated / labels fixed)")


if __name__ == "__main__":
    main()
