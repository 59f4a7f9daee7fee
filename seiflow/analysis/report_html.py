"""HTML pieces of the campaign report: tables, the verdict, figures, the page style (no scripts)."""

from __future__ import annotations

import html
from typing import Any

from seiflow.analysis.verdict import Verdict, rmse

FOLD_ROWS = 12  # longer tables are folded (click to open)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """An HTML table of ``rows`` (dicts), RMSE columns rounded as the study quotes them."""
    if not rows:
        return "<p><em>none yet</em></p>"
    columns = columns or [k for k in rows[0] if not isinstance(rows[0][k], dict | list)]

    def cell(v: Any, column: str) -> str:
        if isinstance(v, float) and column.startswith("rmse_"):
            v = rmse(v)  # as the study quotes RMSEs
        if isinstance(v, float):
            return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c), c)}</td>" for c in columns) + "</tr>" for r in rows)
    table = f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>"
    if len(rows) > FOLD_ROWS:
        return f"<details><summary>{len(rows)} rows</summary>{table}</details>"
    return table


def _status_class(status: str) -> str:
    if status.startswith(("meets", "yes")):
        return "ok"
    if status.startswith(("close", "not")):
        return "close"
    return "bad"


def verdict_html(v: Verdict) -> str:
    """The opening verdict: headline, the table against the study, the mechanism, what to do next."""
    e = html.escape

    def num(x: Any, unit: str = "") -> str:
        return "" if x is None else e(f"{x:g}{(' ' + unit) if unit else ''}")

    rows = "".join(
        f"<tr><td>{e(r.quantity)}</td><td class='n'>{num(r.campaign, r.unit)}</td><td class='n'>"
        f"{num(r.study, r.unit)}{'' if r.compared_with == 'the study' else ' (target)'}</td><td class='n'>{'' if r.ratio is None else e(f'{r.ratio:.1f}x')}</td>"
        f"<td class='{_status_class(r.status)}'>{e(r.status)}</td><td>{e(r.action)}</td></tr>" for r in v.rows)
    m = v.mechanism
    rows += (f"<tr><td>mechanism reproduced</td><td class='n'>{e(m.answer)}</td><td class='n'>yes</td><td></td>"
             f"<td class='{_status_class(m.answer)}'>{e(m.answer)}</td><td>{e(m.action)}</td></tr>")
    checks = "".join(
        f"<tr><td>{e(c.descriptor)}</td><td class='n'>{num(c.reference)}</td><td class='n'>{num(c.nnp)}</td>"
        f"<td>{e(c.tolerance or 'shown, not decisive')}</td><td class='"
        f"{'' if c.agrees is None else 'ok' if c.agrees else 'bad'}'>"
        f"{'' if c.agrees is None else 'yes' if c.agrees else 'no'}</td></tr>" for c in m.checks)
    actions = "".join(f"<li>{e(a)}</li>" for a in v.actions) or "<li>nothing: the campaign meets the study</li>"
    head = "ok" if v.accuracy_reached and m.reproduced else "bad" if v.accuracy_reached is False else "close"
    parts = [
        "<section class='verdict'><h2>Verdict</h2>", f"<p class='headline {head}'>{e(v.headline)}</p>",
        "<table><tr><th>quantity</th><th>this campaign</th><th>the study</th><th>ratio</th><th>status</th>"
        f"<th>what to do</th></tr>{rows}</table>",
        f"<p class='note'>This campaign: {e(v.source)}. The study: mean test RMSE of its 4 models. RDF: "
        "seiflow's convergence target (the study compared RDFs by eye), score 1 for identical curves.</p>",
        f"<h3>Mechanism reproduced: {e(m.answer)}</h3><p>{e(m.summary)}</p>",
    ]
    if checks:
        parts.append("<table><tr><th>descriptor at the end</th><th>reference</th><th>NNP</th><th>compared as</th>"
                     f"<th>agrees</th></tr>{checks}</table>")
    if m.source or m.end_window:
        parts.append(f"<p class='note'>{e('; '.join(x for x in (m.source, m.end_window) if x))}.</p>")
    parts.append(f"<h3>What to do next</h3><ol>{actions}</ol></section>")
    return "".join(parts)


def figures_html(figs: dict[str, str]) -> str:
    """Figures (caption -> base64 PNG) as inline images with captions."""
    e = html.escape
    return "".join(f"<figure><img alt='{e(t)}' src='data:image/png;base64,{b}'><figcaption>{e(t)}</figcaption>"
                   "</figure>" for t, b in figs.items())


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 8px}table{border-collapse:collapse;"
         "margin:6px 0}td,th{border:1px solid #bbb;padding:2px 6px;font-size:13px;vertical-align:top}"
         "th{background:#f2f2f2}td.n{text-align:right;white-space:nowrap}.ok{background:#e2f3dc}"
         ".close{background:#fff4d6}.bad{background:#fbe0dd}.missing{background:#fff4d6;padding:4px 12px}"
         ".verdict{border:2px solid #888;padding:4px 14px;margin:10px 0}.headline{font-size:16px;padding:6px 8px}"
         ".note{font-size:12px;color:#555}figure{margin:14px 0}figcaption{font-size:13px;color:#333}"
         "img{max-width:100%}.wide{overflow-x:auto}summary{cursor:pointer;font-size:13px}")
