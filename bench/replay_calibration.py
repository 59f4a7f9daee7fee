"""Replay a finished campaign's calibration with both fits: one line through every pair, or one slope with
each round's own offset (``selection.calibration.per_round_offset``).

Run against a store that holds the campaign (e.g. a demo's HOME, its server started on a spare port):
``python bench/replay_calibration.py --host localhost --port 27101 --db seiflow --campaign li_li3incl6_demo
[--runs HOME/.seiflow/runs]``. Per round: the lower level each fit gives from that round's pairs (sanity
labels left out, as the calibration job does), and, with ``--runs``, the share of the next round's explored
frames (``model_devi.out`` under that folder) below each level, i.e. the accurate ratio it would have read.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pymongo

from seiflow.convergence.calibration import fit_calibration
from seiflow.convergence.calibration_jobs import levels_from
from seiflow.schemas.campaign import CalibrationConfig


def explored(runs: Path | None) -> dict[int, np.ndarray]:
    """Max force deviation of every explored frame, by round (step 0, the start, left out)."""
    out: dict[int, list[np.ndarray]] = {}
    for f in sorted(runs.rglob("model_devi.out")) if runs else []:
        match = re.search(r"/r(\d+)-", str(f))
        if match:
            out.setdefault(int(match.group(1)), []).append(np.loadtxt(f, ndmin=2)[1:, 4])
    return {r: np.concatenate(v) for r, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=27101)
    p.add_argument("--db", default="seiflow")
    p.add_argument("--campaign", default="li_li3incl6_demo")
    p.add_argument("--runs", type=Path, default=None, help="the campaign's run folder (for the next ratios)")
    p.add_argument("--f-error-lo", type=float, default=1.0, help="the campaign's calibration.f_error_lo")
    p.add_argument("--f-error-hi", type=float, default=2.0)
    p.add_argument("--min-pairs", type=int, default=20)
    args = p.parse_args()
    db = pymongo.MongoClient(args.host, args.port)[args.db]
    cals = {c["round"]: c for c in db.calibrations.find({"campaign": args.campaign})}
    devi = explored(args.runs)
    print("round | pairs | pooled lo (next ratio) | per-round lo (next ratio) | offset rounds | recorded lo")
    for r in sorted(cals):
        rows = [(k, p["max_devi_f"], p["f_error"]) for k in sorted(cals) if k <= r
                for p in cals[k]["pairs"] if not p["sanity"]]
        rounds, dev, err = np.array(rows).T
        cells = []
        for per_round in (False, True):
            cfg = CalibrationConfig(f_error_lo=args.f_error_lo, f_error_hi=args.f_error_hi,
                                    min_pairs=args.min_pairs, per_round_offset=per_round)
            fit = fit_calibration(dev, err, cfg.quantile, rounds=rounds if per_round else None,
                                  min_round_pairs=cfg.min_round_pairs)
            levels = levels_from(fit, cfg) or {}
            lo = levels.get("f_trust_lo")
            nxt = devi.get(r + 1)
            ratio = f"{np.mean(nxt < lo):.2f}" if lo is not None and nxt is not None else "-"
            cells.append(f"{lo:.3f} ({ratio})" if lo is not None else "none")
        recorded = (cals[r].get("levels") or {}).get("f_trust_lo")
        print(f"{r} | {len(rows)} | {cells[0]} | {cells[1]} | {fit.intercept_rounds} | "
              f"{recorded if recorded is None else round(recorded, 3)}")


if __name__ == "__main__":
    main()
