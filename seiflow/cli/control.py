"""``seiflow submit``, ``status``, ``run`` and ``demo``: the service's own commands."""

from __future__ import annotations

import time
from pathlib import Path

import click

from seiflow.cli.common import emit, json_option, settings_from
from seiflow.errors import InputError
from seiflow.schemas.campaign import load_campaign

DEMO_CAMPAIGN = Path("workflows/li_li3incl6_demo.yaml")


@click.command("submit")
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@click.option("--write", "write_path", type=click.Path(dir_okay=False),
              help="Write the FireWorks workflow to this file (for `lpad add`) instead of adding it.")
@json_option
@click.pass_context
def submit_cmd(ctx: click.Context, campaign_file: str, write_path: str | None, as_json: bool) -> None:
    """Submit CAMPAIGN_FILE (workflows/*.yaml) to the LaunchPad."""
    from seiflow.controller.flows import campaign_flow
    from seiflow.controller.submit import submit, write_workflow_file
    from seiflow.store import get_launchpad

    campaign = load_campaign(campaign_file)
    settings = settings_from(ctx)
    if write_path:
        result = write_workflow_file(campaign, campaign_flow(campaign), Path(write_path), settings)
        emit(result, as_json, f"wrote {write_path}: `lpad -l launchpad.yaml add {write_path}`")
        return
    lp = get_launchpad(settings)
    result = submit(campaign, campaign_flow(campaign), lp, settings)
    emit(result, as_json, f"submitted campaign {campaign.name!r}: {result['n_jobs']} jobs; "
                          f"start workers with `rlaunch rapidfire` or `qlaunch rapidfire`")


@click.command("status")
@click.argument("campaign", required=False)
@json_option
@click.pass_context
def status_cmd(ctx: click.Context, campaign: str | None, as_json: bool) -> None:
    """Where CAMPAIGN is: round, jobs by state and category, ratios, RMSE, last error."""
    from seiflow.controller.status import campaign_status, format_status
    from seiflow.records import campaigns
    from seiflow.store import get_database, get_launchpad

    settings = settings_from(ctx)
    lp = get_launchpad(settings)
    db = get_database(settings)
    if campaign is None:
        stored = campaigns.list_campaigns(db)
        emit({"campaigns": stored}, as_json,
             "\n".join(f"{c['name']}: {c['state']}, round {c.get('round', 0)}" for c in stored)
             or "no campaigns in the store")
        return
    status = campaign_status(lp, db, campaign)
    emit(status, as_json, format_status(status))


def store_left_running(settings) -> dict:
    """Where the campaign's store is, and, for the embedded server this command may have started, how to stop it."""
    from seiflow.store import describe, is_embedded, launchpad_config

    config = launchpad_config(settings)
    embedded = is_embedded(settings, config)
    return {"at": describe(config), "embedded": embedded,
            "data": str(settings.embedded.storage_path.expanduser()) if embedded else None,
            "stop": "seiflow db stop" if embedded else None}


def _run_and_report(ctx: click.Context, name: str, workers: int, timeout_min: float, as_json: bool,
                    report: bool, t0: float) -> None:
    from seiflow.controller.runner import run_locally
    from seiflow.records import campaigns

    settings = settings_from(ctx)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    outcome = run_locally(settings, name, n_workers=workers, timeout_s=timeout_min * 60, progress=say)
    result = {"campaign": name, "state": outcome.state, "seconds": round(time.monotonic() - t0, 1),
              "rounds": outcome.status["round"], "frames": outcome.status["frames"],
              "metrics": outcome.status["metrics"], "report_html": None, "report_json": None}
    if report:
        from seiflow.analysis.jobs import report_extra
        from seiflow.analysis.report import write_report
        from seiflow.store import get_database

        db = get_database(settings)
        out_dir = settings.resolved_work_dir() / name / "report"
        written = write_report(db, name, out_dir, extra=report_extra(name, db))
        result["report_html"] = str(written["html"])
        result["report_json"] = str(written["json"])
    result["store"] = store_left_running(settings)
    text = (f"campaign {name}: {outcome.state} after {result['seconds']:.0f} s, round {result['rounds']}, "
            f"{result['frames']} frames" + (f"\nreport: {result['report_html']}" if result["report_html"] else ""))
    if result["store"]["embedded"]:
        text += (f"\nthe embedded store keeps running at {result['store']['at']} (data: "
                 f"{result['store']['data']}) for `seiflow status`, `report` and queries; "
                 f"stop it with `{result['store']['stop']}`")
    emit(result, as_json, text)
    if outcome.state not in campaigns.FINISHED:
        ctx.exit(1)


@click.command("run")
@click.argument("campaign")
@click.option("--workers", default=2, show_default=True, help="Local rlaunch workers.")
@click.option("--timeout-min", default=180.0, show_default=True)
@click.option("--report/--no-report", default=True, show_default=True)
@json_option
@click.pass_context
def run_cmd(ctx: click.Context, campaign: str, workers: int, timeout_min: float, report: bool,
            as_json: bool) -> None:
    """Run local workers until CAMPAIGN (already submitted) finishes, then write its report."""
    _run_and_report(ctx, campaign, workers, timeout_min, as_json, report, time.monotonic())


@click.command("demo")
@click.option("--campaign-file", type=click.Path(dir_okay=False), default=str(DEMO_CAMPAIGN),
              show_default=True)
@click.option("--name", help="Campaign name (default: the file's, with a time stamp when taken).")
@click.option("--workers", default=2, show_default=True, help="Local rlaunch workers.")
@click.option("--timeout-min", default=120.0, show_default=True)
@click.option("--seed", type=int, default=None,
              help="Seed of the ensemble and the perturbed copies (default: the campaign file's).")
@json_option
@click.pass_context
def demo_cmd(ctx: click.Context, campaign_file: str, name: str | None, workers: int,
             timeout_min: float, seed: int | None, as_json: bool) -> None:
    """The one-machine campaign on the embedded default: submit, run workers, write the report."""
    from seiflow.controller.flows import campaign_flow
    from seiflow.controller.submit import submit
    from seiflow.records import campaigns
    from seiflow.store import ensure_server, get_database, get_launchpad

    t0 = time.monotonic()
    if not Path(campaign_file).is_file():
        raise InputError(f"demo campaign {campaign_file} not found",
                         "run from the repository root or pass --campaign-file")
    campaign = load_campaign(campaign_file)
    if seed is not None:
        campaign = campaign.model_copy(update={
            "training": campaign.training.model_copy(update={"seed": seed}),
            "structures": campaign.structures.model_copy(update={
                "perturb": campaign.structures.perturb.model_copy(update={"seed": seed})}),
        })
    settings = settings_from(ctx)
    ensure_server(settings)
    lp = get_launchpad(settings)
    db = get_database(settings)
    base = name or campaign.name
    chosen = base
    if name is None and campaigns.exists(db, base):
        chosen = f"{base}-{time.strftime('%Y%m%d-%H%M%S')}"
    campaign = campaign.model_copy(update={"name": chosen})
    submit(campaign, campaign_flow(campaign), lp, settings)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    say(f"submitted demo campaign {chosen!r}; running {workers} local workers")
    _run_and_report(ctx, chosen, workers, timeout_min, as_json, True, t0)
