"""The campaign report: one self-contained HTML file (figures as base64 PNG) and the numbers as JSON.

It reads the store (``campaigns``, ``frames``, ``models``, ``rounds`` and the models' GridFS parity
files) as documents, so it works on a finished or a still-running campaign: whatever is not there yet is
listed under ``missing`` instead of failing. Extra analysis results (RDF, mechanism, diffusion... as JSON
written by ``seiflow analyze``) can be attached and are shown as tables.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pymongo.database import Database

from seiflow.analysis import plots
from seiflow.constants import (
    CAMPAIGNS_COLLECTION,
    FRAMES_COLLECTION,
    MODELS_COLLECTION,
    ROUNDS_COLLECTION,
)
from seiflow.registry import CALCULATORS

METRICS = ("rmse_e_mev_atom", "rmse_f_mev_a", "rmse_v_mpa")
REFERENCE_NAMES = {"chgnet": "CHGNet", "sevennet": "SevenNet", "vasp": "VASP", "cp2k": "CP2K"}


class ReportData(BaseModel):
    """Everything the report shows, as numbers (this is the JSON file)."""

    campaign: str
    generated_at: str
    state: str | None = None
    current_round: int | None = None
    reference: str = Field(..., description="Which reference labelled the frames, in words.")
    frames: dict[str, Any] = Field(default_factory=dict)
    models: list[dict[str, Any]] = Field(default_factory=list)
    learning_curve: list[dict[str, Any]] = Field(default_factory=list)
    rounds: list[dict[str, Any]] = Field(default_factory=list)
    parity_model: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)


def describe_reference(settings: list[dict[str, Any]], configured: str | None) -> str:
    """E.g. 'CHGNet 0.3.0 (chgnet 0.4.2) stand-in for DFT' from the frames' reference settings."""
    if not settings:
        return f"{REFERENCE_NAMES.get(configured or '', configured or 'unknown')} (configured; no frames yet)"
    parts = []
    for s in settings:
        calc = str(s.get("calculator", "unknown"))
        name = REFERENCE_NAMES.get(calc, calc)
        bits = [name]
        if s.get("model"):
            bits.append(str(s["model"]))
        if s.get("version"):
            bits.append(f"({calc} {s['version']})")
        role = "stand-in for DFT" if calc in CALCULATORS else "DFT"
        parts.append(f"{' '.join(bits)} {role}")
    return "; ".join(sorted(set(parts)))


def _frames_section(db: Database, campaign: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    coll = db[FRAMES_COLLECTION]
    match = {"campaigns": campaign}  # labelled for the campaign or reused by it

    def group(path: str) -> dict[str, int]:
        rows = coll.aggregate([{"$match": match}, {"$group": {"_id": f"${path}", "n": {"$sum": 1}}}])
        return {str(r["_id"]): int(r["n"]) for r in sorted(rows, key=lambda r: str(r["_id"]))}

    section = {"total": coll.count_documents(match), "by_round": group("provenance.round"),
               "by_status": group("status"), "by_source": group("provenance.source")}
    refs = coll.aggregate([{"$match": match}, {"$group": {"_id": "$reference"}}])
    settings = [{"calculator": r["_id"].get("calculator"), **(r["_id"].get("settings") or {})}
                for r in refs if isinstance(r.get("_id"), dict)]
    return section, settings


def _models_section(db: Database, campaign: str) -> list[dict[str, Any]]:
    fields = {"_id": 0, "model_id": 1, "round": 1, "index": 1, "metrics": 1, "data.n_train_frames": 1,
              "data.n_test_frames": 1, "files": 1}
    out = []
    for d in db[MODELS_COLLECTION].find({"campaign": campaign}, fields).sort([("round", 1), ("index", 1)]):
        metrics = d.get("metrics") or {}
        out.append({"model_id": d.get("model_id"), "round": d.get("round"), "index": d.get("index"),
                    "n_train_frames": (d.get("data") or {}).get("n_train_frames"),
                    "has_parity": "parity" in (d.get("files") or {}),
                    **{k: metrics.get(k) for k in (*METRICS, "n_test_frames")}})
    return out


def _mean(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, int | float)]
    return sum(nums) / len(nums) if nums else None


def learning_points(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per round: mean training-set size and mean test errors of its models."""
    rounds = sorted({m["round"] for m in models if m.get("round") is not None})
    points = []
    for r in rounds:
        mine = [m for m in models if m.get("round") == r]
        n = _mean([m.get("n_train_frames") for m in mine])
        points.append({"round": r, "n_labels": int(n) if n is not None else None, "n_models": len(mine),
                       **{k: _mean([m.get(k) for m in mine]) for k in METRICS}})
    return points


def _round_row(d: dict[str, Any]) -> dict[str, Any]:
    sel = d.get("selection") or {}
    ratios = d.get("ratios") or {}
    hist = sel.get("histogram") or d.get("histogram") or {}
    return {
        "round": d.get("round"),
        "n_frames": sel.get("n_frames", d.get("n_frames")),
        "accurate_ratio": sel.get("accurate_ratio", ratios.get("accurate")),
        "candidate_ratio": sel.get("candidate_ratio", ratios.get("candidate")),
        "failed_ratio": sel.get("failed_ratio", ratios.get("failed")),
        "n_candidate": sel.get("n_candidate", d.get("n_candidates")),
        "n_selected": len(sel.get("selected") or []) if sel else d.get("n_selected"),
        "f_trust_lo": sel.get("f_trust_lo_used"),
        "converged": d.get("converged"),
        "stop_reason": d.get("stop_reason"),
        "histogram": {"edges": hist.get("edges", []), "counts": hist.get("counts", [])},
    }


def _parity(db: Database, models: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """Parity data of the newest model that stored a parity file."""
    import gridfs
    from bson import ObjectId

    from seiflow.constants import MODELS_BUCKET

    for m in reversed(models):
        if not m.get("has_parity"):
            continue
        doc = db[MODELS_COLLECTION].find_one({"model_id": m["model_id"]}, {"files": 1})
        try:
            raw = gridfs.GridFS(db, MODELS_BUCKET).get(ObjectId(doc["files"]["parity"])).read()
            return m["model_id"], json.loads(raw)
        except Exception:  # noqa: BLE001 - a damaged parity file must not stop the report
            continue
    return None, None


def collect(db: Database, campaign: str, extra: dict[str, Any] | None = None) -> tuple[ReportData, dict]:
    """Gather the report's numbers (and parity data for plotting) from the store."""
    doc = db[CAMPAIGNS_COLLECTION].find_one({"name": campaign}) or {}
    missing = [] if doc else ["campaign document (not submitted through seiflow, or another database)"]
    configured = ((doc.get("definition") or {}).get("labelling") or {}).get("reference")
    if isinstance(configured, dict):
        configured = configured.get("code")
    frames, ref_settings = _frames_section(db, campaign)
    models = _models_section(db, campaign)
    rounds = [_round_row(d) for d in db[ROUNDS_COLLECTION].find({"campaign": campaign}).sort("round", 1)]
    parity_model, parity = _parity(db, models)
    for name, empty in (("labelled frames", not frames["total"]), ("trained models", not models),
                        ("round statistics (selection/convergence)", not rounds),
                        ("parity data (dp test output of a model)", parity is None)):
        if empty:
            missing.append(name)
    data = ReportData(
        campaign=campaign, generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        state=doc.get("state"), current_round=doc.get("round"),
        reference=describe_reference(ref_settings, configured), frames=frames, models=models,
        learning_curve=learning_points(models), rounds=rounds, parity_model=parity_model,
        extra=extra or {}, missing=missing,
    )
    return data, {"parity": parity}


def figures(data: ReportData, aux: dict[str, Any]) -> dict[str, str]:
    """The report's figures as base64 PNG, keyed by title (only those with data)."""
    figs: dict[str, str] = {}
    parity = aux.get("parity") or {}
    panels = []
    for key, title, unit in (("energy_per_atom", "Energy", "eV/atom"), ("force", "Force", "eV/Å"),
                             ("stress_mpa", "Stress", "MPa")):
        rows = parity.get(key) or []
        if rows:
            panels.append((title, [r[0] for r in rows], [r[1] for r in rows], unit))
    if panels:
        figs[f"Parity ({data.parity_model})"] = plots.parity(panels)
    curve = [p for p in data.learning_curve if p.get("n_labels") is not None]
    if curve:
        figs["Learning curve (test error vs training labels)"] = plots.learning_curve(
            [p["n_labels"] for p in curve], {k: [p.get(k) for p in curve] for k in METRICS})
    hists = {f"round {r['round']}": (r["histogram"]["edges"], r["histogram"]["counts"])
             for r in data.rounds if r["histogram"]["counts"]}
    if hists:
        lo = next((r["f_trust_lo"] for r in reversed(data.rounds) if r.get("f_trust_lo")), None)
        figs["Model deviation per round"] = plots.deviation_histograms(hists, (lo,) if lo else None)
    with_ratios = [r for r in data.rounds if r.get("accurate_ratio") is not None]
    if with_ratios:
        figs["Trust-level ratios per round"] = plots.ratios(
            [r["round"] for r in with_ratios],
            {k: [r.get(f"{k}_ratio") or 0.0 for r in with_ratios] for k in ("accurate", "candidate", "failed")})
    rdf = data.extra.get("rdf") or {}
    if rdf.get("r") and rdf.get("curves"):
        figs["Partial RDFs"] = plots.rdfs(rdf["r"], rdf["curves"])
    return figs


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p><em>none yet</em></p>"
    columns = columns or [k for k in rows[0] if not isinstance(rows[0][k], dict | list)]

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(data: ReportData, figs: dict[str, str]) -> str:
    """One self-contained HTML page: summary, missing parts, tables, figures."""
    e = html.escape
    summary = [{"item": "campaign", "value": data.campaign}, {"item": "state", "value": data.state},
               {"item": "current round", "value": data.current_round},
               {"item": "labelled by", "value": data.reference},
               {"item": "frames", "value": data.frames.get("total")},
               {"item": "generated", "value": data.generated_at}]
    parts = [f"<h1>seiflow campaign report: {e(data.campaign)}</h1>", _table(summary, ["item", "value"])]
    if data.missing:
        items = "".join(f"<li>{e(m)}</li>" for m in data.missing)
        parts.append(f"<div class='missing'><h3>Not available yet</h3><ul>{items}</ul></div>")
    frames = [{"group": g, "key": k, "frames": v} for g in ("by_round", "by_source", "by_status")
              for k, v in (data.frames.get(g) or {}).items()]
    parts += ["<h2>Frames</h2>", _table(frames),
              "<h2>Validation (test set)</h2>",
              "<p>Energy RMSE in meV/atom, force RMSE in meV/Å, stress RMSE in MPa.</p>",
              _table(data.learning_curve), "<h3>Models</h3>",
              _table(data.models, ["model_id", "round", "index", "n_train_frames", *METRICS]),
              "<h2>Active-learning rounds</h2>", _table(data.rounds)]
    for name, value in data.extra.items():
        rows = value.get("table") if isinstance(value, dict) else None
        if rows:
            parts += [f"<h2>{e(name)}</h2>", _table(rows)]
    parts.append("<h2>Figures</h2>")
    for title, b64 in figs.items():
        parts.append(f"<figure><img alt='{e(title)}' src='data:image/png;base64,{b64}'>"
                     f"<figcaption>{e(title)}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
             "margin:6px 0}td,th{border:1px solid #bbb;padding:2px 6px;font-size:13px}"
             ".missing{background:#fff4d6;padding:4px 12px}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>seiflow {e(data.campaign)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(db: Database, campaign: str, out_dir: str | Path,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``<campaign>_report.html`` and ``<campaign>_report.json``; a summary for the CLI."""
    data, aux = collect(db, campaign, extra)
    figs = figures(data, aux)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / f"{campaign}_report.html", out / f"{campaign}_report.json"
    html_path.write_text(render_html(data, figs))
    json_path.write_text(data.model_dump_json(indent=1))
    latest = data.learning_curve[-1] if data.learning_curve else {}
    return {
        "html": str(html_path), "json": str(json_path), "campaign": campaign,
        "rounds": len(data.rounds), "state": data.state, "reference": data.reference,
        "frames": data.frames.get("total", 0), "models": len(data.models), "figures": sorted(figs),
        "latest_metrics": {k: latest.get(k) for k in METRICS}, "missing": data.missing,
    }
