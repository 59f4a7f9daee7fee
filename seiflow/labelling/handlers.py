"""custodian for labelling runs: default handler sets, and one function that runs a job and says how it went.

A run that custodian cannot fix (too many corrections, an unrecoverable error, a failed validator) is not an
exception here: it is a :class:`RunOutcome` with ``ok=False`` and the reason, so the caller can record the
frame as failed and the round goes on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import chdir
from pathlib import Path

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


class RunOutcome(BaseModel):
    """How a custodian-managed run ended."""

    ok: bool = Field(..., description="True when the job completed and passed its validators.")
    reason: str | None = Field(None, description="Why it failed, after custodian's corrections.")
    errors: list[str] = Field(default_factory=list, description="Errors custodian saw, in order.")
    n_corrections: int = Field(0, description="Corrections custodian applied.")


def read_corrections(directory: Path) -> tuple[list[str], int]:
    """The errors listed in ``custodian.json`` and how many corrections were made."""
    path = directory / CUSTODIAN_LOG
    if not path.is_file():
        return [], 0
    errors: list[str] = []
    n = 0
    for run in json.loads(path.read_text()):
        for corr in run.get("corrections", []):
            n += 1
            errors.extend(str(e) for e in corr.get("errors", []))
    return errors, n


def run_with_custodian(
    jobs: Sequence[Job],
    handlers: Sequence[ErrorHandler],
    validators: Sequence[Validator],
    directory: Path,
    max_errors: int = 5,
    polling_time_step: float = 10,
    monitor_freq: int = 3,
) -> RunOutcome:
    """Run ``jobs`` under custodian in ``directory``; failures come back as ``ok=False``, not exceptions."""
    directory = Path(directory).resolve()
    manager = Custodian(
        list(handlers),
        list(jobs),
        validators=list(validators),
        max_errors=max_errors,
        polling_time_step=polling_time_step,
        monitor_freq=monitor_freq,
        directory=str(directory),
    )
    reason = None
    with chdir(directory):
        try:
            manager.run()
        except CustodianError as exc:
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    errors, n = read_corrections(directory)
    return RunOutcome(ok=reason is None, reason=reason, errors=errors, n_corrections=n)
