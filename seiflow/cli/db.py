"""``seiflow db``: the embedded MongoDB-protocol server."""

from __future__ import annotations

from pathlib import Path

import click

from seiflow.cli.common import emit, json_option, settings_from
from seiflow.db import embedded


@click.group("db")
def db_group() -> None:
    """Start, stop or check the embedded MongoDB-protocol server (one-machine default)."""


def _cfg(ctx: click.Context, storage: str | None, port: int | None):
    cfg = settings_from(ctx).embedded
    updates = {}
    if storage:
        updates["storage_path"] = Path(storage)
    if port:
        updates["port"] = port
    return cfg.model_copy(update=updates)


_storage = click.option("--storage", type=click.Path(file_okay=False), help="Data folder.")
_port = click.option("--port", type=int, help="TCP port on 127.0.0.1.")


@db_group.command("start")
@_storage
@_port
@json_option
@click.pass_context
def db_start(ctx: click.Context, storage: str | None, port: int | None, as_json: bool) -> None:
    """Start the server in the background (data survives restarts)."""
    st = embedded.start(_cfg(ctx, storage, port))
    emit(st.as_dict(), as_json, f"embedded server running at {st.uri} (data: {st.storage_path})")


@db_group.command("stop")
@_storage
@_port
@json_option
@click.pass_context
def db_stop(ctx: click.Context, storage: str | None, port: int | None, as_json: bool) -> None:
    """Stop the server that ``seiflow db start`` started."""
    st = embedded.stop(_cfg(ctx, storage, port))
    emit(st.as_dict(), as_json, "embedded server stopped" if not st.running else "still running")


@db_group.command("status")
@_storage
@_port
@json_option
@click.pass_context
def db_status(ctx: click.Context, storage: str | None, port: int | None, as_json: bool) -> None:
    """Say whether the server answers, where, and where its data is."""
    st = embedded.status(_cfg(ctx, storage, port))
    text = f"{'running' if st.running else 'not running'} at {st.uri} (data: {st.storage_path})"
    emit(st.as_dict(), as_json, text)
    if not st.running:
        ctx.exit(1)
