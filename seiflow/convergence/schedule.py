"""Adaptive exploration: how long the next round's runs are, and how hot, from what this round found.

ArcaNN's rule, with a way back: when fewer than 10 % of the explored frames are candidates or failed the
runs get 4x longer, under 20 % 2x; when more than half are, they get half as long again (never shorter
than the campaign's own schedule); the multiplier is capped at ``max_scale``. The temperature range
follows the same shares: under 20 % it takes in the campaign's next temperature, over half it gives back
the last one taken in (never the first). Both are recorded in each round's report.
"""

from __future__ import annotations

from seiflow.schemas.round import SelectionResult

RULE = ((0.10, 4.0), (0.20, 2.0))  # (share of candidates + failed below, multiply by)
SHRINK_ABOVE = 0.5


def _flagged_share(selection: SelectionResult) -> float | None:
    """Share of the explored frames that are candidates or failed (None: nothing explored)."""
    if selection.n_frames == 0:
        return None
    return (selection.n_candidate + selection.n_failed) / selection.n_frames


def next_scale(scale: float, selection: SelectionResult, max_scale: float) -> float:
    """The run-length multiplier of the next round."""
    share = _flagged_share(selection)
    if share is None:
        return scale
    for below, factor in RULE:
        if share < below:
            return min(scale * factor, max_scale)
    if share > SHRINK_ABOVE:
        return max(scale / 2.0, 1.0)
    return scale


def next_n_temperatures(n: int, selection: SelectionResult, n_max: int) -> int:
    """How many of the campaign's temperatures (in its order) the next round explores."""
    share = _flagged_share(selection)
    if share is None:
        return n
    if share < RULE[-1][0]:
        return min(n + 1, n_max)
    if share > SHRINK_ABOVE:
        return max(n - 1, 1)
    return n
