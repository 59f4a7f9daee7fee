"""Arrays in frame documents: inline BSON binary when small, a GridFS file when large."""

from __future__ import annotations

from typing import Any

import gridfs
import numpy as np
from bson import Binary, ObjectId

ARRAY_FIELDS = ("positions", "cell", "forces", "virial", "atom_pref")


def encode(array: np.ndarray, fs: gridfs.GridFS, limit: int, uploaded: list[ObjectId]) -> dict[str, Any]:
    """A small document describing ``array``; the bytes inline below ``limit``, else in ``fs``.

    GridFS ids written are appended to ``uploaded`` so the caller can delete them on a lost race.
    """
    array = np.ascontiguousarray(array, dtype=np.float64)
    doc: dict[str, Any] = {"dtype": array.dtype.str, "shape": list(array.shape)}
    raw = array.tobytes()
    if len(raw) <= limit:
        doc["data"] = Binary(raw)
    else:
        file_id = fs.put(raw, metadata={"kind": "frame_array"})
        uploaded.append(file_id)
        doc["gridfs_id"] = file_id
    return doc


def decode(doc: dict[str, Any] | None, fs: gridfs.GridFS) -> np.ndarray | None:
    """The array that :func:`encode` described (None stays None)."""
    if doc is None:
        return None
    raw = bytes(doc["data"]) if "data" in doc else fs.get(doc["gridfs_id"]).read()
    return np.frombuffer(raw, dtype=np.dtype(doc["dtype"])).reshape(doc["shape"]).copy()


def gridfs_ids(doc: dict[str, Any]) -> list[ObjectId]:
    """GridFS files a stored frame document refers to."""
    arrays = doc.get("arrays") or {}
    return [a["gridfs_id"] for a in arrays.values() if a and "gridfs_id" in a]
