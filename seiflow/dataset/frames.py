"""FrameStore: labelled frames in MongoDB, one document per frame keyed by its content hash.

A frame document is small metadata (species, formula, energy, reference, provenance, status); its
arrays are inline binary when small and GridFS files (bucket ``ARRAYS_BUCKET``) when larger than the
``inline_array_limit`` setting. ``_id`` is the frame's content hash of (structure, calculator
settings), so the same structure is stored once across rounds and concurrent workers: a duplicate
key on insert means another worker stored it first.

Examples
--------
>>> store = FrameStore()                                 # doctest: +SKIP
>>> frame_id, inserted = store.add(frame)                # doctest: +SKIP
>>> store.counts_by("formula", campaign="demo")          # doctest: +SKIP
{'Cl6In1Li3': 12}
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import gridfs
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from seiflow.constants import ARRAYS_BUCKET, FRAMES_COLLECTION
from seiflow.dataset import arrays
from seiflow.dataset.convert import formula_of, structure_arrays
from seiflow.errors import InputError
from seiflow.schemas.frame import (
    FrameStatus,
    LabelledFrame,
    Provenance,
    Reference,
    reference_bytes,
    reference_key,
    species_digest,
    structure_hash,
)

DUPLICATE_KEY = 11000  # MongoDB error code of a duplicate _id

# Query/grouping names -> document paths.
FIELDS = {
    "campaign": "provenance.campaign",
    "round": "provenance.round",
    "source": "provenance.source",
    "origin": "provenance.origin",
    "formula": "formula",
    "composition": "formula",
    "status": "status",
    "calculator": "reference.calculator",
}


class FrameStore:
    """Labelled frames in the seiflow database (``db`` defaults to :func:`seiflow.store.get_database`).

    Public API: :meth:`add`, :meth:`add_many`, :meth:`get`, :meth:`has`, :meth:`find`, :meth:`ids`,
    :meth:`count`, :meth:`counts_by`, :meth:`references`, :meth:`last_of_run`, :meth:`record_failure`,
    :meth:`export_deepmd`.
    """

    def __init__(self, db: Database | None = None, inline_array_limit: int | None = None):
        if db is None or inline_array_limit is None:
            from seiflow.settings import load_settings

            settings = load_settings()
            if db is None:
                from seiflow.store import get_database

                db = get_database(settings)
            inline_array_limit = inline_array_limit or settings.inline_array_limit
        self.db = db
        self.collection = db[FRAMES_COLLECTION]
        self.fs = gridfs.GridFS(db, ARRAYS_BUCKET)
        self.inline_array_limit = int(inline_array_limit)
        self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        # Every frame query names a campaign (``query`` matches it in ``campaigns``), so that is the one
        # secondary index: each index is written on every insert, and round, formula and status (few
        # distinct values, always queried together with a campaign) would slow inserts for no query.
        self.collection.create_index([("campaigns", ASCENDING)])

    # -- writing ------------------------------------------------------------------------------
    def add(self, frame: LabelledFrame) -> tuple[str, bool]:
        """Store a frame; returns ``(frame_id, inserted)``. Idempotent and safe under concurrency.

        A frame already stored (same content hash) is left as it is and ``inserted`` is False,
        except that a labelled or flagged frame replaces an earlier failed record of it.
        """
        frame_id = frame.content_hash()
        uploaded: list = []
        doc = self._to_doc(frame, frame_id, uploaded)
        try:
            self.collection.insert_one(doc)
            return frame_id, True
        except DuplicateKeyError:
            return self._resolve_duplicate(frame, frame_id, doc, uploaded)

    def _resolve_duplicate(
        self, frame: LabelledFrame, frame_id: str, doc: dict[str, Any], uploaded: list
    ) -> tuple[str, bool]:
        """After a duplicate key: replace a failed record with a labelled frame, else drop the copy."""
        replaced = None
        if frame.status != FrameStatus.FAILED:
            replaced = self.collection.find_one_and_replace(
                {"_id": frame_id, "status": FrameStatus.FAILED.value}, doc
            )
        if replaced is None:
            self._delete_files(uploaded)
            self.tag_campaign([frame_id], frame.provenance.campaign)
            return frame_id, False
        self._delete_files(arrays.gridfs_ids(replaced))
        return frame_id, True

    def add_many(self, frames: Iterable[LabelledFrame], batch: int = 500) -> list[tuple[str, bool]]:
        """:meth:`add` each frame, written ``batch`` at a time; returns ``(frame_id, inserted)`` in order."""
        results: list[tuple[str, bool]] = []
        chunk: list[LabelledFrame] = []
        for frame in frames:
            chunk.append(frame)
            if len(chunk) >= batch:
                results += self._insert_batch(chunk)
                chunk = []
        return results + (self._insert_batch(chunk) if chunk else [])

    def _insert_batch(self, frames: list[LabelledFrame]) -> list[tuple[str, bool]]:
        shared = _Shared()
        ids = [shared.content_hash(frame) for frame in frames]
        uploads: list[list] = [[] for _ in frames]
        docs = [self._to_doc(f, i, up, shared) for f, i, up in zip(frames, ids, uploads, strict=True)]
        duplicates: set[int] = set()
        try:
            self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                duplicates.add(error["index"])
        return [
            self._resolve_duplicate(frames[k], ids[k], docs[k], uploads[k]) if k in duplicates
            else (ids[k], True)
            for k in range(len(frames))
        ]

    def tag_campaign(self, frame_ids: list[str], campaign: str | None) -> None:
        """Count stored frames as ``campaign``'s too (a structure labelled once serves every campaign)."""
        if campaign and frame_ids:
            self.collection.update_many(
                {"_id": {"$in": list(frame_ids)}}, {"$addToSet": {"campaigns": campaign}}
            )

    def record_failure(
        self, structure: Any, reference: Reference, provenance: Provenance, reason: str
    ) -> str:
        """Record that labelling ``structure`` failed (after corrections) and why; returns its frame id.

        ``structure`` is a pymatgen Structure, an ASE Atoms or a LabelledFrame. The record has no
        labels and status ``failed``; it is never exported, and a later successful label replaces it.
        """
        species, positions, cell, pbc = structure_arrays(structure)
        frame = LabelledFrame(
            species=species, positions=positions, cell=cell, pbc=pbc, reference=reference,
            provenance=provenance, status=FrameStatus.FAILED, reason=reason,
        )
        frame_id, _ = self.add(frame)
        return frame_id

    def _to_doc(
        self, frame: LabelledFrame, frame_id: str, uploaded: list, shared: _Shared | None = None
    ) -> dict[str, Any]:
        shared = shared or _Shared()
        encoded = {}
        for name in arrays.ARRAY_FIELDS:
            value = getattr(frame, name)
            encoded[name] = (
                None if value is None
                else arrays.encode(value, self.fs, self.inline_array_limit, uploaded)
            )
        return {
            "_id": frame_id,
            "species": list(frame.species),
            "formula": shared.formula(frame.species),
            "natoms": frame.natoms,
            "pbc": list(frame.pbc),
            "energy": frame.energy,
            "arrays": encoded,
            "reference": frame.reference.model_dump(mode="json"),
            "reference_key": shared.reference_key(frame.reference),
            "provenance": frame.provenance.model_dump(mode="json"),
            "campaigns": [frame.provenance.campaign] if frame.provenance.campaign else [],
            "status": frame.status.value,
            "reason": frame.reason,
            "created_at": frame.created_at,
        }

    def _delete_files(self, ids: list) -> None:
        for file_id in ids:
            self.fs.delete(file_id)

    # -- reading ------------------------------------------------------------------------------
    def has(self, frame_id: str, include_failed: bool = False) -> bool:
        """True when a frame with this content hash is stored (failed records only if asked)."""
        query: dict[str, Any] = {"_id": frame_id}
        if not include_failed:
            query["status"] = {"$ne": FrameStatus.FAILED.value}
        return self.collection.count_documents(query, limit=1) > 0

    def get(self, frame_id: str) -> LabelledFrame:
        """The stored frame with this id; :class:`InputError` when there is none."""
        doc = self.collection.find_one({"_id": frame_id})
        if doc is None:
            raise InputError(f"no frame {frame_id!r} in the dataset", "list ids with: seiflow frames list")
        return self._from_doc(doc)

    def _from_doc(self, doc: dict[str, Any]) -> LabelledFrame:
        data = {name: arrays.decode(doc["arrays"].get(name), self.fs) for name in arrays.ARRAY_FIELDS}
        return LabelledFrame(
            species=doc["species"], pbc=tuple(doc.get("pbc", (True, True, True))),
            energy=doc.get("energy"), reference=Reference(**doc["reference"]),
            provenance=Provenance(**doc["provenance"]), status=FrameStatus(doc["status"]),
            reason=doc.get("reason"), created_at=doc["created_at"], **data,
        )

    @staticmethod
    def query(
        campaign: str | None = None,
        round: int | None = None,
        max_round: int | None = None,
        source: str | None = None,
        formula: str | None = None,
        status: str | FrameStatus | None = FrameStatus.LABELLED,
        calculator: str | None = None,
        reference: Reference | dict | None = None,
        exclude_sources: list[str] | tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """The MongoDB filter for these criteria (None means any; ``status=None`` means all).

        ``reference`` keeps frames labelled by exactly that calculator and settings;
        ``exclude_sources`` drops frames of those provenance sources (e.g. ``validation``).
        """
        q: dict[str, Any] = {}
        if campaign is not None:
            q["campaigns"] = campaign  # labelled for it, or labelled earlier and reused by it
        if round is not None:
            q["provenance.round"] = int(round)
        elif max_round is not None:
            q["provenance.round"] = {"$lte": int(max_round)}
        if source is not None:
            q["provenance.source"] = source
        if formula is not None:
            q["formula"] = formula
        if status is not None:
            q["status"] = FrameStatus(status).value
        if calculator is not None:
            q["reference.calculator"] = calculator
        if reference is not None:
            q["reference_key"] = reference_key(reference)
        if exclude_sources:
            if source is not None and source in exclude_sources:
                raise InputError(f"source {source!r} is both asked for and excluded", "drop one of them")
            q.setdefault("provenance.source", {"$nin": list(exclude_sources)})
        return q

    def find(self, **criteria: Any) -> Iterator[LabelledFrame]:
        """Frames matching :meth:`query` criteria (campaign, round, max_round, source, formula, status)."""
        cursor = self.collection.find(self.query(**criteria)).sort("_id", ASCENDING)
        for doc in cursor:
            yield self._from_doc(doc)

    def ids(self, **criteria: Any) -> list[str]:
        """Ids of frames matching :meth:`query` criteria, sorted."""
        cursor = self.collection.find(self.query(**criteria), {"_id": 1}).sort("_id", ASCENDING)
        return [doc["_id"] for doc in cursor]

    def summaries(self, limit: int = 0, **criteria: Any) -> list[dict[str, Any]]:
        """Small per-frame records (no arrays) of frames matching :meth:`query` criteria."""
        cursor = self.collection.find(self.query(**criteria), {"arrays": 0}).sort("_id", ASCENDING)
        return [
            {
                "id": doc["_id"], "formula": doc["formula"], "natoms": doc["natoms"],
                "energy": doc.get("energy"), "status": doc["status"], "reason": doc.get("reason"),
                "calculator": doc["reference"]["calculator"], **doc["provenance"],
            }
            for doc in cursor.limit(limit)
        ]

    def references(self, **criteria: Any) -> list[Reference]:
        """The distinct references (calculator and settings) of frames matching :meth:`query` criteria."""
        rows = self.collection.aggregate([{"$match": self.query(**criteria)}, {"$group": {"_id": "$reference"}}])
        return [Reference(**row["_id"]) for row in rows if isinstance(row.get("_id"), dict)]

    def last_of_run(self, campaign: str, source: str, origin: str, temperature: float) -> LabelledFrame | None:
        """The labelled frame of highest ``frame_index`` of one MD run (``origin`` at ``temperature`` ± 0.5 K)."""
        query = {**self.query(campaign=campaign, source=source), "provenance.origin": origin,
                 "provenance.temperature": {"$gte": temperature - 0.5, "$lte": temperature + 0.5}}
        doc = self.collection.find_one(query, sort=[("provenance.frame_index", DESCENDING)])
        return self._from_doc(doc) if doc else None

    def count(self, **criteria: Any) -> int:
        """How many frames match :meth:`query` criteria."""
        return self.collection.count_documents(self.query(**criteria))

    def counts_by(self, field: str, **criteria: Any) -> dict[str, int]:
        """Frame counts grouped by one field.

        ``field`` is ``round``, ``source``, ``formula``, ``status``, ``campaign``, ``origin`` or
        ``calculator``; keys are strings (a missing value is ``"None"``).
        """
        if field not in FIELDS:
            raise InputError(f"cannot group frames by {field!r}", f"use one of {', '.join(FIELDS)}")
        pipeline = [
            {"$match": self.query(**criteria)},
            {"$group": {"_id": f"${FIELDS[field]}", "n": {"$sum": 1}}},
        ]
        rows = sorted(self.collection.aggregate(pipeline), key=lambda r: _sort_key(r["_id"]))
        return {str(row["_id"]): int(row["n"]) for row in rows}

    def export_deepmd(
        self, out_dir: str | Path, type_map: list[str] | None = None, **criteria: Any
    ) -> list[Path]:
        """Write matching frames as deepmd/npy systems, one per composition; returns their folders.

        ``type_map`` fixes the element order shared by all systems (the campaign's
        ``system.type_map``); without it the sorted elements of the exported frames are used.
        """
        from seiflow.dataset.export import export_documents

        # Whole documents, unsorted: a server-side projection or sort costs the embedded server more
        # than it saves (and a sort holds every matching document); export sorts each system by _id.
        cursor = self.collection.find(self.query(**criteria))
        return export_documents(cursor, Path(out_dir), type_map, self.fs)


class _Shared:
    """What frames of one batch usually share (species list, reference), worked out once per batch.

    The formula, and the species and reference parts of the content hash.

    ``content_hash`` is :func:`structure_hash` with those parts passed in (the same hash).
    """

    def __init__(self) -> None:
        self._species: dict[tuple[str, ...], tuple[str, Any]] = {}
        self._references: dict[int, tuple[Reference, bytes]] = {}

    def _species_entry(self, species: list[str]) -> tuple[str, Any]:
        key = tuple(species)
        entry = self._species.get(key)
        if entry is None:
            entry = self._species[key] = (formula_of(species), species_digest(species))
        return entry

    def _reference_json(self, reference: Reference) -> bytes:
        entry = self._references.get(id(reference))
        if entry is None or entry[0] is not reference:  # the entry holds the object, so its id is not reused
            entry = (reference, reference_bytes(reference))
            self._references[id(reference)] = entry
        return entry[1]

    def formula(self, species: list[str]) -> str:
        """The reduced formula of these species."""
        return self._species_entry(species)[0]

    def reference_key(self, reference: Reference) -> str:
        """:func:`reference_key` of the reference, from its cached JSON."""
        return hashlib.sha256(self._reference_json(reference)).hexdigest()[:20]

    def content_hash(self, frame: LabelledFrame) -> str:
        return structure_hash(
            frame.species, frame.positions, frame.cell, frame.reference,
            species_part=self._species_entry(frame.species)[1], reference_part=self._reference_json(frame.reference),
        )


def _sort_key(value: Any) -> tuple:
    """Numbers first in numeric order, then strings, then None."""
    if isinstance(value, int | float):
        return (0, value, "")
    return (1, 0, str(value)) if value is not None else (2, 0, "")
