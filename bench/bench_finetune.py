"""Fine-tuning from a pretrained model vs training from scratch, and DPA-1 vs se_e2_a per training second (issue 29).

Run: ``.venv/bin/python bench/bench_finetune.py --home HOME [--campaign li_li3incl6_demo]`` where HOME is a
home folder whose store holds a finished ``seiflow demo`` (its labels are the data). Quick:
``--labels 8 16 --steps 20 --dpa1-steps 20 --pretrain-steps 20 --pretrain-md-steps 30``.

What it does, all on DeePMD-kit's PyTorch backend, one thread per process:

1. Exports the campaign's labels (``seiflow frames export``): the training pool (sources reference_md and
   exploration: the demo's own labels), the fixed validation set (source validation) and the independent test
   set (source test).
2. Pretrains a DPA-1 model (se_atten, ``--attn-layer`` layers, type embedding stripped) on CHGNet NVT MD of
   bulk crystals only, none of them the interface: the demo's bulks (bcc Li, In, LiCl, Li3InCl6) and the
   Li|Li6PS5Cl campaign's (Li2S, Li3P, Li6PS5Cl), each a supercell of >= 40 atoms at 600 and 900 K (ASE
   Langevin, 1 fs, ``--pretrain-md-steps`` steps, a frame every 10 after the first 20). Its type map is
   [Li, In, Cl, P, S]. It never sees the interface, the campaign's MD, or the validation/test frames (the
   same reference, CHGNet, labels both: the pretrained model starts from the right physics of the bulks).
3. For each label count in ``--labels`` (random subsets of the pool, one draw per ``--seed``), trains with the
   demo campaign's radial settings (``--steps`` for se_e2_a, ``--dpa1-steps`` for DPA-1: about equal seconds):
   se_e2_a from scratch, DPA-1 from scratch, and
   DPA-1 fine-tuned from the pretrained checkpoint (``dp --pt train --finetune``; DeePMD-kit re-fits the energy
   bias on the labels). Each run's last checkpoint is frozen and tested on the validation and test sets; with
   the most labels, also its checkpoints at 1/4, 1/2 and 3/4 of the steps, so those runs give validation force
   RMSE against cumulative training seconds (DeePMD's own per-interval wall times).
4. Times ``DeepPot.eval`` (µs/atom, one thread) on the test set's interface frames for the most-labels runs'
   DPA-1 and se_e2_a, frozen, and the se_e2_a compressed: the speed a distilled, compressed se_e2_a student
   (``training.distill``) would give a production run instead of its DPA-1 teacher.
5. Prints one JSON object, then the ratios: labels to the target (the validation force RMSE DPA-1 from
   scratch reaches with the most labels) fine-tuned / scratch; the test-set force RMSE at equal labels
   fine-tuned / scratch; and the validation force RMSE at equal training seconds, DPA-1 / se_e2_a.

The validation set decides (the target, the labels to it); the test set only reports. Not a test: timings
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, machine, one_thread

from seiflow.schemas.campaign import TrainingConfig, load_campaign
from seiflow.training import run
from seiflow.training.inputs import auto_sel, build_input

PRETRAIN_TYPES = ["Li", "In", "Cl", "P", "S"]
PRETRAIN_CIFS = [
    ROOT / "seiflow" / "data" / "structures" / "Li_bcc_Im-3m_a3.51.cif",
    ROOT / "seiflow" / "data" / "structures" / "In_I4mmm_a3.2523_c4.9461.cif",
    ROOT / "seiflow" / "data" / "structures" / "LiCl_Fm-3m_a5.1295.cif",
    ROOT / "seiflow" / "data" / "structures" / "Li3InCl6_C2m_ordered_conv20_OBELiXde5.cif",
    ROOT / "workflows" / "structures" / "Li2S_Fm-3m_a5.71.cif",
    ROOT / "workflows" / "structures" / "Li3P_P63mmc_a4.27_c7.59.cif",
    ROOT / "workflows" / "structures" / "Li6PS5Cl_C2_ordered_conv52_a9.859.cif",
]
_WALL = re.compile(r"Batch\s+(\d+): total wall time = ([0-9.]+) s")
VARIANTS = ("se_e2_a", "dpa1", "dpa1_finetuned")


def export(home: Path, campaign: str, source: str, out: Path, type_map: list[str]) -> Path:
    """``seiflow frames export`` of one source into ``out`` (kept when already there)."""
    if not out.is_dir():
        env = {**os.environ, "HOME": str(home)}
        subprocess.run([str(Path(sys.executable).parent / "seiflow"), "frames", "export", "--campaign", campaign,
                        "--source", source, "--type-map", ",".join(type_map), str(out)], env=env, check=True,
                       capture_output=True, text=True)
    return out


def system_dirs(dirs: list[Path]) -> list[Path]:
    """The deepmd/npy systems under ``dirs`` (folders with a type.raw), in name order."""
    return [p for d in dirs for p in sorted(d.iterdir()) if (p / "type.raw").is_file()]


def largest_system(folder: Path) -> Path:
    """The system with the most atoms under ``folder`` (the test set's interface)."""
    return max(system_dirs([folder]), key=lambda p: len((p / "type.raw").read_text().split()))


def load_pool(dirs: list[Path]):
    import dpdata

    return [dpdata.LabeledSystem(str(p), fmt="deepmd/npy") for p in system_dirs(dirs)
            if (p / "set.000" / "energy.npy").is_file()]


def write_subset(systems, n: int, rng: np.random.Generator, out: Path) -> list[str]:
    """``n`` frames drawn at random from the pool's systems, written per system; the folders."""
    index = [(s, i) for s, system in enumerate(systems) for i in range(len(system))]
    chosen = sorted(rng.choice(len(index), size=min(n, len(index)), replace=False))
    by_system: dict[int, list[int]] = {}
    for k in chosen:
        s, i = index[k]
        by_system.setdefault(s, []).append(i)
    paths = []
    for s, frames in by_system.items():
        path = out / f"sys{s:02d}"
        systems[s].sub_system(frames).to("deepmd/npy", str(path))
        paths.append(str(path))
    return paths


def pretrain_frames(out: Path, md_steps: int, seed: int) -> list[str]:
    """CHGNet NVT MD of the bulk crystals, as deepmd/npy systems under ``out`` (cached)."""
    if (out / "done").is_file():
        return sorted(str(p.parent) for p in out.glob("*/type.raw"))
    import dpdata
    from ase import units
    from ase.io import read
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from seiflow.labelling.calculators import get_calculator

    calc = get_calculator("chgnet")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for cif in PRETRAIN_CIFS:
        base = read(cif)
        reps = [1, 1, 1]
        while len(base) * np.prod(reps) < 40:
            lengths = base.cell.lengths() * reps
            reps[int(np.argmin(lengths))] += 1
        for temperature in (600, 900):
            atoms = base.repeat(reps)
            atoms.calc = calc
            MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
            md = Langevin(atoms, 1 * units.fs, temperature_K=temperature, friction=0.02,
                          fixcm=False, rng=np.random.default_rng(seed))
            frames = dpdata.MultiSystems(type_map=PRETRAIN_TYPES)
            for step in range(md_steps):
                md.run(1)
                if step >= min(20, md_steps // 2) and step % 10 == 0:
                    snap = atoms.copy()
                    snap.calc = None
                    frames.append(dpdata.LabeledSystem(data={
                        "atom_names": PRETRAIN_TYPES, "atom_numbs": [snap.get_chemical_symbols().count(t)
                                                                   for t in PRETRAIN_TYPES],
                        "atom_types": np.array([PRETRAIN_TYPES.index(s) for s in snap.get_chemical_symbols()]),
                        "cells": snap.cell.array[None], "coords": snap.positions[None],
                        "energies": np.array([atoms.get_potential_energy()]),
                        "forces": atoms.get_forces()[None],
                        "virials": -atoms.get_stress(voigt=False)[None] * atoms.get_volume(),
                        "orig": np.zeros(3), "nopbc": False}))
            for name, system in frames.systems.items():
                path = out / f"{cif.stem}_{temperature}K_{name}"
                system.to("deepmd/npy", str(path))
                paths.append(str(path))
    (out / "done").write_text("ok")
    return sorted(paths)


def dpa1(config: TrainingConfig, attn_layer: int) -> TrainingConfig:
    return TrainingConfig.model_validate({**config.model_dump(), "backend": "pytorch", "compress": False,
                                          "descriptor": {"type": "se_atten", "attn_layer": attn_layer}})


def train_and_score(config: TrainingConfig, type_map: list[str], systems: list[str], sel: list[int], run_dir: Path,
                    steps: int, seed: int, validation: Path, test: Path, finetune: Path | None = None,
                    points: int = 1) -> dict:
    """Train ``steps`` steps, freeze ``points`` checkpoints and test them: the run's curve and final errors."""
    run_dir.mkdir(parents=True, exist_ok=True)
    every = max(steps // points, 1)
    inp = build_input(config, type_map, systems, sel, seed, steps, save_freq=every, disp_freq=every)
    inp["training"]["max_ckpt_keep"] = 10
    if finetune is not None:
        inp["model"] = {**inp["model"], "type_map": PRETRAIN_TYPES}
    (run_dir / "input.json").write_text(json.dumps(inp))
    start = time.perf_counter()
    run.train(run_dir, "pytorch", finetune=finetune)
    wall = time.perf_counter() - start
    seconds = {0: 0.0}
    total = 0.0
    for line in (run_dir / "train.log").read_text().splitlines():
        if (m := _WALL.search(line)):
            total += float(m.group(2))
            seconds[int(m.group(1))] = total
    curve = []
    for step in sorted(s for s in seconds if s and s % every == 0 or s == steps):
        ckpt = run_dir / f"model.ckpt-{step}.pt"
        if not ckpt.is_file():
            continue
        out = run_dir / f"frozen_{step}.pth"
        run.run_dp("pytorch", ["freeze", "-c", ckpt.name, "-o", out.name], run_dir, "freeze.log")
        prefix, _ = run.dp_test(run_dir, "pytorch", out, validation)
        metrics, _ = run.read_test_details(prefix)
        curve.append({"step": step, "train_s": round(seconds[step], 2), "val_f_mev_a": metrics.rmse_f_mev_a,
                      "val_e_mev_atom": metrics.rmse_e_mev_atom})
    final = run_dir / f"frozen_{curve[-1]['step']}.pth"
    prefix, _ = run.dp_test(run_dir, "pytorch", final, test)
    test_metrics, _ = run.read_test_details(prefix)
    return {"curve": curve, "train_wall_s": round(wall, 1), "val_f_mev_a": curve[-1]["val_f_mev_a"],
            "val_e_mev_atom": curve[-1]["val_e_mev_atom"], "test_f_mev_a": test_metrics.rmse_f_mev_a,
            "test_e_mev_atom": test_metrics.rmse_e_mev_atom}


def inference_speeds(cache: Path, seed: int, labels: int, system: Path) -> dict:
    """µs per atom of ``DeepPot.eval`` on ``system`` (one thread): DPA-1 and se_e2_a frozen, se_e2_a compressed
    (the most-labels runs' last models): what a distilled, compressed se_e2_a student buys in production."""
    from bench_training import EVAL

    base = cache / f"seed{seed}" / f"labels{labels}"

    def last(variant: str) -> Path:
        return max(base.glob(f"{variant}/frozen_*.pth"), key=lambda p: int(p.stem.split("_")[1]))

    se = last("se_e2_a")
    compressed = se.parent / "compressed.pth"
    if not compressed.is_file():
        compressed, _ = run.compress(se.parent, "pytorch", se)
    speeds = {}
    for name, model in (("dpa1_frozen", last("dpa1")), ("se_e2_a_frozen", se), ("se_e2_a_compressed", compressed)):
        out = subprocess.run([sys.executable, "-c", EVAL, str(model), str(system)], capture_output=True, text=True,
                             check=True)
        speeds[name] = float(out.stdout.strip().splitlines()[-1])
    return {"us_per_atom": speeds, "system": system.name,
            "dpa1_over_se_e2_a_compressed": speeds["dpa1_frozen"] / speeds["se_e2_a_compressed"],
            "dpa1_over_se_e2_a_frozen": speeds["dpa1_frozen"] / speeds["se_e2_a_frozen"]}


def last_train_rmse_f(log: Path) -> float | None:
    """The last training-batch force RMSE DeePMD printed (meV/Å): how far pretraining got on its own data."""
    found = re.findall(r"trn: .*?rmse_f = ([0-9.eE+-]+)", log.read_text()) if log.is_file() else []
    return round(float(found[-1]) * 1000, 1) if found else None


def at_seconds(curve: list[dict], t: float) -> float:
    """Validation force RMSE reached by ``t`` training seconds (the last checkpoint at or before it)."""
    done = [c["val_f_mev_a"] for c in curve if c["train_s"] <= t + 1e-9]
    return done[-1] if done else float("nan")


def main() -> None:
    one_thread()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="HOME whose store holds the demo campaign")
    parser.add_argument("--campaign", default="li_li3incl6_demo")
    parser.add_argument("--campaign-file", type=Path, default=ROOT / "workflows" / "li_li3incl6_demo.yaml")
    parser.add_argument("--labels", type=int, nargs="+", default=[25, 100, 211],
                        help="label counts (above the pool: the whole pool; the demo's is 211 frames)")
    parser.add_argument("--steps", type=int, default=1600, help="se_e2_a training steps per run")
    parser.add_argument("--dpa1-steps", type=int, default=200,
                        help="DPA-1 steps per run (~10x se_e2_a's cost per step on one CPU thread: similar seconds)")
    parser.add_argument("--pretrain-steps", type=int, default=500)
    parser.add_argument("--pretrain-md-steps", type=int, default=100)
    parser.add_argument("--attn-layer", type=int, default=2)
    parser.add_argument("--seed", type=int, nargs="+", default=[1])
    parser.add_argument("--cache", type=Path, default=None, help="keep exports and pretraining here")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--pretrain-only", action="store_true", help="stop after pretraining (kept in --cache)")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the inference speeds, from the runs already in --cache (adds them to --out)")
    args = parser.parse_args()
    if args.speed_only:
        interface = largest_system(args.cache / "test")
        report = json.loads(args.out.read_text())
        report["inference"] = inference_speeds(args.cache, args.seed[0], report["summary"]["most_labels"], interface)
        args.out.write_text(json.dumps(report) + "\n")
        print(json.dumps(report["inference"]))
        print_ratios(report)
        return

    campaign = load_campaign(args.campaign_file)
    type_map = list(campaign.system.type_map)
    base = TrainingConfig.model_validate({**campaign.training.model_dump(), "backend": "pytorch",
                                          "compress": False, "finetune": None, "validation_fraction": 0.0})
    configs = {"se_e2_a": base, "dpa1": dpa1(base, args.attn_layer)}
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    cache.mkdir(parents=True, exist_ok=True)
    pool_dirs = [export(args.home, args.campaign, s, cache / f"pool_{s}", type_map)
                 for s in ("reference_md", "exploration")]
    validation = export(args.home, args.campaign, "validation", cache / "validation", type_map)
    test = export(args.home, args.campaign, "test", cache / "test", type_map)
    pool = load_pool(pool_dirs)
    n_pool = sum(len(s) for s in pool)
    sel = auto_sel(system_dirs(pool_dirs), type_map, base.rcut) if base.sel == "auto" else list(base.sel)

    t0 = time.perf_counter()
    pre_systems = pretrain_frames(cache / "pretrain_frames", args.pretrain_md_steps, seed=7)
    pre_dir = cache / f"pretrain_{args.pretrain_steps}"
    if not (pre_dir / f"model.ckpt-{args.pretrain_steps}.pt").is_file():
        pre_dir.mkdir(exist_ok=True)
        pre_config = configs["dpa1"]
        inp = build_input(pre_config, PRETRAIN_TYPES, pre_systems, sel + [0, 0], 3, args.pretrain_steps,
                          save_freq=args.pretrain_steps, disp_freq=max(args.pretrain_steps // 10, 1))
        (pre_dir / "input.json").write_text(json.dumps(inp))
        run.train(pre_dir, "pytorch")
    checkpoint = pre_dir / f"model.ckpt-{args.pretrain_steps}.pt"
    pretrain = {"frames": int(sum(np.load(Path(p) / "set.000" / "energy.npy").size for p in pre_systems)),
                "systems": [Path(p).name for p in pre_systems], "steps": args.pretrain_steps,
                "seconds": round(time.perf_counter() - t0, 1), "type_map": PRETRAIN_TYPES,
                "last_train_rmse_f_mev_a": last_train_rmse_f(pre_dir / "train.log")}
    if args.pretrain_only:
        print(json.dumps(pretrain))
        return

    runs = []
    for seed in args.seed:
        rng = np.random.default_rng(seed)
        for n in sorted(args.labels):
            subset = write_subset(pool, n, rng, cache / f"seed{seed}" / f"labels{n}" / "data")
            for variant in VARIANTS:
                config = configs["se_e2_a" if variant == "se_e2_a" else "dpa1"]
                tuned = variant == "dpa1_finetuned"
                run_dir = cache / f"seed{seed}" / f"labels{n}" / (f"{variant}_p{args.pretrain_steps}" if tuned
                                                                  else variant)
                steps = args.steps if variant == "se_e2_a" else args.dpa1_steps
                done = run_dir / "result.json"
                if done.is_file() and json.loads(done.read_text()).get("steps") == steps:
                    result = json.loads(done.read_text())  # a finished run of an earlier call with this cache
                else:
                    result = train_and_score(config, type_map, subset, sel, run_dir, steps, seed, validation, test,
                                             finetune=checkpoint if tuned else None,
                                             points=4 if n == max(args.labels) else 1)
                    done.write_text(json.dumps({"steps": steps, **result}))
                result.pop("steps", None)
                runs.append({"seed": seed, "labels": min(n, n_pool), "variant": variant, "steps": steps, **result})
                print(json.dumps({k: v for k, v in runs[-1].items() if k != "curve"}), file=sys.stderr, flush=True)

    summary = summarise(runs)
    interface = largest_system(test)
    report = {"machine": machine(), "campaign": args.campaign, "pool_frames": n_pool,
              "validation_frames": sum(len(s) for s in load_pool([validation])),
              "test_frames": sum(len(s) for s in load_pool([test])), "steps": args.steps, "dpa1_steps": args.dpa1_steps,
              "attn_layer": args.attn_layer, "pretrain": pretrain, "runs": runs, "summary": summary,
              "inference": inference_speeds(cache, args.seed[0], summary["most_labels"], interface)}
    text = json.dumps(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print_ratios(report)


def print_ratios(report: dict) -> None:
    """The ratios, last."""
    s, speed = report["summary"], report.get("inference")
    if speed:
        print(f"inference on the {speed['system']} frames, µs/atom: DPA-1 frozen / se_e2_a compressed = "
              f"{speed['dpa1_over_se_e2_a_compressed']:.2f}, / se_e2_a frozen = {speed['dpa1_over_se_e2_a_frozen']:.2f}")
    print(f"target {s['target_val_f_mev_a']:.1f} meV/Å (DPA-1 from scratch, {s['most_labels']} labels): labels to it "
          f"fine-tuned {s['labels_to_target']['dpa1_finetuned']} / scratch {s['labels_to_target']['dpa1']} = "
          f"{s['label_ratio']}")
    print(f"test force RMSE at {s['most_labels']} labels fine-tuned / scratch = {s['test_ratio_at_most_labels']:.2f}; "
          f"at {s['fewest_labels']} labels = {s['test_ratio_at_fewest_labels']:.2f}")
    print(f"validation force RMSE at equal training seconds ({s['equal_seconds']:.0f} s, {s['most_labels']} labels) "
          f"DPA-1 / se_e2_a = {s['dpa1_over_se_e2_a_at_equal_seconds']:.2f}")


def summarise(runs: list[dict]) -> dict:
    """Means over seeds, the target and the three ratios."""
    def mean(variant: str, n: int, key: str) -> float:
        vals = [r[key] for r in runs if r["variant"] == variant and r["labels"] == n]
        return float(np.mean(vals))

    labels = sorted({r["labels"] for r in runs})
    most, fewest = labels[-1], labels[0]
    target = mean("dpa1", most, "val_f_mev_a")
    to_target = {v: next((n for n in labels if mean(v, n, "val_f_mev_a") <= target * 1.0001), None) for v in VARIANTS}
    ratio = (to_target["dpa1_finetuned"] / to_target["dpa1"]
             if to_target["dpa1_finetuned"] and to_target["dpa1"] else None)
    se = [r for r in runs if r["variant"] == "se_e2_a" and r["labels"] == most]
    dp = [r for r in runs if r["variant"] == "dpa1" and r["labels"] == most]
    equal = min(min(r["curve"][-1]["train_s"] for r in se), min(r["curve"][-1]["train_s"] for r in dp))
    per_second = float(np.mean([at_seconds(d["curve"], equal) for d in dp])
                       / np.mean([at_seconds(s["curve"], equal) for s in se]))
    return {
        "labels": labels, "most_labels": most, "fewest_labels": fewest, "target_val_f_mev_a": target,
        "labels_to_target": to_target, "label_ratio": ratio,
        "val_f_mev_a": {v: {n: mean(v, n, "val_f_mev_a") for n in labels} for v in VARIANTS},
        "test_f_mev_a": {v: {n: mean(v, n, "test_f_mev_a") for n in labels} for v in VARIANTS},
        "test_ratio_at_most_labels": mean("dpa1_finetuned", most, "test_f_mev_a") / mean("dpa1", most, "test_f_mev_a"),
        "test_ratio_at_fewest_labels": (mean("dpa1_finetuned", fewest, "test_f_mev_a")
                                        / mean("dpa1", fewest, "test_f_mev_a")),
        "equal_seconds": equal, "dpa1_over_se_e2_a_at_equal_seconds": per_second,
    }


if __name__ == "__main__":
    main()
