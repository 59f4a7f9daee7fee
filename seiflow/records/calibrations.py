"""The ``calibrations`` collection: one :class:`CalibrationRecord` per (campaign, round)."""

from __future__ import annotations

from seiflow.constants import CALIBRATIONS_COLLECTION
from seiflow.records.base import PerRoundStore
from seiflow.schemas.calibration import CalibrationPair, CalibrationRecord


class CalibrationStore(PerRoundStore[CalibrationRecord]):
    """The rounds' calibrations: ``put``, ``get``, ``history``, and the pairs fitted so far."""

    collection_name = CALIBRATIONS_COLLECTION
    document = CalibrationRecord

    def pairs_before(self, campaign: str, round_index: int) -> list[tuple[int, CalibrationPair]]:
        """(round, pair) for every pair of the rounds before ``round_index`` (sanity labels included)."""
        docs = self.collection.find({"campaign": campaign, "round": {"$lt": round_index}}, {"pairs": 1, "round": 1})
        return [(int(d["round"]), CalibrationPair.model_validate(p)) for d in docs for p in d.get("pairs", [])]
