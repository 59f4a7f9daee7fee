"""Light readers for INCAR, POSCAR and KPOINTS and a CONTCAR writer, with VASP's rules.

They avoid importing ``pymatgen.io.vasp`` (seconds of start-up per emulated run); INCAR value types come
from pymatgen's own table (``incar_parameters.json``, read as data), so values parse as pymatgen's
``Incar`` parses them.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

_NUMBER = r"-?\d+\.?\d*(?:[eE][-+]?\d+)?|-?\.\d+(?:[eE][-+]?\d+)?"
AS_IS = ("SYSTEM",)


class VaspFileError(ValueError):
    """A VASP input file that VASP could not read."""


def pymatgen_vasp_data(name: str) -> Path | None:
    """A data file of ``pymatgen.io.vasp``, found without importing it (its import takes seconds)."""
    spec = importlib.util.find_spec("pymatgen")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "io" / "vasp" / name
    return path if path.is_file() else None


@cache
def incar_types() -> dict[str, str]:
    """INCAR key -> type (``int``, ``float``, ``bool``, ``str``, ``list``, ``bool | str``)."""
    path = pymatgen_vasp_data("incar_parameters.json")
    if path is None:
        return {}
    return {k: str(v.get("type", "")) for k, v in json.loads(path.read_text()).items()}


def _scalar(token: str) -> Any:
    low = token.lower()
    if re.fullmatch(r"\.?(t|true)\.?", low):
        return True
    if re.fullmatch(r"\.?(f|false)\.?", low):
        return False
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    try:
        return float(token.replace("d", "e").replace("D", "E"))
    except ValueError:
        return token


def incar_value(key: str, text: str) -> Any:
    """One INCAR value, typed as pymatgen types it (lists expand ``N*x``)."""
    text = text.strip()
    kind = incar_types().get(key, "")
    if key in AS_IS:
        return text
    tokens = text.split()
    if "list" in kind or (len(tokens) > 1 and all(re.fullmatch(rf"(\d+\*)?({_NUMBER})", t) for t in tokens)):
        out: list[Any] = []
        for token in tokens:
            count, _, value = token.rpartition("*")
            out += [_scalar(value)] * (int(count) if count else 1)
        return out
    value = _scalar(text)
    if "float" in kind and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "str" and isinstance(value, str):
        return value.capitalize()
    return value


def read_incar(path: Path) -> dict[str, Any]:
    """INCAR as an ordered dict (``#``/``!`` comments, ``;`` separated statements)."""
    values: dict[str, Any] = {}
    for raw in path.read_text().splitlines():
        line = re.split(r"[#!]", raw, maxsplit=1)[0]
        for statement in line.split(";"):
            key, eq, text = statement.partition("=")
            if eq and key.strip():
                name = key.strip().upper()
                values[name] = incar_value(name, text)
    return values


@dataclass
class PoscarData:
    """What POSCAR holds."""

    comment: str
    cell: np.ndarray
    frac: np.ndarray
    symbols: list[str] | None  # type names (VASP 5 line), None in the VASP 4 format
    counts: list[int]
    velocities: np.ndarray | None  # Cartesian Å/fs


def _floats(line: str, n: int) -> list[float]:
    parts = line.split()
    if len(parts) < n:
        raise VaspFileError(f"expected {n} numbers in POSCAR line {line!r}")
    return [float(x) for x in parts[:n]]


def read_poscar(path: Path) -> PoscarData:
    """POSCAR/CONTCAR: scale (or volume), lattice, types, counts, selective flags, coordinates, velocities."""
    lines = path.read_text().splitlines()
    if len(lines) < 8:
        raise VaspFileError("POSCAR is too short")
    scale = [float(x) for x in lines[1].split()[:3]]
    cell = np.array([_floats(lines[i], 3) for i in (2, 3, 4)])
    if len(scale) == 3:
        cell *= np.array(scale)[:, None]
    elif scale[0] < 0:
        cell *= (-scale[0] / abs(np.linalg.det(cell))) ** (1 / 3)
    else:
        cell *= scale[0]
    i = 5
    symbols = None
    if not re.fullmatch(r"[\d\s]+", lines[i].strip()):
        symbols = [s.split("/")[0].split("_")[0] for s in lines[i].split()]
        i += 1
    counts = [int(x) for x in lines[i].split()]
    i += 1
    if lines[i].strip()[:1] in "sS":
        i += 1
    cartesian = lines[i].strip()[:1] in "cCkK"
    n = sum(counts)
    coords = np.array([_floats(lines[i + 1 + j], 3) for j in range(n)])
    frac = np.linalg.solve(cell.T, coords.T).T if cartesian else coords
    rest = lines[i + 1 + n:]
    velocities = None
    while rest and not rest[0].strip():
        rest = rest[1:]
    if rest and re.match(r"\s*[a-zA-Z]", rest[0]):
        rest = rest[1:]  # a coordinate-mode line before the velocities (Cartesian assumed)
    if len(rest) >= n and all(len(r.split()) >= 3 for r in rest[:n]):
        velocities = np.array([_floats(r, 3) for r in rest[:n]])
    return PoscarData(lines[0].strip(), cell, frac, symbols, counts, velocities)


@dataclass
class KpointsData:
    """What KPOINTS asks for."""

    style: str  # gamma, monkhorst, automatic (length), explicit, line
    divisions: tuple[int, int, int] | None = None
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    length: float | None = None
    kpoints: np.ndarray | None = None
    weights: np.ndarray | None = None
    cartesian: bool = False


def read_kpoints(path: Path) -> KpointsData:
    """KPOINTS in any of VASP's forms (automatic grids, fully automatic, explicit lists, line mode)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    if len(lines) < 3:
        raise VaspFileError("KPOINTS is too short")
    n = int(lines[1].split()[0])
    mode = lines[2][:1].lower()
    if n == 0 and mode in "gm":
        divisions = tuple(int(x) for x in lines[3].split()[:3])
        shift = tuple(float(x) for x in lines[4].split()[:3]) if len(lines) > 4 and lines[4] else (0.0, 0.0, 0.0)
        return KpointsData("gamma" if mode == "g" else "monkhorst", divisions, shift)
    if n == 0 and mode == "a":
        return KpointsData("automatic", length=float(lines[3].split()[0]))
    if mode == "l":
        return KpointsData("line")
    rows = np.array([[float(x) for x in line.split()[:4]] for line in lines[3:3 + n]])
    weights = rows[:, 3] if rows.shape[1] > 3 else np.ones(n)
    return KpointsData("explicit", kpoints=rows[:, :3], weights=weights, cartesian=mode in "ck")


def poscar_text(comment: str, cell: np.ndarray, frac: np.ndarray, symbols: list[str], counts: list[int],
                velocities: np.ndarray | None = None) -> str:
    """A CONTCAR in VASP's layout (Cartesian velocities in Å/fs after a blank line)."""
    from seiflow.testing.vaspemu.text import fe

    text = f"{comment}\n   1.00000000000000\n"
    text += "".join(" " + "".join(f"{x:22.16f}" for x in row) + "\n" for row in cell)
    text += "".join(f"{s:>5s}" for s in symbols) + "\n" + "".join(f"{c:6d}" for c in counts) + "\nDirect\n"
    text += "".join("".join(f"{x:20.16f}" for x in row) + "\n" for row in frac)
    if velocities is not None:
        text += "\n" + "".join("".join(f"{fe(x, 8):>16s}" for x in row) + "\n" for row in velocities)
    return text
