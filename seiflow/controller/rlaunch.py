"""``seiflow-rlaunch``: FireWorks' ``rlaunch`` with the LaunchPad loaded through seiflow's settings.

FireWorks' own ``rlaunch`` reads ``launchpad.yaml`` as it stands, so a worker's password had to be
written into that file. This entry point loads the LaunchPad with :func:`seiflow.store.get_launchpad`
instead: the password comes from ``SEIFLOW_DB_PASSWORD`` when the file has a ``username`` and no
``password``, and ``db_wait_s`` applies. Then FireWorks' own ``rapidfire`` or ``launch_rocket`` runs,
with rlaunch's options::

    seiflow-rlaunch -l launchpad.yaml -w my_fworker.yaml rapidfire --nlaunches infinite --sleep 10
    seiflow-rlaunch -w my_fworker.yaml singleshot          # LaunchPad from SEIFLOW_CONFIG's settings

Without ``-l`` the LaunchPad is the settings' ``launchpad_file`` (``$SEIFLOW_CONFIG``, ``./seiflow.yaml``,
``~/.seiflow.yaml``), else ``./launchpad.yaml``, else the embedded default. With ``-l`` the jobs' JobStore
uses that file too (``SEIFLOW_LAUNCHPAD_FILE`` is set for this process). A worker may point at another
folder's embedded server (``seiflow db start`` on the host of a container); ``seiflow submit`` and ``run``
refuse that, since they would write a campaign into someone else's store.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from fireworks import FWorker, LaunchPad
from fireworks.core.rocket_launcher import launch_rocket, rapidfire
from fireworks.fw_config import STREAM_LOGLEVEL

from seiflow import store
from seiflow.errors import InputError, SeiflowError
from seiflow.settings import load_settings

LAUNCHPAD_ENV = "SEIFLOW_LAUNCHPAD_FILE"


def build_parser() -> argparse.ArgumentParser:
    """Rlaunch's parser for ``singleshot`` and ``rapidfire`` (its ``multi`` and ``--offline`` are left out)."""
    parser = argparse.ArgumentParser(
        "seiflow-rlaunch",
        description="Run FireWorks rockets with the LaunchPad from seiflow's settings "
        f"(password from {store.PASSWORD_ENV}).",
    )
    parser.add_argument("-v", "--version", action="version",
                        version=f"%(prog)s {version('seiflow')} (fireworks {version('fireworks')})")
    parser.add_argument("-l", "--launchpad_file", type=Path, help="launchpad.yaml (default: seiflow's settings)")
    parser.add_argument("-w", "--fworker_file", type=Path, help="my_fworker.yaml (default: a plain FWorker)")
    parser.add_argument("--loglvl", default=STREAM_LOGLEVEL, help="level of log messages on stdout")
    parser.add_argument("-s", "--silencer", action="store_true", help="mute log messages")
    commands = parser.add_subparsers(dest="command", required=True)
    single = commands.add_parser("singleshot", help="launch a single Rocket")
    single.add_argument("-f", "--fw_id", type=int, default=None, help="specific fw_id to run")
    single.add_argument("--pdb", action="store_true", help="start the debugger on an error")
    rapid = commands.add_parser("rapidfire", help="launch Rockets until no job is left (or forever)")
    rapid.add_argument("--nlaunches", default="0", help='number of launches, "infinite", 0: all jobs')
    rapid.add_argument("--timeout", type=int, default=None, help="stop after this many seconds")
    rapid.add_argument("--max_loops", type=int, default=-1, help="stop after this many sleep loops")
    rapid.add_argument("--sleep", type=int, default=None, help="seconds between polls")
    rapid.add_argument("--local_redirect", action="store_true", help="stdout/stderr into the launch dir")
    return parser


def load_launchpad(launchpad_file: Path | None = None) -> LaunchPad:
    """The LaunchPad of ``launchpad_file`` (or of seiflow's settings), password from the environment."""
    if launchpad_file is not None:
        path = launchpad_file.expanduser().resolve()
        if not path.is_file():
            raise InputError(f"-l {launchpad_file}: no such file", "give the path of a launchpad.yaml")
        os.environ[LAUNCHPAD_ENV] = str(path)  # the jobs' JobStore resolves the same file
    store.reset_connections()
    return store.get_launchpad(load_settings(), worker=True)  # its jobs reuse this cached connection


def _nlaunches(value: str) -> int | str:
    if value == "infinite":
        return value
    try:
        return int(value)
    except ValueError:
        raise InputError(f"--nlaunches {value!r} is not a number", 'give an integer or "infinite"') from None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse rlaunch's options, load the LaunchPad through seiflow, run the rockets; the exit code."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGINT, lambda signum, _frame: sys.exit(1))
    loglvl = "CRITICAL" if args.silencer else args.loglvl
    try:
        nlaunches = _nlaunches(args.nlaunches) if args.command == "rapidfire" else 1
        fworker = FWorker.from_file(str(args.fworker_file)) if args.fworker_file else FWorker()
        launchpad = load_launchpad(args.launchpad_file)
    except (SeiflowError, OSError) as exc:
        text = exc.one_line() if isinstance(exc, SeiflowError) else f"{exc.__class__.__name__}: {exc}"
        print(f"seiflow-rlaunch: {store.redact(text)}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    if args.command == "rapidfire":
        rapidfire(launchpad, fworker=fworker, nlaunches=nlaunches, max_loops=args.max_loops,
                  sleep_time=args.sleep, strm_lvl=loglvl, timeout=args.timeout,
                  local_redirect=args.local_redirect)
    else:
        launch_rocket(launchpad, fworker, args.fw_id, loglvl, pdb_on_exception=args.pdb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
