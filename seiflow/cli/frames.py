"""``seiflow frames``: import, list, count and export the labelled frames in MongoDB."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from seiflow.cli.common import emit, json_option, settings_from
from seiflow.errors import InputError

_STATUSES = ["labelled", "flagged", "failed", "all"]


def _store(ctx: click.Context):
    from seiflow.dataset.frames import FrameStore
    from seiflow.store import get_database

    settings = settings_from(ctx)
    return FrameStore(get_database(settings), settings.inline_array_limit)


def _query_options(func):
    for option in reversed([
        click.option("--campaign", help="Campaign name."),
        click.option("--round", "round_", type=int, help="Only this round."),
        click.option("--max-round", type=int, help="Rounds up to and including this one."),
        click.option("--source", help="Provenance source (import, reference_md, exploration...)."),
        click.option("--formula", help="Composition, e.g. Cl6In1Li3."),
        click.option("--status", type=click.Choice(_STATUSES), default="labelled", show_default=True),
    ]):
        func = option(func)
    return func


def _criteria(campaign, round_, max_round, source, formula, status) -> dict:
    return {
        "campaign": campaign, "round": round_, "max_round": max_round, "source": source,
        "formula": formula, "status": None if status == "all" else status,
    }


@click.group("frames")
def frames_group() -> None:
    """Labelled frames: import outputs, query counts, export DeePMD training data."""


@frames_group.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--fmt", default=None, help="vasp/outcar, vasp/xml, cp2k/output, cp2k/aimd_output, extxyz, deepmd/npy "
              "(default: guessed from the file name)")
@click.option("--campaign", help="Campaign the frames belong to.")
@click.option("--round", "round_", type=int, default=0, show_default=True)
@click.option("--source", default="import", show_default=True)
@json_option
@click.pass_context
def import_cmd(ctx, path, fmt, campaign, round_, source, as_json) -> None:
    """Import every labelled frame of PATH (through dpdata), storing each structure once."""
    from seiflow.dataset.importers import format_of, frames_from_file
    from seiflow.schemas.frame import Provenance

    fmt = format_of(path, fmt)
    prov = Provenance(campaign=campaign, round=round_, source=source, origin=Path(path).name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = frames_from_file(path, fmt, provenance=prov)
    results = _store(ctx).add_many(frames)
    n_new = sum(inserted for _, inserted in results)
    notes = [str(w.message) for w in caught if "ionic steps" in str(w.message)]
    result = {
        "path": str(path), "fmt": fmt, "n_frames": len(frames), "n_new": n_new,
        "n_duplicate": len(frames) - n_new, "frame_ids": [i for i, _ in results], "warnings": notes,
    }
    text = f"{len(frames)} frames read from {path}: {n_new} new, {len(frames) - n_new} already stored"
    emit(result, as_json, "\n".join([text, *(f"warning: {n}" for n in notes)]))


@frames_group.command("list")
@_query_options
@click.option("--limit", type=int, default=0, help="At most this many (0: all).")
@json_option
@click.pass_context
def list_cmd(ctx, campaign, round_, max_round, source, formula, status, limit, as_json) -> None:
    """List stored frames (id, formula, energy, provenance; no arrays)."""
    rows = _store(ctx).summaries(limit, **_criteria(campaign, round_, max_round, source, formula, status))
    lines = [
        f"{r['id'][:12]}  {r['formula']:<14} {r['status']:<9} round={r.get('round')} "
        f"source={r.get('source')} E={r['energy']} ({r['calculator']})"
        for r in rows
    ]
    emit({"n": len(rows), "frames": rows}, as_json, "\n".join(lines) or "no frames")


@frames_group.command("count")
@_query_options
@click.option("--by", type=click.Choice(["round", "source", "formula", "status", "campaign", "calculator"]))
@json_option
@click.pass_context
def count_cmd(ctx, campaign, round_, max_round, source, formula, status, by, as_json) -> None:
    """Count frames, optionally grouped by round, source, formula (composition)..."""
    store = _store(ctx)
    criteria = _criteria(campaign, round_, max_round, source, formula, status)
    counts = store.counts_by(by, **criteria) if by else {}
    result = {"count": store.count(**criteria), "by": by, "counts": counts}
    text = "\n".join([f"{k}: {v}" for k, v in counts.items()] + [f"total: {result['count']}"])
    emit(result, as_json, text)


@frames_group.command("export")
@click.argument("out_dir", type=click.Path(file_okay=False))
@_query_options
@click.option("--type-map", help="Comma-separated element order shared by all systems, e.g. Li,In,Cl.")
@json_option
@click.pass_context
def export_cmd(ctx, out_dir, campaign, round_, max_round, source, formula, status, type_map, as_json):
    """Write matching frames as deepmd/npy systems (one per composition) for ``dp train``."""
    import dpdata

    if status != "labelled":
        raise InputError("only labelled frames can be exported", "drop --status or use --status labelled")
    tmap = [t.strip() for t in type_map.split(",")] if type_map else None
    criteria = _criteria(campaign, round_, max_round, source, formula, status)
    paths = _store(ctx).export_deepmd(out_dir, type_map=tmap, **criteria)
    systems = []
    for p in paths:
        system = dpdata.LabeledSystem(str(p), fmt="deepmd/npy")
        systems.append({"path": str(p), "formula": p.name, "n_frames": system.get_nframes()})
        tmap = system["atom_names"]
    n = sum(s["n_frames"] for s in systems)
    result = {"out_dir": str(out_dir), "systems": systems, "n_frames": n, "type_map": tmap}
    emit(result, as_json, f"{n} frames in {len(systems)} systems under {out_dir}")
