"""The report's validation part: figures on the fixed validation set, read from the store.

- the validation RMSE per round against the number of training labels (``validations`` + ``models``);
- the errors per structure of the newest validated round (ensemble mean);
- parity of the final model on the validation frames, predicted here with its frozen file
  (``deepmd.calculator.DP``, at most ``MAX_PARITY_FRAMES`` frames);
- one like-for-like dynamics comparison (the closing analysis's, else the newest round's): mechanism
  descriptors against time and partial RDFs of reference and NNP;
- the picture of the structure at the start, at the reference's end and at the NNP's end.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.io.ase import AseAtomsAdaptor
from pymongo.database import Database

from seiflow.analysis import plots, verdict
from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.mechanism import describe
from seiflow.analysis.snapshot import Snapshot, marks
from seiflow.analysis.validation_metrics import evaluate
from seiflow.dataset.convert import to_atoms
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.records.analyses import AnalysisStore
from seiflow.records.validations import (
    TestResultStore,
    TestSetStore,
    ValidationSetStore,
    ValidationStore,
)
from seiflow.schemas.analysis import AnalysisRecord
from seiflow.schemas.model import ModelDoc
from seiflow.schemas.validation import VALIDATION_SOURCE, DynamicsComparison, ErrorMetrics

MAX_PARITY_FRAMES = 200  # frames the report predicts for the parity plot (evenly spread)
KEYS = ("rmse_e_mev_atom", "rmse_f_mev_a", "rmse_v_mpa", "e_offset_mev_atom", "rmse_e_centered_mev_atom")


def validation_curve(db: Database, campaign: str) -> list[dict[str, Any]]:
    """Per validated round: training labels, frames, ensemble-mean errors on the fixed set, RDF score."""
    n_labels = ModelStore(db).train_frames_per_round(campaign)
    out = []
    for v in ValidationStore(db).history(campaign, leave_out=("dynamics",)):
        out.append({"round": v.round, "n_labels": n_labels.get(v.round), "n_frames": v.n_frames,
                    "n_models": len(v.models), **{k: getattr(v.mean, k) if v.mean else None for k in KEYS},
                    "rdf_agreement": v.rdf_agreement})
    return out


def reported_errors(db: Database, campaign: str) -> tuple[dict[str, Any] | None, str]:
    """The independent test set's errors the verdict quotes, and where they come from (None, "": no test result).

    The newest test result: the models the closing analysis reported (the production model, or the last
    round's ensemble), tested on frames that no decision read.
    """
    result = TestResultStore(db).latest(campaign)
    if result is None or result.mean is None or not result.n_frames:
        return None, ""
    tset = TestSetStore(db).get(campaign)
    span = f", {tset.steps * tset.timestep_fs / 1000:g} ps at {'/'.join(f'{t:g}' for t in tset.temperatures)} K, " \
        f"seed {tset.seed}" if tset is not None else ""
    who = (f"the production model {result.models[0].model_id}" if len(result.models) == 1
           else f"mean of {len(result.models)} models of round {result.round}")
    source = (f"independent test set: {who} on {result.n_frames} frames of its own reference MD{span}; "
              "no decision read them")
    return {k: getattr(result.mean, k) for k in KEYS} | {"round": result.round, "n_frames": result.n_frames}, source


def per_structure(db: Database, campaign: str, results: ValidationStore | None = None) -> list[dict[str, Any]]:
    """Errors per structure in the newest validated round, mean over its models (rounded).

    ``results``: the store to read (default the validation set's; :class:`TestResultStore` for the test set's).
    """
    latest = (results or ValidationStore(db)).latest(campaign)
    groups: dict[str, list[ErrorMetrics]] = {}
    for m in latest.models if latest else []:
        for name, metrics in m.per_structure.items():
            groups.setdefault(name, []).append(metrics)
    rows = []
    for name, ms in sorted(groups.items(), key=lambda kv: (kv[0] != "interface", kv[0])):
        def mean(key: str, ms: list = ms) -> float | None:
            vals = [getattr(x, key) for x in ms if getattr(x, key) is not None]
            return float(np.mean(vals)) if vals else None
        rows.append({"structure": name, "frames": ms[0].n_frames,
                     "energy RMSE (meV/atom)": verdict.rmse(mean("rmse_e_mev_atom")),
                     "energy offset (meV/atom)": verdict.rmse(mean("e_offset_mev_atom")),
                     "energy RMSE, offset removed": verdict.rmse(mean("rmse_e_centered_mev_atom")),
                     "force RMSE (meV/Å)": verdict.rmse(mean("rmse_f_mev_a")),
                     "stress RMSE (MPa)": verdict.rmse(mean("rmse_v_mpa"))})
    return rows


def _pick(dynamics: list[DynamicsComparison]) -> DynamicsComparison | None:
    """The interface comparison at its highest temperature, else the first one."""
    if not dynamics:
        return None
    return max(dynamics, key=lambda d: (d.structure == "interface", d.temperature or 0))


def _describe(d: DynamicsComparison, who: str) -> str:
    t_end = (d.mechanism or [{}])[-1].get("time_ps")
    span = f" over {t_end:g} ps" if t_end else ""
    return (f"{who}: model {d.model_id}, {d.structure} at {d.temperature or 0:g} K, "
            f"{d.n_frames} frames{span}")


def final_dynamics(db: Database, campaign: str) -> tuple[DynamicsComparison | None, str, AnalysisRecord | None]:
    """(comparison, where it comes from, the closing analysis or None)."""
    analysis = AnalysisStore(db).get(campaign)
    chosen = _pick(analysis.dynamics if analysis else [])
    if chosen:
        on = {"test": ", on the independent test set", "validation": ", on the validation set"}.get(
            analysis.frame_source or "", "")
        return chosen, _describe(chosen, f"closing analysis (final model{on})"), analysis
    latest = ValidationStore(db).latest(campaign, with_dynamics=True)
    chosen = _pick(latest.dynamics if latest else [])
    if chosen:
        return chosen, _describe(chosen, f"round {latest.round} validation"), analysis
    return None, "", analysis


def final_model(db: Database, campaign: str, analysis: AnalysisRecord | None) -> ModelDoc | None:
    """The final model's document (the closing analysis's, else model 0 of the newest round)."""
    store = ModelStore(db)
    if analysis is not None:
        doc = store.find_id(analysis.model_id)
        if doc is not None:
            return doc
    models = store.list(campaign)  # newest round first, then by ensemble index
    return models[0] if models else None


def validation_parity(db: Database, campaign: str, model: ModelDoc | dict | None,
                      max_frames: int = MAX_PARITY_FRAMES, calculator: Any = None) -> dict[str, Any]:
    """Parity of ``model`` on the validation frames: ``{"meta": ..., "groups": {structure: ParityData}}``.

    ``calculator``: an ASE calculator to use instead of the model's frozen file (loaded with
    ``deepmd.calculator.DP``). Frames with elements outside the model's type map are left out.
    """
    model = ModelDoc.model_validate(model) if isinstance(model, dict) else model
    meta: dict[str, Any] = {"model_id": model.model_id if model else None, "n_frames": 0, "skipped": {}}
    if calculator is None and not (model and model.files.get("frozen")):
        return {"meta": {**meta, "reason": "the final model has no frozen file in GridFS"}, "groups": {}}
    reference = ValidationSetStore(db).reference(campaign)
    frames = FrameStore(db).find(campaign=campaign, source=VALIDATION_SOURCE, reference=reference)
    known = set(model.type_map if model else [])
    usable = []
    for f in frames:
        if not known or set(f.species) <= known:
            usable.append(f)
        else:
            name = f.provenance.origin or "?"
            meta["skipped"][name] = meta["skipped"].get(name, 0) + 1
    if not usable:
        return {"meta": {**meta, "reason": "no validation frames the model can predict"}, "groups": {}}
    keep = np.unique(np.linspace(0, len(usable) - 1, min(max_frames, len(usable))).round().astype(int))
    usable = [usable[k] for k in keep]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            calc = calculator or _load_frozen(db, model, Path(tmp))
            by_name: dict[str, list] = {}
            for f in usable:
                by_name.setdefault(f.provenance.origin or "?", []).append(f)
            groups = {name: evaluate(group, calc)[1] for name, group in sorted(by_name.items())}
            overall = evaluate(usable, calc)[0]
    except Exception as exc:  # noqa: BLE001 - a model that cannot be loaded must not stop the report
        return {"meta": {**meta, "reason": f"could not predict with the final model: {exc}"}, "groups": {}}
    meta.update(n_frames=len(usable), metrics={k: verdict.rmse(v) for k, v in overall.model_dump().items()
                                               if k.startswith("rmse") and v is not None})
    return {"meta": meta, "groups": groups}


def _load_frozen(db: Database, model: ModelDoc, tmp: Path):
    from deepmd.calculator import DP

    path = tmp / "frozen.pb"
    path.write_bytes(ModelStore(db).read_file(model.model_id, "frozen"))
    return DP(model=str(path))


def snapshot_panels(db: Database, campaign: str, dyn: DynamicsComparison,
                    analysis: AnalysisRecord | None, chem: Chemistry) -> list[tuple[str, dict[str, Any]]]:
    """Start, reference end and NNP end of the chosen comparison, each with its marks."""
    name, temperature = dyn.structure, float(dyn.temperature or 0)
    t_end = (dyn.mechanism or [{}])[-1].get("time_ps")
    at = f" at {t_end:g} ps" if t_end else ""
    panels = []
    start = ValidationSetStore(db).start(campaign, name)
    if start is not None:
        panels.append((f"start ({name})", marks(AseAtomsAdaptor.get_atoms(start), chem)))
    ref = FrameStore(db).last_of_run(campaign, VALIDATION_SOURCE, name, temperature)
    if ref is not None:
        panels.append((f"reference{at}, {temperature:g} K", marks(to_atoms(ref), chem)))
    for snap in analysis.snapshots if analysis else []:
        if snap.get("structure") == name and abs(float(snap.get("temperature") or 0) - temperature) < 0.5:
            panels.append((f"NNP{at}, {temperature:g} K", marks(Snapshot.model_validate(snap).to_atoms(), chem)))
            break
    return panels


PANEL_TOLERANCE = {"reduced": verdict.REDUCED_TOLERANCE, "cn": verdict.CN_TOLERANCE}
PANEL_KINDS = ("reduced_", "cn_", "largest_cluster_", "product_")  # what the time series shows, in this order


def mechanism_panels(rows: list[dict[str, Any]], chem: Chemistry) -> list[tuple[str, str, float | None, float]]:
    """(key, label, the verdict's tolerance or None, scale) per descriptor the rows hold, for the time series."""
    keys = dict.fromkeys(k.removesuffix("_reference") for r in rows for k in r if k.endswith("_reference"))
    panels = []
    for kind in PANEL_KINDS:
        for key in (k for k in keys if k.startswith(kind)):
            label, scale = describe(key, chem)
            panels.append((key, label, PANEL_TOLERANCE.get(kind.removesuffix("_")), scale))
    return panels


def figures(db: Database, campaign: str, curve: list[dict[str, Any]], test_curve: list[dict[str, Any]],
            parity: dict[str, Any], dyn: DynamicsComparison | None,
            analysis: AnalysisRecord | None,
            chem: Chemistry | None = None) -> dict[str, str]:
    """The validation section's figures as base64 PNG, keyed by caption (only those with data)."""
    chem = chem or Chemistry()
    figs: dict[str, str] = {}
    if curve:
        panels = [(k, q, u, s) for k, q, u, s in verdict.ERRORS]
        figs["Learning curve on the fixed validation set: ensemble-mean RMSE per round vs training labels "
             "(grey: dp test on a random split of the training data; green: the study)"] = \
            plots.fixed_set_learning_curve(curve, test_curve, panels)
    groups = parity.get("groups") or {}
    if groups:
        meta = parity["meta"]
        rows = [(title, {g: (getattr(p, ref), getattr(p, pred)) for g, p in groups.items()}, unit)
                for title, ref, pred, unit in (("Energy", "e_ref_ev_atom", "e_pred_ev_atom", "eV/atom"),
                                               ("Force", "f_ref_ev_a", "f_pred_ev_a", "eV/Å"),
                                               ("Stress", "s_ref_mpa", "s_pred_mpa", "MPa"))]
        figs[f"Parity on the validation set: final model {meta['model_id']}, {meta['n_frames']} frames "
             "never trained on"] = plots.parity_groups(rows)
    if dyn is None:
        return figs
    series = mechanism_panels(dyn.mechanism, chem)
    if series:
        figs[f"Mechanism descriptors against time, reference vs NNP ({dyn.structure}, "
             f"{dyn.temperature:g} K; grey band: the verdict's tolerance)"] = \
            plots.mechanism_series(dyn.mechanism, series)
    if dyn.rdf_r and dyn.rdf_reference:
        figs[f"Partial RDFs, reference vs NNP ({dyn.structure}, {dyn.temperature:g} K; "
             f"overall agreement {verdict.rdf_row(dyn.rdf_overall or 0.0).campaign:g})"] = plots.rdfs(
            dyn.rdf_r, {"reference": dyn.rdf_reference, "NNP": dyn.rdf_nnp}, dyn.rdf_per_pair)
    panels = snapshot_panels(db, campaign, dyn, analysis, chem)
    if panels:
        marked = "/".join(c.species for c in chem.reducible) or "no reducible cation"
        figs[f"The {dyn.structure} at the start and the end (side view along b: a across, c up, c the "
             f"interface normal; {marked} atoms and metallic clusters marked)"] = plots.snapshots(panels)
    return figs
