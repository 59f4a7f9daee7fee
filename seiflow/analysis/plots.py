"""Matplotlib figures (Agg backend) returned as base64 PNG strings for embedding in the HTML report."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from pymatgen.core import Element  # noqa: E402


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
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    return to_base64(fig)


def rdfs(r: Sequence[float], curves: dict[str, dict[str, Sequence[float]]],
         scores: dict[str, float] | None = None) -> str:
    """Partial RDFs, one panel per pair (3 per row), one line per trajectory (``curves[label][pair]``).

    ``scores``: the agreement score of each pair, shown in its panel title.
    """
    pairs = sorted({p for c in curves.values() for p in c})
    ncols = min(max(len(pairs), 1), 3)
    nrows = -(-max(len(pairs), 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 2.9 * nrows), squeeze=False)
    styles = {"reference": {"color": "k", "lw": 1.6}, "NNP": {"color": "tab:red", "lw": 1.2, "ls": "--"}}
    for ax, pair in zip(axes.flat, pairs, strict=False):
        for label, c in curves.items():
            if pair in c:
                ax.plot(r, c[pair], label=label, **styles.get(label, {}))
        title = pair if not scores or pair not in scores else f"{pair}   agreement {scores[pair]:.2f}"
        ax.set(title=title, xlabel="r (Å)", ylabel="g(r)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_visible(False)
    fig.tight_layout()
    return to_base64(fig)


def series(x: Sequence[float], ys: dict[str, Sequence[float | None]], xlabel: str, ylabel: str,
           marks: dict[str, float] | None = None) -> str:
    """A simple line plot (front position vs time, cluster size vs time...); ``marks``: label -> x of a dashed line."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, y in ys.items():
        ax.plot(x, [np.nan if v is None else v for v in y], "o-", label=name)
    for label, at in (marks or {}).items():
        ax.axvline(at, color="grey", ls="--", lw=1, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=7)
    return to_base64(fig)


def fixed_set_learning_curve(points: Sequence[dict], test_points: Sequence[dict],
                             panels: Sequence[tuple[str, str, str, float]]) -> str:
    """Validation-set RMSE per round against training labels, with dp test and the study's line.

    ``points``/``test_points``: dicts with ``n_labels``, ``round`` and the metric keys; ``panels``:
    (key, title, unit, the study's value).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (key, title, unit, study) in zip(axes[0], panels, strict=True):
        pts = [(p["n_labels"], p[key], p.get("round")) for p in points
               if p.get(key) is not None and p.get("n_labels") is not None]
        if pts:
            ax.plot([x for x, _, _ in pts], [y for _, y, _ in pts], "o-", color="tab:blue",
                    label="validation set")
            for x, y, rnd in pts:
                ax.annotate(f"r{rnd}", (x, y), textcoords="offset points", xytext=(3, 4), fontsize=7)
        test = [(p["n_labels"], p[key]) for p in test_points
                if p.get(key) is not None and p.get("n_labels") is not None]
        if test:
            ax.plot(*zip(*test, strict=True), "s--", color="tab:gray", ms=4, label="dp test (random split)")
        ax.axhline(study, color="tab:green", ls=":", lw=1.5, label=f"the study ({study:g})")
        ax.set(title=title, xlabel="training labels", ylabel=f"RMSE ({unit})", ylim=(0, None))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return to_base64(fig)


def parity_groups(panels: Sequence[tuple[str, dict[str, tuple[Sequence[float], Sequence[float]]], str]]) -> str:
    """Parity plots, one panel per (title, {group: (reference, predicted)}, unit), one colour per group."""
    panels = [p for p in panels if any(len(ref) for ref, _ in p[1].values())]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 4.0), squeeze=False)
    for ax, (title, groups, unit) in zip(axes[0], panels, strict=False):
        every = np.concatenate([np.r_[np.asarray(a, float), np.asarray(b, float)] for a, b in groups.values()])
        lo, hi = float(every.min()), float(every.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        for name, (ref, pred) in groups.items():
            if len(ref):
                ax.scatter(ref, pred, s=5, alpha=0.5, label=name)
        ax.set(title=title, xlabel=f"reference ({unit})", ylabel=f"NNP ({unit})")
        if len(groups) > 1:
            ax.legend(fontsize=7, markerscale=2)
    fig.tight_layout()
    return to_base64(fig)


def mechanism_series(rows: Sequence[dict], panels: Sequence[tuple[str, str, float | None, float]]) -> str:
    """Mechanism descriptors against time for the reference (black) and the NNP (red).

    ``panels``: (descriptor key, y label, tolerance band around the reference or None, y scale factor).
    """
    t = [r.get("time_ps") for r in rows]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.0), squeeze=False)
    for ax, (key, label, tol, scale) in zip(axes[0], panels, strict=True):
        ref = np.array([np.nan if r.get(f"{key}_reference") is None else r[f"{key}_reference"] for r in rows],
                       dtype=float) * scale
        nnp = np.array([np.nan if r.get(f"{key}_nnp") is None else r[f"{key}_nnp"] for r in rows],
                       dtype=float) * scale
        ax.plot(t, ref, "k-", lw=1.6, label="reference")
        if tol is not None:
            ax.fill_between(t, np.clip(ref - tol * scale, 0, None), ref + tol * scale, color="k", alpha=0.08, lw=0,
                            label="tolerance")
        ax.plot(t, nnp, "--", color="tab:red", lw=1.4, label="NNP")
        ax.set(title=label, xlabel="time (ps)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return to_base64(fig)


SPECIES_COLOURS = ("#b8b8b8", "#7fc97f", "#beaed4", "#fdc086", "#386cb0", "#f0027f")  # unmarked elements
STATE_STYLE = {"coordinated": ("#6a3d9a", 36, "{} coordinated"), "reduced": ("#ff7f00", 46, "{} reduced")}


def snapshots(panels: Sequence[tuple[str, dict]]) -> str:
    """Side views (along a across, along c up: the interface normal) with reducible cations and clusters marked.

    ``panels``: (title, :func:`seiflow.analysis.snapshot.marks` output). Each metallic cluster gets one
    colour, with a black edge; other elements are small dots, lightest for the lightest element.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 6.4), squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab10")
    for ax, (title, m) in zip(axes[0], panels, strict=True):
        cell = np.asarray(m["cell"], dtype=float)
        frac = np.asarray(m["positions"], dtype=float) @ np.linalg.inv(cell)
        a_len, c_len = float(np.linalg.norm(cell[0])), float(np.linalg.norm(cell[2]))
        pos = np.stack([frac[:, 0] * a_len, frac[:, 1], frac[:, 2] * c_len], axis=1)  # along a, -, along c
        species, state, cluster = np.asarray(m["species"]), np.asarray(m["state"]), np.asarray(m["cluster"])
        cations, metals = "/".join(m["cations"]), "/".join(m["metals"])
        ax.plot([0, a_len, a_len, 0, 0], [0, 0, c_len, c_len, 0], color="0.6", lw=0.8)
        plain = sorted(set(species.tolist()) - set(m["cations"]) - set(m["metals"]), key=lambda el: Element(el).Z)
        for k, el in enumerate(plain):
            sel = species == el
            ax.scatter(pos[sel, 0], pos[sel, 2], s=6 if k == 0 else 10, c=SPECIES_COLOURS[k % len(SPECIES_COLOURS)],
                       lw=0, label=el)
        for key, (color, size, label) in STATE_STYLE.items():
            sel = state == key
            if sel.any():
                ax.scatter(pos[sel, 0], pos[sel, 2], s=size, c=color, edgecolors="none", label=label.format(cations))
        for k in sorted(set(cluster[cluster >= 0].tolist())):
            sel = cluster == k
            ax.scatter(pos[sel, 0], pos[sel, 2], s=70, c=[cmap(k % 10)], edgecolors="k", lw=1.0,
                       label=f"{metals} cluster" if k == 0 else None)
        ax.set_aspect("equal")
        ax.set(title=title, xlabel="along a (Å)")
        ax.text(0.0, -0.11, f"{cations or 'cations'} {m['n_cations']}: reduced {m['n_reduced']}, clusters "
                f"{m['n_clusters']} (largest {m['largest_cluster']})", transform=ax.transAxes, fontsize=9, va="top")
    axes[0][0].set_ylabel("along c, the interface normal (Å)")
    handles, labels = {}, {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
            labels[lab] = lab
    fig.legend(list(handles.values()), list(labels), loc="upper center", ncol=len(labels), fontsize=8,
               markerscale=1.2, frameon=False, bbox_to_anchor=(0.5, 1.04))
    fig.tight_layout()
    return to_base64(fig)


def calibration(pairs: dict[int, Sequence[tuple[float, float]]], sanity: Sequence[tuple[float, float]],
                bound=None, bound_label: str = "", target: float | None = None,
                level: float | None = None) -> str:
    """Deviation vs true error (log-log) per round, sanity labels, the fitted bound, the target and its level."""
    fig, ax = plt.subplots(figsize=(6, 4))
    everything = [p for rows in pairs.values() for p in rows] + list(sanity)
    for rnd, rows in pairs.items():
        if rows:
            x, y = np.asarray(rows, dtype=float).T
            ax.scatter(x, y, s=10, alpha=0.7, label=f"round {rnd} labels")
    if sanity:
        x, y = np.asarray(sanity, dtype=float).T
        ax.scatter(x, y, s=28, marker="x", color="k", label="sanity labels")
    dev = np.asarray([p[0] for p in everything], dtype=float)
    if bound is not None and dev.size:
        grid = np.geomspace(max(dev.min(), 1e-3) / 1.5, dev.max() * 1.5, 50)
        ax.plot(grid, bound(grid), "k-", lw=1.2, label=bound_label)
    if target:
        ax.axhline(target, color="tab:red", ls="--", lw=0.9, label=f"target {target:g} eV/Å")
    if level:
        ax.axvline(level, color="tab:red", ls=":", lw=0.9, label=f"lower level {level:.3f} eV/Å")
    ax.set(xscale="log", yscale="log", xlabel="max force deviation of the ensemble (eV/Å)",
           ylabel="true max-atom force error (eV/Å)")
    ax.legend(fontsize=7)
    return to_base64(fig)


def arrhenius(curves: dict[str, tuple[Sequence[float], Sequence[float | None], Sequence[float | None]]]) -> str:
    """D (log scale) against 1000/T per curve, with error bars (the committee's spread); name -> (T, D, err)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, (t, d, err) in curves.items():
        x = [1000.0 / v for v in t]
        y = [np.nan if v is None or v <= 0 else v for v in d]
        e = [0.0 if v is None else v for v in err] if err else None
        ax.errorbar(x, y, yerr=e, fmt="o-", capsize=3, label=name)
    ax.set_yscale("log")
    ax.set(xlabel="1000 / T (1/K)", ylabel="D (Å²/ps)")
    ax.legend(fontsize=7)
    return to_base64(fig)
