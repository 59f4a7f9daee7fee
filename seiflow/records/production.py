"""The production stage's records: runs (``production_runs``), segments (``production``) and their files.

Restart files, trajectories and logs go to the ``production_files`` GridFS bucket: workers on different
clusters share the MongoDB store and nothing else, so a segment can continue on any node from the last
segment's restart. A segment's files and document are written only once it has run whole; a rerun of a
segment (its worker was killed) first removes what an earlier attempt left.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import gridfs
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.database import Database

from seiflow.constants import PRODUCTION_BUCKET, PRODUCTION_COLLECTION, PRODUCTION_RUNS_COLLECTION
from seiflow.errors import InputError
from seiflow.records.base import database
from seiflow.schemas.production import (
    LearningRound,
    ProductionRun,
    ProductionSegment,
    ProductionState,
    now,
)


class ProductionStore:
    """Put and read production runs, their segments and the segments' files."""

    def __init__(self, db: Database | None = None):
        db = database(db)
        self.runs = db[PRODUCTION_RUNS_COLLECTION]
        self.segments = db[PRODUCTION_COLLECTION]
        self.fs = gridfs.GridFS(db, PRODUCTION_BUCKET)
        self.runs.create_index("run_id", unique=True)
        self.runs.create_index([("campaign", ASCENDING), ("created_at", ASCENDING)])
        self.segments.create_index([("run_id", ASCENDING), ("segment", ASCENDING)], unique=True)

    # runs
    def put_run(self, run: ProductionRun) -> None:
        """Insert or replace a run."""
        self.runs.replace_one({"run_id": run.run_id}, run.model_dump(), upsert=True)

    def get_run(self, run_id: str) -> ProductionRun:
        """A run by id, or an InputError naming the campaign's runs."""
        raw = self.runs.find_one({"run_id": run_id}, {"_id": 0})
        if raw is None:
            raise InputError(f"no production run {run_id!r} in the store", "see `seiflow status CAMPAIGN`")
        return ProductionRun.model_validate(raw)

    def latest(self, campaign: str) -> ProductionRun | None:
        """The campaign's newest production run, or None."""
        raw = self.runs.find_one({"campaign": campaign}, {"_id": 0}, sort=[("created_at", -1)])
        return ProductionRun.model_validate(raw) if raw else None

    def count(self, campaign: str) -> int:
        """Production runs of a campaign so far."""
        return self.runs.count_documents({"campaign": campaign})

    def start_attempt(self, run_id: str, segment: int) -> int:
        """Count one more start of a segment; how many times it has started now."""
        self.runs.update_one({"run_id": run_id}, {"$inc": {f"attempts.{segment}": 1}})
        doc = self.runs.find_one({"run_id": run_id}, {"attempts": 1}) or {}
        return int(doc.get("attempts", {}).get(str(segment), 1))

    def update_run(self, run_id: str, **fields) -> None:
        """Set fields of a run (enums stored by value)."""
        values = {k: (v.value if isinstance(v, ProductionState) else v) for k, v in fields.items()}
        self.runs.update_one({"run_id": run_id}, {"$set": {**values, "updated_at": now()}})

    def put_learning(self, run_id: str, record: LearningRound) -> None:
        """Add or replace (same round) a learning round of a run."""
        run = self.get_run(run_id)
        rounds = [r for r in run.learning if r.round != record.round] + [record]
        self.update_run(run_id, learning=[r.model_dump() for r in sorted(rounds, key=lambda r: r.round)])

    # segments
    def put_segment(self, seg: ProductionSegment) -> None:
        """Insert or replace one segment's document."""
        self.segments.replace_one({"run_id": seg.run_id, "segment": seg.segment}, seg.model_dump(), upsert=True)

    def get_segment(self, run_id: str, segment: int) -> ProductionSegment | None:
        """One segment's document, or None before it ran whole."""
        raw = self.segments.find_one({"run_id": run_id, "segment": segment}, {"_id": 0})
        return ProductionSegment.model_validate(raw) if raw else None

    def history(self, run_id: str) -> list[ProductionSegment]:
        """The run's segments, first first."""
        docs = self.segments.find({"run_id": run_id}, {"_id": 0}).sort("segment", ASCENDING)
        return [ProductionSegment.model_validate(d) for d in docs]

    # files
    def put_file(self, path: Path, run_id: str, segment: int, kind: str) -> str:
        """Upload one file of a segment (gzipped); its GridFS id."""
        with Path(path).open("rb") as fh:
            data = gzip.compress(fh.read(), compresslevel=3)
        return str(self.fs.put(data, filename=f"{run_id}-{segment}-{kind}.gz",
                               metadata={"run_id": run_id, "segment": segment, "kind": kind}))

    def read_file(self, file_id: str) -> bytes:
        """A stored file's bytes (un-gzipped)."""
        try:
            return gzip.decompress(self.fs.get(ObjectId(file_id)).read())
        except gridfs.errors.NoFile as exc:
            raise InputError(f"production file {file_id} is missing from the store",
                             "start the production again (seiflow produce)") from exc

    def fetch_file(self, file_id: str, target: Path) -> Path:
        """Write a stored file (un-gzipped) to ``target``."""
        data = self.read_file(file_id)
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def file_id(self, run_id: str, segment: int, kind: str) -> str | None:
        """The GridFS id of one stored file of a segment (segment -1: the run's cell), or None."""
        found = self.fs.find_one({"metadata.run_id": run_id, "metadata.segment": segment, "metadata.kind": kind})
        return str(found._id) if found is not None else None

    def files(self, run_id: str) -> list[tuple[int, str]]:
        """(segment, kind) of every stored file of a run (segment -1: its cell)."""
        return sorted((f.metadata["segment"], f.metadata["kind"]) for f in self.fs.find({"metadata.run_id": run_id}))

    def delete_segment_files(self, run_id: str, segment: int, keep: set[str] | None = None) -> int:
        """Remove a segment's files (an earlier, killed attempt's), except the ids in ``keep``; how many."""
        n = 0
        for f in self.fs.find({"metadata.run_id": run_id, "metadata.segment": segment}):
            if str(f._id) not in (keep or set()):
                self.fs.delete(f._id)
                n += 1
        return n
