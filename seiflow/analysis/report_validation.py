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
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from seiflow.analysis import plots, verdict
from seiflow.analysis.snapshot import Snapshot, marks
from seiflow.constants import (
    ANALYSES_COLLECTION,
    FRAMES_COLLECTION,
    MODELS_BUCKET,
    MODELS_COLLECTION,
    VALIDATION_SETS_COLLECTION,
    VALIDATIONS_COLLECTION,
)

VALIDATION_SOURCE = "validation"
MAX_PARITY_FRAMES = 200  # frames the report predicts for the parity plot (evenly spread)
KEYS = ("rmse_e_mev_atom", "rmse_f_mev_a", "rmse_v_mpa", "e_offset_mev_atom", "rmse_e_centered_mev_atom")


def labels_per_round(db: Database, campaign: str) -> dict[int, int]:
    """Round -> mean number of training frames of its models."""
    rows = db[MODELS_COLLECTION].aggregate([
        {"$match": {"campaign": campaign}},
        {"$group": {"_id": "$round", "n": {"$avg": "$data.n_train_frames"}}}])
    return {int(r["_id"]): int(round(r["n"])) for r in rows if r.get("n") is not None}


def validation_curve(db: Database, campaign: str) -> list[dict[str, Any]]:
    """Per validated round: training labels, frames, ensemble-mean errors on the fixed set, RDF score."""
    n_labels = labels_per_round(db, campaign)
    out = []
    for doc in db[VALIDATIONS_COLLECTION].find({"campaign": campaign}, {"_id": 0, "dynamics": 0}).sort("round", 1):
        mean = doc.get("mean") or {}
        out.append({"round": doc.get("round"), "n_labels": n_labels.get(doc.get("round")),
                    "n_frames": doc.get("n_frames"), "n_models": len(doc.get("models") or []),
                    **{k: mean.get(k) for k in KEYS}, "rdf_agreement": doc.get("rdf_agreement")})
    return out


def per_structure(db: Database, campaign: str) -> list[dict[str, Any]]:
    """Errors per validation structure in the newest validated round, mean over its models (rounded)."""
    doc = db[VALIDATIONS_COLLECTION].find_one({"campaign": campaign}, {"models": 1, "round": 1},
                                              sort=[("round", DESCENDING)])
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in (doc or {}).get("models") or []:
        for name, metrics in (m.get("per_structure") or {}).items():
            groups.setdefault(name, []).append(metrics)
    rows = []
    for name, ms in sorted(groups.items(), key=lambda kv: (kv[0] != "interface", kv[0])):
        def mean(key: str, ms: list = ms) -> float | None:
            vals = [x[key] for x in ms if x.get(key) is not None]
            return float(np.mean(vals)) if vals else None
        rows.append({"structure": name, "frames": ms[0].get("n_frames"),
                     "energy RMSE (meV/atom)": verdict.rmse(mean("rmse_e_mev_atom")),
                     "energy offset (meV/atom)": verdict.rmse(mean("e_offset_mev_atom")),
                     "energy RMSE, offset removed": verdict.rmse(mean("rmse_e_centered_mev_atom")),
                     "force RMSE (meV/Å)": verdict.rmse(mean("rmse_f_mev_a")),
                     "stress RMSE (MPa)": verdict.rmse(mean("rmse_v_mpa"))})
    return rows


def _pick(dynamics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The interface comparison at its highest temperature, else the first one."""
    if not dynamics:
        return None
    return max(dynamics, key=lambda d: (d.get("structure") == "interface", d.get("temperature") or 0))


def _describe(d: dict[str, Any], who: str) -> str:
    t_end = (d.get("mechanism") or [{}])[-1].get("time_ps")
    span = f" over {t_end:g} ps" if t_end else ""
    return (f"{who}: model {d.get('model_id')}, {d.get('structure')} at {d.get('temperature', 0):g} K, "
            f"{d.get('n_frames')} frames{span}")


def final_dynamics(db: Database, campaign: str) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:
    """(comparison, where it comes from, the closing analysis document or {})."""
    analysis = db[ANALYSES_COLLECTION].find_one({"campaign": campaign}, {"_id": 0}) or {}
    chosen = _pick(analysis.get("dynamics") or [])
    if chosen:
        return chosen, _describe(chosen, "closing analysis (final model)"), analysis
    latest = db[VALIDATIONS_COLLECTION].find_one({"campaign": campaign, "dynamics.0": {"$exists": True}},
                                                 {"_id": 0, "dynamics": 1, "round": 1}, sort=[("round", DESCENDING)])
    chosen = _pick((latest or {}).get("dynamics") or [])
    if chosen:
        return chosen, _describe(chosen, f"round {latest['round']} validation"), analysis
    return None, "", analysis


def final_model(db: Database, campaign: str, analysis: dict[str, Any]) -> dict[str, Any] | None:
    """The final model's document (the closing analysis's, else model 0 of the newest round)."""
    if analysis.get("model_id"):
        doc = db[MODELS_COLLECTION].find_one({"model_id": analysis["model_id"]}, {"_id": 0, "input": 0})
        if doc:
            return doc
    return db[MODELS_COLLECTION].find_one({"campaign": campaign}, {"_id": 0, "input": 0},
                                          sort=[("round", DESCENDING), ("index", ASCENDING)])


def _frames(db: Database, campaign: str, reference: dict[str, Any] | None) -> list:
    from seiflow.dataset.frames import FrameStore

    return list(FrameStore(db).find(campaign=campaign, source=VALIDATION_SOURCE, reference=reference))


def validation_parity(db: Database, campaign: str, model: dict[str, Any] | None,
                      max_frames: int = MAX_PARITY_FRAMES, calculator: Any = None) -> dict[str, Any]:
    """Parity of ``model`` on the validation frames: ``{"meta": ..., "groups": {structure: ParityData}}``.

    ``calculator``: an ASE calculator to use instead of the model's frozen file (loaded with
    ``deepmd.calculator.DP``). Frames with elements outside the model's type map are left out.
    """
    from seiflow.analysis.validation import evaluate

    meta: dict[str, Any] = {"model_id": (model or {}).get("model_id"), "n_frames": 0, "skipped": {}}
    if calculator is None and not (model or {}).get("files", {}).get("frozen"):
        return {"meta": {**meta, "reason": "the final model has no frozen file in GridFS"}, "groups": {}}
    vset = db[VALIDATION_SETS_COLLECTION].find_one({"campaign": campaign}, {"reference": 1}) or {}
    frames = _frames(db, campaign, vset.get("reference"))
    known = set((model or {}).get("type_map") or [])
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


def _load_frozen(db: Database, model: dict[str, Any], tmp: Path):
    import gridfs
    from bson import ObjectId
    from deepmd.calculator import DP

    path = tmp / "frozen.pb"
    path.write_bytes(gridfs.GridFS(db, MODELS_BUCKET).get(ObjectId(model["files"]["frozen"])).read())
    return DP(model=str(path))


def _last_reference_frame(db: Database, campaign: str, structure: str, temperature: float):
    from seiflow.dataset.frames import FrameStore

    doc = db[FRAMES_COLLECTION].find_one(
        {"campaigns": campaign, "provenance.source": VALIDATION_SOURCE, "provenance.origin": structure,
         "provenance.temperature": {"$gte": temperature - 0.5, "$lte": temperature + 0.5}, "status": "labelled"},
        {"_id": 1, "provenance.frame_index": 1}, sort=[("provenance.frame_index", DESCENDING)])
    if doc is None:
        return None
    from seiflow.dataset.convert import to_atoms

    return to_atoms(FrameStore(db).get(doc["_id"]))


def snapshot_panels(db: Database, campaign: str, dyn: dict[str, Any],
                    analysis: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Start, reference end and NNP end of the chosen comparison, each with its marks."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    name, temperature = dyn.get("structure"), float(dyn.get("temperature") or 0)
    t_end = (dyn.get("mechanism") or [{}])[-1].get("time_ps")
    at = f" at {t_end:g} ps" if t_end else ""
    panels = []
    vset = db[VALIDATION_SETS_COLLECTION].find_one({"campaign": campaign}, {f"structures.{name}": 1}) or {}
    start = (vset.get("structures") or {}).get(name)
    if start:
        panels.append((f"start ({name})", marks(AseAtomsAdaptor.get_atoms(Structure.from_dict(start)))))
    ref = _last_reference_frame(db, campaign, name, temperature)
    if ref is not None:
        panels.append((f"reference{at}, {temperature:g} K", marks(ref)))
    for snap in analysis.get("snapshots") or []:
        if snap.get("structure") == name and abs(float(snap.get("temperature") or 0) - temperature) < 0.5:
            panels.append((f"NNP{at}, {temperature:g} K", marks(Snapshot.model_validate(snap).to_atoms())))
            break
    return panels


MECHANISM_PANELS = (("reduced_in", "reduced In (%)", verdict.REDUCED_TOLERANCE, 100.0),
                    ("in_cl_mean", "In-Cl coordination (Cl per In)", verdict.IN_CL_TOLERANCE, 1.0),
                    ("largest_in_cluster", "largest In cluster (atoms)", None, 1.0),
                    ("licl_like_li", "LiCl-like Li (%)", None, 100.0))


def figures(db: Database, campaign: str, curve: list[dict[str, Any]], test_curve: list[dict[str, Any]],
            parity: dict[str, Any], dyn: dict[str, Any] | None, analysis: dict[str, Any]) -> dict[str, str]:
    """The validation section's figures as base64 PNG, keyed by caption (only those with data)."""
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
    if dyn and dyn.get("mechanism"):
        figs[f"Mechanism descriptors against time, reference vs NNP ({dyn.get('structure')}, "
             f"{dyn.get('temperature', 0):g} K; grey band: the verdict's tolerance)"] = \
            plots.mechanism_series(dyn["mechanism"], MECHANISM_PANELS)
    if dyn and dyn.get("rdf_r") and dyn.get("rdf_reference"):
        figs[f"Partial RDFs, reference vs NNP ({dyn.get('structure')}, {dyn.get('temperature', 0):g} K; "
             f"overall agreement {verdict.rdf_row(dyn.get('rdf_overall') or 0.0).campaign:g})"] = plots.rdfs(
            dyn["rdf_r"], {"reference": dyn["rdf_reference"], "NNP": dyn.get("rdf_nnp") or {}},
            dyn.get("rdf_per_pair"))
    if dyn:
        panels = snapshot_panels(db, campaign, dyn, analysis)
        if panels:
            figs[f"The {dyn.get('structure')} at the start and the end (side view along b: a across, c up, c the "
                 "interface normal; In atoms and In-In clusters marked)"] = plots.snapshots(panels)
    return figs
