"""Compression at the study campaign's network sizes on CPU: frozen vs compressed µs/step/atom, and which
``dp compress`` table settings keep the training, validation and explored configurations in range.

Run: ``.venv/bin/python bench/bench_compress.py [--train-steps 300] [--md-steps 100] [--cache DIR]``
(quick: ``--train-steps 20 --md-steps 20 --tables 5:0.01 --atoms 216``). The network is the one in
``workflows/li_li3incl6_study.yaml`` (se_e2_a rcut 6, neuron [25, 50, 100], axis 16, fitting [240, 240,
240], type_map Li In Cl), trained briefly (speed does not need an accurate model) on LiCl frames
(``tests/data/licl_deepmd``) and CHGNet-labelled rattled frames of the demo's 232-atom interface; a quarter
of each set, plus strongly rattled interface frames, is held out for validation. The model is frozen
once and compressed with each ``--tables`` setting ``EXTRAPOLATE:STEP`` (``dp compress -e -s``). For
each compressed model: the largest force difference to the frozen model on every training, validation and
explored (LAMMPS-dumped) frame, how many of those frames hold a neighbour closer than the training
data's ``min_nbor_dist`` (outside the first, fine table), DeePMD's warnings in ``dp test`` and LAMMPS
output, and LAMMPS µs/step/atom (NVT 600 K, 1 model, the exploration's input) on ~1,000-atom LiCl and
the interface. Times are LAMMPS loop times, wall and CPU (wall x LAMMPS' "CPU use"), frozen and
compressed runs alternating. Prints a table and last the ratio frozen / compressed (CPU time, default
table, worst system; goal >= 3).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import ROOT, lammps_loop, machine, one_thread

LICL = ROOT / "tests" / "data" / "licl_deepmd" / "Li32Cl32"
TYPE_MAP = ["Li", "In", "Cl"]
# what DeePMD-kit prints when a configuration leaves what the model was built for: its own neighbour search
# (dp test, Python inference) with an atom outside the cell grid, or a neighbour list longer than sel in
# the older descriptor ops; the compressed tables themselves extrapolate silently
WARNING = re.compile(r"out of (upper|lower) bound|is not enough|overflow", re.I)

EVAL = r"""
import json, sys
import numpy as np
from deepmd.infer import DeepPot
from deepmd.tf.utils.graph import get_tensor_by_name_from_graph, load_graph_def
spec = json.loads(sys.argv[1])
out = {}
for model in spec["models"]:
    dp = DeepPot(model)
    res = {}
    for name, (coords, boxes, types) in spec["sets"].items():
        c = np.load(coords); b = np.load(boxes); t = np.load(types)
        e, f, v = dp.eval(c.reshape(len(c), -1), b.reshape(len(b), 9), t.tolist())
        np.save(f"{spec['out']}/{abs(hash((model, name)))}.npy", f.reshape(len(c), -1, 3))
        res[name] = f"{spec['out']}/{abs(hash((model, name)))}.npy"
    graph, _ = load_graph_def(model)
    res["min_nbor_dist"] = float(get_tensor_by_name_from_graph(graph, "train_attr/min_nbor_dist"))
    out[model] = res
print(json.dumps(out))
"""


def label_interface(n: int, sigma: float, seed: int):
    """``n`` rattled copies of the 232-atom interface labelled with CHGNet (seiflow's LocalLabel calculator)."""
    from bench_data import interface_template
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.labelling.calculators import calculator_settings, get_calculator
    from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

    calc, rng = get_calculator("chgnet"), np.random.default_rng(seed)
    reference = Reference(calculator="chgnet", settings=calculator_settings("chgnet"))
    template, frames = interface_template(), []
    for i in range(n):
        atoms = AseAtomsAdaptor.get_atoms(template)
        atoms.positions += rng.normal(0, sigma, atoms.positions.shape)
        atoms.calc = calc
        frames.append(LabelledFrame(
            species=atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell[:],
            energy=float(atoms.get_potential_energy()), forces=atoms.get_forces(), reference=reference,
            provenance=Provenance(campaign="bench-compress", round=0, source="bench", frame_index=i),
        ))
    return frames


def make_data(root: Path) -> dict[str, list[Path]]:
    """deepmd/npy systems: ``train`` and ``valid`` (LiCl 24/6 frames; interface 12/4 at 0.05 Å + 4 at 0.15 Å)."""
    import dpdata

    from seiflow.dataset.export import system_from_frames

    if (root / "done").is_file():
        return json.loads((root / "done").read_text(), object_hook=lambda d: {k: [Path(p) for p in v]
                                                                              for k, v in d.items()})
    licl = dpdata.LabeledSystem(str(LICL), fmt="deepmd/npy")
    licl.sub_system(range(24)).to("deepmd/npy", str(root / "train" / "licl"))
    licl.sub_system(range(24, 30)).to("deepmd/npy", str(root / "valid" / "licl"))
    iface = system_from_frames(label_interface(16, 0.05, 0), TYPE_MAP)
    iface.sub_system(range(12)).to("deepmd/npy", str(root / "train" / "interface"))
    iface.sub_system(range(12, 16)).to("deepmd/npy", str(root / "valid" / "interface"))
    system_from_frames(label_interface(4, 0.15, 1), TYPE_MAP).to("deepmd/npy", str(root / "valid" / "hot"))
    sets = {"train": [root / "train" / "licl", root / "train" / "interface"],
            "valid": [root / "valid" / "licl", root / "valid" / "interface", root / "valid" / "hot"]}
    (root / "done").write_text(json.dumps({k: [str(p) for p in v] for k, v in sets.items()}))
    return sets


def train_frozen(work: Path, systems: list[Path], steps: int) -> tuple[Path, list[int]]:
    """The study network trained ``steps`` steps and frozen; (frozen model, sel)."""
    from seiflow.schemas.campaign import TrainingConfig
    from seiflow.training import run
    from seiflow.training.inputs import auto_sel, build_input

    config = TrainingConfig(descriptor_neurons=[25, 50, 100], axis_neuron=16, fitting_neurons=[240, 240, 240])
    sel = auto_sel(systems, TYPE_MAP, config.rcut)
    work.mkdir(parents=True)
    inp = build_input(config, TYPE_MAP, [str(s) for s in systems], sel, seed=1, numb_steps=steps,
                      save_freq=steps, disp_freq=max(1, steps // 5))
    (work / "input.json").write_text(json.dumps(inp))
    run.train(work, "tensorflow")
    frozen, _ = run.freeze(work, "tensorflow")
    return frozen, sel


def compress(frozen: Path, work: Path, extrapolate: int, step: float) -> tuple[Path, float, list[str]]:
    """``dp compress -e -s`` in its own folder; (model, seconds, warning lines of its log)."""
    from seiflow.training import run

    work.mkdir(parents=True)
    shutil.copy(frozen, work / frozen.name)
    model, seconds = run.compress(work, "tensorflow", work / frozen.name, extrapolate=extrapolate, step=step)
    return model, seconds, warnings_in(work / "compress.log")


def warnings_in(*paths: Path) -> list[str]:
    """DeePMD/LAMMPS warning lines of the given logs (CUDA and TF start-up noise left out)."""
    lines = []
    for path in paths:
        if path.is_file():
            lines += [ln.strip() for ln in path.read_text(errors="replace").splitlines() if WARNING.search(ln)]
    return lines


def dp_test_warnings(model: Path, systems: dict[str, list[Path]], work: Path) -> list[str]:
    """Warnings ``dp test`` prints on the training and the validation systems (one call per set)."""
    from seiflow.training import run

    found = []
    for kind, paths in systems.items():
        d = work / f"test_{kind}"
        d.mkdir(parents=True)
        run.dp_test(d, "tensorflow", model, paths[0].parent)
        found += warnings_in(d / run.TEST_LOG)
    return found


def frame_sets(systems: dict[str, list[Path]], extra: dict[str, Path], work: Path) -> dict[str, tuple]:
    """coords/boxes/types ``.npy`` files per set, for the evaluation subprocess (types in TYPE_MAP order)."""
    import dpdata

    from seiflow.exploration.deviation import read_dump

    sets: dict[str, tuple] = {}
    loaded = {f"{k}:{p.name}": dpdata.System(str(p), fmt="deepmd/npy", type_map=TYPE_MAP)
              for k, ps in systems.items() for p in ps}
    arrays = {name: (s["coords"], s["cells"], np.array(s["atom_types"])) for name, s in loaded.items()}
    for name, dump in extra.items():  # the exploration's dump (element names), read as seiflow reads it
        frames = list(read_dump(dump).values())
        types = np.array([TYPE_MAP.index(e) for e in frames[0].get_chemical_symbols()])
        arrays[name] = (np.array([a.positions for a in frames]), np.array([a.cell[:] for a in frames]), types)
    work.mkdir(parents=True, exist_ok=True)
    for name, (coords, cells, types) in arrays.items():
        stem = work / name.replace(":", "_")
        for suffix, array in (("c", coords), ("b", cells), ("t", types)):
            np.save(f"{stem}_{suffix}.npy", array)
        sets[name] = (f"{stem}_c.npy", f"{stem}_b.npy", f"{stem}_t.npy")
    return sets


def evaluate(models: list[Path], sets: dict[str, tuple], work: Path) -> dict:
    """Forces of every model on every set (one subprocess, one thread) and each model's min_nbor_dist."""
    from seiflow.training import run

    work.mkdir(parents=True, exist_ok=True)
    spec = json.dumps({"models": [str(m) for m in models], "sets": sets, "out": str(work)})
    proc = subprocess.run([sys.executable, "-c", EVAL, spec], capture_output=True, text=True, env=run.dp_env(),
                          check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def neighbours(coords_file: str, boxes_file: str, types_file: str, rcut: float) -> tuple[np.ndarray, np.ndarray]:
    """Shortest interatomic distance (minimum image) of each frame, and the most neighbours of each type
    within ``rcut`` around any atom of any frame (to compare with sel)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    types = np.load(types_file)
    shortest, most = [], np.zeros(len(TYPE_MAP), dtype=int)
    for coord, box in zip(np.load(coords_file), np.load(boxes_file), strict=True):
        atoms = Atoms(numbers=np.ones(len(coord)), positions=coord.reshape(-1, 3), cell=box.reshape(3, 3), pbc=True)
        i, j, d = neighbor_list("ijd", atoms, rcut)
        shortest.append(float(d.min()) if len(d) else rcut)
        counts = np.zeros((len(types), len(TYPE_MAP)), dtype=int)
        np.add.at(counts, (i, types[j]), 1)
        most = np.maximum(most, counts.max(axis=0))
    return np.array(shortest), most


def run_md(structure, model: Path, steps: int, run_dir: Path) -> dict:
    """One-model NVT 600 K through seiflow's exploration input; loop wall/CPU and warnings."""
    from seiflow.exploration.inputs import DUMP_FILE, LOG_FILE, write_inputs
    from seiflow.exploration.run import STDOUT_FILE, LammpsRunner
    from seiflow.schemas.exploration import ExplorationTask

    task = ExplorationTask(task_id="bench", seed_name="bench", temperature=600, nsteps=steps, out_freq=20)
    write_inputs(task, structure, TYPE_MAP, [model], run_dir)
    outcome = LammpsRunner(mpi_ranks=1, omp_threads=1).run(run_dir)
    if outcome.returncode != 0:
        raise RuntimeError(f"LAMMPS failed in {run_dir}: {outcome.reason}")
    loop = lammps_loop(run_dir / LOG_FILE)
    loop["warnings"] = warnings_in(run_dir / STDOUT_FILE, run_dir / LOG_FILE)
    loop["dump"] = run_dir / DUMP_FILE
    return loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--md-steps", type=int, default=100)
    parser.add_argument("--atoms", type=int, default=1000, help="size of the LiCl box")
    parser.add_argument("--tables", default="5:0.01,5:0.02,5:0.005,10:0.01",
                        help="EXTRAPOLATE:STEP per compressed model; the first is the one the ratio uses")
    parser.add_argument("--repeats", type=int, default=2, help="MD runs per model and system (median)")
    parser.add_argument("--cache", type=Path, default=None, help="keep the labelled data here")
    args = parser.parse_args()
    one_thread()
    print(f"machine: {machine()}", flush=True)
    from bench_md import systems as md_systems

    tables = [(int(e), float(s)) for e, s in (t.split(":") for t in args.tables.split(","))]
    with tempfile.TemporaryDirectory(prefix="bench-compress-") as tmp:
        work = Path(tmp)
        data = make_data(args.cache or work / "data")
        frozen, sel = train_frozen(work / "train", data["train"], args.train_steps)
        print(f"trained {args.train_steps} steps, sel {sel}; frozen {frozen.stat().st_size / 1e6:.1f} MB", flush=True)
        models: dict[str, Path] = {"frozen": frozen}
        info: dict[str, dict] = {"frozen": {}}
        for e, s in tables:
            name = f"-e {e} -s {s:g}"
            model, seconds, warn = compress(frozen, work / f"compress_e{e}_s{s:g}", e, s)
            models[name] = model
            info[name] = {"compress_s": seconds, "MB": model.stat().st_size / 1e6, "warnings": warn,
                          "dp_test_warnings": dp_test_warnings(model, data, work / f"test_e{e}_s{s:g}")}
            print(f"compressed {name}: {seconds:.0f} s, {info[name]['MB']:.1f} MB, "
                  f"compress warnings {len(warn)}, dp test warnings {len(info[name]['dp_test_warnings'])}", flush=True)
        info["frozen"]["dp_test_warnings"] = dp_test_warnings(frozen, data, work / "test_frozen")
        md: dict[tuple[str, str], list[dict]] = {}
        structures = md_systems(args.atoms)
        for rep in range(args.repeats):
            for sys_name, structure in structures.items():
                for name, model in models.items():  # frozen and compressed alternate
                    tag = f"{sys_name}_{name.replace(' ', '')}_{rep}"
                    md.setdefault((sys_name, name), []).append(run_md(structure, model, args.md_steps,
                                                                      work / "md" / tag))
        dumps = {f"md:{s}:{n}": runs[0]["dump"] for (s, n), runs in md.items()}
        sets = frame_sets(data, dumps, work / "sets")
        forces = evaluate(list(models.values()), sets, work / "forces")
        ref = forces[str(frozen)]
        min_nbor = ref["min_nbor_dist"]
        print(f"\ntraining data min_nbor_dist {min_nbor:.3f} Å (the first table ends there); sel {sel}")
        for k, (c, b, t) in sets.items():
            d, most = neighbours(c, b, t, 6.0)
            print(f"  {k}: {len(d)} frames, shortest distance {d.min():.3f} Å, "
                  f"{int((d < min_nbor).sum())} frames below min_nbor_dist; most neighbours {most.tolist()}"
                  + (" (over sel)" if np.any(most > np.array(sel)) else ""))
        print("\n| model | max |ΔF| train | max |ΔF| valid | max |ΔF| explored | dp test warnings | LAMMPS warnings |"
              + "".join(f" {s} wall / CPU µs/step/atom |" for s in structures))
        rows = {}
        for name, model in models.items():
            diff = {}
            for kind in ("train", "valid", "md"):
                keys = [k for k in sets if k.startswith(kind + ":")]
                diff[kind] = max(float(np.abs(np.load(forces[str(model)][k]) - np.load(ref[k])).max())
                                 for k in keys) if name != "frozen" else 0.0
            lmp_warn = sum(len(r["warnings"]) for (s, n), runs in md.items() if n == name for r in runs)
            times = {s: (float(np.median([r["us_wall"] for r in md[(s, name)]])),
                         float(np.median([r["us_cpu"] for r in md[(s, name)]]))) for s in structures}
            rows[name] = times
            print(f"| {name} | {diff['train']:.2e} | {diff['valid']:.2e} | {diff['md']:.2e} | "
                  f"{len(info[name]['dp_test_warnings'])} | {lmp_warn} |"
                  + "".join(f" {w:.1f} / {c:.1f} |" for w, c in times.values()))
        for name in info:
            for where in ("warnings", "dp_test_warnings"):
                for line in sorted(set(info[name].get(where, [])))[:3]:
                    print(f"  {name} {where.replace('_', ' ')}: {line[:160]}")
        for (s_name, name), runs in md.items():
            for line in sorted({w for r in runs for w in r["warnings"]})[:3]:
                print(f"  {name} LAMMPS {s_name}: {line[:160]}")
        default = f"-e {tables[0][0]} -s {tables[0][1]:g}"
        speed = {s: rows["frozen"][s][1] / rows[default][s][1] for s in structures}
        print(f"\nfrozen / compressed ({default}), CPU time: "
              + ", ".join(f"{s} {v:.2f}" for s, v in speed.items())
              + "; wall: " + ", ".join(f"{s} {rows['frozen'][s][0] / rows[default][s][0]:.2f}" for s in structures))
        print(f"ratio: {min(speed.values()):.2f} (frozen / compressed {default}, study network, CPU time, worst of "
              f"{', '.join(structures)}; goal >= 3)")


if __name__ == "__main__":
    main()
