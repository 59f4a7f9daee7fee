"""The swappable pieces of selection: a geometry ``Filter`` and a ``Descriptor`` for diversity."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from pymatgen.core import Structure


class Filter(ABC):
    """A geometry sanity check on one candidate structure."""

    name: str = "filter"

    @abstractmethod
    def check(self, structure: Structure) -> str | None:
        """None when the structure passes, else a short reason."""


class Descriptor(ABC):
    """A fixed-length feature vector per structure, for farthest-point sampling."""

    name: str = "descriptor"

    @abstractmethod
    def features(self, structures: list[Structure]) -> np.ndarray:
        """An ``(n_structures, n_features)`` array."""
