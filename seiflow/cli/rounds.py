"""``seiflow rounds``: each stored round's ratios, candidate count and convergence verdict."""

from __future__ import annotations

import click

from seiflow.cli.common import emit, json_option, settings_from


@click.command("rounds")
@click.argument("campaign")
@json_option
@click.pass_context
def rounds_command(ctx: click.Context, campaign: str, as_json: bool) -> None:
    """Per-round statistics of CAMPAIGN from the rounds collection."""
    from seiflow.records.rounds import RoundStore
    from seiflow.store import get_database

    history = RoundStore(get_database(settings_from(ctx))).history(campaign)
    rows = [
        {
            "round": r.round,
            "n_frames": r.selection.n_frames,
            "accurate_ratio": r.selection.accurate_ratio,
            "candidate_ratio": r.selection.candidate_ratio,
            "failed_ratio": r.selection.failed_ratio,
            "n_selected": r.selection.n_selected,
            "n_failed_tasks": r.selection.n_failed_tasks,
            "n_unstable_tasks": r.selection.n_unstable_tasks,
            "n_labelled": r.n_labelled,
            "n_corrected": r.n_corrected,
            "converged": r.converged,
            "stop_reason": r.stop_reason,
        }
        for r in history
    ]
    converged = bool(history) and history[-1].converged
    text = "\n".join(
        f"round {x['round']}: accurate {x['accurate_ratio']:.3f} candidate {x['candidate_ratio']:.3f} "
        f"failed {x['failed_ratio']:.3f} selected {x['n_selected']} converged {x['converged']}"
        for x in rows
    ) or f"no rounds stored for {campaign}"
    emit({"campaign": campaign, "rounds": rows, "converged": converged}, as_json, text)
