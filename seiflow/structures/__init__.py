"""Structures: bundled bulks, relaxation, lattice-matched interfaces, scale-up, checks and seeds."""

from seiflow.structures.bulk import (
    BULKS,
    fetch_bulk,
    get_bulk,
    load_bulk,
    relax_bulk,
    set_lattice_constant,
)
from seiflow.structures.checks import check_structure, write_structure
from seiflow.structures.interface import InterfaceResult, build_interface, list_terminations
from seiflow.structures.perturb import perturb
from seiflow.structures.scale import ScaleUpResult, ScaleUpTarget, scale_up

__all__ = [
    "BULKS",
    "InterfaceResult",
    "ScaleUpResult",
    "ScaleUpTarget",
    "build_interface",
    "check_structure",
    "fetch_bulk",
    "get_bulk",
    "list_terminations",
    "load_bulk",
    "perturb",
    "relax_bulk",
    "scale_up",
    "set_lattice_constant",
    "write_structure",
]
