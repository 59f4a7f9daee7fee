"""Compressed DeePMD models that cover the configurations they meet, else the frozen model.

What DeePMD-kit 3.2 does (read in its sources and checked on its installed binaries):

- ``dp compress`` tabulates each embedding net over the normalised environment value
  ``(s(r) - davg) / dstd``, ``s(r) = sw(r) / r``: a first table (stride ``-s``) from
  ``floor(-davg/dstd)`` to ``U = ceil((s(d_min) - davg) / dstd)``, ``d_min`` being the smallest
  neighbour distance of the training data (``train_attr/min_nbor_dist``), then a second table (stride
  ``10 * -s``) up to ``-e * U``. It logs the unrounded bounds per element ("training data with lower
  boundary: [...]" / "upper boundary: [...]").
- A neighbour closer than the table's top distance is evaluated off the table, **silently**: the
  kernel (``tabulate.cc``) clamps or extrapolates and prints nothing, and ``-f`` (overflow-check
  frequency) is passed to the TF kernels but never read. So coverage is checked here from geometry.
- The only out-of-bound text DeePMD prints is its neighbour-list warning "# warning: loc idx out of
  upper bound (ignored if warned for more than 10 times)" (also lower, and ``ghost``) from
  ``libdeepmd``'s cell list: an atom outside the box for the legacy ``Descrpt`` ops and the
  PyTorch-exportable backend. TF ``se_e2_a`` wraps coordinates first and does not print it.
  :func:`out_of_range` counts these lines in ``dp test`` output and LAMMPS logs.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from seiflow.schemas.model import CompressionRecord
from seiflow.training import run
from seiflow.training.inputs import read_system

log = logging.getLogger(__name__)

EXTRAPOLATES = (5, 20)  # DeePMD's default first; widened once, then the frozen model is used
STEP = 0.01  # DeePMD's default first-table stride
VALIDATION_SOURCE = "validation"
_WARNING = re.compile(r"#\s*warning:\s*(?:loc|ghost) idx out of (?:lower|upper) bound")
_BOUND = re.compile(r"training data with (lower|upper) boundary:\s*\[")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def out_of_range(text: str) -> int:
    """How many DeePMD neighbour-list 'idx out of lower/upper bound' warnings ``text`` holds.

    DeePMD prints each kind at most 10 times per process, so a count of 10 or more means "many".

    Examples
    --------
    >>> out_of_range("# warning: loc idx out of upper bound (ignored if warned for more than 10 times) ")
    1
    """
    return len(_WARNING.findall(text))


def table_bounds(log_text: str, ntypes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-element unrounded (lower, upper) table bounds from the last ``dp compress`` log in ``log_text``."""
    found: dict[str, np.ndarray] = {}
    for match in _BOUND.finditer(log_text):
        depth, end = 1, match.end()
        while depth and end < len(log_text):
            depth += {"[": 1, "]": -1}.get(log_text[end], 0)
            end += 1
        values = np.array([float(x) for x in _NUMBER.findall(log_text[match.end():end - 1])])
        if values.size % ntypes:
            raise run.TrainingError(f"dp compress logged {values.size} bounds for {ntypes} types", "see its log")
        rows = values.reshape(ntypes, -1)  # PyTorch logs per (type, neighbour) rows
        found[match.group(1)] = rows.min(axis=1) if match.group(1) == "lower" else rows.max(axis=1)
    if set(found) != {"lower", "upper"}:
        raise run.TrainingError("dp compress did not log its table bounds", "see compress_e*.log")
    return found["lower"], found["upper"]


def smooth_inverse(r: np.ndarray | float, rcut_smth: float, rcut: float) -> np.ndarray:
    """DeePMD's ``s(r) = sw(r) / r`` (quintic switch from ``rcut_smth`` to ``rcut``)."""
    r = np.asarray(r, dtype=float)
    u = np.clip((r - rcut_smth) / (rcut - rcut_smth), 0.0, 1.0)
    return (u**3 * (-6 * u**2 + 15 * u - 10) + 1) / r


def covered_distance(
    lower: np.ndarray, upper: np.ndarray, min_nbor_dist: float, rcut: float, rcut_smth: float,
    extrapolate: float, type_one_side: bool = False,
) -> np.ndarray:
    """Per element, the smallest neighbour distance (Å) the compressed table with ``extrapolate`` covers.

    The normalised value is ``lower + (upper - lower) * s(r) / s(d_min)`` (both bounds are DeePMD's
    own, so ``davg``/``dstd`` are not needed); the table ends at ``extrapolate * ceil(upper)``.
    """
    top = extrapolate * np.ceil(upper)
    if type_one_side:
        top = np.full_like(top, top.max())
    target = smooth_inverse(min_nbor_dist, rcut_smth, rcut) * (top - lower) / (upper - lower)
    out = np.empty(len(target))
    for i, s_max in enumerate(target):
        if 1.0 / s_max < rcut_smth:  # inside the unswitched part: s = 1/r
            out[i] = 1.0 / s_max
            continue
        lo, hi = rcut_smth, rcut  # s decreases with r: bisect s(r) = s_max
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if smooth_inverse(mid, rcut_smth, rcut) > s_max else (lo, mid)
        out[i] = hi
    return out


def _frames(system: Path, type_map: list[str]) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """(model types, coords, box, pbc) of every frame of a deepmd/npy system."""
    sys_map, types, coords, boxes = read_system(system)
    if sys_map:
        types = np.array([type_map.index(sys_map[t]) for t in types])
    pbc = not (system / "nopbc").is_file()
    for coord_set, box_set in zip(coords, boxes, strict=True):
        for coord, box in zip(coord_set, box_set, strict=True):
            yield types, coord, box, pbc


def _nearest(types, coord, box, pbc: bool, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(centre atom, distance) of every pair closer than ``cutoff``."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(numbers=np.ones(len(types)), positions=coord, cell=box if pbc else None, pbc=pbc)
    return neighbor_list("id", atoms, cutoff)


def min_neighbour_distance(systems: Iterable[Path], type_map: list[str], rcut: float) -> float:
    """The smallest neighbour distance within ``rcut`` over all frames (DeePMD's ``min_nbor_dist``)."""
    best = rcut
    for system in systems:
        for types, coord, box, pbc in _frames(system, type_map):
            _, d = _nearest(types, coord, box, pbc, best)
            best = min(best, float(d.min())) if d.size else best
    return best


def beyond_table(
    systems: Iterable[Path], type_map: list[str], covered: np.ndarray, rcut: float
) -> tuple[int, float]:
    """(atoms over all frames with a neighbour closer than ``covered[type]``, smallest distance seen)."""
    count, best = 0, rcut
    for system in systems:
        for types, coord, box, pbc in _frames(system, type_map):
            i, d = _nearest(types, coord, box, pbc, min(rcut, max(best, float(covered.max()))))
            if d.size:
                best = min(best, float(d.min()))
                count += len(np.unique(i[d < covered[types[i]]]))
    return count, best


def validation_systems(query: Mapping | None, dest: Path, type_map: list[str]) -> Path | None:
    """The campaign's validation frames (source ``validation``) as deepmd/npy systems under ``dest``."""
    if not query or not query.get("campaign"):
        return None
    from seiflow.dataset.export import export_deepmd
    from seiflow.dataset.frames import FrameStore

    known = set(type_map)
    frames = [f for f in FrameStore().find(campaign=query["campaign"], source=VALIDATION_SOURCE)
              if set(f.species) <= known]
    if dest.exists():
        shutil.rmtree(dest)
    return dest if frames and export_deepmd(frames, dest, type_map) else None


def _descriptor(run_dir: Path) -> dict:
    import json

    return json.loads((run_dir / "input.json").read_text())["model"]["descriptor"]


def compress_in_range(
    run_dir: Path, backend: str, frozen: Path, type_map: list[str], checks: Mapping[str, list[Path]],
    extrapolates: tuple[int, ...] = EXTRAPOLATES, step: float = STEP,
) -> tuple[Path | None, CompressionRecord, float]:
    """Compress ``frozen`` with the first ``extrapolates`` value whose table covers every ``checks`` set.

    ``checks`` maps a set name (train, held_out, validation) to its deepmd/npy systems; the training
    set gives ``min_nbor_dist``. When no value covers them the compressed file is deleted and the
    record says the frozen model is used. Returns (compressed file or None, record, seconds).
    """
    desc = _descriptor(run_dir)
    if desc.get("type") != "se_e2_a":  # the table check reads se_e2_a's per-element tables only
        extrapolate = extrapolates[0]
        out, seconds = run.compress(run_dir, backend, frozen, extrapolate, step)
        record = CompressionRecord(used="compressed", extrapolate=extrapolate, step=step, tried=[extrapolate],
                                   note=f"{desc.get('type')}: dp compress -e {extrapolate}; its table range "
                                        "is not checked against the data (the check reads se_e2_a tables)")
        return out, record, seconds
    rcut, rcut_smth = float(desc["rcut"]), float(desc["rcut_smth"])
    d_min = min_neighbour_distance(checks.get("train", []), type_map, rcut)
    out, seconds, made, bounds, first_miss = None, 0.0, None, None, ""
    record = CompressionRecord(used="frozen", step=step, min_nbor_dist=round(d_min, 6))
    for e in extrapolates:
        record.tried.append(e)
        if bounds is None:  # the bounds do not depend on -e: one compression gives them
            out, seconds, made = _compress(run_dir, backend, frozen, e, step, seconds)
            bounds = table_bounds((run_dir / f"compress_e{e}.log").read_text(errors="replace"), len(type_map))
        covered = covered_distance(*bounds, d_min, rcut, rcut_smth, e, bool(desc.get("type_one_side")))
        record.out_of_range_counts, record.min_distance = {}, {}
        for name, systems in checks.items():
            n, closest = beyond_table(systems, type_map, covered, rcut)
            record.out_of_range_counts[name], record.min_distance[name] = n, round(closest, 4)
        if not any(record.out_of_range_counts.values()):
            if made != e:
                out, seconds, made = _compress(run_dir, backend, frozen, e, step, seconds)
            record.used, record.extrapolate = "compressed", e
            record.covered_min_distance = {t: round(float(c), 4) for t, c in zip(type_map, covered, strict=True)}
            record.note = f"-e {e} covers {', '.join(checks)}" + (f" ({first_miss} beyond -e {extrapolates[0]})"
                                                                   if first_miss else "")
            return out, record, seconds
        first_miss = first_miss or _beyond_text(record)
    if out is not None:
        out.unlink(missing_ok=True)
    record.note = (f"-e {extrapolates[-1]} does not cover {_beyond_text(record)}: "
                   "compressed model dropped, the frozen model is used")
    log.warning("%s: %s", run_dir, record.note)
    return None, record, seconds


def _compress(run_dir: Path, backend: str, frozen: Path, e: int, step: float, seconds: float):
    (run_dir / f"compress_e{e}.log").unlink(missing_ok=True)
    out, took = run.compress(run_dir, backend, frozen, extrapolate=e, step=step, log_name=f"compress_e{e}.log")
    return out, seconds + took, e


def _beyond_text(record: CompressionRecord) -> str:
    return ", ".join(f"{name} ({n} atoms, closest {record.min_distance[name]} Å)"
                     for name, n in record.out_of_range_counts.items() if n)
