"""Read a VASP run folder as VASP does: POSCAR, INCAR, KPOINTS (or KSPACING), POTCAR or POTCAR.spec.

Only the POTCAR *headers* matter here (symbol, TITEL, ZVAL): with ``POTCAR.spec`` (symbols only, what
atomate2 writes with ``potcar_spec=True``) they come from pymatgen's public POTCAR summary table.
"""

from __future__ import annotations

import bz2
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from seiflow.errors import InputError
from seiflow.testing.vaspemu.files import (
    VaspFileError,
    pymatgen_vasp_data,
    read_incar,
    read_kpoints,
    read_poscar,
)

FUNCTIONALS = ("PBE_54", "PBE_64", "PBE_52", "PBE")  # where a POTCAR.spec symbol is looked up
HBAR2_2M = 3.80998212  # eV Å^2: plane-wave kinetic energy is HBAR2_2M * |G|^2
ALGO_TO_IALGO = {"normal": 38, "fast": 68, "veryfast": 48, "all": 58, "damped": 53, "exact": 90}


class EmulatorInputError(InputError):
    """The run folder is not something VASP could start (VASP would stop with an error)."""

    def __init__(self, message: str, fix: str | None = "give the emulator what VASP itself would accept"):
        super().__init__(message, fix)


@dataclass(frozen=True)
class PotcarInfo:
    """What VASP reads from one POTCAR header."""

    symbol: str
    titel: str
    zval: float
    vrhfin: str
    lexch: str

    @property
    def element(self) -> str:
        """The element of ``Li_sv``, ``H1.25``, ``Cl_h``."""
        return re.match(r"[A-Z][a-z]?", self.symbol).group(0)


@cache
def _summary() -> dict[str, Any]:
    path = pymatgen_vasp_data("potcar-summary-stats.json.bz2")
    if path is None:
        return {}
    with bz2.open(path, "rt") as fh:
        return json.load(fh)


def _guess_zval(symbol: str) -> float:
    """Valence electrons past the last noble-gas core, plus the semicore states a suffix names."""
    z = atomic_numbers[re.match(r"[A-Z][a-z]?", symbol).group(0)]
    core = max((n for n in (0, 2, 10, 18, 36, 54, 86) if n < z), default=0)
    zval = z - core
    if core >= 18 and zval > 12:  # a filled d shell below the valence (Ga-Kr, In-Xe)
        zval -= 10
    suffix = symbol.split("_", 1)[1] if "_" in symbol else ""
    if suffix.startswith("sv"):
        zval += 2 if core == 2 else 8
    elif suffix.startswith("pv"):
        zval += 6
    elif suffix.startswith("d"):
        zval += 10
    return float(zval)


def potcar_info(symbol: str) -> PotcarInfo:
    """A POTCAR header for ``symbol`` from pymatgen's summary table (PBE_54 first), else a guess."""
    table = _summary()
    for functional in FUNCTIONALS:
        for key, entries in table.get(functional, {}).items():
            for entry in entries:
                if entry.get("symbol") == symbol and key.startswith(f"PAW_PBE{symbol}"):
                    date = key[len(f"PAW_PBE{symbol}"):]
                    return PotcarInfo(symbol, f"PAW_PBE {symbol} {date}", float(entry["ZVAL"]),
                                      entry.get("VRHFIN", ""), entry.get("LEXCH", "PE"))
    return PotcarInfo(symbol, f"PAW_PBE {symbol} 01Jan2000", _guess_zval(symbol), "", "PE")


def _read_potcar_headers(path: Path) -> list[PotcarInfo]:
    """TITEL, ZVAL, VRHFIN and LEXCH of each potential in a real POTCAR (headers only)."""
    infos: list[PotcarInfo] = []
    fields: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        if m := re.match(r"\s*(TITEL|VRHFIN|LEXCH)\s*=\s*(.*)", line):
            fields[m.group(1)] = m.group(2).strip()
        elif m := re.search(r"ZVAL\s*=\s*([\d.]+)", line):
            fields["ZVAL"] = m.group(1)
        if "End of Dataset" in line and "TITEL" in fields:
            titel = fields["TITEL"]
            infos.append(PotcarInfo(titel.split()[1], titel, float(fields.get("ZVAL", 0)),
                                    fields.get("VRHFIN", ""), fields.get("LEXCH", "PE")))
            fields = {}
    return infos


def read_potcars(run_dir: Path) -> list[PotcarInfo]:
    """The POTCAR headers, from ``POTCAR`` or from the symbols in ``POTCAR.spec``."""
    if (run_dir / "POTCAR").is_file():
        infos = _read_potcar_headers(run_dir / "POTCAR")
        if infos:
            return infos
    spec = run_dir / "POTCAR.spec"
    if spec.is_file():
        return [potcar_info(s.split()[0]) for s in spec.read_text().splitlines() if s.strip()]
    raise EmulatorInputError("ERROR: POTCAR not found (neither POTCAR nor POTCAR.spec)",
                             "write POTCAR.spec (atomate2: potcar_spec=True) or a POTCAR in the run folder")


@dataclass
class KpointSet:
    """The k-points VASP generated (time-reversal reduced), with how they were asked for."""

    style: str  # "Gamma", "Monkhorst-Pack" or "explicit"
    divisions: tuple[int, int, int] | None
    shift: np.ndarray
    kpoints: np.ndarray  # fractional (reciprocal lattice)
    weights: np.ndarray  # sum to 1
    from_kspacing: bool


def _grid(divisions: tuple[int, int, int], shift: np.ndarray, gamma: bool) -> KpointSet:
    axes = []
    for n, s in zip(divisions, shift, strict=True):
        base = (np.arange(n) + s) / n if gamma else (2 * np.arange(1, n + 1) - n - 1) / (2 * n) + s / n
        axes.append(base - np.round(base))
    full = np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1).T
    kept: list[np.ndarray] = []
    weights: list[float] = []
    for k in full:
        for idx, q in enumerate(kept):
            if np.allclose((k + q) - np.round(k + q), 0, atol=1e-8):  # k and -k: time reversal
                weights[idx] += 1
                break
        else:
            kept.append(k)
            weights.append(1.0)
    w = np.array(weights)
    style = "Gamma" if gamma else "Monkhorst-Pack"
    return KpointSet(style, divisions, np.asarray(shift, float), np.array(kept), w / w.sum(), False)


def reciprocal(cell: np.ndarray) -> np.ndarray:
    """Reciprocal lattice vectors (rows) with the 2*pi."""
    return 2 * math.pi * np.linalg.inv(cell).T


def make_kpoints(run_dir: Path, incar: dict[str, Any], cell: np.ndarray) -> KpointSet:
    """The k-point set from KPOINTS, or from KSPACING/KGAMMA when there is no KPOINTS file."""
    rec = np.linalg.norm(reciprocal(cell), axis=1)
    path = run_dir / "KPOINTS"
    if not path.is_file():
        spacing = float(incar.get("KSPACING", 0.5))
        divisions = tuple(max(1, math.ceil(b / spacing - 1e-9)) for b in rec)
        kset = _grid(divisions, np.zeros(3), bool(incar.get("KGAMMA", True)))
        kset.from_kspacing = True
        return kset
    kpts = read_kpoints(path)
    if kpts.style in ("gamma", "monkhorst"):
        return _grid(kpts.divisions, np.asarray(kpts.shift, float), kpts.style == "gamma")
    if kpts.style == "automatic":  # fully automatic: one length R_k
        divisions = tuple(max(1, int(kpts.length * b / (2 * math.pi) + 0.5)) for b in rec)
        return _grid(divisions, np.zeros(3), True)
    if kpts.style == "line":
        raise EmulatorInputError("the emulator does not do line-mode (band structure) KPOINTS")
    frac = kpts.kpoints
    if kpts.cartesian:  # in units of 2*pi/a... taken as Cartesian reciprocal coordinates
        frac = frac @ np.linalg.inv(reciprocal(cell) / (2 * math.pi))
    return KpointSet("explicit", None, np.zeros(3), frac, kpts.weights / kpts.weights.sum(), False)


def fft_dimension(length: float, encut: float, factor: float) -> int:
    """The smallest FFT-friendly (2, 3, 5, 7) even grid holding ``factor * Gcut * L / 2pi`` points."""
    n = math.ceil(factor * math.sqrt(encut / HBAR2_2M) * length / (2 * math.pi) - 1e-6)
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1 and n % 2 == 0:
            return n
        n += 1


@dataclass
class RunInputs:
    """Everything VASP reads from the run folder, and the settings it derives from it."""

    run_dir: Path
    incar: dict[str, Any]
    cell: np.ndarray  # rows, Å
    frac: np.ndarray  # POSCAR order
    symbols: list[str]  # element of each site
    comment: str
    velocities: np.ndarray | None  # Å/fs from POSCAR, if any
    potcars: list[PotcarInfo]
    type_counts: list[int]
    kpoints: KpointSet

    def get(self, key: str, default: Any = None) -> Any:
        """An INCAR value, or ``default``."""
        return self.incar.get(key, default)

    @property
    def nions(self) -> int:
        """Number of ions."""
        return len(self.frac)

    @property
    def volume(self) -> float:
        """Cell volume (Å^3)."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def cart(self) -> np.ndarray:
        """Cartesian positions (Å)."""
        return self.frac @ self.cell

    @property
    def type_of_site(self) -> list[int]:
        """0-based POTCAR type of each site."""
        return [t for t, n in enumerate(self.type_counts) for _ in range(n)]

    @property
    def masses(self) -> list[float]:
        """Mass (amu) of each type."""
        return [float(atomic_masses[atomic_numbers[p.element]]) for p in self.potcars]

    @property
    def nelect(self) -> float:
        """NELECT (INCAR, else the sum of ZVAL)."""
        default = sum(p.zval * n for p, n in zip(self.potcars, self.type_counts, strict=True))
        return float(self.get("NELECT", default))

    @property
    def ispin(self) -> int:
        """ISPIN."""
        return int(self.get("ISPIN", 1))

    @property
    def nbands(self) -> int:
        """NBANDS (INCAR, else VASP's default for one core)."""
        default = max(int(round(self.nelect) + 2) // 2 + max(self.nions // 2, 3), int(0.6 * self.nelect))
        if self.ispin == 2:
            default = int(default * 1.2)
        return int(self.get("NBANDS", default))

    @property
    def nsw(self) -> int:
        """NSW."""
        return int(self.get("NSW", 0))

    @property
    def ibrion(self) -> int:
        """IBRION (VASP's default: -1 for NSW 0 or -1, else 0)."""
        return int(self.get("IBRION", -1 if self.nsw in (-1, 0) else 0))

    @property
    def mode(self) -> str:
        """``static``, ``md`` or ``relax``."""
        if self.nsw <= 0 or self.ibrion == -1:
            return "static"
        if self.ibrion == 0:
            return "md"
        if self.ibrion in (1, 2, 3):
            return "relax"
        raise EmulatorInputError(f"the emulator does not do IBRION = {self.ibrion} (phonons, linear response)")

    @property
    def isif(self) -> int:
        """ISIF (VASP's default: 0 for MD, else 2)."""
        return int(self.get("ISIF", 0 if self.ibrion == 0 else 2))

    @property
    def encut(self) -> float:
        """ENCUT (eV)."""
        return float(self.get("ENCUT", 400.0))

    @property
    def ediff(self) -> float:
        """EDIFF."""
        return float(self.get("EDIFF", 1e-4))

    @property
    def nelm(self) -> int:
        """NELM."""
        return int(self.get("NELM", 60))

    @property
    def nelmin(self) -> int:
        """NELMIN."""
        return int(self.get("NELMIN", 2))

    @property
    def tebeg(self) -> float:
        """TEBEG (K)."""
        return float(self.get("TEBEG", 0.0001))

    @property
    def teend(self) -> float:
        """TEEND (K; TEBEG when unset)."""
        return float(self.get("TEEND", self.tebeg))

    @property
    def potim(self) -> float:
        """POTIM (fs for MD)."""
        return float(self.get("POTIM", 0.5))

    @property
    def prec(self) -> str:
        """PREC as VASP prints it in vasprun.xml (six lower-case letters)."""
        return str(self.get("PREC", "Normal")).lower()[:6]

    @property
    def fft_grid(self) -> tuple[int, int, int]:
        """NGX, NGY, NGZ."""
        factor = 4.0 if self.prec in ("accura", "high") else 3.0
        return tuple(fft_dimension(a, self.encut, factor) for a in np.linalg.norm(self.cell, axis=1))

    @property
    def n_plane_waves(self) -> int:
        """Plane waves per k-point (the number inside the cut-off sphere)."""
        gcut = math.sqrt(self.encut / HBAR2_2M)
        return int(self.volume * gcut**3 / (6 * math.pi**2))

    @property
    def ialgo(self) -> int:
        """IALGO from ALGO."""
        return int(self.get("IALGO", ALGO_TO_IALGO.get(str(self.get("ALGO", "Normal")).lower(), 38)))


def read_inputs(run_dir: Path) -> RunInputs:
    """Read the run folder; raise :class:`EmulatorInputError` where VASP would stop."""
    for name in ("INCAR", "POSCAR"):
        if not (run_dir / name).is_file():
            raise EmulatorInputError(f"ERROR: {name} not found in {run_dir}")
    try:
        incar = read_incar(run_dir / "INCAR")
        poscar = read_poscar(run_dir / "POSCAR")
    except (VaspFileError, ValueError, IndexError) as exc:
        raise EmulatorInputError(f"ERROR: cannot read the inputs: {exc}") from exc
    potcars = read_potcars(run_dir)
    names = [p.element for p in potcars]
    if len(poscar.counts) != len(potcars):
        raise EmulatorInputError(
            f"ERROR: POSCAR has {len(poscar.counts)} types but POTCAR has {len(potcars)} (VERY BAD NEWS)"
        )
    if poscar.symbols is not None and poscar.symbols != names:
        raise EmulatorInputError(f"ERROR: POSCAR types {poscar.symbols} do not match POTCAR {names}")
    symbols = [names[t] for t, n in enumerate(poscar.counts) for _ in range(n)]
    kpoints = make_kpoints(run_dir, incar, poscar.cell)
    return RunInputs(run_dir, incar, poscar.cell, poscar.frac, symbols, poscar.comment, poscar.velocities,
                     potcars, poscar.counts, kpoints)
