"""Matplotlib figures (Agg backend) returned as base64 PNG strings for embedding in the HTML report."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def to_base64(fig) -> str:
    """PNG bytes of ``fig`` as base64 text; closes the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def parity(panels: Sequence[tuple[str, Sequence[float], Sequence[float], str]]) -> str:
    """Parity plots, one panel per (title, reference, predicted, unit)."""
    panels = [p for p in panels if len(p[1])]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4 * max(len(panels), 1), 3.8), squeeze=False)
    for ax, (title, ref, pred, unit) in zip(axes[0], panels, strict=False):
        ref, pred = np.asarray(ref, dtype=float), np.asarray(pred, dtype=float)
        lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.scatter(ref, pred, s=4, alpha=0.5)
        ax.set(title=title, xlabel=f"reference ({unit})", ylabel=f"NNP ({unit})")
    return to_base64(fig)


def learning_curve(n_labels: Sequence[int], series: dict[str, Sequence[float | None]]) -> str:
    """Error vs number of training labels, one line per metric (log-log where positive)."""
    fig, axes = plt.subplots(1, max(len(series), 1), figsize=(4 * max(len(series), 1), 3.4), squeeze=False)
    for ax, (name, values) in zip(axes[0], series.items(), strict=False):
        pts = [(n, v) for n, v in zip(n_labels, values, strict=True) if v is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-")
        ax.set(xlabel="training labels", ylabel=name)
    return to_base64(fig)


def deviation_histograms(hists: dict[str, tuple[Sequence[float], Sequence[int]]],
                         trust: tuple[float, float] | None = None) -> str:
    """Max force deviation histograms, one step line per round, with the trust levels."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, (edges, counts) in hists.items():
        counts = np.asarray(counts, dtype=float)
        if counts.sum() > 0:
            ax.stairs(counts / counts.sum(), np.asarray(edges), label=label)
    if trust:
        for level in trust:
            ax.axvline(level, color="k", ls=":", lw=0.8)
    ax.set(xlabel="max force deviation (eV/Å)", ylabel="fraction of frames")
    if hists:
        ax.legend(fontsize=7)
    return to_base64(fig)


def ratios(rounds: Sequence[int], series: dict[str, Sequence[float]]) -> str:
    """Accurate/candidate/failed fractions per round."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, values in series.items():
        ax.plot(rounds, values, "o-", label=name)
    ax.set(xlabel="round", ylabel="fraction", ylim=(0, 1))
    ax.legend(fontsize=7)
    return to_base64(fig)


def rdfs(r: Sequence[float], curves: dict[str, dict[str, Sequence[float]]]) -> str:
    """Partial RDFs, one panel per pair, one line per trajectory (``curves[label][pair]``)."""
    pairs = sorted({p for c in curves.values() for p in c})
    fig, axes = plt.subplots(1, max(len(pairs), 1), figsize=(3.2 * max(len(pairs), 1), 3), squeeze=False)
    for ax, pair in zip(axes[0], pairs, strict=False):
        for label, c in curves.items():
            if pair in c:
                ax.plot(r, c[pair], label=label)
        ax.set(title=pair, xlabel="r (Å)", ylabel="g(r)")
        ax.legend(fontsize=7)
    return to_base64(fig)


def series(x: Sequence[float], ys: dict[str, Sequence[float | None]], xlabel: str, ylabel: str) -> str:
    """A simple line plot (front position vs time, cluster size vs time...)."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, y in ys.items():
        ax.plot(x, [np.nan if v is None else v for v in y], "o-", label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=7)
    return to_base64(fig)
