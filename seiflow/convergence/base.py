"""The convergence ``Criterion`` ABC: one swappable rule judged on the rounds so far."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seiflow.schemas.round import CriterionResult, RoundReport


class Criterion(ABC):
    """A stop condition judged on the history of rounds (oldest first, the current round last)."""

    name: str = "criterion"

    @abstractmethod
    def check(self, history: list[RoundReport]) -> CriterionResult:
        """Whether the condition holds after the last round in ``history``."""
