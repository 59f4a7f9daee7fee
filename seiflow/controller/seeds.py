"""Exploration seeds: which prepared structures the round's LAMMPS runs start from."""

from __future__ import annotations

from pymatgen.core import Structure

from seiflow.structures.jobs import StructuresDocument


def as_structure(value: Structure | dict) -> Structure:
    """Jobflow hands structures back as objects or as MSON dicts, depending on the path."""
    return value if isinstance(value, Structure) else Structure.from_dict(value)


def exploration_seeds(doc: StructuresDocument, names: list[str]) -> dict[str, Structure]:
    """Seeds named in ``exploration.seeds``: 'interface', bulk names, and 'perturbed' (their copies)."""
    pool: dict[str, Structure] = dict(doc.bulks)
    if doc.interface is not None:
        pool["interface"] = doc.interface
    seeds = {name: pool[name] for name in names if name in pool}
    if "perturbed" in names:
        bases = list(seeds) or list(doc.perturbed)  # 'perturbed' alone: copies of every seed
        for base in bases:
            seeds.update({f"{base}_p{i}": s for i, s in enumerate(doc.perturbed.get(base, []))})
    return seeds
