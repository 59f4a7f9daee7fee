"""Entry point of the ``seiflow`` command. Exit codes: 0 ok, 1 failure, 2 bad input or unreachable store."""

from __future__ import annotations

import os
import sys

import click

from seiflow import __version__
from seiflow.cli.analysis import analyze_group, report
from seiflow.cli.campaign import validate
from seiflow.cli.control import demo_cmd, run_cmd, status_cmd, submit_cmd
from seiflow.cli.db import db_group
from seiflow.cli.frames import frames_group
from seiflow.cli.models import models_group
from seiflow.cli.production import produce_cmd
from seiflow.cli.properties import properties_cmd
from seiflow.cli.rounds import rounds_command
from seiflow.cli.structures import structures_group
from seiflow.cli.workers import workers_cmd
from seiflow.errors import SeiflowError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seiflow")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="SEIFLOW_CONFIG",
    help="seiflow.yaml settings file (default: ./seiflow.yaml, ~/.seiflow.yaml, embedded).",
)
def cli(config: str | None) -> None:
    """seiflow: active learning of DeePMD potentials for battery interfaces."""
    # TensorFlow's C++ info and warning lines (hundreds of "Not handling type DT_DOUBLE" when the report
    # predicts with a model) drown the command's output; set TF_CPP_MIN_LOG_LEVEL=0 to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


cli.add_command(db_group)
cli.add_command(frames_group)
cli.add_command(models_group)
cli.add_command(structures_group)
cli.add_command(validate)
cli.add_command(workers_cmd)
cli.add_command(report)
cli.add_command(analyze_group)
cli.add_command(rounds_command)
cli.add_command(produce_cmd)
cli.add_command(properties_cmd)
for _command in (submit_cmd, status_cmd, run_cmd, demo_cmd):
    cli.add_command(_command)


# Native libraries whose teardown writes to the terminal after seiflow's last line (DeePMD-kit's op library:
# "implib-gen: libcudart.so.12: failed to ..." on a machine without CUDA; TensorFlow/absl shutdown notes).
NOISY_AT_EXIT = ("deepmd", "tensorflow", "torch")


def _exit(code: int) -> None:
    """Exit with ``code``, the command's own output last: what native libraries print while unloading is dropped."""
    sys.stdout.flush()
    sys.stderr.flush()
    if any(name in sys.modules for name in NOISY_AT_EXIT):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning seiflow errors into one line on stderr and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="seiflow", standalone_mode=False)
    except click.exceptions.Exit as exc:
        _exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        _exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        _exit(1)
    except SeiflowError as exc:
        click.echo(f"error: {exc.one_line()}", err=True)
        _exit(exc.exit_code)
    _exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
