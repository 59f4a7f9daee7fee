"""CP2K's input for a static single point, and each element's basis set and pseudopotential from CP2K's data.

:class:`Cp2kInputGenerator` writes a small, explicit ENERGY_FORCE input with analytical stress from a
:class:`~seiflow.labelling.presets.Cp2kPreset`. Every element's ``&KIND`` names the entries of CP2K's own
data files (the preset's ``data_dir``: Debian's ``/usr/share/cp2k``) that CP2K will read, found as CP2K
finds them: the first ``GTH-<xc>`` pseudopotential of the element in ``GTH_POTENTIALS``, then the
preset's basis (``DZVP-MOLOPT-SR-GTH``) in ``BASIS_MOLOPT`` for the same valence (``-q<n>``), so any
element the files hold works. An element they lack is a one-line :class:`~seiflow.errors.InputError`
naming the element and the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pymatgen.core import Element

from seiflow.errors import InputError
from seiflow.labelling.presets import STUDY_CP2K, Cp2kPreset

if TYPE_CHECKING:
    from pymatgen.core import Structure

INPUT_FILE = "cp2k.inp"
OUTPUT_FILE = "cp2k.out"
PROJECT = "seiflow"


@lru_cache(maxsize=8)
def _entries(path: str, mtime: float) -> dict[str, list[tuple[str, ...]]]:
    """Element (upper case) -> the name lists of its entries in a CP2K data file, in file order."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and Element.is_valid_symbol(words[0].capitalize()) and words[1][0].isalpha():
            out.setdefault(words[0].upper(), []).append(tuple(words[1:]))
    return out


def data_entries(path: Path) -> dict[str, list[tuple[str, ...]]]:
    """The entries of the CP2K data file ``path`` by element (read once per file version)."""
    if not path.is_file():
        raise InputError(f"CP2K data file {path} not found",
                         "install CP2K's data (Debian: cp2k) or set the preset's data_dir")
    return _entries(str(path), path.stat().st_mtime)


def _valence(names: tuple[str, ...], name: str) -> int | None:
    """The ``n`` of a ``<name>-q<n>`` alias among ``names`` (None: the entry gives none)."""
    pattern = re.compile(rf"{re.escape(name)}-q(\d+)", re.IGNORECASE)
    for n in names:
        if match := pattern.fullmatch(n):
            return int(match.group(1))
    return None


def _has(names: tuple[str, ...], name: str) -> bool:
    return name.upper() in (n.upper() for n in names)


def kind_names(element: str, preset: Cp2kPreset) -> tuple[str, str]:
    """(basis set, pseudopotential) of ``element`` as CP2K's data files name them, for ``preset``.

    The potential is the first ``GTH-<xc>`` entry of the element (CP2K's own choice for that name); the
    basis is the preset's, for the potential's valence. Each name is the entry's ``-q<n>`` alias where it
    has one, so the input says which entry it means. Raises InputError naming the element and the file.
    """
    data = Path(preset.data_dir)
    pot_file, basis_file = data / preset.potential_file, data / preset.basis_file
    gth = f"GTH-{preset.xc}"
    pots = [names for names in data_entries(pot_file).get(element.upper(), []) if _has(names, gth)]
    if not pots:
        raise InputError(f"no {gth} pseudopotential for {element} in {pot_file}",
                         f"use a functional the file has for {element}, or another data_dir")
    q = _valence(pots[0], gth)
    wanted = [preset.basis] + ([f"{preset.basis}-q{q}"] if q is not None else [])
    bases = [names for names in data_entries(basis_file).get(element.upper(), [])
             if any(_has(names, w) for w in wanted)]
    fitting = [names for names in bases if q is None or _valence(names, preset.basis) in (None, q)]
    if not fitting:
        other = f" (only for another valence than {gth}-q{q})" if bases else ""
        raise InputError(f"no {preset.basis} basis set for {element} in {basis_file}{other}",
                         f"choose a basis the file has for {element} (overrides: {{basis: ...}}), "
                         "or another data_dir")
    basis = wanted[-1] if _has(fitting[0], wanted[-1]) else preset.basis
    potential = f"{gth}-q{q}" if q is not None else gth
    return basis, potential


@dataclass
class Cp2kInputGenerator:
    """Writes a CP2K ENERGY_FORCE input with analytical stress from a :class:`Cp2kPreset`."""

    preset: Cp2kPreset = STUDY_CP2K

    def _scf(self) -> str:
        p = self.preset
        if p.smearing_temperature is None:
            return f"""    &SCF
      EPS_SCF {p.eps_scf:g}
      MAX_SCF {p.max_scf}
      &OT
        MINIMIZER DIIS
      &END OT
    &END SCF"""
        return f"""    &SCF
      EPS_SCF {p.eps_scf:g}
      MAX_SCF {p.max_scf}
      ADDED_MOS {p.added_mos}
      &SMEAR ON
        METHOD FERMI_DIRAC
        ELECTRONIC_TEMPERATURE [K] {p.smearing_temperature:g}
      &END SMEAR
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA 0.3
      &END MIXING
    &END SCF"""

    def _subsys(self, structure: Structure) -> str:
        p = self.preset
        cell = "\n".join(
            f"      {v} {a:.10f} {b:.10f} {c:.10f}" for v, (a, b, c) in zip("ABC", structure.lattice.matrix, strict=True)
        )
        coords = "\n".join(f"      {s.specie} {x:.10f} {y:.10f} {z:.10f}" for s, (x, y, z) in zip(structure, structure.cart_coords, strict=True))
        kinds = "\n".join(
            "    &KIND {}\n      BASIS_SET {}\n      POTENTIAL {}\n    &END KIND".format(el, *kind_names(el, p))
            for el in sorted({s.specie.symbol for s in structure})
        )
        return f"""  &SUBSYS
    &CELL
{cell}
      PERIODIC XYZ
    &END CELL
    &COORD
{coords}
    &END COORD
{kinds}
  &END SUBSYS"""

    def get_input(self, structure: Structure) -> str:
        """The input file text for a static single point of ``structure``."""
        p = self.preset
        return f"""&GLOBAL
  PROJECT {PROJECT}
  RUN_TYPE ENERGY_FORCE
  PRINT_LEVEL MEDIUM
&END GLOBAL
&FORCE_EVAL
  METHOD QUICKSTEP
  STRESS_TENSOR ANALYTICAL
  &DFT
    BASIS_SET_FILE_NAME {p.data_dir}/{p.basis_file}
    POTENTIAL_FILE_NAME {p.data_dir}/{p.potential_file}
    &MGRID
      CUTOFF {p.cutoff:g}
      REL_CUTOFF {p.rel_cutoff:g}
    &END MGRID
{self._scf()}
    &XC
      &XC_FUNCTIONAL {p.xc}
      &END XC_FUNCTIONAL
    &END XC
  &END DFT
{self._subsys(structure)}
  &PRINT
    &FORCES ON
    &END FORCES
    &STRESS_TENSOR ON
    &END STRESS_TENSOR
  &END PRINT
&END FORCE_EVAL
"""
