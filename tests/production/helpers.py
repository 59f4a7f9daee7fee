"""A campaign registered with ready-made models, as if it had converged, for production tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seiflow.cli.main import main
from seiflow.models.store import ModelStore
from seiflow.production.flows import production_segment
from seiflow.records import campaigns
from seiflow.records.production import ProductionStore
from seiflow.schemas.campaign import Campaign, campaign_from_dict
from seiflow.schemas.model import ModelDoc

TINY = Path(__file__).resolve().parents[1] / "controller" / "tiny_campaign.yaml"


def licl_campaign(name: str, **production) -> Campaign:
    """The tiny LiCl campaign with a four-model ensemble and the given production section."""
    data = yaml.safe_load(TINY.read_text())
    data["name"] = name
    data["training"]["numb_models"] = 4
    data["production"] = {"structure": "LiCl", "atoms": 128, "temperature": 300.0, **production}
    return campaign_from_dict(data)


def register(db, campaign: Campaign, models: list[Path]) -> list[str]:
    """Store the campaign and ``models`` as its round-1 ensemble; member 0 is the production model."""
    campaigns.ensure(db, campaign)
    store = ModelStore(db)
    ids = []
    for i, path in enumerate(models):
        doc = ModelDoc(model_id=f"{campaign.name}-r1-m{i}", campaign=campaign.name, round=1, index=i, seed=i + 1,
                       backend="tensorflow", deepmd_version="test", type_map=list(campaign.system.type_map),
                       numb_steps=1)
        store.put(doc, {"frozen": path})
        ids.append(doc.model_id)
    campaigns.set_final_model(db, campaign.name, ids[0])
    return ids


def run_chain(campaign: Campaign, run_id: str, max_segments: int = 20) -> list[dict]:
    """Run the segment jobs one after another in this process, as the workers would, until the chain stops."""
    outputs = []
    for k in range(max_segments):
        response = production_segment.original(campaign.model_dump(mode="json"), run_id, k)
        outputs.append(response.output)
        if response.addition is None or response.output.get("state") != "running":
            break  # finished, failed, stopped, or uncertain (a learning round may follow: not run here)
    return outputs


def frame_steps(db, run_id: str) -> list[int]:
    """Every stored frame's step, segment after segment."""
    return [s for seg in ProductionStore(db).history(run_id) for s in seg.frame_steps]


def seiflow_cli(args: list[str], capsys) -> tuple[int, str]:
    """Run ``seiflow ARGS`` in this process; its exit code and what it wrote to stderr."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr().err
