"""Reference trajectories kept out of the frame documents.

Gzipped files in the GridFS bucket ``trajectories``, one per MD run, found again by the id each
sampled frame records (``provenance.trajectory``): VASP's vasprun.xml, or CP2K's positions, forces and
log together as one gzipped tar. A file is stored once: a job re-run after its worker
died stores the same trajectory again, and gets the id of the copy already there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
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

    def put(self, path: Path | list[Path], **metadata: Any) -> str:
        """Store ``path`` gzipped with ``metadata`` (campaign, source, origin, temperature...); its id.

        Several paths are stored as one tar of them (``<first file's folder>.tar.gz``). The same bytes
        with the same metadata are stored once (``metadata.sha256`` is the hash of the raw bytes).
        """
        if isinstance(path, list | tuple):
            raw, name = _tar(path), f"{Path(path[0]).parent.name}.tar"
        else:
            raw, name = Path(path).read_bytes(), Path(path).name
        metadata = {**metadata, "sha256": hashlib.sha256(raw).hexdigest()}
        query = {f"metadata.{k}": v for k, v in metadata.items()}
        existing = self.db[f"{TRAJECTORIES_BUCKET}.files"].find_one(query, {"_id": 1})
        if existing is not None:
            return str(existing["_id"])
        data = gzip.compress(raw, compresslevel=6)
        return str(self.fs.put(data, filename=f"{name}.gz", metadata=metadata))

    def read(self, trajectory_id: str) -> bytes:
        """The stored file's bytes, unzipped (a tar's bytes for several files: see :meth:`read_files`)."""
        from bson import ObjectId

        return gzip.decompress(self.fs.get(ObjectId(trajectory_id)).read())

    def find(self, **metadata: Any) -> list[dict[str, Any]]:
        """Id, file name and metadata of the stored trajectories matching ``metadata``."""
        query = {f"metadata.{k}": v for k, v in metadata.items()}
        return [{"id": str(f._id), "filename": f.filename, "metadata": f.metadata}
                for f in self.fs.find(query)]

    def read_files(self, trajectory_id: str) -> dict[str, bytes]:
        """The stored files by name: one for a single file, each member of a stored tar."""
        from bson import ObjectId

        stored = self.fs.get(ObjectId(trajectory_id))
        name, raw = stored.filename.removesuffix(".gz"), gzip.decompress(stored.read())
        if not name.endswith(".tar"):
            return {name: raw}
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _tar(paths: list[Path]) -> bytes:
    """An uncompressed tar of ``paths`` (names only, fixed times): the same files give the same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            data = Path(path).read_bytes()
            info = tarfile.TarInfo(Path(path).name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
