"""Reference trajectories kept out of the frame documents.

Gzipped files in the GridFS bucket ``trajectories``, one per MD run, found again by the id each
sampled frame records (``provenance.trajectory``).
"""

from __future__ import annotations

import gzip
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
        """Store ``path`` gzipped with ``metadata`` (campaign, origin, temperature...); its id."""
        path = Path(path)
        data = gzip.compress(path.read_bytes(), compresslevel=6)
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
