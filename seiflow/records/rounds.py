"""The ``rounds`` collection: one :class:`RoundReport` per (campaign, round)."""

from __future__ import annotations

from seiflow.constants import ROUNDS_COLLECTION
from seiflow.records.base import PerRoundStore
from seiflow.schemas.round import RoundReport


class RoundStore(PerRoundStore[RoundReport]):
    """The round reports: ``put`` after judging a round, ``get`` one, ``history`` of a campaign."""

    collection_name = ROUNDS_COLLECTION
    document = RoundReport
    json_dates = True
