"""The cells of the properties stage: a phase repeated near-cubic, or the interface made as for production."""

from __future__ import annotations

import math

from pymatgen.core import Structure

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.structure import plane_spacings
from seiflow.errors import InputError
from seiflow.production.cell import production_cell
from seiflow.schemas.campaign import INTERFACE_SYSTEM, Campaign

# a cell 2.7 times longer one way costs as much as missing the atom count by 20 %
ASPECT_WEIGHT = 0.2


def bulk_repeat(structure: Structure, atoms: int, max_repeat: int = 24) -> tuple[int, int, int]:
    """Repeats (na, nb, nc) whose cell comes closest to ``atoms`` atoms, the most nearly cubic among equals."""
    target = max(1.0, atoms / len(structure))
    a, b, c = structure.lattice.abc
    best, best_cost = (1, 1, 1), math.inf
    for na in range(1, max_repeat + 1):
        for nb in range(1, max_repeat + 1):
            nc = max(1, round(target / (na * nb)))
            lengths = (na * a, nb * b, nc * c)
            cost = abs(na * nb * nc - target) / target + ASPECT_WEIGHT * math.log(max(lengths) / min(lengths))
            if cost < best_cost:
                best, best_cost = (na, nb, nc), cost
    return best


def bulk_cell(structure: Structure, atoms: int) -> tuple[Structure, str]:
    """The phase repeated to about ``atoms`` atoms, and how."""
    n = bulk_repeat(structure, atoms)
    cell = structure.copy()
    cell.make_supercell(list(n))
    return cell, f"x {n[0]} x {n[1]} x {n[2]} ({len(cell)} atoms for {atoms})"


def wide_cell(structure: Structure, width: float) -> tuple[Structure, str]:
    """The structure repeated until each of its three perpendicular widths is at least ``width`` Å.

    Elastic constants from a 2-atom primitive cell would ask the model for environments made of periodic
    images of the same few atoms; a cell twice the model's cut-off wide holds each environment whole.
    """
    n = [max(1, math.ceil(width / h - 1e-9)) for h in plane_spacings(structure.lattice.matrix)]
    if n == [1, 1, 1]:
        return structure, f"as given ({len(structure)} atoms, each width >= {width:g} Å)"
    cell = structure.copy()
    cell.make_supercell(n)
    return cell, f"x {n[0]} x {n[1]} x {n[2]} ({len(cell)} atoms, each width >= {width:g} Å)"


def diffusion_systems(c: Campaign, chem: Chemistry, has_interface: bool, species: str | None = None) -> list[str]:
    """``properties.diffusion.systems``, else the electrolyte, products holding ``species``, the interface."""
    asked = c.properties.diffusion.systems
    if asked is not None:
        if INTERFACE_SYSTEM in asked and not has_interface:
            raise InputError("properties.diffusion.systems names 'interface' but the campaign built none",
                             "remove 'interface', or run the campaign with structures.interface set")
        return list(dict.fromkeys(asked))
    mobile = {species} if species else set(chem.mobile)
    names = [n for n in (c.electrolyte(), *c.chemistry.products) if n]
    out = [n for n in dict.fromkeys(names) if mobile & {el.symbol for el in c.structures.phase(n).composition}]
    return out + ([INTERFACE_SYSTEM] if has_interface else [])


def elastic_phases(c: Campaign) -> list[str]:
    """``properties.elastic.phases``, else the anode, the electrolyte and the products."""
    asked = c.properties.elastic.phases
    if asked is not None:
        return list(dict.fromkeys(asked))
    return list(dict.fromkeys(n for n in (c.anode(), c.electrolyte(), *c.chemistry.products) if n))


def system_cell(c: Campaign, system: str, atoms: int, interface: Structure | None, report: dict,
                bulks: dict[str, Structure], species: str) -> tuple[Structure, str]:
    """One system's cell of about ``atoms`` atoms and how it was made."""
    if system == INTERFACE_SYSTEM:
        sized = c.model_copy(update={"production": c.production.model_copy(update={"atoms": atoms, "structure": None})})
        cell, how = production_cell(sized, interface, report, bulks)
        return cell, how.replace("for production.atoms", "for")
    base = c.structures.phase(system)
    if species not in {el.symbol for el in base.composition}:
        raise InputError(f"properties.diffusion.systems: phase {system} ({base.composition.reduced_formula}) holds "
                         f"no {species}, the mobile ion", f"remove {system} from properties.diffusion.systems")
    cell, how = bulk_cell(base, atoms)
    return cell, f"phase {system} {how}"
