"""``seiflow properties``: the converged model's transport and mechanics (diffusion MD, elastic constants)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import click

from seiflow.cli.common import emit, json_option, settings_from, with_overrides
from seiflow.errors import InputError


def _own_fields(doc: Any) -> dict[str, Any]:
    """A stored document's fields without those every document of the stage shares."""
    return {k: v for k, v in doc.model_dump(mode="json").items() if k not in ("kind", "campaign", "stage_id", "created_at")}


def properties_summary(db: Any, stage_id: str) -> dict[str, Any]:
    """The stage as ``--json`` prints it: its runs done, fits and elastic constants (keys in docs/cli.md)."""
    from seiflow.records.properties import PropertyStore

    store = PropertyStore(db)
    stage = store.stage(stage_id)
    runs = store.runs(stage_id)
    return {
        "stage_id": stage_id, "model_id": stage.model_id, "member_ids": stage.member_ids, "species": stage.species,
        "systems": stage.systems, "temperatures": stage.temperatures, "planned_runs": stage.planned_runs,
        "runs_done": len(runs), "runs_failed": sum(1 for r in runs if r.health),
        "arrhenius": [_own_fields(f) for f in store.fits(stage_id)],
        "elastic": [_own_fields(e) for e in store.elastic(stage_id)],
    }


@click.command("properties")
@click.argument("campaign")
@click.option("--model", "model_id", default=None, help="Model (default: the campaign's production model).")
@click.option("--temperatures", default=None, help="Override properties.diffusion.temperatures, e.g. 600,800.")
@click.option("--length-ps", type=float, default=None, help="Override properties.diffusion.length_ps.")
@click.option("--equilibrate-ps", type=float, default=None, help="Override properties.diffusion.equilibrate_ps.")
@click.option("--atoms", type=int, default=None, help="Override properties.diffusion.atoms.")
@click.option("--size-check-atoms", type=int, default=None, help="Override properties.diffusion.size_check_atoms.")
@click.option("--sei-frame", type=click.Choice(["production", "interface", "none"]), default=None,
              help="Override properties.elastic.sei_frame.")
@click.option("--diffusion/--no-diffusion", default=None, help="Override properties.diffusion.enabled.")
@click.option("--elastic/--no-elastic", default=None, help="Override properties.elastic.enabled.")
@click.option("--local/--no-local", default=False, show_default=True,
              help="Run local workers until the stage ends (else: queue it for the cluster's workers).")
@click.option("--workers", default=1, show_default=True, help="Local workers (--local).")
@click.option("--timeout-min", default=120.0, show_default=True)
@json_option
@click.pass_context
def properties_cmd(ctx: click.Context, campaign: str, model_id: str | None, temperatures: str | None,
                   length_ps: float | None, equilibrate_ps: float | None, atoms: int | None,
                   size_check_atoms: int | None, sei_frame: str | None, diffusion: bool | None,
                   elastic: bool | None, local: bool, workers: int, timeout_min: float, as_json: bool) -> None:
    """The mobile ion's diffusivity with committee error bars and elastic constants of CAMPAIGN's production model."""
    from seiflow.controller.submit import ensure_initialised, to_workflow
    from seiflow.properties.flows import start_properties
    from seiflow.records import campaigns
    from seiflow.store import get_database, get_launchpad

    t0 = time.monotonic()
    settings = settings_from(ctx)
    db = get_database(settings)
    lp = get_launchpad(settings)
    stored = campaigns.load(db, campaign)
    try:
        temps = [float(x) for x in temperatures.split(",")] if temperatures else None
    except ValueError as exc:
        raise InputError(f"--temperatures {temperatures!r} is not a comma-separated list of K",
                         "e.g. --temperatures 600,700,800") from exc
    overrides = {k: v for k, v in {
        "diffusion.temperatures": temps, "diffusion.length_ps": length_ps,
        "diffusion.equilibrate_ps": equilibrate_ps, "diffusion.atoms": atoms,
        "diffusion.size_check_atoms": size_check_atoms, "elastic.sei_frame": sei_frame,
        "diffusion.enabled": diffusion, "elastic.enabled": elastic}.items() if v is not None}
    c = with_overrides(stored, "properties", overrides, "seiflow properties options")
    stage, flow = start_properties(c, db, model_id)
    ensure_initialised(lp)
    with warnings.catch_warnings():  # the elastic jobs do not feed the fit: jobflow's "not connected" is expected
        warnings.filterwarnings("ignore", message="Some jobs are not connected")
        fw_ids = sorted(lp.add_wf(to_workflow(flow, c)).values())
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    say(f"properties {stage.stage_id}: {stage.planned_runs} diffusion runs ({', '.join(stage.systems)}; "
        f"{len(stage.member_ids)} committee members beside {stage.model_id}), elastic constants of "
        f"{', '.join(stage.elastic) or 'nothing'}")
    if local:
        from seiflow.controller.runner import run_locally

        run_locally(settings, campaign, n_workers=workers, timeout_s=timeout_min * 60, progress=say)
    result = {"campaign": campaign, "fw_ids": fw_ids, "seconds": round(time.monotonic() - t0, 1),
              **properties_summary(db, stage.stage_id)}
    lines = [f"properties {stage.stage_id}: {result['runs_done']} of {stage.planned_runs} diffusion runs done"
             + (f" ({result['runs_failed']} without D: MD health)" if result["runs_failed"] else "")]
    for f in result["arrhenius"]:
        ea = (f"Ea {f['activation_energy_ev']:.3f} ± {f['activation_energy_err_ev'] or float('nan'):.3f} eV"
              if f["activation_energy_ev"] is not None else f["note"])
        lines.append(f"  {f['species']} in {f['system']} ({f['region']}): {ea}")
    for e in result["elastic"]:
        lines.append(f"  elastic {e['name']}: K {e['bulk_vrh_gpa']:.1f} GPa, G {e['shear_vrh_gpa']:.1f} GPa "
                     f"({e['n_atoms']} atoms, {e['source']})")
    if not local:
        lines.append("  queued: start workers (seiflow workers, qlaunch rapidfire) to run it")
    emit(result, as_json, "\n".join(lines))
    if local and (result["runs_done"] < stage.planned_runs or len(result["elastic"]) < len(stage.elastic)):
        raise InputError(f"properties {stage.stage_id} ended with {result['runs_done']} of {stage.planned_runs} runs "
                         f"and {len(result['elastic'])} of {len(stage.elastic)} elastic structures",
                         "see `seiflow status` for the failed job and its error")
