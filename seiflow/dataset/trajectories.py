"""Reference trajectories kept out of the frame documents.

Gzipped files in the GridFS bucket ``trajectories``, one per MD run, found again by the id each
sampled frame records (``provenance.trajectory``). A file is stored once: a job re-run after its worker
died stores the same trajectory again, and gets the id of the copy already there.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import gridfs
from pymongo.database import Database

from seiflow.constants import TRAJECTORIES_BUCKET


class TrajectoryStore:
    """Whole MD trajectories (vasprun.xml, CP2K pos/frc files) in GridFS, gzipped."""

    def __init__(self, db: Database | None = None):
        if db is None:
            from seiflow.store import get_database

            db = get_database()
        self.db = db
        self.fs = gridfs.GridFS(db, TRAJECTORIES_BUCKET)

    def put(self, path: Path, **metadata: Any) -> str:
        """Store ``path`` gzipped with ``metadata`` (campaign, origin, temperature...); its id.

        The same bytes with the same metadata are stored once (``metadata.sha256`` is the raw file's hash).
        """
        path = Path(path)
        raw = path.read_bytes()
        metadata = {**metadata, "sha256": hashlib.sha256(raw).hexdigest()}
        query = {f"metadata.{k}": v for k, v in metadata.items()}
        existing = self.db[f"{TRAJECTORIES_BUCKET}.files"].find_one(query, {"_id": 1})
        if existing is not None:
            return str(existing["_id"])
        data = gzip.compress(raw, compresslevel=6)
        return str(self.fs.put(data, filename=f"{path.name}.gz", metadata=metadata))

    def read(self, trajectory_id: str) -> bytes:
        """The stored file's bytes, unzipped."""
        from bson import ObjectId

        return gzip.decompress(self.fs.get(ObjectId(trajectory_id)).read())

    def find(self, **metadata: Any) -> list[dict[str, Any]]:
        """Id, file name and metadata of the stored trajectories matching ``metadata``."""
        query = {f"metadata.{k}": v for k, v in metadata.items()}
        return [{"id": str(f._id), "filename": f.filename, "metadata": f.metadata}
                for f in self.fs.find(query)]
