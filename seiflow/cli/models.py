"""``seiflow models list/get``: trained models and their metrics from the store."""

from __future__ import annotations

from pathlib import Path

import click

from seiflow.cli.common import emit, json_option, settings_from
from seiflow.schemas.model import ModelDoc


def _summary(doc: ModelDoc) -> dict:
    return {
        "model_id": doc.model_id, "campaign": doc.campaign, "round": doc.round, "index": doc.index,
        "seed": doc.seed, "backend": doc.backend, "deepmd_version": doc.deepmd_version,
        "numb_steps": doc.numb_steps, "init": doc.init, "files": sorted(doc.files),
        "n_train_frames": doc.data.n_train_frames, "metrics": doc.metrics.model_dump(),
        "created_at": doc.created_at.isoformat(), "type_map": doc.type_map,
        "pretrained_sha256": doc.pretrained_sha256, "teacher_model_id": doc.teacher_model_id,
    }


def _store(ctx: click.Context):
    from seiflow.models.store import ModelStore
    from seiflow.store import get_database

    return ModelStore(get_database(settings_from(ctx)))


@click.group("models")
def models_group() -> None:
    """Trained DeePMD models: list them, fetch their files."""


@models_group.command("list")
@click.option("--campaign", default=None, help="Only this campaign's models.")
@click.option("--round", "round_", type=int, default=None, help="Only this round.")
@json_option
@click.pass_context
def list_models(ctx: click.Context, campaign: str | None, round_: int | None, as_json: bool) -> None:
    """List models, newest round first, with their validation metrics."""
    docs = _store(ctx).list(campaign=campaign, round=round_)
    rows = [_summary(d) for d in docs]
    lines = [
        f"{r['model_id']}  round {r['round']} #{r['index']}  E {r['metrics']['rmse_e_mev_atom']} meV/atom"
        f"  F {r['metrics']['rmse_f_mev_a']} meV/Å  S {r['metrics']['rmse_v_mpa']} MPa"
        for r in rows
    ]
    emit({"count": len(rows), "models": rows}, as_json, "\n".join(lines) or "no models")


@models_group.command("get")
@click.argument("model_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", help="Folder to write to.")
@click.option(
    "--kind", type=click.Choice(["compressed", "frozen", "checkpoint", "parity"]), default=None,
    help="Which file (default: compressed if stored, else frozen).",
)
@json_option
@click.pass_context
def get_model(ctx: click.Context, model_id: str, out_dir: str, kind: str | None, as_json: bool) -> None:
    """Write MODEL_ID's model file into --out and print where."""
    store = _store(ctx)
    doc = store.get(model_id)
    path = store.fetch(model_id, Path(out_dir), kind=kind)
    result = {"model_id": model_id, "path": str(path), "bytes": path.stat().st_size, **_summary(doc)}
    emit(result, as_json, str(path))
