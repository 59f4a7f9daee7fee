"""Submitting a campaign: its flow goes onto the LaunchPad as one FireWorks workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fireworks import LaunchPad, Workflow
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow

from seiflow.jobconfig import tag_jobs
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
from seiflow.schemas.campaign import Campaign
from seiflow.settings import Settings
from seiflow.store import get_database, get_jobstore, get_launchpad


def to_workflow(flow: Flow, campaign: Campaign) -> Workflow:
    """The FireWorks workflow of a campaign flow (no connection details inside)."""
    tag_jobs(flow, campaign.name)
    return flow_to_workflow(
        flow, store=get_jobstore(), name=campaign.name, metadata={"campaign": campaign.name}
    )


def ensure_initialised(lp: LaunchPad) -> bool:
    """Initialise a LaunchPad database that was never reset (a fresh server); never touches data."""
    if lp.fw_id_assigner.count_documents({}) > 0:
        return False
    if lp.fireworks.count_documents({}) or lp.workflows.count_documents({}):
        return False  # someone else's data without an id counter: leave it to `lpad reset`
    lp.reset("", require_password=False)
    return True


def submit(
    campaign: Campaign, flow: Flow, lp: LaunchPad | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Add the campaign's workflow to the LaunchPad and register the campaign; returns a summary.

    ``settings`` say which store (``seiflow --config``); None: the search order's.
    """
    lp = lp or get_launchpad(settings)
    db = get_database(settings)
    campaigns.check_new(db, campaign.name)
    upload_pretrained(campaign, db)
    ensure_initialised(lp)
    wf = to_workflow(flow, campaign)
    id_map = lp.add_wf(wf)
    fw_ids = sorted(id_map.values())
    campaigns.ensure(db, campaign, fw_ids)
    return {"campaign": campaign.name, "fw_ids": fw_ids, "n_jobs": len(fw_ids)}


def upload_pretrained(campaign: Campaign, db) -> None:
    """Copy ``training.finetune.model`` into the store (once per SHA-256) for the workers."""
    pretrained = campaign.training.finetune
    if pretrained is not None:
        ModelStore(db).put_pretrained(Path(pretrained.model), pretrained.sha256)


def write_workflow_file(campaign: Campaign, flow: Flow, path: Path, settings: Settings | None = None
                        ) -> dict[str, Any]:
    """Write the workflow for ``lpad add PATH`` instead of adding it.

    The campaign's first job registers it in the store, so ``lpad add`` needs nothing else.
    """
    if campaign.training.finetune is not None:  # workers fetch it from the store, never from this machine
        upload_pretrained(campaign, get_database(settings))
    wf = to_workflow(flow, campaign)
    wf.to_file(str(path))
    return {"campaign": campaign.name, "workflow_file": str(path), "n_jobs": len(wf.fws)}
