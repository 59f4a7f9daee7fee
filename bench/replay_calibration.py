"""Replay a finished campaign's calibration with both fits: one line through every pair, or one slope with
each round's own offset (``selection.calibration.per_round_offset``).

From a store that holds the campaign (e.g. a demo's HOME, its server started on a spare port):
``python bench/replay_calibration.py --host localhost --port 27101 --db seiflow --campaign li_li3incl6_demo
[--runs HOME/.seiflow/runs]``, or from a record a seed run saved (``bench_demo_seeds.py`` writes one per
seed): ``python bench/replay_calibration.py --record bench/results/demo-seeds-...-seed4.calibration.json``.
Per round: the lower level each fit gives from that round's pairs (sanity labels left out, as the calibration
job does), and the share of the next round's explored frames below each level, i.e. the accurate ratio it
would have read. ``--min-round-pairs`` tries another setting of the per-round fit.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pymongo

from seiflow.convergence.calibration import fit_calibration
from seiflow.convergence.calibration_jobs import levels_from
from seiflow.records.calibrations import CalibrationStore
from seiflow.schemas.campaign import CalibrationConfig


def explored(runs: Path | None) -> dict[int, np.ndarray]:
    """Max force deviation of every explored frame, by round (step 0, the start, left out)."""
    out: dict[int, list[np.ndarray]] = {}
    for f in sorted(runs.rglob("model_devi.out")) if runs else []:
        match = re.search(r"/r(\d+)-", str(f))
        if match:
            out.setdefault(int(match.group(1)), []).append(np.loadtxt(f, ndmin=2)[1:, 4])
    return {r: np.concatenate(v) for r, v in out.items()}


def record_from_store(db: pymongo.database.Database, campaign: str, runs: Path | None) -> dict:
    """Per round: its calibration pairs (deviation, error, sanity), the level it recorded, the explored
    frames' max force deviation. Small (a few kB a round), so a seed run keeps it beside its result."""
    devi = explored(runs)
    out = {}
    for cal in CalibrationStore(db).history(campaign):
        out[str(cal.round)] = {
            "pairs": [[p.max_devi_f, p.f_error, p.sanity] for p in cal.pairs],
            "recorded_lo": (cal.levels or {}).get("f_trust_lo"),
            "explored": [round(float(x), 5) for x in devi.get(cal.round, [])],
        }
    return out


def replay(record: dict, cfg: dict) -> list[str]:
    """The table's rows: per round, the pooled and per-round levels (and the next round's ratio at each)."""
    rounds_all = sorted(int(r) for r in record)
    lines = ["round | pairs | pooled lo (next ratio) | per-round lo (next ratio) | offset rounds | recorded lo"]
    for r in rounds_all:
        rows = [(k, d, e) for k in rounds_all if k <= r for d, e, sanity in record[str(k)]["pairs"] if not sanity]
        if len(rows) < 3:
            continue
        rounds, dev, err = np.array(rows).T
        nxt = np.asarray(record.get(str(r + 1), {}).get("explored") or [], dtype=float)
        cells = []
        for per_round in (False, True):
            config = CalibrationConfig(**cfg, per_round_offset=per_round)
            fit = fit_calibration(dev, err, config.quantile, rounds=rounds if per_round else None,
                                  min_round_pairs=config.min_round_pairs)
            lo = (levels_from(fit, config) or {}).get("f_trust_lo")
            ratio = f"{np.mean(nxt < lo):.2f}" if lo is not None and nxt.size else "-"
            cells.append(f"{lo:.3f} ({ratio})" if lo is not None else "none")
        recorded = record[str(r)].get("recorded_lo")
        lines.append(f"{r} | {len(rows)} | {cells[0]} | {cells[1]} | {fit.intercept_rounds} | "
                     f"{recorded if recorded is None else round(recorded, 3)}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", type=Path, nargs="*", default=None, help="records saved by bench_demo_seeds.py")
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=27101)
    p.add_argument("--db", default="seiflow")
    p.add_argument("--campaign", default="li_li3incl6_demo")
    p.add_argument("--runs", type=Path, default=None, help="the campaign's run folder (for the next ratios)")
    p.add_argument("--f-error-lo", type=float, default=1.0, help="the campaign's calibration.f_error_lo")
    p.add_argument("--f-error-hi", type=float, default=2.0)
    p.add_argument("--min-pairs", type=int, default=20)
    p.add_argument("--min-round-pairs", type=int, default=None, help="default: the schema's")
    args = p.parse_args()
    cfg = {"f_error_lo": args.f_error_lo, "f_error_hi": args.f_error_hi, "min_pairs": args.min_pairs}
    if args.min_round_pairs is not None:
        cfg["min_round_pairs"] = args.min_round_pairs
    if args.record:
        for path in args.record:
            print(f"== {path.name}")
            print("\n".join(replay(json.loads(path.read_text()), cfg)))
        return
    db = pymongo.MongoClient(args.host, args.port)[args.db]
    print("\n".join(replay(record_from_store(db, args.campaign, args.runs), cfg)))


if __name__ == "__main__":
    main()
