"""The campaign report: one self-contained HTML file (figures as base64 PNG) and the numbers as JSON.

It opens with a verdict (:mod:`seiflow.analysis.verdict`): the fixed validation set's errors next to the
study's, the RDF agreement, whether the NNP reproduces the reference's mechanism, and what to do next;
then the validation figures (:mod:`seiflow.analysis.report_validation`), then frames, models and rounds.

It reads the store (``campaigns``, ``frames``, ``models``, ``rounds``, ``validation_sets``,
``validations``, ``analyses`` and the models' GridFS files) as documents, so it works on a finished or a
still-running campaign: whatever is not there yet is listed under ``missing`` instead of failing. Extra
analysis results (RDF, mechanism, diffusion... as JSON written by ``seiflow analyze``) can be attached and
are shown as tables.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pymongo.database import Database

from seiflow.analysis import (
    plots,
    report_calibration,
    report_production,
    report_properties,
    report_validation,
)
from seiflow.analysis.chemistry import Chemistry, chemistry_of
from seiflow.analysis.report_html import STYLE, figures_html, table, verdict_html
from seiflow.analysis.verdict import Verdict, build_verdict, rmse
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
from seiflow.records.rounds import RoundStore
from seiflow.records.validations import TestResultStore, ValidationSetStore
from seiflow.registry import CALCULATORS
from seiflow.schemas.round import RoundReport

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
    round_times: list[dict[str, Any]] = Field(
        default_factory=list, description="Per round: wall time, queue wait, and each stage's span and job time, s."
    )
    calibration: list[dict[str, Any]] = Field(
        default_factory=list, description="Per round: the deviation/true-error fit, sanity labels, trust levels."
    )
    criteria: list[dict[str, Any]] = Field(
        default_factory=list, description="Per round and criterion: met or not, and why."
    )
    parity_model: str | None = None
    distillation: list[dict[str, Any]] = Field(
        default_factory=list, description="Distilled students beside their teachers on the fixed validation set.")
    verdict: Verdict | None = Field(None, description="The opening verdict.")
    validation: dict[str, Any] = Field(
        default_factory=dict, description="Fixed-set learning curve, errors per structure, parity and dynamics."
    )
    production: dict[str, Any] | None = Field(
        None, description="The newest production run: progress, segments and SEI descriptors against time.")
    properties: dict[str, Any] | None = Field(
        None, description="The newest properties stage: diffusivities, Arrhenius fits, elastic constants.")
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
    store = FrameStore(db)
    every = {"campaign": campaign, "status": None}  # labelled for the campaign or reused by it, any status

    def group(field: str) -> dict[str, int]:
        return dict(sorted(store.counts_by(field, **every).items()))

    section = {"total": store.count(**every), "by_round": group("round"), "by_status": group("status"),
               "by_source": group("source")}
    settings = [{"calculator": ref.calculator, **ref.settings} for ref in store.references(**every)]
    return section, settings


def _models_section(db: Database, campaign: str) -> list[dict[str, Any]]:
    out = []
    for m in sorted(ModelStore(db).list(campaign), key=lambda m: (m.round, m.index)):
        if m.teacher_model_id is not None:
            continue  # a distilled student learned its teacher's labels: its own table, not the learning curve
        out.append({"model_id": m.model_id, "round": m.round, "index": m.index,
                    "n_train_frames": m.data.n_train_frames, "has_parity": "parity" in m.files,
                    **{k: getattr(m.metrics, k) for k in (*METRICS, "n_test_frames")}})
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


def _round_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The round's figures as the convergence check saw them (the validation set's when it has one)."""
    out = {k: rmse(metrics.get(k)) for k in ("energy_rmse_mev_atom", "force_rmse_mev_a", "stress_rmse_mpa")}
    score = metrics.get("rdf_agreement")
    return out | {"rdf_agreement": None if score is None else round(float(score), 3)}


def _round_row(r: RoundReport) -> dict[str, Any]:
    sel = r.selection
    return {
        "round": r.round,
        "n_frames": sel.n_frames,
        "accurate_ratio": sel.accurate_ratio,
        "candidate_ratio": sel.candidate_ratio,
        "failed_ratio": sel.failed_ratio,
        "unstable_runs": sel.n_unstable_tasks,
        "n_candidate": sel.n_candidate,
        "n_selected": sel.n_selected,
        "f_trust_lo": sel.f_trust_lo_used,
        "explored_k": ", ".join(f"{t:g}" for t in r.exploration_temperatures) or None,
        "exploration_scale": r.exploration_scale,
        "sanity_p90_f_error": r.calibration.sanity.p90_f_error if r.calibration else None,
        **_round_metrics(r.metrics),
        "criteria_met": f"{sum(c.satisfied for c in r.criteria)}/{len(r.criteria)}" if r.criteria else None,
        "converged": r.converged,
        "stop_reason": r.stop_reason,
        "histogram": {"edges": sel.histogram.edges, "counts": sel.histogram.counts},
    }


def _times_row(r: RoundReport) -> dict[str, Any] | None:
    """One row of the time table: each stage as 'span s (job time s)'."""
    if r.times is None:
        return None
    row: dict[str, Any] = {"round": r.round, "wall_s": r.times.wall_s, "queue_wait_s": r.times.queue_wait_s}
    for name, t in r.times.stages.items():
        row[f"{name}_s"] = f"{t.span_s:.0f} ({t.busy_s:.0f} in {t.n_jobs})"
    return row


def _parity(db: Database, models: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """Parity data of the newest model that stored a parity file."""
    store = ModelStore(db)
    for m in reversed(models):
        if not m.get("has_parity"):
            continue
        try:
            return m["model_id"], json.loads(store.read_file(m["model_id"], "parity"))
        except Exception:  # noqa: BLE001 - a damaged parity file must not stop the report
            continue
    return None, None


def distillation_rows(db: Database, campaign: str) -> list[dict[str, Any]]:
    """Per distilled student: its file, and its and its teacher's validation RMSEs (E, F, S)."""
    store, rows = ModelStore(db), []
    for student in store.students(campaign):
        teacher = store.find_id(student.teacher_model_id)
        row = {"student": student.model_id, "teacher": student.teacher_model_id,
               "student_file": "compressed" if "compressed" in student.files else "frozen",
               "teacher_frames": student.data.n_train_frames + student.data.n_test_frames}
        for who, doc in (("teacher", teacher), ("student", student)):
            overall = doc.validation.overall if doc is not None and doc.validation else None
            for key, name in (("rmse_e_mev_atom", "E meV/atom"), ("rmse_f_mev_a", "F meV/Å"), ("rmse_v_mpa", "S MPa")):
                value = getattr(overall, key) if overall is not None else None
                row[f"{who} {name}"] = round(value, 2) if value is not None else None
        rows.append(row)
    return rows


def collect(db: Database, campaign: str, extra: dict[str, Any] | None = None) -> tuple[ReportData, dict]:
    """Gather the report's numbers (and parity data for plotting) from the store."""
    doc = campaigns.find(db, campaign) or {}
    missing = [] if doc else ["campaign document (not submitted through seiflow, or another database)"]
    configured = ((doc.get("definition") or {}).get("labelling") or {}).get("reference")
    if isinstance(configured, dict):
        configured = configured.get("code")
    frames, ref_settings = _frames_section(db, campaign)
    models = _models_section(db, campaign)
    reports = RoundStore(db).history(campaign)
    rounds = [_round_row(r) for r in reports]
    round_times = [row for r in reports if (row := _times_row(r))]
    calibration = report_calibration.calibration_section(db, campaign, reports, doc.get("definition"))
    parity_model, parity = _parity(db, models)
    for name, empty in (("labelled frames", not frames["total"]), ("trained models", not models),
                        ("round statistics (selection/convergence)", not rounds),
                        ("parity data (dp test output of a model)", parity is None)):
        if empty:
            missing.append(name)
    test_curve = learning_points(models)
    chem = chemistry_of(doc.get("definition"))
    validation, aux = _validation(db, campaign, test_curve, bool(models), chem)
    data = ReportData(
        campaign=campaign, generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        state=doc.get("state"), current_round=doc.get("round"),
        reference=describe_reference(ref_settings, configured), frames=frames, models=models,
        learning_curve=test_curve, rounds=rounds, round_times=round_times, calibration=calibration["rows"],
        criteria=calibration["criteria"], parity_model=parity_model, verdict=aux.pop("verdict"),
        distillation=distillation_rows(db, campaign), production=report_production.section(db, campaign),
        properties=report_properties.section(db, campaign),
        validation=validation, extra=extra or {}, missing=missing,
    )
    return data, {"parity": parity, "calibration_figure": calibration["figure"], "chemistry": chem, **aux}


def _validation(db: Database, campaign: str, test_curve: list[dict[str, Any]],
                predict: bool, chem: Chemistry) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validation section's numbers (JSON) and what its figures and the verdict need."""
    has_set = ValidationSetStore(db).exists(campaign)
    curve = report_validation.validation_curve(db, campaign)
    dyn, dyn_source, analysis = report_validation.final_dynamics(db, campaign)
    model = report_validation.final_model(db, campaign, analysis) if predict and has_set else None
    parity = report_validation.validation_parity(db, campaign, model) if model else {"meta": {}, "groups": {}}
    last = curve[-1] if curve else {}
    reported, reported_source = report_validation.reported_errors(db, campaign)
    source = reported_source or (
        f"round {last.get('round')}: mean of {last.get('n_models')} models on {last.get('n_frames')} "
        f"validation frames never trained on" if curve else
        "no validated round yet" if has_set else
        "this campaign has no fixed validation set (campaign section validation)")
    v = build_verdict(curve, test_curve, dyn.rdf_overall if dyn else None, dyn.rdf_per_pair if dyn else None,
                      dyn.mechanism if dyn else [], source, dyn_source, chem, reported=reported,
                      unstable=dyn.unstable if dyn else None)
    test_set = {"reported": reported, "source": reported_source,
                "per_structure": report_validation.per_structure(db, campaign, TestResultStore(db))} if reported else {}
    numbers = {"has_set": has_set, "curve": curve, "per_structure": report_validation.per_structure(db, campaign),
               "test_set": test_set,
               "parity": parity["meta"], "dynamics": {k: getattr(dyn, k) if dyn else None for k in (
                   "structure", "temperature", "model_id", "n_frames", "rdf_overall", "rdf_per_pair")}
               | {"source": dyn_source}}
    return numbers, {"verdict": v, "curve": curve, "test_curve": test_curve, "validation_parity": parity,
                     "dynamics": dyn, "analysis": analysis}


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
        figs[f"Parity on held-out training frames (dp test, {data.parity_model})"] = plots.parity(panels)
    curve = [p for p in data.learning_curve if p.get("n_labels") is not None]
    if curve and not aux.get("curve"):  # with a validation set, its learning curve shows dp test too
        figs["Learning curve on held-out training frames (dp test error vs training labels)"] = plots.learning_curve(
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
    if aux.get("calibration_figure"):
        figs["Deviation against true error: the calibration (crosses: sanity labels)"] = aux["calibration_figure"]
    rdf = data.extra.get("rdf") or {}
    dyn = aux.get("dynamics")
    if rdf.get("r") and rdf.get("curves") and not (dyn and dyn.rdf_r):
        figs["Partial RDFs"] = plots.rdfs(rdf["r"], rdf["curves"])
    return figs


def render_html(data: ReportData, figs: dict[str, str], validation_figs: dict[str, str] | None = None) -> str:
    """One self-contained HTML page: summary, verdict, validation figures, tables, other figures."""
    e = html.escape
    summary = [{"item": "campaign", "value": data.campaign}, {"item": "state", "value": data.state},
               {"item": "current round", "value": data.current_round},
               {"item": "labelled by", "value": data.reference},
               {"item": "frames", "value": data.frames.get("total")},
               {"item": "generated", "value": data.generated_at}]
    parts = [f"<h1>seiflow campaign report: {e(data.campaign)}</h1>", table(summary, ["item", "value"])]
    if data.verdict is not None:
        parts.append(verdict_html(data.verdict))
    if data.missing:
        items = "".join(f"<li>{e(m)}</li>" for m in data.missing)
        parts.append(f"<div class='missing'><h3>Not available yet</h3><ul>{items}</ul></div>")
    test_set = data.validation.get("test_set") or {}
    if test_set.get("reported"):
        parts += ["<h2>The independent test set</h2>",
                  f"<p>The verdict's figures: {e(test_set.get('source') or '')}. The validation set below decides "
                  "(stopping, the production model's start, the compression range); this set only reports.</p>",
                  table(test_set.get("per_structure") or [])]
    per_structure = data.validation.get("per_structure") or []
    parity = data.validation.get("parity") or {}
    if per_structure or validation_figs:
        parts.append("<h2>The fixed validation set</h2>")
        if per_structure:
            parts += ["<h3>Errors per structure (newest validated round, mean over its models)</h3>",
                      table(per_structure)]
        if parity.get("reason"):
            parts.append(f"<p class='note'>Parity on the validation set: {e(parity['reason'])}.</p>")
        if parity.get("skipped"):
            parts.append(f"<p class='note'>Not predicted (elements outside the model's type map): "
                         f"{e(', '.join(f'{k} ({n} frames)' for k, n in parity['skipped'].items()))}.</p>")
        parts.append(figures_html(validation_figs or {}))
    if data.distillation:
        parts += ["<h2>Distilled production model</h2>",
                  "<p>A se_e2_a student trained on frames the production model (its teacher) labelled, validated "
                  "in the form production MD runs it, beside the teacher, on the fixed validation set.</p>",
                  table(data.distillation)]
    frames = [{"group": g, "key": k, "frames": v} for g in ("by_round", "by_source", "by_status")
              for k, v in (data.frames.get(g) or {}).items()]
    parts += ["<h2>Frames</h2>", table(frames),
              "<h2>Held-out training frames (dp test, random split)</h2>",
              "<p>Energy RMSE in meV/atom, force RMSE in meV/Å, stress RMSE in MPa.</p>",
              table(data.learning_curve), "<h3>Models</h3>",
              table(data.models, ["model_id", "round", "index", "n_train_frames", *METRICS]),
              "<h2>Active-learning rounds</h2>",
              "<p class='note'>RMSEs and RDF agreement as the convergence check saw them: on the fixed validation "
              "set when the campaign has one, else dp test.</p>", table(data.rounds)]
    if data.round_times:
        parts += ["<h3>Where each round's time went</h3>",
                  "<p>Seconds per stage: first start to last end, then (the jobs' run times added up, in so "
                  "many jobs). Queue wait adds up the seconds jobs waited for a worker once they could run.</p>",
                  table(data.round_times, list(dict.fromkeys(k for row in data.round_times for k in row)))]
    if data.calibration:
        parts += ["<h3>Trust-level calibration</h3>",
                  "<p class='note'>Each round's new labels pair the ensemble's max force deviation with its true "
                  "max-atom force error; a quantile regression of log error on log deviation (one slope over all pairs "
                  "so far, each round its own offset, the newest one's) sets the next lower level where the bound "
                  "meets the campaign's target. Sanity labels: frames "
                  "the ensemble called accurate (the lowest-deviation ones while too few were), labelled to check "
                  "that claim.</p>", table(data.calibration)]
    if data.criteria:
        parts += ["<h3>Convergence criteria per round</h3>", table(data.criteria)]
    if data.production:
        parts += production_html(data.production)
    if data.properties:
        parts += properties_html(data.properties)
    for name, value in data.extra.items():
        rows = value.get("table") if isinstance(value, dict) else None
        if rows:
            title = "RDF agreement per pair (closing analysis)" if name == "rdf" else name
            parts += [f"<h2>{e(title)}</h2>", table(rows)]
    parts += ["<h2>Figures</h2>", figures_html(figs)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>seiflow {e(data.campaign)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def production_html(prod: dict[str, Any]) -> list[str]:
    """The production section: where the run stands, its segments, its descriptors against time."""
    e = html.escape
    run = prod["run"]
    perc = run.get("first_percolation_ps") or {}
    said = ("; ".join(f"the {el} network first spans the cell at {t:g} ps" for el, t in perc.items())
            if perc else "no metallic network spans the cell so far")
    speed = f"{run['atom_steps_per_s']:.3g} atom-steps/s" if run.get("atom_steps_per_s") else "speed not measured"
    text = (f"Run {run['run_id']}: <b>{e(run['state'])}</b>, {run['ns_done']:.4g} of {run['ns_total']:.4g} ns, "
            f"{run['n_atoms']:,} atoms ({e(run['cell'])}) at {run['temperature']:g} K, model {e(run['model_id'])}, "
            f"{speed}; {e(said)}.")
    if run.get("watch_level"):
        text += (f" Watched by the converged ensemble at {run['watch_level']:.3f} eV/Å "
                 f"({e(run.get('watch_level_source') or '')}).")
    if run.get("stop_reason"):
        text += f" Stopped: {e(run['stop_reason'])}."
    parts = ["<h2>Production run</h2>", f"<p>{text}</p>", "<h3>Segments (one queue job each)</h3>",
             table(prod["segments"])]
    if prod.get("learning"):
        parts += ["<h3>Learning from the production run</h3>",
                  "<p>Each uncertain stop became an active-learning round: boxes carved around the uncertain atoms "
                  "(only their core atoms in the force loss), labelled by the campaign's reference, trained on; the "
                  "old and new production model on the fixed validation set (meV/Å), and the uncertain segment run "
                  "again with the new models (watch before and after: share of uncertain checked steps, max force "
                  "deviation in eV/Å). The time series below mark where the run went on.</p>", table(prod["learning"])]
    return parts + ["<h3>SEI descriptors against time</h3>", table(prod["series"])]


def properties_html(props: dict[str, Any]) -> list[str]:
    """The properties section: what ran with which models, the Arrhenius fits, the runs, elastic constants."""
    e = html.escape
    st = props["stage"]
    text = (f"Stage {e(st['stage_id'])} with the production model {e(st['model_id'])}"
            + (f" and a committee of {st['members']} ensemble members (error bars: their spread)" if st["members"]
               else " (no committee: error bars from the fits)")
            + f"; {st['runs_done']} of {st['planned_runs']} diffusion runs done"
            + (f", {st['runs_failed']} without D (MD health)" if st["runs_failed"] else "") + ". Cells: "
            + "; ".join(f"{e(k)}: {e(v)}" for k, v in st["systems"].items()) + ".")
    parts = ["<h2>Transport and mechanics</h2>", f"<p>{text}</p>"]
    if props["arrhenius"]:
        parts += [f"<h3>{e(st['species'] or '')} diffusivity: Arrhenius fits</h3>", table(props["arrhenius"])]
        parts += [f"<p>No fit for {e(k)}: {e(v)}.</p>" for k, v in props.get("notes", {}).items()]
    if props["runs"]:
        parts += ["<h3>Diffusion runs</h3>", table(props["runs"])]
    if props["elastic"]:
        parts += ["<h3>Elastic constants (GPa, production model)</h3>", table(props["elastic"])]
    return parts


def write_report(db: Database, campaign: str, out_dir: str | Path,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``<campaign>_report.html`` and ``<campaign>_report.json``; a summary for the CLI."""
    data, aux = collect(db, campaign, extra)
    figs = {**figures(data, aux), **report_production.figures(db, campaign, data.production, aux["chemistry"]),
            **report_properties.figures(data.properties)}
    vfigs = report_validation.figures(db, campaign, aux["curve"], aux["test_curve"], aux["validation_parity"],
                                      aux["dynamics"], aux["analysis"], aux["chemistry"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / f"{campaign}_report.html", out / f"{campaign}_report.json"
    html_path.write_text(render_html(data, figs, vfigs))
    json_path.write_text(data.model_dump_json(indent=1))
    latest = data.learning_curve[-1] if data.learning_curve else {}
    fixed = aux["curve"][-1] if aux["curve"] else {}
    v = data.verdict
    return {
        "html": str(html_path), "json": str(json_path), "campaign": campaign,
        "rounds": len(data.rounds), "state": data.state, "reference": data.reference,
        "frames": data.frames.get("total", 0), "models": len(data.models), "figures": sorted({**vfigs, **figs}),
        "latest_metrics": {k: latest.get(k) for k in METRICS}, "missing": data.missing,
        "production": data.production["run"] if data.production else None,
        "properties": data.properties["stage"] if data.properties else None,
        "validation_metrics": {"round": fixed.get("round"), "n_labels": fixed.get("n_labels"),
                               "n_frames": fixed.get("n_frames"), **{k: fixed.get(k) for k in METRICS},
                               "rdf_agreement": aux["dynamics"].rdf_overall if aux["dynamics"] else None},
        "verdict": {"headline": v.headline, "accuracy_reached": v.accuracy_reached,
                    "mechanism_reproduced": v.mechanism_reproduced, "mechanism": v.mechanism.answer,
                    "rows": [r.model_dump(include={"quantity", "unit", "campaign", "study", "ratio", "status"})
                             for r in v.rows], "actions": v.actions},
    }
