"""The report's verdict: this campaign's validation figures next to the study's, and what to do next.

Inputs are plain numbers from the store: the fixed validation set's errors per round (ensemble mean,
from ``validations``), the ``dp test`` errors per round (random held-out split of the training data),
and one like-for-like dynamics comparison (NNP MD against the reference MD from the same start).

Rounding follows what a number means: RMSEs to 0.1 below 100 and to 1 above (the study quotes 1.6
meV/atom, 46.2 meV/Å, 33.6 MPa), ratios to 0.1, RDF agreement scores to 0.01, fractions in whole percent,
coordination numbers to 0.1.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from pydantic import BaseModel, Field

from seiflow.convergence.criteria import EnergyRmse, ForceRmse, RdfAgreement, StressRmse

END_WINDOW = 0.2  # "at the end": the mean over the last 20 % of the compared frames
REDUCED_PRESENT = 0.05  # In counts as reduced in a trajectory when >= 5 % of In have < 4 Cl at the end
CLUSTER_PRESENT = 2.0  # In clusters form when the largest In-In cluster at the end has >= 2 atoms
REDUCED_TOLERANCE = 0.10  # |NNP - reference| reduced-In fraction at the end
IN_CL_TOLERANCE = 0.5  # |NNP - reference| Cl neighbours per In at the end
CLOSE = 1.5  # within 1.5x the study's error counts as close
STILL_LEARNING = 0.10  # a relative drop of >= 10 % over the last round: more labels still help
COVERAGE_GAP = 2.0  # validation error >= 2x the dp-test error: training data misses these configurations


def _target(criterion: type) -> float:
    return float(next(f.default for f in fields(criterion) if f.name == "target"))


# (key in the validation metrics, quantity, unit, the study's value): the criteria's defaults are the study's.
ERRORS: tuple[tuple[str, str, str, float], ...] = (
    ("rmse_e_mev_atom", "energy RMSE", "meV/atom", _target(EnergyRmse)),
    ("rmse_f_mev_a", "force RMSE", "meV/Å", _target(ForceRmse)),
    ("rmse_v_mpa", "stress RMSE", "MPa", _target(StressRmse)),
)
RDF_TARGET = _target(RdfAgreement)


def rmse(value: float | None) -> float | None:
    """An RMSE rounded as the study quotes it: to 0.1 below 100, to 1 above."""
    if value is None or not math.isfinite(value):
        return None
    return float(round(value)) if abs(value) >= 100 else round(value, 1)


def _shown(value: float, rounded: float, target: float, digits: int) -> float:
    """``rounded``, or ``value`` to ``digits`` more decimals where rounding would hide a miss of ``target``."""
    return round(value, digits) if rounded == target and value != target else rounded


def _txt(value: float | None) -> str:
    return "n/a" if value is None else (f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}")


class VerdictRow(BaseModel):
    """One line of the verdict table."""

    quantity: str = Field(..., description="e.g. 'force RMSE'.")
    unit: str = ""
    campaign: float | None = Field(None, description="This campaign, rounded.")
    study: float | None = Field(None, description="The study's figure (RDF: seiflow's target).")
    compared_with: str = Field("the study", description="What ``study`` is: the study's figure or a target.")
    ratio: float | None = Field(None, description="campaign / study, to 0.1 (errors only).")
    status: str = Field("", description="In words: 'meets the study', '3.3x the study's'...")
    action: str = Field("", description="What to do about it, in words.")
    findings: list[tuple[str, str]] = Field(default_factory=list, exclude=True, description="(kind, finding).")


class DescriptorCheck(BaseModel):
    """One mechanism descriptor at the end of both trajectories."""

    descriptor: str
    reference: float | None = None
    nnp: float | None = None
    tolerance: str = Field("", description="How the two are compared (empty: shown, not decisive).")
    agrees: bool | None = None


class MechanismVerdict(BaseModel):
    """Whether the NNP reproduces the reference's reaction (In reduction, In clustering)."""

    reproduced: bool | None = Field(None, description="None: not tested (no reference, or no reaction in it).")
    answer: str = Field("not tested", description="yes / no / not tested.")
    summary: str = ""
    action: str = ""
    source: str = Field("", description="Which comparison decided it.")
    end_window: str = ""
    checks: list[DescriptorCheck] = Field(default_factory=list)


class Verdict(BaseModel):
    """The report's opening verdict (also in the JSON output under ``verdict``)."""

    headline: str
    accuracy_reached: bool | None = Field(None, description="All three RMSEs at or below the study's.")
    mechanism_reproduced: bool | None = None
    source: str = Field("", description="Where the error figures come from.")
    rows: list[VerdictRow] = Field(default_factory=list)
    mechanism: MechanismVerdict = Field(default_factory=MechanismVerdict)
    actions: list[str] = Field(default_factory=list, description="What to do next, most important first.")


def _trend(curve: list[dict[str, Any]], key: str) -> float | None:
    """Relative drop of ``key`` over the last round (0.2: fell 20 %), None with fewer than 2 rounds."""
    values = [p.get(key) for p in curve if p.get(key) is not None]
    if len(values) < 2 or not values[-2]:
        return None
    return (values[-2] - values[-1]) / values[-2]


# What each kind of finding asks for: short (in the table, after the finding) and in full (the actions list).
SHORT = {"explore": "explore like the validation MD", "train": "train longer or larger", "label": "label more",
         "wait": "let it run more rounds", "note": "relative energies are better than the RMSE says",
         "rdf": "label more configurations like the validation MD"}
ADVICE = {  # kind -> (what to do, why; the findings go between)
    "explore": ("Explore like the validation MD (exploration.seeds and exploration.temperatures as in validation)",
                "the training data misses these configurations"),
    "train": ("Train longer or larger (training.numb_steps, numb_steps_next, fitting_neurons)", ""),
    "label": ("Label more: let the campaign run more rounds (convergence.max_rounds)", ""),
    "wait": ("Let the campaign run more rounds", "one validated round gives no trend yet"),
    "rdf": ("Label more configurations like the validation MD (its structure and temperature)", ""),
}


def _findings(key: str, last: dict[str, Any], curve: list[dict[str, Any]], test: dict[str, Any]) -> list:
    """(kind, finding in words) for one error above the study's."""
    drop = _trend(curve, key)
    pct = None if drop is None else round(100 * drop)
    if pct is None:
        out = [("wait", "one validated round so far")]
    elif pct >= 100 * STILL_LEARNING:
        out = [("label", f"still falling ({pct} % over the last round)")]
    elif pct <= -100 * STILL_LEARNING:
        out = [("train", f"rose {-pct} % over the last round (new labels not absorbed)")]
    else:
        out = [("train", f"flat over the last round ({-pct:+d} %)")]
    value, held_out = last.get(key), test.get(key)
    if value and held_out and value >= COVERAGE_GAP * held_out:
        out.append(("explore", f"{value / held_out:.1f}x the dp-test error on held-out training frames"))
    offset, centered = last.get("e_offset_mev_atom"), last.get("rmse_e_centered_mev_atom")
    if (key == "rmse_e_mev_atom" and offset is not None and centered is not None and value
            and abs(offset) >= 0.5 * value and centered < 0.8 * value):
        out.append(("note", f"mostly a constant offset ({offset:+.1f} meV/atom; {_txt(centered)} without it)"))
    return out


def _action(findings: list) -> str:
    return "; ".join(f"{why}: {SHORT[kind]}" for kind, why in findings) or "none needed"


def error_rows(curve: list[dict[str, Any]], test_curve: list[dict[str, Any]]) -> list[VerdictRow]:
    """Energy, force and stress RMSE of the newest validated round against the study's."""
    last = curve[-1] if curve else {}
    test = next((p for p in reversed(test_curve) if p.get("round") == last.get("round")), {})
    rows = []
    for key, quantity, unit, study in ERRORS:
        value = last.get(key)
        if value is None:
            rows.append(VerdictRow(quantity=quantity, unit=unit, study=study, status="not measured",
                                   action="needs the validation set (campaign section validation)"))
            continue
        ratio = value / study
        status = ("meets the study" if ratio <= 1.0 else
                  f"close: {ratio:.1f}x the study's" if ratio <= CLOSE else f"{ratio:.1f}x the study's")
        rows.append(VerdictRow(quantity=quantity, unit=unit, campaign=_shown(value, rmse(value), study, 2),
                               study=study,
                               ratio=round(ratio, 1), status=status,
                               findings=[] if ratio <= 1.0 else _findings(key, last, curve, test)))
        rows[-1].action = _action(rows[-1].findings)
    return rows


def rdf_row(score: float | None, per_pair: dict[str, float] | None = None) -> VerdictRow:
    """The like-for-like RDF agreement against seiflow's target (the study compared RDFs by eye)."""
    if score is None:
        return VerdictRow(quantity="RDF agreement", unit="", study=RDF_TARGET, status="not measured",
                          compared_with="seiflow's target",
                          action="needs a dynamics comparison (validation.dynamics)")
    worst = min((per_pair or {}).items(), key=lambda kv: kv[1], default=None)
    ok = score >= RDF_TARGET
    findings = [] if ok else [("rdf", f"least alike: {worst[0]} ({worst[1]:.2f})" if worst else "below the target")]
    return VerdictRow(quantity="RDF agreement", unit="",
                      campaign=_shown(score, round(score, 2), RDF_TARGET, 3), study=RDF_TARGET,
                      compared_with="seiflow's target",
                      status="meets the target" if ok else "below the target", action=_action(findings),
                      findings=findings)


def _end(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r.get(key) for r in rows if isinstance(r.get(key), int | float) and math.isfinite(r[key])]
    if not values:
        return None
    n = max(1, math.ceil(END_WINDOW * len(values)))
    return float(sum(values[-n:]) / n)


def _presence(name: str, ref: float | None, nnp: float | None, threshold: float, rule: str) -> DescriptorCheck:
    agrees = None if ref is None or nnp is None else (ref >= threshold) == (nnp >= threshold)
    return DescriptorCheck(descriptor=name, reference=ref, nnp=nnp, tolerance=rule, agrees=agrees)


def _close(name: str, ref: float | None, nnp: float | None, tol: float, digits: int, rule: str) -> DescriptorCheck:
    agrees = None if ref is None or nnp is None else abs(nnp - ref) <= tol + 1e-9
    r = None if ref is None else round(ref, digits)
    n = None if nnp is None else round(nnp, digits)
    return DescriptorCheck(descriptor=name, reference=r, nnp=n, tolerance=rule, agrees=agrees)


def _checks(rows: list[dict[str, Any]]) -> list[DescriptorCheck]:
    red = [_end(rows, f"reduced_in_{w}") for w in ("reference", "nnp")]
    cl = [_end(rows, f"in_cl_mean_{w}") for w in ("reference", "nnp")]
    big = [_end(rows, f"largest_in_cluster_{w}") for w in ("reference", "nnp")]
    pct = [None if v is None else round(100 * v) for v in red]
    return [
        _presence("In reduced (% of In with < 4 Cl)", *pct, 100 * REDUCED_PRESENT,
                  f"present (>= {REDUCED_PRESENT:.0%}) in both or in neither"),
        _presence("In clusters (largest In-In cluster, atoms)", *[None if v is None else round(v, 1) for v in big],
                  CLUSTER_PRESENT, f"present (>= {CLUSTER_PRESENT:.0f} atoms) in both or in neither"),
        _close("reduced-In fraction (%)", *pct, 100 * REDUCED_TOLERANCE, 0,
               f"within ±{100 * REDUCED_TOLERANCE:.0f} points"),
        _close("In-Cl coordination (Cl per In)", *cl, IN_CL_TOLERANCE, 1, f"within ±{IN_CL_TOLERANCE}"),
        _close("In-In neighbours per In", _end(rows, "in_in_mean_reference"), _end(rows, "in_in_mean_nnp"),
               math.inf, 1, ""),
        _close("LiCl-like Li (%)", *[None if v is None else 100 * v for v in
                                     (_end(rows, "licl_like_li_reference"), _end(rows, "licl_like_li_nnp"))],
               math.inf, 0, ""),
    ]


def _what(reduced: bool, clustered: bool) -> str:
    return ("In is reduced and clusters" if reduced and clustered else "In is reduced" if reduced
            else "In clusters")


def mechanism_verdict(rows: list[dict[str, Any]], source: str = "") -> MechanismVerdict:
    """Reproduced or not, from the mechanism rows of one dynamics comparison (``<key>_nnp``/``_reference``)."""
    if not rows or _end(rows, "reduced_in_reference") is None:
        return MechanismVerdict(summary="not tested: no reference trajectory compared with NNP MD yet",
                                action="let the closing analysis run (it compares NNP MD with the validation MD)",
                                source=source)
    n = max(1, math.ceil(END_WINDOW * len(rows)))
    t_end = rows[-1].get("time_ps")
    window = f"end = mean over the last {n} of {len(rows)} frames (to {t_end:g} ps)" if t_end else ""
    checks = _checks(rows)
    for c in checks[4:]:
        c.tolerance, c.agrees = "", None
    deciding = checks[:4]
    reduced, clustered = ((checks[0].reference or 0) >= 100 * REDUCED_PRESENT,
                          (checks[1].reference or 0) >= CLUSTER_PRESENT)
    ref_reacts = reduced or clustered
    nnp_reacts = (checks[0].nnp or 0) >= 100 * REDUCED_PRESENT or (checks[1].nnp or 0) >= CLUSTER_PRESENT
    failed = [c for c in deciding if c.agrees is False]
    base = dict(source=source, end_window=window, checks=checks)
    if not failed and ref_reacts:
        return MechanismVerdict(
            reproduced=True, answer="yes", action="none needed", **base,
            summary=(f"yes: {_what(reduced, clustered)} in both (reduced In {checks[0].reference:.0f} % "
                     f"reference, {checks[0].nnp:.0f} % NNP; In-Cl {checks[3].reference} vs {checks[3].nnp})"))
    if not failed:
        return MechanismVerdict(
            reproduced=None, answer="not tested", **base,
            summary=f"not tested: neither the reference nor the NNP reduces In by {t_end:g} ps (both stay "
                    f"InCl6-like, In-Cl {checks[3].reference} vs {checks[3].nnp})",
            action="run longer validation MD (validation.steps) so that the reference reacts")
    words = "; ".join(f"{c.descriptor}: {c.reference:g} reference vs {c.nnp:g} NNP ({c.tolerance})"
                      for c in failed)
    if ref_reacts and not nnp_reacts:
        action = "the NNP misses the reaction: label more reacted interface configurations (explore the interface " \
                 "at the validation temperature)"
    elif nnp_reacts and not ref_reacts:
        action = "the NNP reacts where the reference does not (spurious reaction): label the NNP's reacted " \
                 "configurations (lower selection trust levels)"
    else:
        action = "both react, by different amounts: label more interface configurations along the reaction"
    return MechanismVerdict(reproduced=False, answer="no", summary=f"no: {words}", action=action, **base)


def build_verdict(curve: list[dict[str, Any]], test_curve: list[dict[str, Any]], rdf_score: float | None,
                  rdf_per_pair: dict[str, float] | None, mechanism_rows: list[dict[str, Any]],
                  source: str = "", dynamics_source: str = "") -> Verdict:
    """The whole verdict: error rows, the RDF row, the mechanism, one headline and the actions."""
    rows = error_rows(curve, test_curve)
    rows.append(rdf_row(rdf_score, rdf_per_pair))
    mech = mechanism_verdict(mechanism_rows, dynamics_source)
    measured = [r for r in rows[:3] if r.ratio is not None]
    reached = None if len(measured) < 3 else all(r.ratio <= 1.0 for r in measured)
    if not measured:
        accuracy = ("No validation-set errors yet: the campaign has no fixed validation set, or no round has "
                    "been validated on it")
    elif reached:
        accuracy = "Meets the study's accuracy on the fixed validation set (" + ", ".join(
            f"{r.quantity.split()[0]} {r.campaign:g} vs {r.study:g} {r.unit}" for r in measured) + ")"
    else:
        worst = sorted((r for r in measured if r.ratio > 1.0), key=lambda r: -r.ratio)
        accuracy = "Not yet at the study's accuracy: " + ", ".join(
            f"{r.quantity.split()[0]} error {r.ratio:.1f}x the study's ({r.campaign:g} vs {r.study:g} "
            f"{r.unit})" for r in worst)
    headline = f"{accuracy}. Mechanism reproduced: {mech.summary}."
    actions = []
    for kind, (what, because) in ADVICE.items():
        why = [f"{r.quantity} {text}" for r in sorted(rows, key=lambda r: -(r.ratio or 0))
               for k, text in r.findings if k == kind]
        if why:
            actions.append(f"{what}: {'; '.join(why)}" + (f"; {because}" if because else ""))
    if mech.action and mech.action != "none needed":
        actions.append(f"Mechanism: {mech.action}")
    return Verdict(headline=headline, accuracy_reached=reached, mechanism_reproduced=mech.reproduced,
                   source=source, rows=rows, mechanism=mech, actions=actions)
