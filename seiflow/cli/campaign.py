"""``seiflow validate``: check a campaign file without touching the store."""

from __future__ import annotations

from pathlib import Path

import click

from seiflow.cli.common import emit, json_option
from seiflow.schemas.campaign import Campaign, load_campaign
from seiflow.schemas.formats import IMPORT_FORMATS


@click.command("validate")
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@json_option
def validate(campaign_file: str, as_json: bool) -> None:
    """Validate CAMPAIGN_FILE (a workflows/*.yaml) and print its resolved settings."""
    campaign = load_campaign(campaign_file)
    notes = campaign_notes(campaign)
    result = {"valid": True, "name": campaign.name, "campaign": campaign.model_dump(mode="json"),
              "warnings": notes}
    emit(result, as_json, "\n".join([f"{campaign_file}: valid campaign {campaign.name!r}",
                                      *(f"warning: {n}" for n in notes)]))


def campaign_notes(campaign: Campaign) -> list[str]:
    """What a valid campaign will do that its author may not expect (data that is never trained on)."""
    notes = []
    code = campaign.labelling.reference.code
    for i, entry in enumerate(campaign.labelling.initial_data):
        if entry.labelled_by == "other":
            holds = IMPORT_FORMATS[entry.resolved_format()]
            notes.append(
                f"labelling.initial_data[{i}] ({entry.path}) was labelled by another reference ({holds}, not "
                f"the campaign's {code}): its frames are stored but never trained on"
            )
        elif not any(ch in entry.path for ch in "*?[") and not Path(entry.path).exists():
            notes.append(f"labelling.initial_data[{i}]: {entry.path} does not exist here (workers must see it)")
    return notes
