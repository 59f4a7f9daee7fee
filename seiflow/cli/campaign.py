"""``seiflow validate``: check a campaign file without touching the store."""

from __future__ import annotations

from pathlib import Path

import click

from seiflow.cli.common import emit, json_option
from seiflow.schemas.campaign import Campaign, load_campaign
from seiflow.schemas.chemistry import Chemistry
from seiflow.schemas.formats import IMPORT_FORMATS


@click.command("validate")
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@json_option
def validate(campaign_file: str, as_json: bool) -> None:
    """Validate CAMPAIGN_FILE (a workflows/*.yaml) and print its resolved settings."""
    from seiflow.analysis.chemistry import campaign_chemistry

    campaign = load_campaign(campaign_file)
    chem = campaign_chemistry(campaign)
    notes = campaign_notes(campaign) + chemistry_notes(chem)
    result = {"valid": True, "name": campaign.name, "campaign": campaign.model_dump(mode="json"),
              "chemistry": chem.model_dump(mode="json"), "warnings": notes}
    emit(result, as_json, "\n".join([f"{campaign_file}: valid campaign {campaign.name!r}", describe_chemistry(chem),
                                      *(f"warning: {n}" for n in notes)]))


def describe_chemistry(chem: Chemistry) -> str:
    """What the analysis will look for, in one paragraph."""
    if not chem.electrolyte:
        return "chemistry: none declared (the analysis reports errors and RDFs only)"
    cations = "; ".join(f"{c.species} reduced below {c.reduced_below} {'/'.join(c.anions)} (pristine "
                        f"{c.pristine_cn:g})" for c in chem.reducible) or "no reducible cation"
    bonds = ", ".join(f"{b.a}-{b.b} {b.cutoff:g} Å" for b in chem.bonds)
    metals = ", ".join(m.phase for m in chem.metallic) or "none"
    return (f"chemistry: anode {chem.anode} (mobile {'/'.join(chem.mobile) or '-'}), electrolyte "
            f"{chem.electrolyte} (anions {'/'.join(chem.anions)}); {cations}; products "
            f"{', '.join(chem.products) or 'none'} (metallic: {metals}); bonds {bonds}")


def chemistry_notes(chem: Chemistry) -> list[str]:
    """Parts of the declared chemistry the analysis cannot use."""
    notes = []
    if chem.electrolyte and not chem.reducible:
        notes.append(f"chemistry: no cation of {chem.electrolyte} other than the mobile ion bonds to its anions "
                     f"({'/'.join(chem.anions)}): nothing will be reported as reduced")
    for product in chem.products:
        if not any(s.phase == product for s in chem.signatures):
            notes.append(f"chemistry.products: {product} has no bonded first shell to match atoms against")
    return notes


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
