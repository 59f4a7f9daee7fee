"""Formats labelled frames are imported from (read through dpdata), and how a file name tells its format."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import PurePath

# format -> the code whose labels it holds ("imported": the file does not say)
IMPORT_FORMATS: dict[str, str] = {
    "vasp/outcar": "vasp",
    "vasp/xml": "vasp",
    "cp2k/output": "cp2k",
    "cp2k/aimd_output": "cp2k",
    "extxyz": "imported",
    "deepmd/npy": "imported",
}

# file-name patterns, first match wins (case-insensitive)
NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("vasprun*.xml*", "vasp/xml"),
    ("*.xml", "vasp/xml"),
    ("outcar*", "vasp/outcar"),
    ("*.extxyz", "extxyz"),
    ("*.xyz", "extxyz"),
    ("*.out", "cp2k/output"),
    ("*.log", "cp2k/output"),
    ("set.*", "deepmd/npy"),
    ("type.raw", "deepmd/npy"),
)


def guess_format(path: str | PurePath) -> str | None:
    """The import format a file name implies, or None (then ``--fmt`` / ``fmt`` must say)."""
    name = PurePath(path).name.lower()
    for pattern, fmt in NAME_PATTERNS:
        if fnmatch(name, pattern):
            return fmt
    return None
