"""The local reference calculators (ASE): fast stand-ins for DFT on machines without VASP.

CHGNet ships its PBE-trained weights in the PyPI package and runs offline; SevenNet is a second option
when installed. Every frame they label records which one it was.
"""

from __future__ import annotations

import threading
from functools import cache

from ase.calculators.calculator import Calculator

from seiflow.errors import InputError

LOCAL_REFERENCES = ("chgnet", "sevennet")
_LOCK = threading.Lock()


@cache
def _chgnet() -> Calculator:
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(model=CHGNet.load(verbose=False), use_device="cpu")


@cache
def _sevennet() -> Calculator:
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError as exc:
        raise InputError(
            "labelling.reference is 'sevennet' but SevenNet is not installed",
            "pip install sevenn, or use reference: chgnet",
        ) from exc
    return SevenNetCalculator("7net-0", device="cpu")


def get_calculator(name: str) -> Calculator:
    """A shared ASE calculator for a local reference (``chgnet`` or ``sevennet``), loaded once per process."""
    with _LOCK:
        if name == "chgnet":
            return _chgnet()
        if name == "sevennet":
            return _sevennet()
    raise InputError(
        f"{name!r} is not a local reference calculator", f"use one of {', '.join(LOCAL_REFERENCES)}"
    )


def calculator_settings(name: str) -> dict:
    """What identifies a local reference's labels (enters each frame's content hash)."""
    if name == "chgnet":
        import chgnet

        return {"calculator": "chgnet", "version": chgnet.__version__, "model": "0.3.0"}
    if name == "sevennet":
        return {"calculator": "sevennet", "model": "7net-0"}
    raise InputError(
        f"{name!r} is not a local reference calculator", f"use one of {', '.join(LOCAL_REFERENCES)}"
    )
