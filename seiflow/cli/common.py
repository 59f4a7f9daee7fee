"""Shared CLI pieces: the ``--json`` option, result printing, settings loading."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from seiflow.settings import Settings, load_settings


def json_option(func: Callable) -> Callable:
    """Add ``--json``: print the command's result as one JSON object on stdout."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as one JSON object."
    )(func)


def emit(result: dict[str, Any], as_json: bool, text: str | None = None) -> None:
    """Print a result: JSON when asked, else ``text`` (or ``key: value`` lines)."""
    if as_json:
        click.echo(json.dumps(result, default=str, sort_keys=True))
        return
    if text is not None:
        click.echo(text)
        return
    for key, value in result.items():
        click.echo(f"{key}: {value}")


def settings_from(ctx: click.Context) -> Settings:
    """The settings for this invocation (``--config`` on the main group, else the search order)."""
    root = ctx.find_root()
    path = root.params.get("config")
    return load_settings(Path(path) if path else None)


def with_overrides(campaign: Any, section: str, overrides: dict[str, Any], source: str) -> Any:
    """``campaign`` with keys of one ``section`` (dotted below it) set as a command's options say.

    Checked as the file would be; errors name ``source``.
    """
    from seiflow.schemas.campaign import campaign_from_dict

    if not overrides:
        return campaign
    raw = campaign.model_dump(mode="json")
    for key, value in overrides.items():
        target, (*parents, last) = raw[section], key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return campaign_from_dict(raw, source)
