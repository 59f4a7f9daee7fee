"""How much the label-efficiency pool can teach: reference-set force RMSE after training on k of its frames.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/pool_curve.py --steps 1000 3000 --frames 2 6 14 58 [--cache DIR]``
(``--cache``: the pool ``bench_label_efficiency.py`` built there; its other options, e.g. ``--conditions``, pass through). The first ``--initial`` frames for k = 2 (the
bench's start), otherwise k frames drawn at random (seed 0), the whole pool for k >= its size; two models a point,
the bench's trainer. Where k frames already reach the whole pool's RMSE, no selection can save labels beyond k.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench_label_efficiency import (
    Trainer,
    force_rmse,
    interface_structure,
    one_thread,
    parse,
    pool_and_reference,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[1000, 3000])
    p.add_argument("--frames", type=int, nargs="+", default=[2, 6, 14, 58])
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--work", type=Path, default=Path("/tmp/seiflow-pool-curve"))
    args, rest = p.parse_known_args()
    bench = parse(rest + (["--cache", str(args.cache)] if args.cache else []))
    one_thread()
    bench.structure = interface_structure(bench)
    pool, test = pool_and_reference(bench)
    rng = np.random.default_rng(0)
    for steps in args.steps:
        trainer = Trainer(args.work / f"steps{steps}", steps, 2)
        try:
            for k in args.frames:
                if k >= len(pool):
                    idx = list(range(len(pool)))
                else:  # drawn for k = --initial too, which then takes the first frames (the bench's start)
                    idx = sorted(rng.choice(len(pool), k, replace=False).tolist())
                    idx = list(range(k)) if k == bench.initial else idx
                start = time.perf_counter()
                rmse = [force_rmse(m, test) for m in trainer.ensemble(pool, idx, [1, 2])]
                print(f"steps {steps} frames {len(idx)}: RMSE {np.mean(rmse):.3f} ({rmse[0]:.3f}, {rmse[1]:.3f}) "
                      f"eV/Å; {time.perf_counter() - start:.0f} s", flush=True)
        finally:
            trainer.close()


if __name__ == "__main__":
    main()
