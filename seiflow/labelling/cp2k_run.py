"""CP2K under custodian, shared by statics and MD: the command, handlers, one run function, and CP2K's units.

custodian's ``Cp2kJob`` runs the input in its folder with custodian's CP2K handlers (their monitors
wrapped so a half-written output reads as "no error yet", see :mod:`seiflow.labelling.handlers`).
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custodian.cp2k.jobs import Cp2kJob
from custodian.custodian import ErrorHandler

from seiflow.labelling.cp2k_inputs import INPUT_FILE, OUTPUT_FILE
from seiflow.labelling.handlers import (
    CP2K_VALIDATORS,
    CustodianFields,
    RunOutcome,
    cp2k_handlers,
    run_with_custodian,
)

if TYPE_CHECKING:
    from pathlib import Path

HA_BOHR_TO_EV_A = 51.42208619083232  # 1 Ha/bohr in eV/Å (CODATA 2018)
GPA_TO_EV_A3 = 1 / 160.21766208  # 1 GPa in eV/Å^3


@dataclass
class Cp2kRunFields(CustodianFields):
    """How CP2K runs: command, custodian handlers and budget (statics and MD)."""

    cp2k_cmd: str = field(default="cp2k.psmp", metadata={
        "description": "CP2K command, e.g. 'mpirun -np 2 cp2k.psmp'."})
    handlers: tuple[ErrorHandler, ...] | None = None  # None: fresh cp2k_handlers() for every run

    def run_cp2k(self, text: str, directory: Path) -> RunOutcome:
        """Write ``text`` as the input in ``directory`` and run CP2K there under custodian."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / INPUT_FILE).write_text(text)
        cp2k_job = Cp2kJob(shlex.split(self.cp2k_cmd), input_file=INPUT_FILE, output_file=OUTPUT_FILE)
        handlers = copy.deepcopy(list(self.handlers)) if self.handlers is not None else cp2k_handlers()
        return run_with_custodian([cp2k_job], handlers, CP2K_VALIDATORS, directory, self, monitor_freq=1)
