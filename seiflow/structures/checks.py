"""Checks every written structure passes, and the writers (POSCAR, extxyz, LAMMPS data).

Nothing is written when a check fails: ``write_structure`` checks first, then writes each file to a
temporary name and renames it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field
from pymatgen.core import Composition, Element, Structure

from seiflow.errors import InputError
from seiflow.structures.interface import LABEL

DEFAULT_MIN_DISTANCE = 1.5
MAX_EXACT_OXI_ATOMS = 40  # reduced formulas up to this size also try pymatgen's oxidation-state guesses


class CheckReport(BaseModel):
    """What the checks found."""

    natoms: int
    composition: dict[str, float]
    min_distance: float | None = Field(..., description="Shortest distance found below the probe radius, Å.")
    electrolyte_formula: str | None = Field(..., description="Reduced formula of the charge-checked part.")
    electrolyte_charge: float | None = Field(..., description="Nominal charge of that part, e.")


def _electrolyte(structure: Structure) -> Composition | None:
    """The part whose charge must balance: the interface film, or the whole non-elemental structure."""
    labels = structure.site_properties.get(LABEL)
    if labels is not None:
        species = [site.specie for site, label in zip(structure, labels, strict=True) if label == "film"]
    else:
        species = list(structure.species)
    comp = Composition({el: species.count(el) for el in set(species)})
    return comp if len(comp.elements) > 1 else None


def nominal_charge(comp: Composition) -> float:
    """Charge with each element's first common oxidation state; 0 if pymatgen finds a balanced guess."""
    charge = sum(
        amount * (Element(el.symbol).common_oxidation_states or (0,))[0] for el, amount in comp.items()
    )
    if abs(charge) > 1e-8:
        reduced = comp.reduced_composition
        if reduced.num_atoms <= MAX_EXACT_OXI_ATOMS and reduced.oxi_state_guesses(max_sites=-1):
            return 0.0
    return float(charge)


def min_distance_of(structure: Structure, probe: float) -> float | None:
    """The shortest interatomic distance below ``probe`` Å (periodic images included), else None."""
    _, _, _, distances = structure.get_neighbor_list(probe)
    return float(distances.min()) if len(distances) else None


def check_structure(
    structure: Structure, type_map: list[str], min_distance: float = DEFAULT_MIN_DISTANCE, charge: bool = True,
) -> CheckReport:
    """Raise ``InputError`` on overlapping atoms, elements outside ``type_map`` or a charged electrolyte.

    ``charge=False`` skips the charge balance (an interface file that does not mark its electrolyte atoms).
    """
    if len(structure) == 0:
        raise InputError("the structure has no atoms", "build or load a structure first")
    missing = sorted({el.symbol for el in structure.composition.elements} - set(type_map))
    if missing:
        raise InputError(
            f"system.type_map {type_map} lacks {', '.join(missing)} found in {structure.formula}",
            f"add {', '.join(missing)} to system.type_map",
        )
    shortest = min_distance_of(structure, min_distance + 1.0)
    if shortest is not None and shortest < min_distance:
        raise InputError(
            f"atoms overlap in {structure.reduced_formula}: shortest distance {shortest:.3f} Å"
            f" < min_distance {min_distance} Å",
            "increase the gap, fix the structure, or lower structures.min_distance",
        )
    electrolyte = _electrolyte(structure) if charge else None
    charge = nominal_charge(electrolyte) if electrolyte is not None else None
    if charge is not None and abs(charge) > 1e-6:
        raise InputError(
            f"the electrolyte part {electrolyte.formula} is not charge balanced (charge {charge:+g})",
            "use whole formula units; for an interface use seiflow's extxyz, which marks the film",
        )
    return CheckReport(
        natoms=len(structure),
        composition=dict(structure.composition.as_dict()),
        min_distance=None if shortest is None else round(shortest, 4),
        electrolyte_formula=None if electrolyte is None else electrolyte.reduced_formula,
        electrolyte_charge=charge,
    )


def sorted_by_type(structure: Structure, type_map: list[str]) -> Structure:
    """Sites grouped in ``type_map`` order (stable), so POSCAR species blocks follow the model types."""
    return structure.get_sorted_structure(key=lambda site: type_map.index(site.specie.symbol))


def _atoms(structure: Structure):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(Structure(structure.lattice, structure.species, structure.frac_coords))
    labels = structure.site_properties.get(LABEL)
    if labels is not None:
        atoms.arrays[LABEL] = np.array(labels, dtype="U9")
    return atoms


def write_structure(
    structure: Structure,
    out_dir: str | Path,
    type_map: list[str],
    stem: str = "structure",
    min_distance: float = DEFAULT_MIN_DISTANCE,
) -> dict[str, Path]:
    """Check, then write ``<stem>.POSCAR``, ``<stem>.extxyz`` and ``<stem>.lmp`` (LAMMPS data).

    All three use ASE's writers (pymatgen's Poscar takes minutes at 30,000 atoms). The LAMMPS file: atom_style atomic, metal units, masses, types in ``type_map``
    has atom_style atomic, metal units, masses, types in ``type_map`` order, the cell rotated to
    LAMMPS' lower-triangular form.
    """
    from ase.io import write

    check_structure(structure, type_map, min_distance)
    ordered = sorted_by_type(structure, type_map)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"poscar": out / f"{stem}.POSCAR", "extxyz": out / f"{stem}.extxyz", "lammps": out / f"{stem}.lmp"}
    atoms = _atoms(ordered)
    writers = {
        "poscar": lambda p: write(p, atoms, format="vasp", direct=True),
        "extxyz": lambda p: write(p, atoms, format="extxyz"),
        "lammps": lambda p: write(
            p, atoms, format="lammps-data", specorder=list(type_map), atom_style="atomic",
            masses=True, units="metal",
        ),
    }
    written: list[Path] = []
    try:
        for key, path in paths.items():
            tmp = path.with_name(f".{path.name}.tmp")
            writers[key](tmp)
            written.append(tmp)
        for path in paths.values():
            path.with_name(f".{path.name}.tmp").replace(path)
    finally:
        for tmp in written:
            tmp.unlink(missing_ok=True)
    return paths
