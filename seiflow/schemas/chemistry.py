"""The campaign's chemistry as the analysis uses it: roles, bonds, reducible cations, product signatures.

The document only; :mod:`seiflow.analysis.chemistry` measures it on the campaign's phases.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


def pair(a: str, b: str) -> tuple[str, str]:
    """The canonical (sorted) form of an unordered element pair."""
    return (a, b) if a <= b else (b, a)


class Bond(BaseModel):
    """A bonded element pair and its cutoff."""

    a: str
    b: str
    cutoff: float = Field(..., description="Å.")
    source: str = Field(..., description="'campaign', or the phase and first-shell distance it came from.")


class ReducibleCation(BaseModel):
    """An electrolyte cation the anode may reduce, measured against the pristine electrolyte."""

    species: str
    anions: list[str] = Field(..., description="Anions counted in its coordination.")
    pristine_cn: float = Field(..., description="Mean anion neighbours in the pristine electrolyte bulk.")
    reduced_below: int = Field(..., description="Fewer anion neighbours than this: reduced.")


class ProductSignature(BaseModel):
    """What an atom of ``species`` needs around it to count as part of product ``phase``."""

    phase: str
    species: str
    needs: dict[str, int] = Field(..., description="Neighbour element -> least count (its bond cutoff).")
    foreign: list[str] = Field(..., description="Elements it and its bonded neighbours must not bond to.")


class MetallicPhase(BaseModel):
    """A metallic product: the elements whose clusters and percolation are reported."""

    phase: str
    species: list[str]


class Chemistry(BaseModel):
    """Roles, bonds and signatures of one campaign's chemistry (see the module docstring)."""

    anode: str | None = None
    electrolyte: str | None = None
    products: list[str] = Field(default_factory=list)
    type_map: list[str] = Field(default_factory=list)
    mobile: list[str] = Field(default_factory=list, description="The anode's elements.")
    anions: list[str] = Field(default_factory=list)
    bonds: list[Bond] = Field(default_factory=list)
    reducible: list[ReducibleCation] = Field(default_factory=list)
    signatures: list[ProductSignature] = Field(default_factory=list)
    metallic: list[MetallicPhase] = Field(default_factory=list)
    rdf_pairs: list[tuple[str, str]] = Field(default_factory=list)

    def cutoff(self, a: str, b: str) -> float | None:
        """The bond cutoff of a pair, None when the pair is not bonded."""
        key = pair(a, b)
        for bond in self.bonds:
            if pair(bond.a, bond.b) == key:
                return bond.cutoff
        return None

    def r_max(self) -> float:
        """The largest bond cutoff (what one neighbour search must cover)."""
        return max((b.cutoff for b in self.bonds), default=1.0)

    def counted_species(self, phase: str) -> list[str]:
        """The elements whose atoms a product's fraction counts: its mobile ones (Li), else all of them."""
        elements = sorted({s.species for s in self.signatures if s.phase == phase})
        mobile = [e for e in elements if e in self.mobile]
        return mobile or elements

    def cluster_species(self) -> list[str]:
        """Elements of the metallic products whose clusters are reported, in type-map order."""
        found = {e for m in self.metallic for e in m.species}
        return [e for e in self.type_map if e in found] or sorted(found)
