"""The properties stage's records (collection ``properties``): stages, diffusion runs, fits, elastic constants.

A document's ``kind`` says which; each carries its campaign and ``stage_id``. A diffusion run is stored by
its own job as soon as it ends, so a stage whose fit has not run yet still shows what is done.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from seiflow.constants import PROPERTIES_COLLECTION
from seiflow.errors import InputError
from seiflow.records.base import database
from seiflow.schemas.properties import ArrheniusResult, DiffusionRun, ElasticRecord, PropertiesStage

KEYS = {  # what makes each kind of document unique within a stage
    "stage": (),
    "diffusion_run": ("system", "n_atoms", "temperature", "model_id"),
    "arrhenius": ("system", "region"),
    "elastic": ("name",),
}


class PropertyStore:
    """Put and read the properties stage's documents."""

    def __init__(self, db: Database | None = None):
        self.collection = database(db)[PROPERTIES_COLLECTION]
        self.collection.create_index([("stage_id", ASCENDING), ("kind", ASCENDING)])
        self.collection.create_index([("campaign", ASCENDING), ("created_at", ASCENDING)])

    def put(self, doc: PropertiesStage | DiffusionRun | ArrheniusResult | ElasticRecord) -> None:
        """Insert or replace a document (a rerun job replaces what its earlier attempt stored)."""
        key = {"stage_id": doc.stage_id, "kind": doc.kind, **{k: getattr(doc, k) for k in KEYS[doc.kind]}}
        self.collection.replace_one(key, doc.model_dump(), upsert=True)

    def count_stages(self, campaign: str) -> int:
        """Properties stages of a campaign so far."""
        return self.collection.count_documents({"campaign": campaign, "kind": "stage"})

    def stage(self, stage_id: str) -> PropertiesStage:
        """A stage by id, or an InputError."""
        raw = self.collection.find_one({"stage_id": stage_id, "kind": "stage"}, {"_id": 0})
        if raw is None:
            raise InputError(f"no properties stage {stage_id!r} in the store", "start one with seiflow properties")
        return PropertiesStage.model_validate(raw)

    def latest(self, campaign: str) -> PropertiesStage | None:
        """The campaign's newest stage, or None."""
        raw = self.collection.find_one({"campaign": campaign, "kind": "stage"}, {"_id": 0},
                                       sort=[("created_at", DESCENDING)])
        return PropertiesStage.model_validate(raw) if raw else None

    def stages(self, campaign: str) -> list[PropertiesStage]:
        """The campaign's stages, newest first."""
        docs = self.collection.find({"campaign": campaign, "kind": "stage"}, {"_id": 0}).sort("created_at", DESCENDING)
        return [PropertiesStage.model_validate(d) for d in docs]

    def _of(self, stage_id: str, kind: str) -> list[dict[str, Any]]:
        return list(self.collection.find({"stage_id": stage_id, "kind": kind}, {"_id": 0})
                    .sort([("system", ASCENDING), ("n_atoms", ASCENDING), ("temperature", ASCENDING)]))

    def runs(self, stage_id: str) -> list[DiffusionRun]:
        """The stage's diffusion runs stored so far."""
        return [DiffusionRun.model_validate(d) for d in self._of(stage_id, "diffusion_run")]

    def fits(self, stage_id: str) -> list[ArrheniusResult]:
        """The stage's Arrhenius fits."""
        return [ArrheniusResult.model_validate(d) for d in self._of(stage_id, "arrhenius")]

    def elastic(self, stage_id: str) -> list[ElasticRecord]:
        """The stage's elastic constants."""
        return [ElasticRecord.model_validate(d) for d in self._of(stage_id, "elastic")]
