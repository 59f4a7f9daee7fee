"""CLI conventions: --help everywhere, --version, exit codes, one-line errors, --json output."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from seiflow import __version__
from seiflow.cli.main import cli, main

REPO_DEMO = "workflows/li_li3incl6_demo.yaml"


def _all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", list(_all_commands(cli)))
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def run_main(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_validate_demo_json(capsys):
    code, out, _ = run_main(["validate", REPO_DEMO, "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["valid"] and data["name"] == "li_li3incl6_demo"
    assert data["campaign"]["system"]["type_map"] == ["Li", "In", "Cl"]


def test_bad_campaign_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystem: {type_map: [Li]}\nselection: {f_trust_lo: 0.5, f_trust_hi: 0.2}\n")
    code, out, err = run_main(["validate", str(bad)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "f_trust_hi must be greater than f_trust_lo" in err and "fix:" in err


def test_usage_error_exit_2(capsys):
    code, _, err = run_main(["validate"], capsys)
    assert code == 2 and "Missing argument" in err
