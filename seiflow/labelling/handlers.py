"""custodian for labelling runs: default handler sets, and one function that runs a job and says how it went.

A run that custodian cannot fix (too many corrections, an unrecoverable error, a failed validator) is not an
exception here: it is a :class:`RunOutcome` with ``ok=False`` and the reason, so the caller can record the
frame as failed and the round goes on. Either way the outcome carries custodian's record of the run
(:class:`~seiflow.schemas.frame.CustodianRecord`: handlers that fired, corrections, walltime), which the
frames it labelled keep in their provenance.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import chdir
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from atomate2.vasp.run import DEFAULT_HANDLERS as ATOMATE2_VASP_HANDLERS
from custodian import Custodian
from custodian.cp2k.handlers import (
    AbortHandler,
    DivergingScfErrorHandler,
    FrozenJobErrorHandler,
    NumericalPrecisionHandler,
    StdErrHandler,
    UnconvergedScfErrorHandler,
)
from custodian.cp2k.validators import Cp2kOutputValidator
from custodian.custodian import CustodianError, ErrorHandler, Job, Validator
from custodian.vasp.validators import VaspFilesValidator, VasprunXMLValidator
from pydantic import BaseModel, Field

from seiflow.schemas.frame import CustodianRecord

CUSTODIAN_LOG = "custodian.json"

# atomate2's own default set: VaspErrorHandler, MeshSymmetry, Unconverged, NonConverging, Potim,
# PositiveEnergy, FrozenJob, StdErr, LargeSigma, IncorrectSmearing, KspacingMetal.
VASP_HANDLERS: tuple[ErrorHandler, ...] = tuple(ATOMATE2_VASP_HANDLERS)
VASP_VALIDATORS: tuple[Validator, ...] = (VasprunXMLValidator(), VaspFilesValidator())


class WhileRunning(ErrorHandler):
    """A monitoring handler that reads a half-written output as "no error yet".

    custodian's CP2K monitors parse ``cp2k.out`` with pymatgen while CP2K writes it; a check that lands
    between two writes raises (IndexError in ``parse_atomic_kind_info``, seen on Debian's CP2K 2023.1) and
    would take the whole job down. This wrapper answers False for such a check; the next poll, or the
    final check on the finished file, sees the real state.
    """

    is_monitor = True

    def __init__(self, handler: ErrorHandler):
        self.handler = handler
        self.is_terminating = getattr(handler, "is_terminating", True)
        self.raises_runtime_error = getattr(handler, "raises_runtime_error", True)
        self.max_num_corrections = getattr(handler, "max_num_corrections", None)

    def check(self, directory: str = "./") -> bool:
        """The wrapped handler's check; False when the output cannot be parsed yet."""
        try:
            return self.handler.check(directory=directory)
        except (IndexError, KeyError, ValueError, TypeError, AttributeError):
            return False

    def correct(self, directory: str = "./") -> dict:
        """The wrapped handler's correction."""
        return self.handler.correct(directory=directory)


def cp2k_handlers() -> tuple[ErrorHandler, ...]:
    """Custodian's CP2K handlers for static single points (fresh instances: they keep state)."""
    handlers = (
        StdErrHandler(),
        AbortHandler(),
        UnconvergedScfErrorHandler(),
        DivergingScfErrorHandler(),
        NumericalPrecisionHandler(),
        FrozenJobErrorHandler(),
    )
    return tuple(WhileRunning(h) if getattr(h, "is_monitor", False) else h for h in handlers)


CP2K_VALIDATORS: tuple[Validator, ...] = (Cp2kOutputValidator(),)


@dataclass
class CustodianFields:
    """custodian's settings, shared by every DFT maker and declared once (maker fields and campaign settings)."""

    max_errors: Annotated[int, Field(ge=0)] = field(
        default=5, metadata={"description": "custodian corrections per structure before it is dropped."})
    polling_time_step: Annotated[float, Field(gt=0)] = field(
        default=10.0, metadata={"description": "Seconds between custodian's checks of the running code."})


class RunOutcome(BaseModel):
    """How a run ended, and custodian's record of it."""

    ok: bool = Field(..., description="True when the job completed and passed its validators.")
    reason: str | None = Field(None, description="Why it failed, after custodian's corrections.")
    custodian: CustodianRecord | None = Field(None, description="custodian's record; None: not run under it.")


def _handler_name(handler: Any) -> str:
    """The class of a handler as ``custodian.json`` holds it (a wrapped handler's own class)."""
    while isinstance(handler, dict) and isinstance(handler.get("handler"), dict):
        handler = handler["handler"]  # WhileRunning(handler) is logged with the handler inside
    if isinstance(handler, dict):
        return str(handler.get("@class", "unknown"))
    return type(handler).__name__


def read_record(directory: Path, walltime_s: float | None = None) -> CustodianRecord:
    """The record of the run in ``directory`` from ``custodian.json``: handlers, errors, corrections.

    Skipped corrections (a handler that itself raised) are listed but not counted, as custodian counts them.
    """
    path = directory / CUSTODIAN_LOG
    record = CustodianRecord(walltime_s=walltime_s)
    if not path.is_file():
        return record
    for run in json.loads(path.read_text()):
        for corr in run.get("corrections", []):
            record.handlers.append(_handler_name(corr.get("handler")))
            record.errors.extend(str(e) for e in corr.get("errors", []))
            record.n_corrections += int(not corr.get("skipped", False))
    return record


def run_with_custodian(
    jobs: Sequence[Job],
    handlers: Sequence[ErrorHandler],
    validators: Sequence[Validator],
    directory: Path,
    settings: CustodianFields,
    monitor_freq: int = 3,
) -> RunOutcome:
    """Run ``jobs`` under custodian in ``directory``; failures come back as ``ok=False``, not exceptions.

    ``settings`` (a maker) gives the error budget and the polling interval.
    """
    directory = Path(directory).resolve()
    manager = Custodian(
        list(handlers),
        list(jobs),
        validators=list(validators),
        max_errors=settings.max_errors,
        polling_time_step=settings.polling_time_step,
        monitor_freq=monitor_freq,
        directory=str(directory),
    )
    reason = None
    start = time.monotonic()
    with chdir(directory):
        try:
            manager.run()
        except CustodianError as exc:
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    record = read_record(directory, walltime_s=round(time.monotonic() - start, 3))
    return RunOutcome(ok=reason is None, reason=reason, custodian=record)
