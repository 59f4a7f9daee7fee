"""The fixed validation set and the independent test set, and each result on them.

``validation_sets`` / ``validations``: the set that decides, and every round's result on it;
``test_sets`` / ``test_results``: the set that only reports, and the closing analysis's result on it.
"""

from __future__ import annotations

from pymatgen.core import Structure
from pymongo import DESCENDING
from pymongo.database import Database

from seiflow.constants import (
    TEST_RESULTS_COLLECTION,
    TEST_SETS_COLLECTION,
    VALIDATION_SETS_COLLECTION,
    VALIDATIONS_COLLECTION,
)
from seiflow.records.base import PerRoundStore, database
from seiflow.schemas.frame import Reference
from seiflow.schemas.validation import RoundValidation, ValidationSet


class ValidationSetStore:
    """The ``validation_sets`` collection: one :class:`ValidationSet` per campaign."""

    collection_name = VALIDATION_SETS_COLLECTION

    def __init__(self, db: Database | None = None):
        self.collection = database(db)[self.collection_name]
        self.collection.create_index("campaign", unique=True)

    def put(self, vset: ValidationSet) -> None:
        """Insert or replace the campaign's set."""
        self.collection.replace_one({"campaign": vset.campaign}, vset.model_dump(mode="json"), upsert=True)

    def get(self, campaign: str) -> ValidationSet | None:
        """The campaign's set, or None when it has none."""
        raw = self.collection.find_one({"campaign": campaign}, {"_id": 0})
        return ValidationSet.model_validate(raw) if raw else None

    def exists(self, campaign: str) -> bool:
        """Whether the campaign has a validation set."""
        return self.collection.count_documents({"campaign": campaign}, limit=1) > 0

    def reference(self, campaign: str) -> Reference | None:
        """The reference that labels the set's frames (None: no set, or none recorded)."""
        raw = self.collection.find_one({"campaign": campaign}, {"reference": 1}) or {}
        return Reference.model_validate(raw["reference"]) if raw.get("reference") else None

    def start(self, campaign: str, name: str) -> Structure | None:
        """The start structure of ``name``'s reference MD, or None."""
        raw = self.collection.find_one({"campaign": campaign}, {f"structures.{name}": 1}) or {}
        start = (raw.get("structures") or {}).get(name)
        return Structure.from_dict(start) if start else None


class TestSetStore(ValidationSetStore):
    """The ``test_sets`` collection: one independent test set per campaign (source ``test``)."""

    __test__ = False  # not a pytest class
    collection_name = TEST_SETS_COLLECTION


class ValidationStore(PerRoundStore[RoundValidation]):
    """The ``validations`` collection: one :class:`RoundValidation` per (campaign, round)."""

    collection_name = VALIDATIONS_COLLECTION
    document = RoundValidation

    def latest(self, campaign: str, with_dynamics: bool = False) -> RoundValidation | None:
        """The newest validated round (``with_dynamics``: the newest that compared dynamics)."""
        query: dict = {"campaign": campaign}
        fields = {"_id": 0, "models": 0} if with_dynamics else {"_id": 0, "dynamics": 0}
        if with_dynamics:
            query["dynamics.0"] = {"$exists": True}
        raw = self.collection.find_one(query, fields, sort=[("round", DESCENDING)])
        return RoundValidation.model_validate(raw) if raw else None


class TestResultStore(ValidationStore):
    """The ``test_results`` collection: the reported models' errors and dynamics on the test set, per round."""

    __test__ = False  # not a pytest class
    collection_name = TEST_RESULTS_COLLECTION
