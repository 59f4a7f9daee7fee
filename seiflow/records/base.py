"""What the record stores share: the database they default to, and the per-(campaign, round) collection."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

D = TypeVar("D", bound=BaseModel)


def database(db: Database | None = None) -> Database:
    """``db``, else the configured store's database (connected on first use)."""
    if db is not None:
        return db
    from seiflow.store import get_database

    return get_database()


class PerRoundStore(Generic[D]):
    """A collection of one ``document`` per (campaign, round); a rerun of a round replaces its document.

    Subclasses name the collection and the document class (with ``campaign`` and ``round`` fields).
    """

    collection_name: ClassVar[str]
    document: ClassVar[type[BaseModel]]
    json_dates: ClassVar[bool] = False  # store datetimes as ISO strings (the rounds collection always has)

    def __init__(self, db: Database | None = None):
        self.collection = database(db)[self.collection_name]
        self.collection.create_index([("campaign", ASCENDING), ("round", ASCENDING)], unique=True)

    def put(self, doc: D) -> None:
        """Insert or replace the document of its (campaign, round)."""
        raw = doc.model_dump(mode="json") if self.json_dates else doc.model_dump()
        self.collection.replace_one({"campaign": doc.campaign, "round": doc.round}, raw, upsert=True)

    def get(self, campaign: str, round_index: int) -> D | None:
        """The document of one round, or None."""
        raw = self.collection.find_one({"campaign": campaign, "round": round_index}, {"_id": 0})
        return self.document.model_validate(raw) if raw else None

    def last_round(self, campaign: str) -> int | None:
        """The campaign's highest stored round, or None."""
        raw = self.collection.find_one({"campaign": campaign}, {"round": 1}, sort=[("round", DESCENDING)])
        return int(raw["round"]) if raw else None

    def history(self, campaign: str, leave_out: tuple[str, ...] = ()) -> list[D]:
        """Every round's document, oldest first (without the fields in ``leave_out``, which take defaults)."""
        fields: dict[str, Any] = {"_id": 0, **dict.fromkeys(leave_out, 0)}
        docs = self.collection.find({"campaign": campaign}, fields).sort("round", ASCENDING)
        return [self.document.model_validate(d) for d in docs]
