"""``seiflow properties`` refuses what it cannot run with one line naming the field or the fix, storing nothing."""

from __future__ import annotations

from seiflow.records import campaigns
from seiflow.records.properties import PropertyStore
from seiflow.store import get_database
from tests.production.helpers import licl_campaign, seiflow_cli


def test_properties_refuses_with_one_line_and_stores_nothing(seiflow_env, capsys):
    db = get_database()
    campaigns.ensure(db, licl_campaign("cli-props"))
    code, err = seiflow_cli(["properties", "nowhere"], capsys)
    assert code == 2 and "no campaign named 'nowhere'" in err
    code, err = seiflow_cli(["properties", "cli-props"], capsys)
    assert code == 2 and "has no trained model for production" in err and "fix:" in err
    code, err = seiflow_cli(["properties", "cli-props", "--temperatures", "600"], capsys)
    assert code == 2 and "properties.diffusion.temperatures" in err, err
    code, err = seiflow_cli(["properties", "cli-props", "--temperatures", "six hundred"], capsys)
    assert code == 2 and "--temperatures 'six hundred' is not a comma-separated list" in err, err
    code, err = seiflow_cli(["properties", "cli-props", "--atoms", "500", "--size-check-atoms", "400"], capsys)
    assert code == 2 and "size_check_atoms 400 is not larger than atoms 500" in err, err
    code, err = seiflow_cli(["properties", "cli-props", "--no-diffusion", "--no-elastic"], capsys)
    assert code == 2 and "both diffusion and elastic are disabled" in err, err
    assert PropertyStore(db).count_stages("cli-props") == 0
    assert len(err.strip().splitlines()) == 1
