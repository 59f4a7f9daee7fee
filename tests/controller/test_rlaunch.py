"""seiflow-rlaunch: rlaunch's options, the LaunchPad from seiflow's settings, clear one-line errors.

The password from SEIFLOW_DB_PASSWORD is tested against a daemon with --auth in
tests/security/test_credentials.py; the image's worker in tests/test_docker_image.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.controller.rlaunch import LAUNCHPAD_ENV, build_parser, main
from seiflow.testing.flows import add

BIN = Path(sys.executable).parent


def test_options_are_rlaunchs():
    args = build_parser().parse_args(["-l", "lp.yaml", "-w", "w.yaml", "rapidfire", "--nlaunches", "infinite",
                                      "--sleep", "10", "--max_loops", "3", "--timeout", "60"])
    assert (args.command, args.nlaunches, args.sleep, args.max_loops, args.timeout) == (
        "rapidfire", "infinite", 10, 3, 60)
    assert build_parser().parse_args(["singleshot", "-f", "4"]).fw_id == 4
    with pytest.raises(SystemExit):
        build_parser().parse_args([])  # a command is required


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-l", "no-such-launchpad.yaml", "rapidfire"], "no such file"),
        (["rapidfire", "--nlaunches", "many"], "not a number"),
        (["-w", "no-such-fworker.yaml", "singleshot"], "no-such-fworker.yaml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(seiflow_env, tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LAUNCHPAD_ENV, raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and err.startswith("seiflow-rlaunch: "), err


def test_runs_a_job_with_the_launchpad_from_the_settings(seiflow_env, tmp_path):
    """No -l: the LaunchPad and the JobStore both come from SEIFLOW_CONFIG (a console script subprocess)."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    job = add(20, 22)
    lp.add_wf(flow_to_workflow(Flow([job]), store=store.get_jobstore()))
    proc = subprocess.run([str(BIN / "seiflow-rlaunch"), "-s", "rapidfire"], cwd=tmp_path,
                          env=seiflow_env.subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert lp.fireworks.count_documents({"state": "COMPLETED"}) == 1
    js = store.get_jobstore()
    js.connect()
    assert js.get_output(job.uuid) == 42
    assert list(tmp_path.glob("launcher_*"))  # rapidfire's launch folders, in the working folder
