"""VASP under custodian, shared by statics and AIMD: the command, handlers and the one function that runs it.

Inputs are written by atomate2's generators, so the POTCAR of every element is pymatgen's input-set choice
(``BaseVaspSet.yaml``'s ``POTCAR`` map: ``Li_sv``, ``P``, ``S``, ``Cl``, ``In_d``...); an element that map
does not know is an :class:`~seiflow.errors.InputError` naming it. POTCARs come from pymatgen's
``PMG_VASP_PSP_DIR``; ``potcar_spec=True`` writes ``POTCAR.spec`` (symbols only) instead (tests, dry runs).
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from atomate2.vasp.files import write_vasp_input_set
from custodian.custodian import ErrorHandler
from custodian.vasp.jobs import VaspJob

from seiflow.errors import InputError
from seiflow.labelling.handlers import (
    VASP_HANDLERS,
    VASP_VALIDATORS,
    CustodianFields,
    RunOutcome,
    run_with_custodian,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pymatgen.core import Structure
    from pymatgen.io.vasp.sets import VaspInputGenerator


def worker_vasp_cmd(vasp_cmd: str | None) -> str:
    """The VASP command: the maker's, else atomate2's VASP_CMD as the running worker sets it."""
    if vasp_cmd:
        return vasp_cmd
    from atomate2 import SETTINGS

    return SETTINGS.VASP_CMD


def potcar_symbols(structure: Structure, generator: VaspInputGenerator) -> list[str]:
    """The POTCAR of each element of ``structure`` in ``generator``'s input set (pymatgen's choice).

    Raises InputError naming the element when the input set has no POTCAR for it.
    """
    elements = sorted({site.specie.symbol for site in structure})
    choices = {**generator.config_dict.get("POTCAR", {}), **(generator.user_potcar_settings or {})}
    missing = [el for el in elements if el not in choices]
    if missing:
        raise InputError(
            f"no POTCAR for {', '.join(missing)} in the VASP input set ({type(generator).__name__}'s "
            "config POTCAR map)",
            "choose one in the generator's user_potcar_settings, e.g. {'Xx': 'Xx_pv'}",
        )
    return [str(choices[el]["symbol"] if isinstance(choices[el], dict) else choices[el]) for el in elements]


@dataclass
class VaspRunFields(CustodianFields):
    """How VASP runs: command, custodian handlers and budget, POTCAR or POTCAR.spec (statics and AIMD)."""

    vasp_cmd: str | None = field(default=None, metadata={
        "description": "VASP command; None: atomate2's VASP_CMD on the worker that runs the job."})
    handlers: tuple[ErrorHandler, ...] = VASP_HANDLERS
    potcar_spec: bool = field(default=False, metadata={
        "description": "Write POTCAR.spec instead of POTCAR (dry runs, tests)."})

    def run_vasp(self, structure: Structure, generator: VaspInputGenerator, directory: Path) -> RunOutcome:
        """Write ``generator``'s inputs for ``structure`` in ``directory`` and run VASP there under custodian."""
        potcar_symbols(structure, generator)
        directory.mkdir(parents=True, exist_ok=True)
        write_vasp_input_set(structure, generator, directory, potcar_spec=self.potcar_spec)
        vasp_job = VaspJob(shlex.split(worker_vasp_cmd(self.vasp_cmd)), auto_npar=False)
        return run_with_custodian(
            [vasp_job], copy.deepcopy(list(self.handlers)), VASP_VALIDATORS, directory, self, monitor_freq=1,
        )
