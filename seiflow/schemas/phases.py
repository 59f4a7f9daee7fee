"""Phases a campaign names, and where each comes from: a structure file, a bundled phase, a Materials Project id.

The bundled catalogue (``BULKS``, see data/structures/PROVENANCE.md) holds the study's phases as shortcuts.
Any other phase comes from the user: :class:`PhaseSource` reads it when the campaign is loaded and keeps the
structure itself (``structure``), so the campaign stored with ``seiflow submit`` carries it to every worker.
The catalogue and the readers sit with the schemas so that the campaign schema can check phases without
importing :mod:`seiflow.structures`, which relaxes and builds.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymatgen.core import Structure

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "structures"  # the CIF files and PROVENANCE.md
MP_ID = re.compile(r"^(mp|mvc)-\d+$")
INTERFACE_LABEL = "interface_label"  # site property of an interface: "substrate" (anode) or "film" (electrolyte)


@dataclass(frozen=True)
class BulkEntry:
    """A bundled bulk phase: its CIF file, formula and space group (see PROVENANCE.md)."""

    name: str
    filename: str
    formula: str
    space_group: str
    note: str


BULKS: dict[str, BulkEntry] = {
    entry.name: entry
    for entry in (
        BulkEntry("Li", "Li_bcc_Im-3m_a3.51.cif", "Li", "Im-3m", "bcc Li metal, experimental a = 3.51 Å"),
        BulkEntry(
            "Li3InCl6",
            "Li3InCl6_C2m_ordered_conv20_OBELiXde5.cif",
            "Li3InCl6",
            "C2/m",
            "20-atom conventional cell, OBELiX de5 (ICSD 89617), In ordered on 2a",
        ),
        BulkEntry(
            "Li3InCl6-ortho60",
            "Li3InCl6_C2m_ordered_orthoish60_OBELiXde5.cif",
            "Li3InCl6",
            "C2/m",
            "60-atom nearly orthogonal supercell of Li3InCl6",
        ),
        BulkEntry("In", "In_I4mmm_a3.2523_c4.9461.cif", "In", "I4/mmm", "In metal, experimental a, c"),
        BulkEntry("LiCl", "LiCl_Fm-3m_a5.1295.cif", "LiCl", "Fm-3m", "rock salt, experimental a"),
    )
}


def bundled_structure(name: str) -> Structure:
    """The bundled structure of phase ``name``; ValueError naming the catalogue when unknown."""
    entry = BULKS.get(name)
    if entry is None:
        raise ValueError(f"{name!r} is not a bundled phase; use one of {', '.join(BULKS)}")
    structure = Structure.from_file(DATA_DIR / entry.filename)
    if structure.reduced_formula != entry.formula:
        raise ValueError(f"bundled {entry.filename} is {structure.reduced_formula}: reinstall seiflow")
    return structure


def read_structure_file(path: str | Path) -> Structure:
    """A structure from any file pymatgen reads (CIF, POSCAR, ...) or, failing that, ASE (extxyz, ...)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{path} does not exist (relative paths are relative to the campaign file)")
    try:
        with warnings.catch_warnings():  # pymatgen's CIF notes (coordinates rounded to ideal values) are no news
            warnings.simplefilter("ignore", UserWarning)
            return Structure.from_file(path)
    except Exception as pmg_error:  # noqa: BLE001 - any reader failure: try ASE, then report both
        try:
            from ase.io import read
            from pymatgen.io.ase import AseAtomsAdaptor

            atoms = read(path, index=-1)
            structure = AseAtomsAdaptor.get_structure(atoms)
            if INTERFACE_LABEL in atoms.arrays:  # seiflow's own extxyz marks the anode and electrolyte atoms
                structure.add_site_property(INTERFACE_LABEL, [str(x) for x in atoms.arrays[INTERFACE_LABEL]])
            return structure
        except Exception as ase_error:  # noqa: BLE001
            first = str(pmg_error).splitlines()[0] if str(pmg_error) else type(pmg_error).__name__
            second = str(ase_error).splitlines()[0] if str(ase_error) else type(ase_error).__name__
            raise ValueError(f"cannot read {path}: pymatgen: {first}; ASE: {second}; give a CIF, POSCAR or "
                             "extxyz file") from None


def fetch_materials_project(material_id: str) -> Structure:
    """The conventional cell of ``material_id`` from the Materials Project (mp-api and ``MP_API_KEY``)."""
    api_key = os.environ.get("MP_API_KEY")
    if not api_key:
        raise ValueError(f"cannot fetch {material_id} from the Materials Project: MP_API_KEY is not set; "
                         "export MP_API_KEY=<your key>, or give the structure as a file")
    try:
        from mp_api.client import MPRester
    except ImportError:
        raise ValueError(f"cannot fetch {material_id}: the mp-api package is not installed; pip install mp-api, "
                         "or give the structure as a file") from None
    with MPRester(api_key) as rester:
        return rester.get_structure_by_material_id(material_id, conventional_unit_cell=True)


def as_structure_dict(value: Any) -> Any:
    """A Structure as its dict (jobflow hands a job's arguments back decoded: a stored dict became a Structure)."""
    return value.as_dict() if isinstance(value, Structure) else value


def check_ordered(structure: Structure) -> None:
    """ValueError naming the first partially occupied site, with the way to an ordered model."""
    for index, site in enumerate(structure):
        if not site.is_ordered:
            frac = ", ".join(f"{x:.3f}" for x in site.frac_coords)
            occupancy = " ".join(f"{sp}:{occ:g}" for sp, occ in site.species.items())
            raise ValueError(
                f"site {index} ({occupancy}, at {frac}) is partially occupied; seiflow needs an ordered model: "
                "order it first (e.g. pymatgen's OrderDisorderedStructureTransformation, the lowest-energy "
                "ordering) or take an ordered Materials Project entry"
            )


class PhaseSource(BaseModel):
    """Where a phase's structure comes from: exactly one of ``file``, ``bundled``, ``mp_id``.

    A bare string is a shorthand: a Materials Project id (``mp-1153``), a bundled name (``LiCl``), else a
    file path. When the campaign is loaded the structure is read and kept in ``structure`` (a pymatgen
    dict), so workers never need the file or the Materials Project.
    """

    model_config = ConfigDict(extra="forbid")

    file: str | None = Field(None, description="Structure file (CIF, POSCAR, extxyz...), relative to the campaign.")
    bundled: str | None = Field(None, description="A bundled phase name (seiflow structures list).")
    mp_id: str | None = Field(None, description="A Materials Project id (needs mp-api and MP_API_KEY).")
    structure: dict[str, Any] | None = Field(
        None, description="Filled when the campaign is loaded: the structure itself (pymatgen dict)."
    )

    @field_validator("structure", mode="before")
    @classmethod
    def _as_dict(cls, value: Any) -> Any:
        return as_structure_dict(value)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            if MP_ID.match(value):
                return {"mp_id": value}
            return {"bundled": value} if value in BULKS else {"file": value}
        return value

    @model_validator(mode="after")
    def _load(self) -> PhaseSource:
        given = [k for k in ("file", "bundled", "mp_id") if getattr(self, k)]
        if self.structure is None and len(given) != 1:
            raise ValueError("give exactly one of file, bundled, mp_id")
        if self.structure is None:
            if self.file:
                structure = read_structure_file(self.file)
            elif self.bundled:
                structure = bundled_structure(self.bundled)
            else:
                structure = fetch_materials_project(self.mp_id)
            check_ordered(structure)
            self.structure = structure.as_dict()
        return self

    def to_structure(self) -> Structure:
        """The structure."""
        return Structure.from_dict(self.structure)

    def label(self) -> str:
        """Where it came from, for reports: ``file:<name>``, ``bundled:<name>`` or ``mp:<id>``."""
        if self.file:
            return f"file:{Path(self.file).name}"
        return f"bundled:{self.bundled}" if self.bundled else f"mp:{self.mp_id}"
