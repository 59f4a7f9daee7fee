"""Checking a model file a user hands in (``seiflow analyze elastic/production``) before it is used."""

from __future__ import annotations

from pathlib import Path

from seiflow.errors import InputError

MODEL_SUFFIXES = (".pb", ".pth", ".savedmodel")


def check_model_file(path: str | Path) -> Path:
    """``path`` if DeePMD-kit loads it as a model; an InputError naming the file and the fix otherwise."""
    p = Path(path)
    fix = "pass a frozen or compressed model fetched with `seiflow models get MODEL_ID --out DIR`"
    if not p.is_file():
        raise InputError(f"model file {p} does not exist", fix)
    if p.suffix not in MODEL_SUFFIXES:
        raise InputError(f"model file {p} has suffix {p.suffix!r}, not one of {MODEL_SUFFIXES}", fix)
    try:
        from deepmd.infer import DeepPot

        DeepPot(str(p))
    except Exception as exc:  # noqa: BLE001 - TF/protobuf raise many types for a corrupt file
        raise InputError(f"{p} is not a DeePMD model ({type(exc).__name__})", fix) from None
    return p
