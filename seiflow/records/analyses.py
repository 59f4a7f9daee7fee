"""The ``analyses`` collection: one :class:`AnalysisRecord` (the closing analysis) per campaign."""

from __future__ import annotations

from pymongo.database import Database

from seiflow.constants import ANALYSES_COLLECTION
from seiflow.records.base import database
from seiflow.schemas.analysis import AnalysisRecord


class AnalysisStore:
    """Put and read the campaigns' closing analyses."""

    def __init__(self, db: Database | None = None):
        self.collection = database(db)[ANALYSES_COLLECTION]
        self.collection.create_index("campaign", unique=True)

    def put(self, record: AnalysisRecord) -> None:
        """Insert or replace the campaign's closing analysis."""
        self.collection.replace_one({"campaign": record.campaign}, record.model_dump(), upsert=True)

    def get(self, campaign: str) -> AnalysisRecord | None:
        """The campaign's closing analysis, or None before it ran."""
        raw = self.collection.find_one({"campaign": campaign}, {"_id": 0})
        return AnalysisRecord.model_validate(raw) if raw else None
