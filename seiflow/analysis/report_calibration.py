"""The report's calibration section: fits, sanity labels, trust levels and criteria per round.

Each round's fit of deviation against true error, its sanity labels, the trust levels it set, and every
convergence criterion's value with why it passed or not.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from seiflow.analysis import plots
from seiflow.records.calibrations import CalibrationStore
from seiflow.schemas.calibration import CalibrationRecord
from seiflow.schemas.round import RoundReport


def _r(x: Any, digits: int = 3) -> Any:
    return round(float(x), digits) if isinstance(x, int | float) else x


def _calibration_rows(records: list[CalibrationRecord], rounds: dict[int, RoundReport]) -> list[dict[str, Any]]:
    """One row per calibrated round: pairs, the fit and its quality, the sanity labels, the levels."""
    rows = []
    for rec in records:
        fit, sanity = rec.fit, rec.sanity
        rnd = rounds.get(rec.round)
        used = rnd.selection.f_trust_lo_used if rnd else None
        nxt = rnd.levels_next if rnd else {}
        rows.append({
            "round": rec.round, "new_labels": len([p for p in rec.pairs if not p.sanity]),
            "pairs_fitted": rec.n_pairs_fitted, "quantile": fit.quantile if fit else None,
            "intercept": _r(fit.intercept if fit else None), "slope": _r(fit.slope if fit else None),
            "spearman": _r(fit.spearman if fit else None), "coverage": _r(fit.coverage if fit else None),
            "f_trust_lo_used": _r(used), "f_trust_lo_next": _r(nxt.get("f_trust_lo")),
            "next_level_from": "calibration" if nxt.get("calibrated") else
                               "adaptive lower level" if nxt.get("adaptive_rate") else "campaign file",
            "sanity_n": sanity.n, "sanity_p90_f_error": _r(sanity.p90_f_error),
            "sanity_max_f_error": _r(sanity.max_f_error),
        })
        for quantity, key in (("energy", "e_trust_lo"), ("virial", "v_trust_lo")):
            if quantity in rec.fits:  # a quantity is there only when the campaign set its target
                other = rec.fits[quantity]
                rows[-1].update({f"{quantity}_slope": _r(other.slope if other else None),
                                 f"{quantity}_spearman": _r(other.spearman if other else None),
                                 f"{key}_next": _r(nxt.get(key), 5)})
    return rows


def _criteria_rows(rounds: list[RoundReport]) -> list[dict[str, Any]]:
    """Every round's convergence criteria: name, met or not, and the values behind it."""
    return [{"round": r.round, "criterion": c.name, "met": c.satisfied, "why": c.detail}
            for r in rounds for c in r.criteria]


def _figure(records: list[CalibrationRecord], target: float | None) -> str | None:
    """Deviation against true max-atom force error per round, the newest fit, the target and its level."""
    if not any(rec.pairs for rec in records):
        return None
    pairs = {rec.round: [(p.max_devi_f, p.f_error) for p in rec.pairs if not p.sanity] for rec in records}
    sanity = [(p.max_devi_f, p.f_error) for rec in records for p in rec.pairs if p.sanity]
    last = next((rec for rec in reversed(records) if rec.fit), None)
    fit = last.fit if last else None
    level = fit.level_for(target) if fit and target else None
    return plots.calibration(pairs, sanity, fit.predict if fit else None,
                             f"round {last.round} fit, q = {fit.quantile:g}" if fit else "", target, level)


def calibration_section(db: Database, campaign: str, rounds: list[RoundReport],
                        definition: dict[str, Any] | None) -> dict[str, Any]:
    """The section's tables and figure: ``rows`` (per round), ``criteria`` (per round and criterion), ``figure``.

    ``rounds`` are the campaign's round reports in round order and ``definition`` its campaign file, as the
    report already read them; the calibrations are read once here.
    """
    records = CalibrationStore(db).history(campaign)
    target = (((definition or {}).get("selection") or {}).get("calibration") or {}).get("f_error_lo")
    return {"rows": _calibration_rows(records, {r.round: r for r in rounds}),
            "criteria": _criteria_rows(rounds), "figure": _figure(records, target)}
