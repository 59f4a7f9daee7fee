"""``seiflow produce``: start a converged campaign's production run (segments on the LAMMPS workers)."""

from __future__ import annotations

import time

import click

from seiflow.cli.common import emit, json_option, settings_from, with_overrides
from seiflow.errors import InputError


@click.command("produce")
@click.argument("campaign")
@click.option("--model", "model_id", default=None, help="Production model (default: the campaign's final model).")
@click.option("--atoms", type=int, default=None, help="Override production.atoms.")
@click.option("--length-ps", type=float, default=None, help="Override production.length_ns (given in ps).")
@click.option("--segment-ps", type=float, default=None, help="Override production.segment_ps.")
@click.option("--dump-every", type=int, default=None, help="Override production.dump_every (steps).")
@click.option("--watch-every", type=int, default=None, help="Override production.watch.every (steps).")
@click.option("--watch-level", type=float, default=None,
              help="Override production.watch.f_level (eV/Å; default: the campaign's calibrated failed level).")
@click.option("--learning/--no-learning", default=None,
              help="Override production.learning.enabled: an uncertain stop becomes a learning round, then resumes.")
@click.option("--learning-rounds", type=int, default=None, help="Override production.learning.max_rounds.")
@click.option("--local/--no-local", default=False, show_default=True,
              help="Run local workers until the production run ends (else: queue it for the cluster's workers).")
@click.option("--workers", default=1, show_default=True, help="Local workers (--local).")
@click.option("--timeout-min", default=120.0, show_default=True)
@click.option("--stop", is_flag=True, help="Stop the campaign's running production: no further segment starts.")
@json_option
@click.pass_context
def produce_cmd(ctx: click.Context, campaign: str, model_id: str | None, atoms: int | None, length_ps: float | None,
                segment_ps: float | None, dump_every: int | None, watch_every: int | None, watch_level: float | None,
                learning: bool | None, learning_rounds: int | None, local: bool,
                workers: int, timeout_min: float, stop: bool, as_json: bool) -> None:
    """Start CAMPAIGN's production run: the production cell, in queue-sized segments, watched and analysed."""
    from seiflow.controller.submit import ensure_initialised, to_workflow
    from seiflow.production.flows import start_production
    from seiflow.production.segment import n_segments
    from seiflow.records import campaigns
    from seiflow.records.production import ProductionStore
    from seiflow.store import get_database, get_launchpad

    t0 = time.monotonic()
    settings = settings_from(ctx)
    db = get_database(settings)
    lp = get_launchpad(settings)
    stored = campaigns.load(db, campaign)
    if stop:
        from seiflow.production.flows import stop_production

        run = stop_production(db, lp, campaign)
        emit({"campaign": campaign, **run.progress()}, as_json,
             f"production {run.run_id} stopped at {run.ns_done:.4g} of {run.ns_total:.4g} ns")
        return
    overrides = {k: v for k, v in {
        "atoms": atoms, "length_ns": length_ps / 1000.0 if length_ps is not None else None, "segment_ps": segment_ps,
        "dump_every": dump_every, "watch.every": watch_every, "watch.f_level": watch_level,
        "learning.enabled": learning, "learning.max_rounds": learning_rounds}.items() if v is not None}
    c = with_overrides(stored, "production", overrides, "seiflow produce options")
    run, flow = start_production(c, db, settings.resolved_work_dir() / campaign / "production", model_id)
    ensure_initialised(lp)
    fw_ids = sorted(lp.add_wf(to_workflow(flow, c)).values())
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    say(f"production {run.run_id}: {run.n_atoms:,} atoms ({run.cell}), {run.ns_total:g} ns in "
        f"{n_segments(run)} segments of {run.segment_steps} steps; model {run.model_id}; "
        + (f"watched by {len(run.watch_model_ids)} models at {run.watch_level:.3f} eV/Å ({run.watch_level_source})"
           if run.watch_level else "not watched"))
    if local:
        from seiflow.controller.runner import run_locally

        run_locally(settings, campaign, n_workers=workers, timeout_s=timeout_min * 60, progress=say)
    run = ProductionStore(db).get_run(run.run_id)
    result = {"campaign": campaign, "fw_ids": fw_ids, "seconds": round(time.monotonic() - t0, 1), "cell": run.cell,
              "model_id": run.model_id, "watch_level": run.watch_level, **run.progress()}
    text = (f"production {run.run_id}: {run.state.value}, {run.ns_done:.4g} of {run.ns_total:.4g} ns"
            + (f"; {run.stop_reason}" if run.stop_reason else "")
            + ("" if local else "; queued: start workers (seiflow workers, qlaunch rapidfire) to run it"))
    emit(result, as_json, text)
    if local and run.state.value not in ("finished",):
        raise InputError(f"production {run.run_id} ended {run.state.value}: {run.stop_reason or 'see seiflow status'}",
                         "see `seiflow status` and the report's production section")
