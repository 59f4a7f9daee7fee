"""Training data for one job, materialised inside its run directory (any worker, no shared paths needed).

Frames come from the frame store (``seiflow.dataset.frames.FrameStore.export_deepmd``) or, for imports
and tests, from deepmd/npy systems given by path. Each system is split into training and held-out frames
with a fixed seed, so every model of an ensemble is tested on the same frames.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from seiflow.dataset.carved import CARVED_SUFFIX, is_carved_system, weigh_all
from seiflow.errors import InputError
from seiflow.schemas.frame import Reference
from seiflow.schemas.model import TrainingDataRecord

MAX_INLINE_IDS = 20_000
NEVER_TRAINED = ("validation", "test")  # provenance sources no training query returns
DATA_RECORD = "data.json"


class TrainingDataSpec(BaseModel):
    """Where a training job gets its frames: a frame-store query, or deepmd/npy system paths."""

    query: dict[str, Any] | None = Field(
        None, description="FrameStore query (campaign, max_round, status...); None: use systems."
    )
    systems: list[str] = Field(default_factory=list, description="deepmd/npy system folders.")


def training_data(campaign: str, reference: Reference) -> TrainingDataSpec:
    """A campaign's training frames: labelled by its reference only, validation and test frames never."""
    return TrainingDataSpec(query={
        "campaign": campaign, "reference": reference.model_dump(mode="json"),
        "exclude_sources": list(NEVER_TRAINED),
    })


def _export_frames(query: dict[str, Any], dest: Path, type_map: list[str]) -> dict[Path, list[str]]:
    """Frames matching ``query`` exported under ``dest``; each system's frame ids in its frame order."""
    from seiflow.dataset.convert import formula_of
    from seiflow.dataset.export import export_deepmd
    from seiflow.dataset.frames import FrameStore

    frames = [f for f in FrameStore().find(**query) if f.energy is not None and f.forces is not None]
    ids: dict[str, list[str]] = {}
    for frame in frames:  # the grouping export_deepmd uses: composition, split by virial presence, carved apart
        suffix = CARVED_SUFFIX if frame.carved else "" if frame.virial is not None else "_novirial"
        key = formula_of(frame.species) + suffix
        ids.setdefault(key, []).append(frame.content_hash())
    return {Path(path): ids[Path(path).name] for path in export_deepmd(frames, dest, type_map)}


def _export(spec: TrainingDataSpec, dest: Path, type_map: list[str]) -> dict[Path, list[str]]:
    """All systems for ``spec`` exported/copied under ``dest``, each with its frame ids."""
    if spec.query is not None:
        return _export_frames(spec.query, dest, type_map)
    if not spec.systems:
        raise InputError("training data: neither a frame query nor systems given", "pass one of them")
    systems = {}
    for n, src in enumerate(spec.systems):
        src = Path(src)
        if not (src / "type.raw").is_file():
            raise InputError(f"training data {src} is not a deepmd/npy system", "export it with dpdata")
        target = dest / f"{n:03d}_{src.name}"
        shutil.copytree(src, target)
        nframes = sum(np.load(s / "box.npy").reshape(-1, 9).shape[0] for s in target.glob("set.*"))
        systems[target] = [f"{src.name}#{i}" for i in range(nframes)]
    return systems


def _split(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of held-out frames: round(fraction x n), at least 1 when possible, never all."""
    if fraction <= 0 or n < 2:
        return np.array([], dtype=int)
    n_test = min(n - 1, max(1, round(fraction * n)))
    return np.sort(rng.permutation(n)[:n_test])


def prepare_data(
    spec: TrainingDataSpec, data_dir: Path, type_map: list[str], validation_fraction: float, seed: int
) -> TrainingDataRecord:
    """Materialise ``data_dir/train/*`` and ``data_dir/test/*``; reuse them when already there."""
    record_path = data_dir / DATA_RECORD
    if record_path.is_file():
        return TrainingDataRecord.model_validate_json(record_path.read_text())
    import dpdata

    if data_dir.exists():
        shutil.rmtree(data_dir)
    raw = data_dir / "raw"
    raw.mkdir(parents=True)
    systems = _export(spec, raw, type_map)
    if not systems:
        raise InputError(f"no labelled frames match the training query {spec.query}", "label frames first")
    rng = np.random.default_rng(seed)
    train_ids, test_ids = [], []
    for system, sys_ids in systems.items():
        if is_carved_system(system):  # trained on whole: dpdata would drop atom_pref, and dp test needs energies
            shutil.copytree(system, data_dir / "train" / system.name)
            train_ids += sys_ids
            continue
        data = dpdata.LabeledSystem(str(system), fmt="deepmd/npy", type_map=type_map)
        n = data.get_nframes()
        held = _split(n, validation_fraction, rng)
        keep = np.setdiff1d(np.arange(n), held)
        data.sub_system(keep).to("deepmd/npy", str(data_dir / "train" / system.name))
        if held.size:
            data.sub_system(held).to("deepmd/npy", str(data_dir / "test" / system.name))
        train_ids += [sys_ids[i] for i in keep]
        test_ids += [sys_ids[i] for i in held]
    shutil.rmtree(raw)
    n_carved = sum(len(ids) for system, ids in systems.items() if is_carved_system(system))
    weigh_all(train_systems(data_dir))
    digest = hashlib.sha256(json.dumps(sorted(train_ids)).encode()).hexdigest()
    small = len(train_ids) <= MAX_INLINE_IDS
    record = TrainingDataRecord(
        n_train_frames=len(train_ids),
        n_test_frames=len(test_ids),
        frame_ids=train_ids if small else None,
        frame_ids_sha256=digest,
        test_frame_ids=test_ids if small else None,
        n_carved_frames=n_carved,
    )
    record_path.write_text(record.model_dump_json())
    return record


def train_systems(data_dir: Path) -> list[Path]:
    """The training systems under ``data_dir/train``."""
    return sorted(p for p in (data_dir / "train").iterdir() if p.is_dir())


def held_out_dir(data_dir: Path) -> Path | None:
    """The held-out systems folder, or None when nothing is held out."""
    path = data_dir / "test"
    return path if path.is_dir() and any(path.iterdir()) else None
