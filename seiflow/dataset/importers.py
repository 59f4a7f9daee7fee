"""Import labelled frames from other codes' outputs through dpdata (no parsers of our own).

Formats: ``vasp/outcar``, ``vasp/xml``, ``cp2k/output``, ``cp2k/aimd_output``, ``extxyz`` and
``deepmd/npy``. With ``NWRITE=0`` a VASP OUTCAR prints forces only for the first and last ionic
steps; dpdata then keeps only those, so :func:`frames_from_file` warns and the vasprun.xml of the
same run should be imported instead (it has every step).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import dpdata
import numpy as np

from seiflow.errors import InputError
from seiflow.schemas.formats import IMPORT_FORMATS, guess_format
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

FORMATS = IMPORT_FORMATS  # fmt -> calculator recorded when no reference is given
_OUTCAR_STEP = re.compile(r"FREE ENERGIE OF THE ION-ELECTRON SYSTEM")


class IncompleteImportWarning(UserWarning):
    """A file holds more ionic steps than could be imported with labels."""


def check_extxyz_layout(path: Path) -> None:
    """Refuse an extended-XYZ file whose frames are not ``count``, comment, ``count`` atom lines.

    dpdata's reader reads ``count + 1`` lines after any line that starts with a digit, so a header holding a
    long run of digits (Unicode ones too) makes it loop for hours; checking the layout first keeps that out.
    """
    with open(path, errors="replace") as fh:
        lines = iter(enumerate(fh, start=1))
        for number, line in lines:
            token = line.strip()
            if not token:
                continue  # blank lines between or after frames
            if not (token.isascii() and token.isdigit()) or int(token) < 1:
                raise InputError(
                    f"{path} line {number}: expected the number of atoms of a frame, found {token[:40]!r}",
                    "write each frame as a count line, a comment line, then one line per atom (extended XYZ)",
                )
            count = int(token)
            for _ in range(count + 1):
                if next(lines, None) is None:
                    raise InputError(
                        f"{path} line {number}: a frame of {count} atoms needs {count + 1} more lines "
                        "than the file has",
                        "check the count line and that the file is complete",
                    )


def _systems(path: Path, fmt: str) -> list[dpdata.LabeledSystem]:
    if fmt == "extxyz":
        check_extxyz_layout(path)
        return list(dpdata.MultiSystems.from_file(str(path), fmt="extxyz").systems.values())
    if fmt == "deepmd/npy":
        roots = [path] if (path / "type.raw").is_file() else sorted(
            p.parent for p in path.rglob("type.raw")
        )
        if not roots:
            raise InputError(f"{path} holds no deepmd/npy system (no type.raw)", "give a system folder")
        return [dpdata.LabeledSystem(str(p), fmt="deepmd/npy") for p in roots]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="cannot find labels")
        return [dpdata.LabeledSystem(str(path), fmt=fmt)]


def _outcar_steps(path: Path) -> int:
    with open(path, errors="replace") as fh:
        return sum(1 for line in fh if _OUTCAR_STEP.search(line))


def frames_from_system(
    system: dpdata.LabeledSystem, reference: Reference, provenance: Provenance, start: int = 0
) -> list[LabelledFrame]:
    """LabelledFrames of every frame of a dpdata ``LabeledSystem`` (frame_index from ``start``)."""
    names, types = system["atom_names"], system["atom_types"]
    species = [names[t] for t in types]
    has_virial = "virials" in system.data
    nopbc = bool(system.data.get("nopbc", False))
    frames = []
    for i in range(system.get_nframes()):
        prov = provenance.model_copy(update={"frame_index": start + i})
        frames.append(
            LabelledFrame(
                species=species,
                positions=np.array(system["coords"][i], dtype=float),
                cell=np.array(system["cells"][i], dtype=float),
                pbc=(False, False, False) if nopbc else (True, True, True),
                energy=float(system["energies"][i]),
                forces=np.array(system["forces"][i], dtype=float),
                virial=np.array(system["virials"][i], dtype=float) if has_virial else None,
                reference=reference,
                provenance=prov,
            )
        )
    return frames


def frames_from_file(
    path: str | Path,
    fmt: str,
    reference: Reference | None = None,
    provenance: Provenance | None = None,
) -> list[LabelledFrame]:
    """Read every labelled frame of ``path`` (a file, or a folder for ``deepmd/npy``) with dpdata.

    ``reference`` defaults to the code the format implies with settings ``{"imported": True}``, so
    the OUTCAR and vasprun.xml of one run give the same frames (pass a reference with the run's
    settings to keep imports of different settings apart);
    ``provenance`` defaults to source ``import`` with the file name as origin. Frame indices count
    the imported frames in order.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown import format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise InputError(f"{path} does not exist", "give the path of an output file")
    reference = reference or Reference(calculator=FORMATS[fmt], settings={"imported": True})
    provenance = provenance or Provenance(source="import", origin=path.name)
    frames: list[LabelledFrame] = []
    try:
        for system in _systems(path, fmt):
            frames += frames_from_system(system, reference, provenance, start=len(frames))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - dpdata raises many types on malformed files (found by fuzzing)
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"dpdata could not read {path} as {fmt}: {first}", "check the file and --fmt") from None
    if not frames:  # an empty dataset is bad input, not a silent success
        raise InputError(f"{path} holds no labelled frames as {fmt}", "check the file and --fmt")
    if fmt == "vasp/outcar":
        steps = _outcar_steps(path)
        if steps > len(frames):
            warnings.warn(
                f"{path} has {steps} ionic steps but forces for {len(frames)} (NWRITE=0?); "
                "import the run's vasprun.xml (--fmt vasp/xml) to get every step",
                IncompleteImportWarning,
                stacklevel=2,
            )
    return frames


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """``fmt``, or the format ``path`` implies (a folder with ``type.raw`` is deepmd/npy)."""
    if fmt:
        return fmt
    path = Path(path)
    if path.is_dir() and (path / "type.raw").is_file():
        return "deepmd/npy"
    guessed = guess_format(path)
    if guessed is None:
        raise InputError(f"cannot tell the format of {path.name}", f"give --fmt: one of {', '.join(FORMATS)}")
    return guessed


def expand(pattern: str | Path) -> list[Path]:
    """The files (or deepmd/npy folders) a path or glob names, sorted; an InputError when none."""
    pattern = Path(pattern).expanduser()
    if any(ch in str(pattern) for ch in "*?["):
        anchor = Path(pattern.anchor or ".")
        found = sorted(anchor.glob(str(pattern.relative_to(anchor)))) if pattern.is_absolute() else sorted(Path().glob(str(pattern)))
    else:
        found = [pattern] if pattern.exists() else []
    if not found:
        raise InputError(f"{pattern} matches no file", "check the path (relative paths start at the campaign file)")
    return found
