"""``seiflow validate``: check a campaign file without touching the store."""

from __future__ import annotations

import click

from seiflow.cli.common import emit, json_option
from seiflow.schemas.campaign import load_campaign


@click.command("validate")
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@json_option
def validate(campaign_file: str, as_json: bool) -> None:
    """Validate CAMPAIGN_FILE (a workflows/*.yaml) and print its resolved settings."""
    campaign = load_campaign(campaign_file)
    result = {"valid": True, "name": campaign.name, "campaign": campaign.model_dump(mode="json")}
    emit(result, as_json, f"{campaign_file}: valid campaign {campaign.name!r}")
