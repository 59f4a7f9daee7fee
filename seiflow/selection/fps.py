"""Diversity among candidates: farthest-point sampling on a per-structure descriptor.

Two descriptors: the DeePMD model's own (per-atom descriptors averaged per element) and a model-free
per-element-pair distance histogram (cheap, used when no model file is at hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymatgen.core import Structure

from seiflow.errors import InputError
from seiflow.registry import DESCRIPTORS
from seiflow.selection.base import Descriptor


def farthest_point_sampling(features: np.ndarray, k: int, start: int = 0) -> list[int]:
    """Indices of ``k`` rows chosen greedily, each the farthest (Euclidean) from those already chosen."""
    n = features.shape[0]
    if k <= 0 or n == 0:
        return []
    if k >= n:
        return list(range(n))
    if not 0 <= start < n:
        raise ValueError(f"start index {start} outside 0..{n - 1}")
    x = np.asarray(features, dtype=float).reshape(n, -1)
    chosen = [start]
    dist = np.linalg.norm(x - x[start], axis=1)
    for _ in range(k - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(x - x[nxt], axis=1))
    return chosen


def _per_element_mean(values: np.ndarray, symbols: list[str], type_map: list[str]) -> np.ndarray:
    """Mean of per-atom rows per element (zeros for absent elements), concatenated in type_map order."""
    parts = []
    arr = np.asarray(symbols)
    for element in type_map:
        mask = arr == element
        parts.append(values[mask].mean(axis=0) if mask.any() else np.zeros(values.shape[1]))
    return np.concatenate(parts)


@DESCRIPTORS.register("distance_histogram")
@dataclass
class DistanceHistogramDescriptor(Descriptor):
    """Per element pair, a normalised histogram of interatomic distances up to ``rcut`` (Å)."""

    settings_exclude: ClassVar[tuple[str, ...]] = ("type_map",)

    type_map: list[str]
    rcut: float = field(default=5.0, metadata={"description": "Largest distance counted, Å."})
    bins: int = field(default=20, metadata={"description": "Histogram bins per element pair."})
    name: str = "distance_histogram"

    @classmethod
    def from_settings(
        cls, settings: Any, type_map: list[str], model_path: Path | None = None
    ) -> DistanceHistogramDescriptor:
        """The descriptor of ``selection.descriptor: distance_histogram`` (needs no model)."""
        return cls(list(type_map), settings.rcut, settings.bins)

    def features(self, structures: list[Structure]) -> np.ndarray:
        """Per-pair distance histograms, one row per structure."""
        pairs = [(a, b) for i, a in enumerate(self.type_map) for b in self.type_map[i:]]
        edges = np.linspace(0.5, self.rcut, self.bins + 1)
        rows = []
        for s in structures:
            centers, neighbors, _, dists = s.get_neighbor_list(self.rcut)
            sym = np.array([site.specie.symbol for site in s])
            row = []
            for a, b in pairs:
                mask = ((sym[centers] == a) & (sym[neighbors] == b)) | (
                    (sym[centers] == b) & (sym[neighbors] == a)
                )
                counts, _ = np.histogram(dists[mask], bins=edges)
                row.append(counts / max(len(s), 1))
            rows.append(np.concatenate(row))
        return np.array(rows).reshape(len(structures), -1)


@DESCRIPTORS.register("deepmd")
@dataclass
class DeepmdDescriptor(Descriptor):
    """A frozen DeePMD model's descriptor, averaged per element (the model's own view of diversity).

    The round's first model is used; without one, selection falls back to distance histograms.
    """

    settings_exclude: ClassVar[tuple[str, ...]] = ("model_path", "type_map")

    model_path: Path
    type_map: list[str]
    name: str = "deepmd"
    _dp: object = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Any, type_map: list[str], model_path: Path | None = None
    ) -> Descriptor:
        """The descriptor of ``selection.descriptor: deepmd`` with the round's model."""
        if model_path is None:
            return DistanceHistogramDescriptor(list(type_map))
        return cls(Path(model_path), list(type_map))

    def _model(self):
        if self._dp is None:
            from deepmd.infer import DeepPot

            if not Path(self.model_path).is_file():
                raise InputError(f"model file {self.model_path} not found", "give a frozen model path")
            self._dp = DeepPot(str(self.model_path))
        return self._dp

    def features(self, structures: list[Structure]) -> np.ndarray:
        """The model's descriptor averaged per element, one row per structure."""
        dp = self._model()
        model_types = dp.get_type_map()
        rows = []
        for s in structures:
            symbols = [site.specie.symbol for site in s]
            atype = np.array([model_types.index(x) for x in symbols])
            desc = dp.eval_descriptor(
                s.cart_coords.reshape(1, -1), s.lattice.matrix.reshape(1, -1), atype
            )
            rows.append(_per_element_mean(np.asarray(desc)[0], symbols, self.type_map))
        return np.array(rows)
