"""``seiflow report`` and ``seiflow analyze ...``: the campaign report and trajectory analyses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from seiflow.analysis.trajectory import read_frames
from seiflow.cli.common import emit, json_option, settings_from
from seiflow.errors import InputError
from seiflow.models.check import MODEL_SUFFIXES, check_model_file


def _write(result: dict[str, Any], out: str | None) -> dict[str, Any]:
    if out:
        Path(out).write_text(json.dumps(result, indent=1, default=str))
    return result


@click.command("report")
@click.argument("campaign")
@click.option("--out", "out_dir", default=".", show_default=True, help="Folder for the HTML and JSON files.")
@click.option("--extra", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="JSON written by `seiflow analyze ... --out`, shown in the report (repeatable).")
@json_option
@click.pass_context
def report(ctx: click.Context, campaign: str, out_dir: str, extra: tuple[str, ...], as_json: bool) -> None:
    """Write CAMPAIGN's report (self-contained HTML + JSON); works on running campaigns too."""
    from seiflow.analysis.jobs import report_extra
    from seiflow.analysis.report import write_report
    from seiflow.store import get_database

    db = get_database(settings_from(ctx))
    attached = report_extra(campaign, db)  # the campaign's closing analysis, when it has run
    attached.update({Path(p).stem: json.loads(Path(p).read_text()) for p in extra})
    result = write_report(db, campaign, out_dir, attached)
    emit(result, as_json, f"{result['html']}\n{result['json']}")


@click.group("analyze")
def analyze_group() -> None:
    """Analyse trajectories: RDFs, mechanism, diffusion, elastic constants, production cost."""


@analyze_group.command("rdf")
@click.argument("nnp_traj")
@click.argument("reference_traj")
@click.option("--rmax", default=6.0, show_default=True)
@click.option("--nbins", default=120, show_default=True)
@click.option("--every", default=1, show_default=True, help="Use every n-th frame.")
@click.option("--type-map", default=None, help="Element per LAMMPS type, e.g. Li,In,Cl.")
@click.option("--out", default=None, help="Also write the result as JSON here.")
@json_option
def rdf_cmd(nnp_traj, reference_traj, rmax, nbins, every, type_map, out, as_json) -> None:
    """Partial RDFs of NNP_TRAJ vs REFERENCE_TRAJ and their agreement score."""
    from seiflow.analysis.rdf import compare_trajectories

    first, second, agree = compare_trajectories(
        read_frames(nnp_traj, every, type_map), read_frames(reference_traj, every, type_map),
        rmax=rmax, nbins=nbins)
    result = {"overall": agree.overall, "per_pair": agree.per_pair, "definition": agree.definition,
              "r": first.r, "curves": {"nnp": first.g, "reference": second.g},
              "table": [{"pair": k, "score": v} for k, v in agree.per_pair.items()]}
    _write(result, out)
    emit({k: result[k] for k in ("overall", "per_pair", "definition")}, as_json)


@analyze_group.command("mechanism")
@click.argument("traj")
@click.option("--campaign", "campaign_file", required=True, type=click.Path(dir_okay=False),
              help="Campaign file whose chemistry section says the anode, electrolyte and products.")
@click.option("--every", default=1, show_default=True)
@click.option("--dt-ps", default=None, type=float, help="Time between used frames; adds the reaction front.")
@click.option("--axis", default=2, show_default=True, help="Interface normal (0, 1, 2).")
@click.option("--type-map", default=None)
@click.option("--out", default=None)
@json_option
def mechanism_cmd(traj, campaign_file, every, dt_ps, axis, type_map, out, as_json) -> None:
    """Cation reduction, product fractions, metallic clusters and their percolation (front with --dt-ps)."""
    from seiflow.analysis.chemistry import campaign_chemistry
    from seiflow.analysis.front import reaction_front
    from seiflow.analysis.mechanism import analyse_trajectory, mechanism_row
    from seiflow.schemas.campaign import load_campaign

    chem = campaign_chemistry(load_campaign(campaign_file))
    frames = read_frames(traj, every, type_map)
    analysed = analyse_trajectory(frames, chem)
    per_frame = [m.model_dump(exclude={"clusters": {"__all__": {"labels"}}}) for m in analysed]
    result: dict[str, Any] = {"n_frames": len(frames), "frames": per_frame,
                              "table": [{"frame": k, **mechanism_row(m)} for k, m in enumerate(analysed)]}
    if dt_ps:
        result["front"] = reaction_front(frames, dt_ps, chem, axis=axis).model_dump()
    _write(result, out)
    emit({"n_frames": len(frames), "last": result["table"][-1],
          "percolation_dimension": {el: c.dimension for el, c in analysed[-1].clusters.items()},
          "front": result.get("front")}, as_json)


@analyze_group.command("diffusion")
@click.argument("trajs", nargs=-1, required=True)
@click.option("--temperatures", required=True, help="Comma-separated, one per trajectory (K).")
@click.option("--dt-ps", required=True, type=float, help="Time between frames, ps.")
@click.option("--species", required=True, help="The diffusing element, e.g. Li.")
@click.option("--type-map", default=None)
@click.option("--out", default=None)
@json_option
def diffusion_cmd(trajs, temperatures, dt_ps, species, type_map, out, as_json) -> None:
    """Diffusivity per trajectory from its MSD, and an Arrhenius fit across temperatures."""
    from seiflow.analysis.dynamics import arrhenius_fit, trajectory_diffusivity

    temps = [float(t) for t in temperatures.split(",")]
    if len(temps) != len(trajs):
        raise InputError("--temperatures must give one value per trajectory", "e.g. --temperatures 300,600")
    ds = [trajectory_diffusivity(read_frames(p, 1, type_map), dt_ps, species, t)[2] for p, t in zip(trajs, temps, strict=True)]
    result: dict[str, Any] = {"diffusivities": [d.model_dump() for d in ds],
                              "table": [d.model_dump() for d in ds]}
    if len(ds) >= 2:
        result["arrhenius"] = arrhenius_fit(temps, [d.d_a2_ps for d in ds]).model_dump()
    _write(result, out)
    emit({k: v for k, v in result.items() if k != "table"}, as_json)


@analyze_group.command("elastic")
@click.argument("structure")
@click.option("--calculator", default="chgnet", show_default=True, help="chgnet, sevennet, or a .pb model.")
@click.option("--strain", default=0.01, show_default=True)
@click.option("--relax-ions", is_flag=True)
@click.option("--out", default=None)
@json_option
def elastic_cmd(structure, calculator, strain, relax_ions, out, as_json) -> None:
    """Elastic constants (GPa) of STRUCTURE from strain-stress with the NNP or a local reference."""
    from ase.io import read

    from seiflow.analysis.elastic import elastic_constants

    if calculator.endswith(MODEL_SUFFIXES):
        from deepmd.calculator import DP

        calc = DP(model=str(check_model_file(calculator)))
    else:
        from seiflow.labelling.calculators import get_calculator

        calc = get_calculator(calculator)
    result = elastic_constants(read(structure), calc, strain, relax_ions).model_dump()
    _write(result, out)
    emit(result, as_json)


@analyze_group.command("production")
@click.argument("structure")
@click.argument("model")
@click.option("--type-map", required=True, help="Element order of the model, e.g. Li,In,Cl.")
@click.option("--out", "out_dir", default="production", show_default=True)
@click.option("--time-ns", default=10.0, show_default=True)
@click.option("--temperature", default=300.0, show_default=True)
@click.option("--measure-steps", default=0, show_default=True, help="Time a short run of this many steps.")
@json_option
def production_cmd(structure, model, type_map, out_dir, time_ns, temperature, measure_steps, as_json) -> None:
    """Write the LAMMPS production input for STRUCTURE with MODEL; optionally measure its cost."""
    from ase.io import read

    from seiflow.analysis.production import ProductionMaker, measure_speed

    check_model_file(model)
    atoms, names = read(structure), type_map.split(",")
    inputs = ProductionMaker(time_ns=time_ns, temperature=temperature).make(atoms, model, names, out_dir)
    result: dict[str, Any] = inputs.model_dump()
    if measure_steps:
        est = measure_speed(atoms, model, names, Path(out_dir) / "timing", n_steps=measure_steps)
        result["cost"] = {**est.model_dump(), "hours": est.us_per_step_atom * inputs.n_atoms * inputs.n_steps / 3.6e9}
    emit(result, as_json)
