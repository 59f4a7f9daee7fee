"""Trained models in MongoDB: files in the GridFS bucket ``models``, one document each in ``models``.

Fetching writes only inside the destination folder: stored names are reduced to a safe base name.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import gridfs
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from seiflow.constants import MODELS_BUCKET, MODELS_COLLECTION
from seiflow.errors import InputError
from seiflow.schemas.model import ModelDoc
from seiflow.schemas.validation import ModelValidation

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(name: str, fallback: str = "model") -> str:
    """A file name that cannot leave its folder: base name only, odd characters replaced."""
    base = _UNSAFE.sub("_", Path(str(name).replace("\\", "/")).name).lstrip(".")
    return base or fallback


def new_model_id(campaign: str, round_: int, index: int) -> str:
    """``<campaign>-r<round>-m<index>-<8 hex>``."""
    return f"{campaign}-r{round_:03d}-m{index}-{uuid.uuid4().hex[:8]}"


class ModelStore:
    """Put, list and fetch trained models."""

    def __init__(self, db: Database | None = None):
        if db is None:
            from seiflow.store import get_database

            db = get_database()
        self.db = db
        self.collection = db[MODELS_COLLECTION]
        self.fs = gridfs.GridFS(db, MODELS_BUCKET)
        self.collection.create_index("model_id", unique=True)
        self.collection.create_index([("campaign", ASCENDING), ("round", DESCENDING)])

    def put_file(self, path: Path, model_id: str, kind: str) -> str:
        """Upload one file to GridFS; its id as a string."""
        path = Path(path)
        with path.open("rb") as handle:
            file_id = self.fs.put(
                handle, filename=safe_name(path.name), metadata={"model_id": model_id, "kind": kind}
            )
        return str(file_id)

    def put(self, doc: ModelDoc, files: dict[str, Path] | None = None) -> ModelDoc:
        """Upload ``files`` (kind -> path) and insert the document; replaces a doc with the same id."""
        for kind, path in (files or {}).items():
            doc.files[kind] = self.put_file(path, doc.model_id, kind)
            doc.file_names[kind] = safe_name(Path(path).name)
        old = self.collection.find_one({"model_id": doc.model_id}, {"files": 1})
        self.collection.replace_one({"model_id": doc.model_id}, doc.model_dump(), upsert=True)
        if old:
            for kind, file_id in old.get("files", {}).items():
                if doc.files.get(kind) != file_id:
                    self.fs.delete(ObjectId(file_id))
        return doc

    def set_validation(self, model_id: str, validation: ModelValidation) -> None:
        """Record a model's errors on the campaign's fixed validation set (``ModelDoc.validation``)."""
        self.collection.update_one({"model_id": model_id}, {"$set": {"validation": validation.model_dump(mode="json")}})

    def set_teacher(self, model_id: str, teacher_id: str) -> None:
        """Mark a model as the distilled student of ``teacher_id`` (``ModelDoc.teacher_model_id``)."""
        self.collection.update_one({"model_id": model_id}, {"$set": {"teacher_model_id": teacher_id}})

    def students(self, campaign: str) -> list[ModelDoc]:
        """The campaign's distilled students, oldest first."""
        cursor = self.collection.find({"campaign": campaign, "teacher_model_id": {"$ne": None}},
                                      {"_id": 0}).sort("created_at", ASCENDING)
        return [ModelDoc.model_validate(raw) for raw in cursor]

    def train_frames_per_round(self, campaign: str) -> dict[int, int]:
        """Round -> mean number of training frames of its models."""
        rows = self.collection.aggregate([
            {"$match": {"campaign": campaign}},
            {"$group": {"_id": "$round", "n": {"$avg": "$data.n_train_frames"}}}])
        return {int(r["_id"]): int(round(r["n"])) for r in rows if r.get("n") is not None}

    def find(self, campaign: str, round: int, index: int) -> ModelDoc | None:
        """The stored model ``index`` of ``round`` of ``campaign``, if training it already finished."""
        raw = self.collection.find_one(
            {"campaign": campaign, "round": round, "index": index}, {"_id": 0},
            sort=[("created_at", -1)],
        )
        return ModelDoc.model_validate(raw) if raw else None

    def get(self, model_id: str) -> ModelDoc:
        """The document of ``model_id``."""
        doc = self.find_id(model_id)
        if doc is None:
            raise InputError(f"no model {model_id!r} in the store", "list them with: seiflow models list")
        return doc

    def last_round(self, campaign: str) -> int | None:
        """The campaign's highest round with a stored model, or None."""
        raw = self.collection.find_one({"campaign": campaign}, {"round": 1}, sort=[("round", DESCENDING)])
        return int(raw["round"]) if raw else None

    def find_id(self, model_id: str) -> ModelDoc | None:
        """The document of ``model_id``, or None when it is not stored."""
        raw = self.collection.find_one({"model_id": model_id}, {"_id": 0})
        return ModelDoc.model_validate(raw) if raw else None

    def list(self, campaign: str | None = None, round: int | None = None) -> list[ModelDoc]:
        """Models, newest round first, then by ensemble index."""
        query: dict[str, Any] = {}
        if campaign is not None:
            query["campaign"] = campaign
        if round is not None:
            query["round"] = round
        cursor = self.collection.find(query, {"_id": 0, "input": 0}).sort(
            [("campaign", ASCENDING), ("round", DESCENDING), ("index", ASCENDING)]
        )
        return [ModelDoc.model_validate({**raw, "input": {}}) for raw in cursor]

    def latest_ensemble(self, campaign: str) -> list[ModelDoc]:
        """The models of the campaign's highest round (one per ensemble index, newest wins)."""
        top = self.collection.find_one({"campaign": campaign}, sort=[("round", DESCENDING)])
        if top is None:
            return []
        docs = self.collection.find({"campaign": campaign, "round": top["round"]}, {"_id": 0})
        by_index: dict[int, ModelDoc] = {}
        for raw in docs.sort("created_at", ASCENDING):
            doc = ModelDoc.model_validate(raw)
            by_index[doc.index] = doc
        return [by_index[i] for i in sorted(by_index)]

    def read_file(self, model_id: str, kind: str) -> bytes:
        """The bytes of one stored file of a model."""
        doc = self.get(model_id)
        if kind not in doc.files:
            raise InputError(f"model {model_id} has no {kind!r} file", f"stored: {sorted(doc.files)}")
        try:
            return self.fs.get(ObjectId(doc.files[kind])).read()
        except (InvalidId, gridfs.errors.NoFile) as exc:
            raise InputError(f"file {kind} of {model_id} is missing from GridFS", "retrain it") from exc

    def put_pretrained(self, path: Path, sha256: str) -> str:
        """Upload a pretrained checkpoint once (by its SHA-256, checked here); its GridFS id."""
        from seiflow.schemas.pretrained import sha256_of

        found = self.fs.find_one({"metadata.kind": "pretrained", "metadata.sha256": sha256})
        if found is not None:
            return str(found._id)
        if sha256_of(Path(path)) != sha256:
            raise InputError(f"{path} changed since the campaign was loaded (SHA-256 differs)",
                             "load the campaign again (seiflow validate) and submit it")
        with Path(path).open("rb") as handle:
            return str(self.fs.put(handle, filename=safe_name(Path(path).name),
                                   metadata={"kind": "pretrained", "sha256": sha256}))

    def fetch_pretrained(self, sha256: str, target: Path) -> Path:
        """Write the pretrained checkpoint with this SHA-256 to ``target``; its path."""
        found = self.fs.find_one({"metadata.kind": "pretrained", "metadata.sha256": sha256})
        if found is None:
            raise InputError(f"no pretrained checkpoint {sha256[:12]}... in the store",
                             "submit the campaign with seiflow submit (it uploads training.finetune.model)")
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(found.read())
        return target

    def fetch(self, model_id: str, dest_dir: Path, kind: str | None = None) -> Path:
        """Write a model file into ``dest_dir`` (compressed if stored, else frozen); its path."""
        doc = self.get(model_id)
        kind = kind or ("compressed" if "compressed" in doc.files else "frozen")
        data = self.read_file(model_id, kind)
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        name = safe_name(f"{doc.model_id}-{doc.file_names.get(kind, kind)}")
        target = (dest_dir / name).resolve()
        if target.parent != dest_dir.resolve():
            raise InputError(f"refusing to write {name} outside {dest_dir}", "report this model document")
        target.write_bytes(data)
        return target
