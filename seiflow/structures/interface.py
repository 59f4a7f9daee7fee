"""Lattice-matched interfaces (Zur-McGill, pymatgen's ``CoherentInterfaceBuilder``) and their report.

The substrate (the anode, e.g. Li(110)) keeps its lattice; the film (the electrolyte) is strained onto
it. ``vacuum = 0`` builds a periodic sandwich: the film's far side meets the substrate's bottom across
the cell boundary, at the same ``gap``.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.analysis.interfaces.coherent_interfaces import CoherentInterfaceBuilder
from pymatgen.analysis.interfaces.zsl import ZSLGenerator
from pymatgen.core import Composition, Structure
from pymatgen.core.interface import Interface

from seiflow.errors import InputError
from seiflow.schemas.campaign import InterfaceConfig
from seiflow.schemas.phases import INTERFACE_LABEL

LABEL = INTERFACE_LABEL  # site property: "substrate" or "film"
FACING_TOL = 0.5  # Å: atoms this close to a slab's outer plane belong to its termination


class Termination(BaseModel):
    """One pair of terminations and the species that meet at the interface."""

    label: tuple[str, str] = Field(..., description="pymatgen's (film, substrate) termination label.")
    film_facing: list[str] = Field(..., description="Film species in the plane facing the substrate.")
    substrate_facing: list[str] = Field(..., description="Substrate species facing the film.")
    film_back: list[str] = Field(..., description="Film species on its far side.")


class InterfaceReport(BaseModel):
    """What was built: match, strain, sizes and compositions per phase."""

    substrate: str
    substrate_miller: tuple[int, int, int]
    film: str
    film_miller: tuple[int, int, int]
    area: float = Field(..., description="In-plane cell area, Å² (the substrate's superlattice).")
    film_match_area: float = Field(..., description="Unstrained film superlattice area, Å².")
    von_mises_strain: float = Field(..., description="Von Mises strain of the film (fraction).")
    match_index: int = Field(..., description="Index of the ZSL match in pymatgen's list.")
    natoms: int
    natoms_substrate: int
    natoms_film: int
    composition: dict[str, float]
    composition_substrate: dict[str, float]
    composition_film: dict[str, float]
    film_formula_units: float = Field(..., description="Film formula units (of its reduced formula).")
    termination: Termination
    terminations: list[Termination] = Field(..., description="All terminations pymatgen found.")
    substrate_layers: int
    film_layers: int
    gap: float
    vacuum: float
    periodic: bool = Field(..., description="True: periodic sandwich without vacuum.")
    lattice_abc: list[float]
    lattice_angles: list[float]
    candidates: int = Field(..., description="Interfaces considered within the atom budget.")
    substrate_nudge: float = Field(
        0.0, description="Relative substrate scaling ZSL needed to find the match (SUBSTRATE_NUDGES); 0: none."
    )


class InterfaceResult(BaseModel):
    """The chosen interface structure (site property ``interface_label``) and its report."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    structure: Structure
    report: dict[str, Any] = Field(..., description="InterfaceReport as a JSON-able mapping.")


# Relative substrate scalings tried in turn when pymatgen's ZSL finds no match. Which primitive in-plane cell
# SlabGenerator picks for a substrate like Li(110) flips with the 6th digit of the lattice constant (a
# CHGNet relaxation differs that much from machine to machine), and for some of those cells ZSL's ordered
# vector comparison misses every match (Li a = 3.436525 Å: none; 3.43655 Å: six). A 1e-6-1e-5 scaling,
# far below any relaxation's precision, picks the other cell; the report records the one used.
SUBSTRATE_NUDGES = (0.0, 1e-6, -1e-6, 3e-6, -3e-6, 1e-5, -1e-5)


def _builder(cfg: InterfaceConfig, bulks: dict[str, Structure]) -> tuple[CoherentInterfaceBuilder, float]:
    """The pymatgen builder for the configured match, and the substrate nudge it needed (0.0: none)."""
    for field in ("substrate", "film"):
        name = getattr(cfg, field)
        if name not in bulks:
            raise InputError(
                f"structures.interface.{field}: phase {name!r} is not among the bulks ({', '.join(bulks)})",
                f"add {name} to structures.bulks or pick one of the bundled phases",
            )
    zsl = ZSLGenerator(
        max_area_ratio_tol=cfg.max_area_ratio_tol,
        max_area=cfg.max_area,
        max_length_tol=cfg.max_length_tol,
        max_angle_tol=cfg.max_angle_tol,
        bidirectional=False,
    )
    substrate = bulks[cfg.substrate]
    for nudge in SUBSTRATE_NUDGES:
        scaled = substrate.copy()
        if nudge:
            scaled.scale_lattice(substrate.volume * (1.0 + nudge) ** 3)
        builder = CoherentInterfaceBuilder(
            substrate_structure=scaled,
            film_structure=bulks[cfg.film],
            film_miller=tuple(cfg.film_miller),
            substrate_miller=tuple(cfg.substrate_miller),
            zslgen=zsl,
        )
        if builder.zsl_matches:
            return builder, nudge
    raise InputError(
        f"no lattice match for {cfg.film}{cfg.film_miller} on {cfg.substrate}{cfg.substrate_miller}"
        f" within area {cfg.max_area} Å² and tolerances {cfg.max_length_tol}/{cfg.max_angle_tol}",
        "raise structures.interface.max_area or the tolerances, or relax the bulks first",
    )


def _species_near(structure: Structure, mask: np.ndarray, top: bool) -> list[str]:
    z = structure.cart_coords[:, 2]
    edge = z[mask].max() if top else z[mask].min()
    near = mask & (np.abs(z - edge) < FACING_TOL)
    return sorted({structure[i].specie.symbol for i in np.flatnonzero(near)})


def termination_of(iface: Structure, label: tuple[str, str]) -> Termination:
    """The species that face each other in a built interface (film above the substrate)."""
    film = np.array([x == "film" for x in iface.site_properties[LABEL]])
    return Termination(
        label=tuple(label),
        film_facing=_species_near(iface, film, top=False),
        substrate_facing=_species_near(iface, ~film, top=True),
        film_back=_species_near(iface, film, top=True),
    )


def _interfaces(
    builder: CoherentInterfaceBuilder, cfg: InterfaceConfig, label: tuple[str, str],
    substrate_layers: int, film_layers: int,
):
    return builder.get_interfaces(
        label,
        gap=cfg.gap,
        vacuum_over_film=cfg.vacuum if cfg.vacuum > 0 else cfg.gap,
        film_thickness=film_layers,
        substrate_thickness=substrate_layers,
        in_layers=True,
    )


def _plain(iface: Interface) -> Structure:
    """A plain Structure (serialisable everywhere) keeping ``interface_label``."""
    return Structure(
        iface.lattice, iface.species, iface.frac_coords,
        site_properties={LABEL: list(iface.site_properties[LABEL])},
    )


def _area(vectors) -> float:
    return float(np.linalg.norm(np.cross(*np.asarray(vectors, dtype=float)[:2])))


def _composition(structure: Structure, mask: np.ndarray | None = None) -> Composition:
    species = [s.specie for i, s in enumerate(structure) if mask is None or mask[i]]
    return Composition({el: species.count(el) for el in set(species)}) if species else Composition()


def make_report(
    structure: Structure, cfg: InterfaceConfig, props: dict, termination: Termination,
    terminations: list[Termination], match_index: int, candidates: int,
    substrate_layers: int, film_layers: int,
) -> InterfaceReport:
    """The report of a built interface."""
    film = np.array([x == "film" for x in structure.site_properties[LABEL]])
    comp_film = _composition(structure, film)
    comp_sub = _composition(structure, ~film)
    reduced, units = comp_film.get_reduced_composition_and_factor() if len(comp_film) else (None, 0)
    return InterfaceReport(
        substrate=cfg.substrate, substrate_miller=cfg.substrate_miller,
        film=cfg.film, film_miller=cfg.film_miller,
        area=round(_area(structure.lattice.matrix[:2]), 3),
        film_match_area=round(_area(props["film_sl_vectors"]), 3),
        von_mises_strain=round(float(props["von_mises_strain"]), 6),
        match_index=match_index,
        natoms=len(structure), natoms_substrate=int((~film).sum()), natoms_film=int(film.sum()),
        composition=dict(_composition(structure).as_dict()),
        composition_substrate=dict(comp_sub.as_dict()), composition_film=dict(comp_film.as_dict()),
        film_formula_units=float(units),
        termination=termination, terminations=terminations,
        substrate_layers=substrate_layers, film_layers=film_layers,
        gap=cfg.gap, vacuum=cfg.vacuum, periodic=cfg.vacuum == 0,
        lattice_abc=[round(x, 4) for x in structure.lattice.abc],
        lattice_angles=[round(x, 3) for x in structure.lattice.angles],
        candidates=candidates,
    )


def _all_terminations(builder: CoherentInterfaceBuilder, cfg: InterfaceConfig) -> list[Termination]:
    return [
        termination_of(_plain(next(iter(_interfaces(builder, cfg, label, 1, 1)))), label)
        for label in builder.terminations
    ]


def list_terminations(cfg: InterfaceConfig, bulks: dict[str, Structure]) -> list[Termination]:
    """Every termination pair of the match, with the species facing each other."""
    return _all_terminations(_builder(cfg, bulks)[0], cfg)


def _chosen_terminations(
    builder: CoherentInterfaceBuilder, cfg: InterfaceConfig
) -> tuple[list[Termination], list[Termination]]:
    every = _all_terminations(builder, cfg)
    wanted = cfg.termination_species
    chosen = [t for t in every if wanted is None or t.film_facing == [wanted]]
    if not chosen:
        found = ", ".join("/".join(t.film_facing) for t in every)
        raise InputError(
            f"structures.interface.termination_species: no {cfg.film}{cfg.film_miller} termination"
            f" has only {wanted} facing the substrate (found: {found})",
            "set termination_species to one of those species, or to null for any",
        )
    return every, chosen


def build_interface(cfg: InterfaceConfig, bulks: dict[str, Structure]) -> InterfaceResult:
    """The lowest-strain interface within ``cfg.max_atoms`` atoms, with the asked termination."""
    builder, nudge = _builder(cfg, bulks)
    every, chosen = _chosen_terminations(builder, cfg)
    best: tuple | None = None
    candidates = 0
    for term in chosen:
        for index, iface in enumerate(
            _interfaces(builder, cfg, term.label, cfg.substrate_layers, cfg.film_layers)
        ):
            if len(iface) > cfg.max_atoms:
                continue
            candidates += 1
            props = iface.interface_properties
            key = (round(props["von_mises_strain"], 6), len(iface), _area(props["film_sl_vectors"]))
            if best is None or key < best[0]:
                best = (key, iface, term, index)
    if best is None:
        raise InputError(
            f"structures.interface.max_atoms: every match has more than {cfg.max_atoms} atoms"
            f" with {cfg.substrate_layers} substrate and {cfg.film_layers} film layers",
            "raise max_atoms or use fewer layers",
        )
    _, iface, term, index = best
    strain = iface.interface_properties["von_mises_strain"]
    if strain > cfg.max_strain:
        raise InputError(
            f"structures.interface.max_strain: the best match strains the film {strain:.2%}"
            f" (> {cfg.max_strain:.2%})",
            "raise max_strain or max_area, or relax the bulks with the reference calculator",
        )
    structure = _plain(iface)
    report = make_report(
        structure, cfg, iface.interface_properties, termination_of(structure, term.label), every,
        index, candidates, cfg.substrate_layers, cfg.film_layers,
    )
    report.substrate_nudge = nudge
    return InterfaceResult(structure=structure, report=report.model_dump(mode="json"))


def file_interface_report(structure: Structure, path: str) -> dict[str, Any]:
    """What a ready-made interface file holds: its size, composition and lattice (nothing was matched)."""
    return {"file": path, "natoms": len(structure), "composition": dict(_composition(structure).as_dict()),
            "lattice_abc": [round(x, 4) for x in structure.lattice.abc],
            "lattice_angles": [round(x, 3) for x in structure.lattice.angles],
            "labelled": LABEL in structure.site_properties}


def rebuild(
    cfg: InterfaceConfig, bulks: dict[str, Structure], label: tuple[str, str], match_index: int,
    substrate_layers: int, film_layers: int,
) -> tuple[Structure, dict]:
    """The same match and termination with other layer counts (for scale-up)."""
    builder, _ = _builder(cfg, bulks)
    iface = next(
        islice(_interfaces(builder, cfg, tuple(label), substrate_layers, film_layers), match_index, None),
        None,
    )
    if iface is None:
        raise InputError(f"match {match_index} no longer exists", "rebuild the interface first")
    return _plain(iface), dict(iface.interface_properties)
