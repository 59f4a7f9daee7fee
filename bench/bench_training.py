"""Training throughput (steps/s) per backend and inference speed of frozen vs compressed models.

Usage: ``OMP_NUM_THREADS=1 python bench/bench_training.py [--steps 300] [--threads 1|2] [--full]``
(``--full``: the campaign default sizes, rcut 6, neurons [10,20,40]/[60,60,60]; default: the test sizes).
Prints one JSON object, then the compressed-model speed-up as the last line. Not a test: numbers depend on the machine and its load.
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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "licl_deepmd" / "Li32Cl32"
sys.path.insert(0, str(ROOT))

from seiflow.schemas.campaign import TrainingConfig  # noqa: E402
from seiflow.training import run  # noqa: E402
from seiflow.training.inputs import auto_sel, build_input  # noqa: E402

TYPE_MAP = ["Li", "Cl"]
_AVG = re.compile(r"average training time: ([0-9.eE+-]+) s/batch")

EVAL = """
import sys, time, numpy as np
from deepmd.infer import DeepPot
coord = np.load(sys.argv[2] + '/set.000/coord.npy'); box = np.load(sys.argv[2] + '/set.000/box.npy')
types = np.loadtxt(sys.argv[2] + '/type.raw', dtype=int)
dp = DeepPot(sys.argv[1]); dp.eval(coord[:1], box[:1], types)
t = time.perf_counter(); n = 0
while time.perf_counter() - t < 3: dp.eval(coord, box, types); n += len(coord)
print((time.perf_counter() - t) / n / len(types) * 1e6)
"""


def bench_backend(backend: str, config: TrainingConfig, steps: int, workdir: Path) -> dict:
    """Train ``steps`` steps, freeze, compress; steps/s and µs/atom for frozen and compressed."""
    workdir.mkdir(parents=True)
    sel = config.sel if config.sel != "auto" else auto_sel([DATA], TYPE_MAP, config.rcut)
    inp = build_input(config, TYPE_MAP, [DATA], sel, seed=1, numb_steps=steps, save_freq=steps, disp_freq=100)
    (workdir / "input.json").write_text(json.dumps(inp))
    result: dict = {"sel": sel}
    try:
        result["train_wall_s"] = run.train(workdir, backend)
    except run.TrainingError as exc:
        return {"error": exc.message.splitlines()[-1][:300]}
    match = _AVG.search((workdir / "train.log").read_text())
    if match:
        result["s_per_step"] = float(match.group(1))
        result["steps_per_s"] = 1 / float(match.group(1))
    frozen, result["freeze_s"] = run.freeze(workdir, backend)
    compressed, result["compress_s"] = run.compress(workdir, backend, frozen)
    for name, model in (("frozen", frozen), ("compressed", compressed)):
        out = subprocess.run(
            [sys.executable, "-c", EVAL, str(model), str(DATA)], capture_output=True, text=True,
            env=run.dp_env(), check=True,
        )
        result[f"{name}_us_per_atom"] = float(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="campaign default network sizes")
    parser.add_argument("--backends", default="tensorflow,pytorch")
    args = parser.parse_args()
    for var in run.THREAD_VARS:
        os.environ[var] = str(args.threads)
    config = TrainingConfig() if args.full else TrainingConfig(
        rcut=4.5, descriptor_neurons=[4, 8], fitting_neurons=[16, 16], decay_steps=100
    )
    report = {"steps": args.steps, "threads": args.threads, "sizes": "full" if args.full else "test"}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            start = time.perf_counter()
            report[backend] = bench_backend(backend, config, args.steps, Path(tmp) / backend)
            report[backend]["total_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=1))
    speedups = [f"{b}: {r['frozen_us_per_atom'] / r['compressed_us_per_atom']:.2f}" for b, r in report.items()
                if isinstance(r, dict) and "compressed_us_per_atom" in r]
    print(f"ratio: {', '.join(speedups) or 'n/a'} (frozen / compressed inference time per atom)")


if __name__ == "__main__":
    main()
