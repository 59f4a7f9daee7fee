"""The local reference calculators (ASE): fast stand-ins for DFT on machines without VASP.

CHGNet ships its PBE-trained weights in the PyPI package and runs offline; SevenNet is a second option
when installed. Each is one class registered in :data:`seiflow.registry.CALCULATORS`; every one is also
a labelling reference (``labelling.reference: <name>``, see :mod:`seiflow.labelling.local`), and every
frame it labels records which one it was.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from seiflow.errors import InputError
from seiflow.registry import CALCULATORS
from seiflow.schemas.frame import Reference

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

_LOCK = threading.Lock()
_LOADED: dict[tuple, Calculator] = {}


class LocalCalculator(BaseModel, ABC):
    """A local ASE calculator; its fields are its settings (they enter every label's hash)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @abstractmethod
    def build(self) -> Calculator:
        """A new ASE calculator (slow: loads weights)."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies this calculator's labels (name, version, model)."""

    def load(self) -> Calculator:
        """The shared calculator of these settings, built once per process."""
        key = (type(self).__name__, tuple(sorted(self.model_dump(mode="json").items())))
        with _LOCK:
            if key not in _LOADED:
                _LOADED[key] = self.build()
            return _LOADED[key]


@CALCULATORS.register("chgnet")
class Chgnet(LocalCalculator):
    """CHGNet 0.3.0 (weights ship with the ``chgnet`` package; trained on Materials Project PBE/PBE+U)."""

    def build(self) -> Calculator:
        """CHGNet's ASE calculator on the CPU."""
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        with contextlib.redirect_stdout(sys.stderr):  # its banner lines would break a command's --json output
            return CHGNetCalculator(model=CHGNet.load(verbose=False), use_device="cpu")

    def identity(self) -> dict[str, Any]:
        """CHGNet's version and model."""
        import chgnet

        return {"calculator": "chgnet", "version": chgnet.__version__, "model": "0.3.0"}


@CALCULATORS.register("sevennet")
class SevenNet(LocalCalculator):
    """SevenNet's bundled ``7net-0`` checkpoint (``pip install sevenn``)."""

    def build(self) -> Calculator:
        """SevenNet's ASE calculator on the CPU."""
        try:
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise InputError(
                "labelling.reference is 'sevennet' but SevenNet is not installed",
                "pip install sevenn, or use reference: chgnet",
            ) from exc
        return SevenNetCalculator("7net-0", device="cpu")

    def identity(self) -> dict[str, Any]:
        """SevenNet's model name."""
        return {"calculator": "sevennet", "model": "7net-0"}


def local_calculator(name: str) -> LocalCalculator:
    """The default settings of the local calculator ``name``."""
    if name not in CALCULATORS:
        raise InputError(
            f"{name!r} is not a local reference calculator",
            f"use one of {', '.join(CALCULATORS.names())}",
        )
    return CALCULATORS.validate(name)


def get_calculator(name: str) -> Calculator:
    """A shared ASE calculator for a local reference (``chgnet``, ``sevennet``), loaded once per process."""
    return local_calculator(name).load()


def calculator_settings(name: str) -> dict[str, Any]:
    """What identifies a local reference's labels (enters each frame's content hash)."""
    return local_calculator(name).identity()


def local_reference(calculator: str) -> Reference:
    """The :class:`Reference` of a local calculator (name plus the settings that identify its labels)."""
    return Reference(calculator=calculator, settings=calculator_settings(calculator))
