"""The campaign's chemistry as the analysis uses it: bonds, reducible cations and product signatures.

Everything is measured on the campaign's own phases (``chemistry`` and ``structures.phases`` of the campaign
file), nothing is written in for a chemistry:

- **bonds**: an element pair is bonded when it is in an atom's first shell (the neighbours within
  ``1 + FIRST_SHELL_TOL`` of its nearest one) in the anode, the electrolyte or a product; its cutoff is
  ``CUTOFF_FACTOR`` x the longest such distance, unless ``chemistry.cutoffs`` sets it;
- **mobile ion**: the anode's elements (Li);
- **anions**: ``chemistry.anions``, else the negative species of pymatgen's oxidation-state guess of the
  electrolyte; **reducible cations**: the electrolyte's other elements that are not mobile (In), each with
  its anion coordination in the pristine electrolyte bulk and the count below which it is reduced
  (``reduced_fraction`` x that, rounded: 6 Cl -> below 4);
- **product signatures**: an atom of element X is in product P when it has, of each element its first
  shell holds in P's bulk, at least ``reduced_fraction`` x P's count (rounded), and neither it nor any atom
  bonded to it is bonded to an element P does not contain (LiCl-like Li: at least 4 Cl, none of them
  bonded to In);
- **metallic phases**: products made only of metals; their non-mobile elements form the clusters whose
  size and percolation are reported (In).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from pymatgen.core import Composition, Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.structure import FreudFrame
from seiflow.errors import InputError
from seiflow.schemas.campaign import Campaign, split_pair
from seiflow.schemas.chemistry import (
    Bond,
    Chemistry,
    MetallicPhase,
    ProductSignature,
    ReducibleCation,
    pair,
)

FIRST_SHELL_TOL = 0.15  # bcc: 8 neighbours at d, 6 at 1.155 d: only the 8 are the first shell
CUTOFF_FACTOR = 1.2
SHELL_PROBE = 6.0  # Å: how far neighbours are looked for when finding first shells


def round_half_up(x: float) -> int:
    """``x`` rounded, halves up (Python's round() rounds 2.5 to 2)."""
    return int(math.floor(x + 0.5))


def campaign_chemistry(campaign: Campaign) -> Chemistry:
    """The chemistry a campaign declares, measured on its phases."""
    names = [n for n in (campaign.anode(), campaign.electrolyte(), *campaign.chemistry.products) if n]
    phases = {name: campaign.structures.phase(name) for name in dict.fromkeys(names)}
    cfg = campaign.chemistry
    return measure_chemistry(
        phases, type_map=list(campaign.system.type_map), anode=campaign.anode(),
        electrolyte=campaign.electrolyte(), products=list(cfg.products), anions=cfg.anions,
        cutoffs=cfg.cutoffs, reduced_fraction=cfg.reduced_fraction,
        rdf_pairs=[split_pair(k) for k in cfg.rdf_pairs] if cfg.rdf_pairs is not None else None,
    )


def measure_chemistry(
    phases: Mapping[str, Structure], type_map: Sequence[str], anode: str | None = None,
    electrolyte: str | None = None, products: Sequence[str] = (), anions: Sequence[str] | None = None,
    cutoffs: Mapping[str, float] | None = None, reduced_fraction: float = 2.0 / 3.0,
    rdf_pairs: Sequence[tuple[str, str]] | None = None,
) -> Chemistry:
    """Measure the chemistry on ``phases`` (name -> bulk structure) with the given roles."""
    for name in (anode, electrolyte, *products):
        if name is not None and name not in phases:
            raise InputError(f"chemistry: phase {name!r} has no structure", "add it under structures.phases")
    bonds = _bonds(phases, cutoffs or {})
    chem = Chemistry(anode=anode, electrolyte=electrolyte, products=list(products), type_map=list(type_map),
                     bonds=bonds, rdf_pairs=list(rdf_pairs) if rdf_pairs is not None else _all_pairs(type_map))
    chem.mobile = sorted({el.symbol for el in phases[anode].composition}) if anode else []
    if electrolyte:
        chem.anions = list(anions) if anions is not None else _anions(phases[electrolyte].composition)
        chem.reducible = _reducible(chem, phases[electrolyte], reduced_fraction)
    elements = set(type_map)
    for name in products:
        chem.signatures.extend(_signatures(chem, name, phases[name], elements, reduced_fraction))
        symbols = sorted({el.symbol for el in phases[name].composition})
        if all(Element(s).is_metal for s in symbols):
            species = [s for s in symbols if s not in chem.mobile]
            if species:
                chem.metallic.append(MetallicPhase(phase=name, species=species))
    return chem


def _all_pairs(type_map: Sequence[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(type_map) for b in type_map[i:]]


def _anions(composition: Composition) -> list[str]:
    """Negative species of pymatgen's first oxidation-state guess; else the most electronegative element."""
    guesses = composition.oxi_state_guesses(max_sites=-1) if composition.reduced_composition.num_atoms <= 60 else ()
    if guesses:
        return sorted(el for el, state in guesses[0].items() if state < 0)
    return [max(composition.elements, key=lambda el: el.X).symbol]


def first_shells(structure: Structure, tol: float = FIRST_SHELL_TOL) -> dict[tuple[str, str], float]:
    """Pair -> longest distance at which it appears in some atom's first shell of ``structure``."""
    centres, neighbours, _, distances = structure.get_neighbor_list(SHELL_PROBE)
    symbols = np.array([site.specie.symbol for site in structure])
    out: dict[tuple[str, str], float] = {}
    for i in np.unique(centres):
        mine = centres == i
        d = distances[mine]
        shell = d <= d.min() * (1.0 + tol)
        for j, dist in zip(neighbours[mine][shell], d[shell], strict=True):
            key = pair(symbols[i], symbols[j])
            out[key] = max(out.get(key, 0.0), float(dist))
    return out


def _bonds(phases: Mapping[str, Structure], cutoffs: Mapping[str, float]) -> list[Bond]:
    measured: dict[tuple[str, str], tuple[float, str]] = {}
    for name, structure in phases.items():
        for key, dist in first_shells(structure).items():
            if dist > measured.get(key, (0.0, ""))[0]:
                measured[key] = (dist, name)
    bonds = {key: Bond(a=key[0], b=key[1], cutoff=round(CUTOFF_FACTOR * d, 3),
                       source=f"{name}: first shell to {d:.3f} Å x {CUTOFF_FACTOR}")
             for key, (d, name) in measured.items()}
    for text, cutoff in cutoffs.items():
        key = pair(*split_pair(text))
        bonds[key] = Bond(a=key[0], b=key[1], cutoff=float(cutoff), source="campaign")
    return [bonds[k] for k in sorted(bonds)]


def _frame(structure: Structure, r_max: float) -> FreudFrame:
    return FreudFrame.from_atoms(AseAtomsAdaptor.get_atoms(structure), r_max)


def _reducible(chem: Chemistry, electrolyte: Structure, fraction: float) -> list[ReducibleCation]:
    frame = _frame(electrolyte, chem.r_max())
    out = []
    for el in sorted({el.symbol for el in electrolyte.composition}):
        if el in chem.anions or el in chem.mobile:
            continue
        counted = [an for an in chem.anions if chem.cutoff(el, an) is not None]
        cn = sum(frame.count(el, an, chem.cutoff(el, an)) for an in counted) if counted else np.zeros(1)
        pristine = float(np.mean(cn))
        if pristine > 0:
            out.append(ReducibleCation(species=el, anions=counted, pristine_cn=round(pristine, 4),
                                       reduced_below=max(1, round_half_up(fraction * pristine))))
    return out


def _signatures(chem: Chemistry, name: str, bulk: Structure, elements: Iterable[str],
                fraction: float) -> list[ProductSignature]:
    own = {el.symbol for el in bulk.composition}
    shells = first_shells(bulk)
    frame = _frame(bulk, chem.r_max())
    foreign = sorted(set(elements) - own)
    out = []
    for el in sorted(own):
        needs = {}
        for other in sorted(own):
            cutoff = chem.cutoff(el, other)
            if pair(el, other) not in shells or cutoff is None:
                continue
            mean = float(np.mean(frame.count(el, other, cutoff)))
            if mean > 0:
                needs[other] = max(1, round_half_up(fraction * mean))
        if needs:
            out.append(ProductSignature(phase=name, species=el, needs=needs, foreign=foreign))
    return out


def chemistry_of(definition: dict | None) -> Chemistry:
    """The chemistry of a stored campaign definition; an empty one when there is none or it no longer loads."""
    if not definition:
        return Chemistry()
    try:
        return campaign_chemistry(Campaign.model_validate(definition))
    except (ValueError, InputError):
        return Chemistry()
