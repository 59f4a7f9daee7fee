"""``seiflow produce`` refuses what it cannot run with one line naming the field or the fix."""

from __future__ import annotations

from seiflow.records import campaigns
from seiflow.records.production import ProductionStore
from seiflow.store import get_database
from tests.production.helpers import licl_campaign, seiflow_cli


def test_produce_refuses_with_one_line_and_stores_nothing(seiflow_env, capsys):
    db = get_database()
    campaigns.ensure(db, licl_campaign("cli-prod"))
    code, err = seiflow_cli(["produce", "nowhere"], capsys)
    assert code == 2 and "no campaign named 'nowhere'" in err
    code, err = seiflow_cli(["produce", "cli-prod"], capsys)
    assert code == 2 and "has no trained model for production" in err and "fix:" in err
    code, err = seiflow_cli(["produce", "cli-prod", "--atoms", "0"], capsys)
    assert code == 2 and "production.atoms" in err, err
    code, err = seiflow_cli(["produce", "cli-prod", "--dump-every", "150", "--watch-every", "100"], capsys)
    assert code == 2 and "production.dump_every 150 is not a multiple of production.watch.every 100" in err, err
    code, err = seiflow_cli(["produce", "cli-prod", "--stop"], capsys)
    assert code == 2 and "has no running production" in err
    assert ProductionStore(db).count("cli-prod") == 0
    assert len(err.strip().splitlines()) == 1
