"""The model store: trained DeePMD models (GridFS files + one document each)."""

from seiflow.models.store import ModelStore

__all__ = ["ModelStore"]
