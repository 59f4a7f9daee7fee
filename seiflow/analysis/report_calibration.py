"""The report's calibration section: fits, sanity labels, trust levels and criteria per round.

Each round's fit of deviation against true error, its sanity labels, the trust levels it set, and every
convergence criterion's value with why it passed or not.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from seiflow.analysis import plots
from seiflow.constants import CALIBRATIONS_COLLECTION
from seiflow.convergence.calibration import CalibrationFit


def _r(x: Any, digits: int = 3) -> Any:
    return round(float(x), digits) if isinstance(x, int | float) else x


def _calibration_rows(docs: list[dict[str, Any]], rounds: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per calibrated round: pairs, the fit and its quality, the sanity labels, the levels."""
    rows = []
    for doc in docs:
        fit, sanity = doc.get("fit") or {}, doc.get("sanity") or {}
        rnd = rounds.get(doc["round"]) or {}
        used = (rnd.get("selection") or {}).get("f_trust_lo_used")
        nxt = rnd.get("levels_next") or {}
        rows.append({
            "round": doc["round"], "new_labels": len([p for p in doc.get("pairs", []) if not p.get("sanity")]),
            "pairs_fitted": doc.get("n_pairs_fitted"), "quantile": fit.get("quantile"),
            "intercept": _r(fit.get("intercept")), "slope": _r(fit.get("slope")),
            "spearman": _r(fit.get("spearman")), "coverage": _r(fit.get("coverage")),
            "f_trust_lo_used": _r(used), "f_trust_lo_next": _r(nxt.get("f_trust_lo")),
            "next_level_from": "calibration" if nxt.get("calibrated") else
                               "adaptive lower level" if nxt.get("adaptive_rate") else "campaign file",
            "sanity_n": sanity.get("n"), "sanity_p90_f_error": _r(sanity.get("p90_f_error")),
            "sanity_max_f_error": _r(sanity.get("max_f_error")),
        })
        fits = doc.get("fits") or {}  # a quantity is there only when the campaign set its target
        for quantity, key in (("energy", "e_trust_lo"), ("virial", "v_trust_lo")):
            if quantity in fits:
                other = fits[quantity] or {}
                rows[-1].update({f"{quantity}_slope": _r(other.get("slope")),
                                 f"{quantity}_spearman": _r(other.get("spearman")),
                                 f"{key}_next": _r(nxt.get(key), 5)})
    return rows


def _criteria_rows(round_docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every round's convergence criteria: name, met or not, and the values behind it."""
    return [{"round": d["round"], "criterion": c.get("name"), "met": bool(c.get("satisfied")),
             "why": c.get("detail")}
            for d in round_docs for c in d.get("criteria") or []]


def _figure(docs: list[dict[str, Any]], target: float | None) -> str | None:
    """Deviation against true max-atom force error per round, the newest fit, the target and its level."""
    if not any(d.get("pairs") for d in docs):
        return None
    pairs = {d["round"]: [(p["max_devi_f"], p["f_error"]) for p in d.get("pairs", []) if not p.get("sanity")]
             for d in docs}
    sanity = [(p["max_devi_f"], p["f_error"]) for d in docs for p in d.get("pairs", []) if p.get("sanity")]
    last = next((d for d in reversed(docs) if d.get("fit")), None)
    fit = CalibrationFit.model_validate(last["fit"]) if last else None
    level = fit.level_for(target) if fit and target else None
    return plots.calibration(pairs, sanity, fit.predict if fit else None,
                             f"round {last['round']} fit, q = {fit.quantile:g}" if fit else "", target, level)


def calibration_section(db: Database, campaign: str, round_docs: list[dict[str, Any]],
                        definition: dict[str, Any] | None) -> dict[str, Any]:
    """The section's tables and figure: ``rows`` (per round), ``criteria`` (per round and criterion), ``figure``.

    ``round_docs`` are the campaign's rounds documents in round order and ``definition`` its campaign file,
    as the report already read them; the calibrations collection is read once here.
    """
    docs = list(db[CALIBRATIONS_COLLECTION].find({"campaign": campaign}, {"_id": 0}).sort("round", 1))
    target = (((definition or {}).get("selection") or {}).get("calibration") or {}).get("f_error_lo")
    return {"rows": _calibration_rows(docs, {d["round"]: d for d in round_docs}),
            "criteria": _criteria_rows(round_docs), "figure": _figure(docs, target)}
