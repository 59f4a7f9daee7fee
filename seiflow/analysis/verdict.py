"""The report's verdict: this campaign's validation figures next to the study's, and what to do next.

Inputs are plain numbers from the store: the fixed validation set's errors per round (ensemble mean,
from ``validations``), the ``dp test`` errors per round (random held-out split of the training data),
the reported models' errors on the independent test set (``test_results``; the figures the verdict
quotes when the campaign has one, since that set decides nothing), and one like-for-like dynamics
comparison (NNP MD against the reference MD from the same start).

Rounding follows what a number means: RMSEs to 0.1 below 100 and to 1 above (the study quotes 1.6
meV/atom, 46.2 meV/Å, 33.6 MPa), ratios to 0.1, RDF agreement scores to 0.01, fractions in whole percent,
coordination numbers to 0.1.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from pydantic import BaseModel, Field

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.mechanism import describe
from seiflow.convergence.criteria import EnergyRmse, ForceRmse, RdfAgreement, StressRmse

END_WINDOW = 0.2  # "at the end": the mean over the last 20 % of the compared frames
REDUCED_PRESENT = 0.05  # a cation counts as reduced in a trajectory when >= 5 % of it is reduced at the end
CLUSTER_PRESENT = 2.0  # metallic clusters form when the largest cluster at the end has >= 2 atoms
REDUCED_TOLERANCE = 0.10  # |NNP - reference| reduced fraction at the end
CN_TOLERANCE = 0.5  # |NNP - reference| anion neighbours per reducible cation at the end
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
    """Whether the NNP reproduces the reference's reaction (cation reduction, metallic clustering)."""

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


def error_rows(curve: list[dict[str, Any]], test_curve: list[dict[str, Any]],
               reported: dict[str, Any] | None = None) -> list[VerdictRow]:
    """Energy, force and stress RMSE against the study's, with advice from the validation curve's trend.

    The figures are ``reported`` (the independent test set's) when given, else the newest validated round's.
    """
    last = curve[-1] if curve else {}
    test = next((p for p in reversed(test_curve) if p.get("round") == last.get("round")), {})
    rows = []
    for key, quantity, unit, study in ERRORS:
        value = (reported or last).get(key)
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
                               findings=[] if ratio <= 1.0 else _findings(key, {**last, **(reported or {})}, curve, test)))
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


def _species(rows: list[dict[str, Any]], prefix: str) -> list[str]:
    """The X of the ``<prefix>X_reference`` keys of the rows, in first-seen order."""
    keys = dict.fromkeys(k for r in rows for k in r if k.startswith(prefix) and k.endswith("_reference"))
    return [k.removeprefix(prefix).removesuffix("_reference") for k in keys]


def _pair(rows: list[dict[str, Any]], key: str, scale: float = 1.0) -> list[float | None]:
    return [None if v is None else scale * v for v in (_end(rows, f"{key}_{w}") for w in ("reference", "nnp"))]


def _checks(rows: list[dict[str, Any]], chem: Chemistry) -> tuple[list[DescriptorCheck], list[DescriptorCheck]]:
    """The deciding checks (reduction and clustering, each cation and metal) and the informative ones."""
    presence, close, info = [], [], []
    for x in _species(rows, "reduced_"):
        pct = [None if v is None else round(v) for v in _pair(rows, f"reduced_{x}", 100.0)]
        label, _ = describe(f"cn_{x}", chem)
        below = next((c.reduced_below for c in chem.reducible if c.species == x), None)
        anions = "/".join(next((c.anions for c in chem.reducible if c.species == x), chem.anions)) or "anions"
        presence.append(_presence(f"{x} reduced (% of {x} with < {below} {anions})" if below else f"{x} reduced (%)",
                                  *pct, 100 * REDUCED_PRESENT, f"present (>= {REDUCED_PRESENT:.0%}) in both or in neither"))
        close += [_close(f"reduced-{x} fraction (%)", *pct, 100 * REDUCED_TOLERANCE, 0,
                         f"within ±{100 * REDUCED_TOLERANCE:.0f} points"),
                  _close(label, *_pair(rows, f"cn_{x}"), CN_TOLERANCE, 1, f"within ±{CN_TOLERANCE}")]
    for m in _species(rows, "largest_cluster_"):
        big = [None if v is None else round(v, 1) for v in _pair(rows, f"largest_cluster_{m}")]
        presence.append(_presence(f"{m} clusters (largest {m}-{m} cluster, atoms)", *big, CLUSTER_PRESENT,
                                  f"present (>= {CLUSTER_PRESENT:.0f} atoms) in both or in neither"))
        info.append(_close(describe(f"metal_cn_{m}", chem)[0], *_pair(rows, f"metal_cn_{m}"), math.inf, 1, ""))
    for p in _species(rows, "product_"):
        info.append(_close(describe(f"product_{p}", chem)[0], *_pair(rows, f"product_{p}", 100.0), math.inf, 0, ""))
    for c in info:
        c.tolerance, c.agrees = "", None
    return presence + close, info


def _what(reduced: list[str], clustered: list[str]) -> str:
    if reduced and clustered and set(clustered) <= set(reduced) and len(reduced) == 1:
        return f"{reduced[0]} is reduced and clusters"
    parts = [f"{' and '.join(reduced)} {'is' if len(reduced) == 1 else 'are'} reduced"] if reduced else []
    parts += [f"{' and '.join(clustered)} {'clusters' if len(clustered) == 1 else 'cluster'}"] if clustered else []
    return " and ".join(parts)


def _reacts(checks: list[DescriptorCheck], side: str) -> tuple[list[str], list[str]]:
    """Species reduced and species clustered on one side (``reference`` or ``nnp``)."""
    reduced = [c.descriptor.split()[0] for c in checks
               if " reduced (" in c.descriptor and (getattr(c, side) or 0) >= 100 * REDUCED_PRESENT]
    clustered = [c.descriptor.split()[0] for c in checks
                 if " clusters (" in c.descriptor and (getattr(c, side) or 0) >= CLUSTER_PRESENT]
    return reduced, clustered


def mechanism_verdict(rows: list[dict[str, Any]], source: str = "", chem: Chemistry | None = None) -> MechanismVerdict:
    """Reproduced or not, from the mechanism rows of one dynamics comparison (``<key>_nnp``/``_reference``).

    ``chem``: the campaign's chemistry (for labels); the species checked are those the rows hold.
    """
    chem = chem or Chemistry()
    if not rows or not _species(rows, "reduced_") or _end(rows, f"reduced_{_species(rows, 'reduced_')[0]}"
                                                          "_reference") is None:
        return MechanismVerdict(summary="not tested: no reference trajectory compared with NNP MD yet",
                                action="let the closing analysis run (it compares NNP MD with the validation MD)",
                                source=source)
    n = max(1, math.ceil(END_WINDOW * len(rows)))
    t_end = rows[-1].get("time_ps")
    window = f"end = mean over the last {n} of {len(rows)} frames (to {t_end:g} ps)" if t_end else ""
    deciding, info = _checks(rows, chem)
    checks = deciding + info
    reduced, clustered = _reacts(deciding, "reference")
    nnp_reduced, nnp_clustered = _reacts(deciding, "nnp")
    ref_reacts, nnp_reacts = bool(reduced or clustered), bool(nnp_reduced or nnp_clustered)
    failed = [c for c in deciding if c.agrees is False]
    base = dict(source=source, end_window=window, checks=checks)
    first = next(c for c in deciding if " reduced (" in c.descriptor)
    x = first.descriptor.split()[0]
    cn = next(c for c in deciding if c.descriptor.startswith(f"{x}-"))
    if not failed and ref_reacts:
        return MechanismVerdict(
            reproduced=True, answer="yes", action="none needed", **base,
            summary=(f"yes: {_what(reduced, clustered)} in both (reduced {x} {first.reference:.0f} % "
                     f"reference, {first.nnp:.0f} % NNP; {cn.descriptor.split()[0]} {cn.reference} vs {cn.nnp})"))
    if not failed:
        return MechanismVerdict(
            reproduced=None, answer="not tested", **base,
            summary=f"not tested: neither the reference nor the NNP reduces {x} by {t_end:g} ps (both stay "
                    f"coordinated, {cn.descriptor.split()[0]} {cn.reference} vs {cn.nnp})",
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
                  source: str = "", dynamics_source: str = "", chem: Chemistry | None = None,
                  reported: dict[str, Any] | None = None, unstable: str | None = None) -> Verdict:
    """The whole verdict: error rows, the RDF row, the mechanism, one headline and the actions.

    ``reported``: the independent test set's errors (the figures quoted); None: the validation set's.
    ``unstable``: where the compared NNP MD blew up (MD health); the headline says so and it comes first
    among the actions.
    """
    rows = error_rows(curve, test_curve, reported)
    where = "the independent test set" if reported else "the fixed validation set"
    rows.append(rdf_row(rdf_score, rdf_per_pair))
    mech = mechanism_verdict(mechanism_rows, dynamics_source, chem)
    measured = [r for r in rows[:3] if r.ratio is not None]
    reached = None if len(measured) < 3 else all(r.ratio <= 1.0 for r in measured)
    if not measured:
        accuracy = ("No validation-set errors yet: the campaign has no fixed validation set, or no round has "
                    "been validated on it")
    elif reached:
        accuracy = f"Meets the study's accuracy on {where} (" + ", ".join(
            f"{r.quantity.split()[0]} {r.campaign:g} vs {r.study:g} {r.unit}" for r in measured) + ")"
    else:
        worst = sorted((r for r in measured if r.ratio > 1.0), key=lambda r: -r.ratio)
        accuracy = f"Not yet at the study's accuracy{' on ' + where if reported else ''}: " + ", ".join(
            f"{r.quantity.split()[0]} error {r.ratio:.1f}x the study's ({r.campaign:g} vs {r.study:g} "
            f"{r.unit})" for r in worst)
    headline = f"{accuracy}. Mechanism reproduced: {mech.summary}."
    actions = []
    if unstable:
        headline += f" The NNP MD blew up ({unstable}): only its frames before that were compared."
        actions.append(f"MD health: the model's MD blew up ({unstable}); label where it failed and train on it "
                       "before any production run")
    for kind, (what, because) in ADVICE.items():
        why = [f"{r.quantity} {text}" for r in sorted(rows, key=lambda r: -(r.ratio or 0))
               for k, text in r.findings if k == kind]
        if why:
            actions.append(f"{what}: {'; '.join(why)}" + (f"; {because}" if because else ""))
    if mech.action and mech.action != "none needed":
        actions.append(f"Mechanism: {mech.action}")
    return Verdict(headline=headline, accuracy_reached=reached, mechanism_reproduced=mech.reproduced,
                   source=source, rows=rows, mechanism=mech, actions=actions)
