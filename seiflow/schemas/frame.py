"""A labelled frame: one structure with its reference energy, forces and virial, and where it came from.

Units are DeePMD's (and dpdata's): eV, Å, eV/Å; ``virial`` in eV (virial = -stress x volume, so a
stress in eV/Å^3 is ``-virial / volume``). Arrays are stored inline when small, else in GridFS
(see ``seiflow.dataset``); this model is the in-memory form.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

HASH_DECIMALS = 4  # positions/cell rounded to 1e-4 Å before hashing


class FrameStatus(StrEnum):
    """Where a frame is in its life."""

    LABELLED = "labelled"
    FAILED = "failed"  # labelling failed after custodian's corrections; kept with its reason
    FLAGGED = "flagged"  # labelled but absurd (huge forces, energy outlier): not trained on


class CustodianRecord(BaseModel):
    """custodian's record of the DFT run that labelled a frame (atomate2 keeps it in its task document)."""

    handlers: list[str] = Field(
        default_factory=list, description="Class name of the handler behind each correction, in order.")
    errors: list[str] = Field(default_factory=list, description="Errors the handlers reported, in order.")
    n_corrections: int = Field(0, ge=0, description="Corrections custodian applied; 0: the first run passed.")
    walltime_s: float | None = Field(None, description="Seconds custodian ran the code, every attempt included.")


class Provenance(BaseModel):
    """Where a frame came from, and what active learning and the DFT run recorded about it.

    Every key seiflow writes is a declared field (documents written before they were declared carried
    ``temperature``, ``max_devi_f``, ``max_devi_v``, ``devi_e`` and ``sanity`` as extra keys: they load
    into these fields by name). Unknown keys of foreign documents are kept, not dropped.
    """

    model_config = ConfigDict(extra="allow")

    campaign: str | None = None
    round: int | None = Field(None, description="Active-learning round; 0 = initial data.")
    source: str = Field(..., description="e.g. 'reference_md', 'exploration', 'import'.")
    origin: str | None = Field(None, description="Structure name, trajectory path or task id.")
    frame_index: int | None = Field(None, description="Index within the trajectory it came from.")
    trajectory: str | None = Field(
        None, description="Reference MD only: id of its whole trajectory in the GridFS bucket 'trajectories'.")
    temperature: float | None = Field(None, description="MD frames: the thermostat temperature, K.")
    max_devi_f: float | None = Field(
        None, description="Explored frames: the ensemble's max force deviation at this step, eV/Å.")
    max_devi_v: float | None = Field(None, description="Explored frames: max virial deviation per atom, eV.")
    devi_e: float | None = Field(
        None, description="Explored frames: energy deviation per atom, eV/atom (when exploration computed it).")
    sanity: bool | None = Field(
        None, description="True: a sanity label (a random explored frame the ensemble called accurate).")
    custodian: CustodianRecord | None = Field(
        None, description="DFT frames: custodian's record of the run that labelled it (None: no custodian).")
    production_run: str | None = Field(
        None, description="Carved frames: the production run they were cut from (source 'production').")
    time_ps: float | None = Field(None, description="Carved frames: simulated time of the production frame, ps.")
    centre_atom: int | None = Field(
        None, description="Carved frames: index in the production cell of the uncertain atom the box is centred on.")
    carve_core_a: float | list[float] | None = Field(
        None, description="Carved frames: half-width of the core cube around the box's centre, Å (per axis when "
        "an axis too thin to cut was kept whole); atoms outside it are labelled but weigh 0 in the force loss "
        "(atom_pref).")


def provenance_fields(**fields: Any) -> dict[str, Any]:
    """Provenance fields for a structure's ``properties["provenance"]`` (None values left out).

    Names are checked against :class:`Provenance`, so a structure never carries an undeclared key.
    """
    unknown = sorted(set(fields) - set(Provenance.model_fields))
    if unknown:
        raise TypeError(f"{unknown} are not Provenance fields")
    return {k: v for k, v in fields.items() if v is not None}


class Reference(BaseModel):
    """The calculator that labelled a frame, and its settings (part of the content hash)."""

    model_config = ConfigDict(extra="forbid")

    calculator: str = Field(..., description="vasp, cp2k, chgnet, sevennet, or an imported code.")
    settings: dict[str, Any] = Field(default_factory=dict)


class LabelledFrame(BaseModel):
    """One frame with labels, as stored in the ``frames`` collection."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    species: list[str]
    positions: np.ndarray = Field(..., description="(N, 3) Å, Cartesian.")
    cell: np.ndarray = Field(..., description="(3, 3) Å, rows are lattice vectors.")
    pbc: tuple[bool, bool, bool] = (True, True, True)
    energy: float | None = Field(None, description="Total energy, eV.")
    forces: np.ndarray | None = Field(None, description="(N, 3) eV/Å.")
    virial: np.ndarray | None = Field(None, description="(3, 3) eV; -stress x volume.")
    atom_pref: np.ndarray | None = Field(
        None, description="(N,) per-atom force-loss weight (DeePMD's atom_pref); None: every atom weighs 1. Carved "
        "frames: 1 on the core, 0 on the atoms whose environment the cut disturbed; such frames train forces only.")
    reference: Reference
    provenance: Provenance
    status: FrameStatus = FrameStatus.LABELLED
    reason: str | None = Field(None, description="Why the frame failed or was flagged.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def natoms(self) -> int:
        """Number of atoms."""
        return len(self.species)

    @property
    def volume(self) -> float:
        """Cell volume, Å^3."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def carved(self) -> bool:
        """True for a frame cut from a larger cell: its energy and virial include the cut, so never trained on."""
        return self.atom_pref is not None

    def stress(self) -> np.ndarray | None:
        """Stress tensor, eV/Å^3 (positive = tensile, ASE's sign)."""
        return None if self.virial is None else -np.asarray(self.virial) / self.volume

    def content_hash(self) -> str:
        """Hash of (structure, calculator settings): the same structure is never labelled twice."""
        return structure_hash(self.species, self.positions, self.cell, self.reference)


def species_digest(species: list[str]) -> Any:
    """The running sha256 after the species part of :func:`structure_hash` (copy it before updating)."""
    return hashlib.sha256(json.dumps(list(species)).encode())


def reference_bytes(reference: Reference) -> bytes:
    """The reference part of :func:`structure_hash`: its settings as sorted JSON."""
    return json.dumps(reference.model_dump(mode="json"), sort_keys=True).encode()


def reference_key(reference: Reference | dict) -> str:
    """A short id of a reference (calculator and settings): frames with equal keys train together."""
    ref = reference if isinstance(reference, Reference) else Reference.model_validate(reference)
    return hashlib.sha256(reference_bytes(ref)).hexdigest()[:20]


def structure_hash(
    species: list[str],
    positions: np.ndarray,
    cell: np.ndarray,
    reference: Reference,
    *,
    species_part: Any = None,
    reference_part: bytes | None = None,
) -> str:
    """sha256 of species, rounded positions and cell, and the reference calculator settings.

    ``species_part`` (:func:`species_digest`) and ``reference_part`` (:func:`reference_bytes`) let a caller
    hashing many frames work those parts out once; the hash is the same.
    """
    h = (species_part if species_part is not None else species_digest(species)).copy()
    h.update(np.round(np.asarray(positions, dtype=float), HASH_DECIMALS).tobytes())
    h.update(np.round(np.asarray(cell, dtype=float), HASH_DECIMALS).tobytes())
    h.update(reference_part if reference_part is not None else reference_bytes(reference))
    return h.hexdigest()
