"""The ``campaigns`` collection: one document per submitted campaign (definition, state, rounds)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo.database import Database

from seiflow.constants import CAMPAIGNS_COLLECTION
from seiflow.errors import InputError
from seiflow.schemas.campaign import Campaign, campaign_from_dict


class CampaignState(StrEnum):
    """A campaign's life."""

    RUNNING = "running"
    CONVERGED = "converged"
    NOT_CONVERGED = "not_converged"  # stopped at the round cap
    STALLED = "stalled"  # a round explored frames, selected none and was not converged
    FAILED = "failed"  # every exploration failed, or a job could not run


FINISHED = {CampaignState.CONVERGED.value, CampaignState.NOT_CONVERGED.value, CampaignState.STALLED.value}


def _now() -> datetime:
    return datetime.now(UTC)


def check_new(db: Database, name: str) -> None:
    """Refuse a campaign name that is already in the store (nothing is changed)."""
    existing = db[CAMPAIGNS_COLLECTION].find_one({"name": name}, {"state": 1})
    if existing is not None:
        raise InputError(
            f"campaign {name!r} is already in the store (state {existing['state']})",
            "give the campaign another name, or follow it with `seiflow status`",
        )


def ensure(db: Database, campaign: Campaign, fw_ids: list[int] | None = None) -> dict[str, Any]:
    """Record a campaign if it is not recorded yet (idempotent: submit and its first job both call it)."""
    coll = db[CAMPAIGNS_COLLECTION]
    coll.create_index("name", unique=True)
    on_insert = {
        "name": campaign.name,
        "definition": campaign.model_dump(mode="json"),
        "state": CampaignState.RUNNING.value,
        "round": 0,
        "submitted_at": _now(),
        "history": [],
    }
    update: dict[str, Any] = {"$setOnInsert": on_insert, "$set": {"updated_at": _now()}}
    if fw_ids:
        update["$addToSet"] = {"fw_ids": {"$each": fw_ids}}
    coll.update_one({"name": campaign.name}, update, upsert=True)
    return coll.find_one({"name": campaign.name}, {"_id": 0})


def exists(db: Database, name: str) -> bool:
    """Whether a campaign of this name is in the store."""
    return db[CAMPAIGNS_COLLECTION].count_documents({"name": name}, limit=1) > 0


def find(db: Database, name: str) -> dict[str, Any] | None:
    """The campaign document, or None (a report on a campaign not submitted through seiflow)."""
    return db[CAMPAIGNS_COLLECTION].find_one({"name": name}, {"_id": 0})


def get(db: Database, name: str) -> dict[str, Any]:
    """The campaign document, or an InputError naming the known campaigns."""
    doc = db[CAMPAIGNS_COLLECTION].find_one({"name": name})
    if doc is None:
        known = sorted(db[CAMPAIGNS_COLLECTION].distinct("name"))
        raise InputError(
            f"no campaign named {name!r} in the store",
            f"use one of {known}" if known else "submit one with `seiflow submit workflows/<file>.yaml`",
        )
    return doc


def load(db: Database, name: str) -> Campaign:
    """The stored campaign definition."""
    return campaign_from_dict(get(db, name)["definition"], f"stored campaign {name}")


def update_state(
    db: Database, name: str, *, round_index: int | None = None, state: CampaignState | None = None,
    note: str | None = None,
) -> None:
    """Move a campaign on (round reached, final state), keeping a short history."""
    update: dict[str, Any] = {"updated_at": _now()}
    if round_index is not None:
        update["round"] = round_index
    if state is not None:
        update["state"] = state.value
    push = {"history": {"at": _now(), "round": round_index, "state": state.value if state else None,
                        "note": note}}
    db[CAMPAIGNS_COLLECTION].update_one({"name": name}, {"$set": update, "$push": push})


def set_final_model(db: Database, name: str, model_id: str) -> None:
    """Record the campaign's production model (what ``seiflow status`` and the production input take)."""
    db[CAMPAIGNS_COLLECTION].update_one({"name": name}, {"$set": {"final_model_id": model_id}})


def set_structures(db: Database, name: str, structures: dict[str, dict]) -> None:
    """Record structures the campaign built (e.g. its interface, as a pymatgen dict) for later stages."""
    db[CAMPAIGNS_COLLECTION].update_one(
        {"name": name}, {"$set": {f"structures.{key}": value for key, value in structures.items()}})


def list_campaigns(db: Database) -> list[dict[str, Any]]:
    """Name, state and round of every stored campaign."""
    return list(
        db[CAMPAIGNS_COLLECTION].find({}, {"_id": 0, "name": 1, "state": 1, "round": 1}).sort("name", 1)
    )
