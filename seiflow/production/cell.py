"""The production cell: a phase the campaign names, or its interface repeated in-plane to the asked size."""

from __future__ import annotations

import math

from pymatgen.core import Structure

from seiflow.errors import InputError
from seiflow.schemas.campaign import Campaign
from seiflow.structures.scale import ScaleUpTarget, scale_up

# an in-plane aspect ratio of e (2.7:1) costs as much as missing the atom count by 10 %: near-square cells
ASPECT_WEIGHT = 0.1


def lateral_repeat(structure: Structure, atoms: int, max_repeat: int = 64) -> tuple[int, int]:
    """In-plane repeats (na, nb) whose cell comes closest to ``atoms`` atoms, the squarest among equals."""
    n_target = max(1, atoms / len(structure))
    a, b = structure.lattice.abc[:2]
    best, best_cost = (1, 1), math.inf
    for na in range(1, max_repeat + 1):
        for nb in range(1, max_repeat + 1):
            cost = abs(na * nb - n_target) / n_target + ASPECT_WEIGHT * abs(math.log(na * a / (nb * b)))
            if cost < best_cost:
                best, best_cost = (na, nb), cost
    return best


def scale_target(report: dict, atoms: int) -> ScaleUpTarget:
    """Substrate atoms and film formula units of ``atoms`` atoms in the small interface's proportions."""
    substrate = max(1, round(atoms * report["natoms_substrate"] / report["natoms"]))
    atoms_per_fu = (report["natoms"] - report["natoms_substrate"]) / report["film_formula_units"]
    return ScaleUpTarget(substrate_atoms=substrate, film_formula_units=max(1, round((atoms - substrate) / atoms_per_fu)))


def production_cell(campaign: Campaign, interface: Structure | None, report: dict | None = None,
                    bulks: dict[str, Structure] | None = None) -> tuple[Structure, str]:
    """The cell and how it was made.

    A built interface whose matched bulks are at hand (``bulks``, with its ``report``) is scaled up the way
    ``seiflow structures scale-up`` does: the same match and termination, whole layers of each side and
    in-plane repeats, to come closest to ``production.atoms`` in the small interface's proportions.
    Otherwise ``production.structure`` (a phase), else the interface, is repeated in-plane (a and b).
    """
    p = campaign.production
    iface = campaign.structures.interface
    if (p.structure is None and iface is not None and not iface.file and report and bulks
            and {iface.substrate, iface.film} <= set(bulks)):
        result = scale_up(iface, bulks, scale_target(report, p.atoms))
        rep = result.report
        return result.structure, (f"interface scaled up: {rep['repeat'][0]} x {rep['repeat'][1]} in-plane, "
                                  f"{rep['substrate_layers']} + {rep['film_layers']} layers ({len(result.structure)} "
                                  f"atoms for production.atoms {p.atoms})")
    if p.structure is not None:
        base, name = campaign.structures.phase(p.structure), f"phase {p.structure}"
    elif interface is not None:
        base, name = interface, "interface"
    else:
        raise InputError("the campaign has no interface to scale up for production",
                         "set production.structure to a phase (structures.phases or a bundled name)")
    na, nb = lateral_repeat(base, p.atoms)
    cell = base.copy()
    cell.make_supercell([na, nb, 1])
    return cell, f"{name} x {na} x {nb} in-plane ({len(cell)} atoms for production.atoms {p.atoms})"
