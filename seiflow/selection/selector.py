"""The selector: trust levels, geometry filters, then a capped, diverse pick of candidates.

Trust levels classify every explored frame; candidates pass the geometry filters, then farthest-point
sampling (or highest deviation first) picks at most ``max_candidates`` for labelling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from seiflow.registry import DESCRIPTORS, FILTERS
from seiflow.schemas.campaign import SelectionConfig
from seiflow.schemas.exploration import ExplorationResult, TaskStatus
from seiflow.schemas.frame import provenance_fields
from seiflow.schemas.round import FrameId, Histogram, SelectionResult
from seiflow.selection.base import Descriptor, Filter
from seiflow.selection.filters import apply_filters
from seiflow.selection.fps import farthest_point_sampling
from seiflow.selection.trust_levels import (
    AdaptiveLower,
    FrameClass,
    Levels,
    TrustLevels,
    histogram,
    sanity_pool,
)


def frame_key(structure: Structure) -> tuple[str, int] | None:
    """(task id, step) from an explored structure's provenance, or None."""
    prov = (structure.properties or {}).get("provenance") or {}
    if prov.get("origin") is None or prov.get("frame_index") is None:
        return None
    return str(prov["origin"]), int(prov["frame_index"])


@dataclass
class Selector:
    """Composes trust levels, filters, a cap and a diversity descriptor; each part can be swapped."""

    trust: TrustLevels
    max_candidates: int = 50
    filters: list[Filter] = field(default_factory=list)
    descriptor: Descriptor | None = None
    adaptive: AdaptiveLower | None = None
    n_sanity: int = 0  # random accurate (else lowest-deviation) frames labelled to check the claim
    seed: int = 0
    labelled: Callable[[Structure], bool] | None = None  # True: already labelled, neither candidate nor sanity

    def keep_floor(self) -> float:
        """Force deviation from which explored frames should be kept (exploration drops the rest)."""
        return self.adaptive.floor if self.adaptive is not None else self.trust.force.lo

    def select(
        self, results: list[ExplorationResult], structures: list[Structure]
    ) -> tuple[SelectionResult, list[Structure]]:
        """Classify all frames, filter the candidates, pick at most ``max_candidates``."""
        ran = (TaskStatus.COMPLETED, TaskStatus.UNSTABLE)  # unstable: only its frames before the blow-up
        done = [r for r in results if r.status in ran and r.deviation.n_frames]
        failed_tasks = {r.task.task_id: r.reason or "" for r in results if r.status == TaskStatus.FAILED}
        unstable = [r for r in results if r.status == TaskStatus.UNSTABLE]
        all_f = np.concatenate([r.deviation.array("max_devi_f") for r in done]) if done else np.array([])
        hi = self.trust.force.hi if self.trust.force.hi is not None else float(np.max(all_f, initial=1.0))
        lo = self.adaptive.lower_level(all_f, hi) if self.adaptive else self.trust.force.lo
        counts: Counter[int] = Counter()
        cand: list[tuple[float, str, int]] = []
        by_key = {k: s for s in structures if (k := frame_key(s)) is not None}
        kept: list[tuple[float, int, tuple[str, int]]] = []  # (deviation, class, key) of frames exploration kept
        for r in done:
            classes = self.trust.classify(r.deviation, f_lo=lo)
            counts.update(classes.tolist())
            for i in np.flatnonzero(classes == FrameClass.CANDIDATE):
                cand.append((r.deviation.max_devi_f[i], r.task.task_id, r.deviation.steps[i]))
            kept += [(f, int(c), key) for f, c, step in zip(r.deviation.max_devi_f, classes, r.deviation.steps,
                                                            strict=True)
                     if (key := (r.task.task_id, step)) in by_key]
        picked, n_filtered, reasons = self._pick(sorted(cand, reverse=True), by_key)
        n_unstable_frames = sum(r.n_unstable_frames for r in unstable)
        counts[FrameClass.FAILED] += n_unstable_frames  # neither accurate nor candidates
        n = int(sum(counts.values()))
        edges, hist = histogram(all_f, hi)
        doc = SelectionResult(
            n_frames=n,
            n_accurate=counts[FrameClass.ACCURATE],
            n_candidate=counts[FrameClass.CANDIDATE],
            n_failed=counts[FrameClass.FAILED],
            accurate_ratio=counts[FrameClass.ACCURATE] / n if n else 0.0,
            candidate_ratio=counts[FrameClass.CANDIDATE] / n if n else 0.0,
            failed_ratio=counts[FrameClass.FAILED] / n if n else 0.0,
            f_trust_lo_used=lo,
            n_filtered=n_filtered,
            filter_reasons=reasons,
            histogram=Histogram(quantity="max_devi_f", edges=edges, counts=hist),
            selected=[FrameId(task_id=t, step=s, max_devi_f=f) for f, t, s in picked],
            n_failed_tasks=len(failed_tasks),
            failed_tasks=failed_tasks,
            n_unstable_tasks=len(unstable),
            unstable_tasks={r.task.task_id: r.reason or "" for r in unstable},
            n_unstable_frames=n_unstable_frames,
        )
        pool = []
        if self.n_sanity:  # exploration kept each task's pool (sanity_picks); the same rule here, among
            # frames neither candidates nor labelled (a seed's step 0, trained on: no test of the claim)
            chosen = {(t, st) for _, t, st in picked}
            free = [k for k in kept if k[2] not in chosen and not self._is_labelled(by_key[k[2]])]
            if free:
                values, classes = np.array([k[0] for k in free]), np.array([k[1] for k in free])
                pool = [free[i][2] for i in sanity_pool(values, classes, self.n_sanity)]
        sanity = self._sanity(pool, by_key)
        doc.n_sanity = len(sanity)
        return doc, [by_key[(t, s)] for _, t, s in picked] + sanity

    def _is_labelled(self, structure: Structure) -> bool:
        """Whether ``structure`` is already labelled (a seed frame met again, a frame of an earlier round)."""
        return self.labelled is not None and self.labelled(structure)

    def _sanity(self, keys: list[tuple[str, int]], by_key: dict[tuple[str, int], Structure]) -> list[Structure]:
        """Up to ``n_sanity`` random frames of the sanity pool, marked ``provenance.sanity``."""
        if not self.n_sanity or not keys:
            return []
        rng = np.random.default_rng(self.seed)
        out = []
        for i in rng.choice(len(keys), size=min(self.n_sanity, len(keys)), replace=False):
            structure = by_key[keys[i]].copy()
            prov = dict((structure.properties or {}).get("provenance") or {})
            structure.properties = {**(structure.properties or {}),
                                    "provenance": {**prov, **provenance_fields(sanity=True)}}
            out.append(structure)
        return out

    def _pick(
        self, cand: list[tuple[float, str, int]], by_key: dict[tuple[str, int], Structure]
    ) -> tuple[list[tuple[float, str, int]], int, dict[str, int]]:
        """Filter the candidates (highest deviation first), then cap them with FPS or by deviation."""
        passed, reasons = [], Counter()
        for item in cand:
            structure = by_key.get((item[1], item[2]))
            if structure is None:
                reasons["not_kept"] += 1
                continue
            reason = "labelled" if self._is_labelled(structure) else apply_filters(self.filters, structure)
            if reason is None:
                passed.append(item)
            else:
                reasons[reason.split(":")[0]] += 1
        n_filtered = sum(v for k, v in reasons.items() if k not in ("not_kept", "labelled"))
        if len(passed) <= self.max_candidates:
            return passed, n_filtered, dict(reasons)
        if self.descriptor is None:
            return passed[: self.max_candidates], n_filtered, dict(reasons)
        feats = self.descriptor.features([by_key[(t, s)] for _, t, s in passed])
        idx = farthest_point_sampling(feats, self.max_candidates, start=0)  # 0: highest deviation
        return [passed[i] for i in idx], n_filtered, dict(reasons)


def selector_from_config(
    config: SelectionConfig, type_map: list[str], model_path: Path | None = None
) -> Selector:
    """The campaign's selector: its trust levels, registered filters and FPS descriptor.

    ``model_path`` is the round's model, for descriptors that need one (``deepmd``).
    """
    trust = TrustLevels(
        force=Levels(config.f_trust_lo, config.f_trust_hi),
        energy=Levels(config.e_trust_lo, config.e_trust_hi) if config.e_trust_lo is not None else None,
        virial=Levels(config.v_trust_lo, config.v_trust_hi) if config.v_trust_lo is not None else None,
    )
    filters: list[Filter] = [FILTERS.create(s) for s in config.filters.values()]
    descriptor: Descriptor | None = None
    if config.fps and config.descriptor is not None:
        path = Path(model_path) if model_path is not None else None
        descriptor = DESCRIPTORS.create(config.descriptor, type_map=type_map, model_path=path)
    adaptive = AdaptiveLower(rate=config.adaptive_rate) if config.adaptive_lower else None
    return Selector(trust, config.max_candidates, filters, descriptor, adaptive, n_sanity=config.n_sanity)
