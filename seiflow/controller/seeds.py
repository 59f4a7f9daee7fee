"""The structures a campaign starts from: relaxed bulks, the interface, exploration seeds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator
from pymatgen.core import Structure

from seiflow.schemas.campaign import Campaign
from seiflow.structures.bulk import load_bulk, relax_bulk
from seiflow.structures.checks import check_structure
from seiflow.structures.interface import build_interface
from seiflow.structures.perturb import perturb


class PreparedStructures(BaseModel):
    """Structures as pymatgen dicts (so the document serialises as plain JSON)."""

    bulk_dicts: dict[str, dict] = Field(default_factory=dict, description="Relaxed bulks by phase.")
    interface_dict: dict | None = Field(None, description="The lattice-matched interface.")
    seed_dicts: dict[str, dict] = Field(default_factory=dict, description="Exploration seeds by name.")
    report: dict[str, Any] = Field(default_factory=dict, description="Interface report, lattice constants.")

    @field_validator("bulk_dicts", "seed_dicts", mode="before")
    @classmethod
    def _structures_as_dicts(cls, value: dict) -> dict:
        # jobflow hands MSON dicts back as Structure objects
        return {k: s.as_dict() if isinstance(s, Structure) else s for k, s in value.items()}

    @field_validator("interface_dict", mode="before")
    @classmethod
    def _interface_as_dict(cls, value: Any) -> Any:
        return value.as_dict() if isinstance(value, Structure) else value

    @property
    def bulks(self) -> dict[str, Structure]:
        return {k: Structure.from_dict(v) for k, v in self.bulk_dicts.items()}

    @property
    def interface(self) -> Structure | None:
        return Structure.from_dict(self.interface_dict) if self.interface_dict else None

    @property
    def seeds(self) -> dict[str, Structure]:
        return {k: Structure.from_dict(v) for k, v in self.seed_dicts.items()}


def prepare_structures(c: Campaign) -> PreparedStructures:
    """Load (and relax) the bulks, build the interface, and name the exploration seeds."""
    cfg = c.structures
    calculator = c.labelling.reference if c.labelling.reference in ("chgnet", "sevennet") else "chgnet"
    names = set(cfg.bulks)
    if cfg.interface is not None:
        names |= {cfg.interface.substrate, cfg.interface.film}
    bulks = {}
    for name in sorted(names):
        bulk = load_bulk(name)
        bulks[name] = relax_bulk(bulk, calculator) if cfg.relax else bulk
    report: dict[str, Any] = {"lattice": {n: round(s.lattice.a, 4) for n, s in bulks.items()},
                              "relaxed_with": calculator if cfg.relax else None}
    interface = None
    if cfg.interface is not None:
        result = build_interface(cfg.interface, bulks)
        interface = result.structure
        report["interface"] = result.report
    seeds: dict[str, Structure] = {}
    for name in c.exploration.seeds:
        if name == "interface" and interface is not None:
            seeds["interface"] = interface
        elif name in bulks:
            seeds[name] = bulks[name]
    if "perturbed" in c.exploration.seeds:
        for base_name, base in list(seeds.items()):
            copies = perturb(base, cfg.perturb.n_copies, cfg.perturb.cell_strain,
                             cfg.perturb.displacement, cfg.perturb.seed)
            for i, s in enumerate(copies):
                seeds[f"{base_name}_p{i}"] = s
    for s in [*seeds.values(), *([interface] if interface else [])]:
        check_structure(s, list(c.system.type_map), min_distance=cfg.min_distance)
    kept = {n: b for n, b in bulks.items() if n in cfg.bulks}
    return PreparedStructures(
        bulk_dicts={n: s.as_dict() for n, s in kept.items()},
        interface_dict=interface.as_dict() if interface else None,
        seed_dicts={n: s.as_dict() for n, s in seeds.items()},
        report=report,
    )
