"""Bulk phases: the bundled, checked structures, an optional Materials Project fetch, and relaxation.

The interface match depends on the lattice constants (Li(100) matches Li3InCl6 at a = 3.44 Å, not at
3.51 Å), so bulks are relaxed with the campaign's reference calculator before matching.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from seiflow.errors import InputError
from seiflow.schemas.campaign import StructuresConfig
from seiflow.schemas.phases import BULKS, DATA_DIR

log = logging.getLogger(__name__)


def _unknown(name: str) -> InputError:
    return InputError(
        f"unknown bulk phase {name!r}", f"use one of {', '.join(BULKS)} (seiflow structures list)"
    )


def load_bulk(name: str) -> Structure:
    """The bundled bulk structure of phase ``name`` (``Li``, ``Li3InCl6``, ``In``, ``LiCl``, ...)."""
    entry = BULKS.get(name)
    if entry is None:
        raise _unknown(name)
    structure = Structure.from_file(DATA_DIR / entry.filename)
    if structure.reduced_formula != entry.formula:
        raise InputError(f"bundled {entry.filename} is {structure.reduced_formula}", "reinstall seiflow")
    return structure


def fetch_bulk(material_id: str, api_key: str | None = None) -> Structure:
    """A structure from the Materials Project by id (``mp-135``); needs ``MP_API_KEY`` and mp-api."""
    api_key = api_key or os.environ.get("MP_API_KEY")
    if not api_key:
        raise InputError(
            f"cannot fetch {material_id} from the Materials Project: MP_API_KEY is not set",
            "export MP_API_KEY=<your key>, or use the bundled phases (seiflow structures list)",
        )
    try:
        from mp_api.client import MPRester
    except ImportError as exc:
        raise InputError(
            f"cannot fetch {material_id}: the mp-api package is not installed", "pip install mp-api"
        ) from exc
    with MPRester(api_key) as rester:
        structure = rester.get_structure_by_material_id(material_id, conventional_unit_cell=True)
    return structure


def get_bulk(name: str, material_id: str | None = None) -> tuple[Structure, str]:
    """Phase ``name`` from the Materials Project when an id and a key are given, else bundled.

    Returns the structure and its source (``"mp:<id>"`` or ``"bundled"``); a failed fetch logs why
    and falls back to the bundled file.
    """
    if material_id:
        try:
            return fetch_bulk(material_id), f"mp:{material_id}"
        except InputError as exc:
            if name not in BULKS:
                raise
            log.warning("%s; using the bundled %s", exc.one_line(), name)
    return load_bulk(name), "bundled"


def set_lattice_constant(structure: Structure, a: float) -> Structure:
    """A copy isotropically scaled so that its conventional ``a`` is ``a`` Å (fixed-lattice fallback)."""
    if a <= 0:
        raise InputError(f"lattice constant {a} must be positive", "give a in Å, e.g. 3.44 for Li")
    conventional = SpacegroupAnalyzer(structure, symprec=0.01).get_conventional_standard_structure()
    scaled = structure.copy()
    scaled.scale_lattice(structure.volume * (a / conventional.lattice.a) ** 3)
    return scaled


def relax_bulk(
    structure: Structure,
    calculator_name: str = "chgnet",
    fmax: float = 0.05,
    steps: int = 200,
    symprec: float = 0.1,
) -> Structure:
    """Relax cell and positions with a local reference calculator, keeping the space group.

    The primitive cell is relaxed (BFGS on a FrechetCellFilter, ASE ``FixSymmetry``) and the
    conventional standard cell returned, so Miller indices mean what they did before.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.labelling.calculators import get_calculator

    with contextlib.redirect_stdout(sys.stderr):  # CHGNet prints its banner; keep stdout for --json
        calculator = get_calculator(calculator_name)
    primitive = SpacegroupAnalyzer(structure, symprec=0.01).get_primitive_standard_structure()
    atoms = AseAtomsAdaptor.get_atoms(primitive)
    atoms.set_constraint(FixSymmetry(atoms, symprec=0.01))
    atoms.calc = calculator
    optimizer = BFGS(FrechetCellFilter(atoms), logfile=None)
    converged = optimizer.run(fmax=fmax, steps=steps)
    if not converged:
        log.warning("relaxation of %s stopped after %d steps", structure.formula, steps)
    atoms.set_constraint()
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    if not np.all(np.isfinite(relaxed.lattice.matrix)) or relaxed.volume < 0.3 * primitive.volume:
        raise InputError(
            f"relaxing {structure.reduced_formula} with {calculator_name} collapsed the cell",
            "use structures.relax: false or another reference calculator",
        )
    return SpacegroupAnalyzer(relaxed, symprec=symprec).get_conventional_standard_structure()


def describe_bulk(structure: Structure) -> dict:
    """Formula, space group, conventional lattice constants and density of a bulk."""
    analyzer = SpacegroupAnalyzer(structure, symprec=0.01)
    conventional = analyzer.get_conventional_standard_structure()
    return {
        "formula": structure.reduced_formula,
        "space_group": analyzer.get_space_group_symbol(),
        "natoms": len(structure),
        "abc": [round(x, 4) for x in conventional.lattice.abc],
        "angles": [round(x, 3) for x in conventional.lattice.angles],
        "density": round(float(structure.density), 4),
    }


def prepare_bulks(
    names: list[str],
    relax: bool = True,
    calculator_name: str = "chgnet",
    lattice_constants: dict[str, float] | None = None,
    material_ids: dict[str, str] | None = None,
    relaxed: dict[str, Structure] | None = None,
    config: StructuresConfig | None = None,
) -> tuple[dict[str, Structure], dict[str, str]]:
    """Bulks by name, each relaxed, scaled to a fixed lattice constant, or left as loaded.

    ``config``: the campaign's structures section, whose ``phases`` say where each phase comes from
    (a file, a bundled name, a Materials Project id); without it, phases are bundled (or fetched by
    ``material_ids``). Returns the structures and, per phase, how it was prepared
    (``bundled:Li+relaxed:chgnet``, ``file:x.cif+a=3.44``, ...).
    """
    lattice_constants = lattice_constants or {}
    unknown = sorted(set(lattice_constants) - set(names))
    if unknown:
        raise InputError(
            f"structures.lattice_constants names {', '.join(unknown)}, not among the bulks",
            "list the phase in structures.bulks or drop it from lattice_constants",
        )
    bulks: dict[str, Structure] = {}
    sources: dict[str, str] = {}
    for name in names:
        if config is not None:
            try:
                structure, source = config.phase(name), config.phase_source(name)
            except ValueError as exc:
                raise InputError(f"structures: {exc}", "see structures.phases in workflows/README.md") from None
        else:
            structure, source = get_bulk(name, (material_ids or {}).get(name))
        if name in lattice_constants:
            structure = set_lattice_constant(structure, lattice_constants[name])
            source += f"+a={lattice_constants[name]}"
        elif relax and relaxed and name in relaxed:  # relaxed by the reference's own (DFT) job
            done = relaxed[name] if isinstance(relaxed[name], Structure) else Structure.from_dict(relaxed[name])
            structure = SpacegroupAnalyzer(done, symprec=0.1).get_conventional_standard_structure()
            source += f"+relaxed:{calculator_name}"
        elif relax:
            structure = relax_bulk(structure, calculator_name)
            source += f"+relaxed:{calculator_name}"
        bulks[name] = structure
        sources[name] = source
    return bulks, sources
