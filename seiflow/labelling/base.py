"""The labelling interface every reference code implements, and the bookkeeping they share.

A :class:`LabelMaker` (atomate2-style dataclass Maker, one per code: local ASE calculators, VASP,
CP2K) turns a list of pymatgen Structures into a jobflow Job/Flow whose output is a
:class:`LabelOutput`. All of them store :class:`~seiflow.schemas.frame.LabelledFrame` documents in
the :class:`~seiflow.dataset.frames.FrameStore`, skip structures already labelled with the same
settings (:func:`pending`), flag absurd labels (:func:`flag_absurd`) and record failures with their
reason (:func:`store_results`), so a failed or absurd frame never stops a round.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from jobflow import Maker
from pydantic import BaseModel, ConfigDict, Field

from seiflow.constants import JobCategory
from seiflow.dataset.carved import core_weights
from seiflow.dataset.convert import structure_arrays
from seiflow.errors import InputError
from seiflow.registry import REFERENCES
from seiflow.schemas.frame import FrameStatus, LabelledFrame, Provenance, Reference, structure_hash

if TYPE_CHECKING:
    from jobflow import Flow, Job
    from pymatgen.core import Structure

    from seiflow.dataset.frames import FrameStore
    from seiflow.schemas.campaign import LabellingConfig, ReferenceMDConfig

DEFAULT_MAX_FORCE = 50.0  # eV/Å; frames above are flagged, not trained on
DEFAULT_ENERGY_WINDOW = 5.0  # eV/atom away from the batch median (same composition) is an outlier


class LabelFailure(BaseModel):
    """One structure that could not be labelled."""

    frame_id: str = Field(..., description="Content hash of the structure with this reference.")
    origin: str | None = Field(None, description="Provenance origin of the structure.")
    frame_index: int | None = Field(None, description="Provenance frame index of the structure.")
    reason: str = Field(..., description="Why it failed (after any custodian corrections).")


class LabelOutput(BaseModel):
    """What a labelling job returns: which frames are in the store, and what went wrong."""

    reference: Reference = Field(..., description="The reference that labelled the frames.")
    frame_ids: list[str] = Field(
        default_factory=list, description="Labelled frames now stored (new and already there)."
    )
    flagged_ids: list[str] = Field(default_factory=list, description="Stored but flagged as absurd.")
    n_new: int = Field(0, description="Frames labelled and stored by this job.")
    n_duplicate: int = Field(0, description="Structures already stored: not labelled again.")
    n_failed: int = Field(0, description="Structures whose labelling failed: dropped.")
    n_flagged: int = Field(0, description="Frames with absurd labels: stored, not trained on.")
    n_corrected: int = Field(
        0, description="Of the new frames, those whose DFT run needed custodian corrections (provenance.custodian).")
    failures: list[LabelFailure] = Field(default_factory=list)


class ReferenceSettings(BaseModel):
    """Settings of a reference in ``labelling.reference``; each code's maker adds its own fields."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class LabelMaker(Maker, ABC):
    """Base of the per-code labelling makers; each is registered in ``seiflow.registry.REFERENCES``.

    Parameters
    ----------
    name
        Job name.
    max_force
        Frames whose largest force component norm exceeds this (eV/Å) are flagged.
    energy_window
        Frames whose energy per atom is further than this (eV/atom) from the median of their
        composition in the same batch are flagged.
    category
        FireWorks category of the labelling jobs.
    """

    settings_model: ClassVar[type[BaseModel]] = ReferenceSettings
    can_relax: ClassVar[bool] = True  # structures.relax may use this reference (see relax_maker)

    name: str = "label"
    max_force: float = DEFAULT_MAX_FORCE
    energy_window: float = DEFAULT_ENERGY_WINDOW
    category: str = JobCategory.DFT.value

    @classmethod
    def from_settings(cls, settings: BaseModel, **common: Any) -> LabelMaker:
        """The maker for a campaign's ``labelling.reference`` settings.

        Settings fields that are maker fields are passed on; ``common`` holds the labelling
        section's shared fields (``max_force``...).
        """
        names = {f.name for f in fields(cls)}
        own = {k: v for k, v in settings.model_dump().items() if k in names and v is not None}
        return cls(**own, **{k: v for k, v in common.items() if k in names})

    def relax_calculator(self) -> str:
        """The local calculator that relaxes bulks when the campaign names none (CHGNet for DFT)."""
        return "chgnet"

    def relax_maker(self) -> Maker | None:
        """A maker of cell relaxation jobs by this reference; None: relaxed in-process (local calculators)."""
        return None

    @abstractmethod
    def md_maker(self, temperature: float, md: ReferenceMDConfig, seed: int = 0) -> Maker:
        """Reference MD at ``temperature`` labelled by this reference (the campaign's initial data).

        The maker's ``make(structure, origin=, campaign=)`` gives a job whose output is a
        :class:`LabelOutput` (a :class:`~seiflow.labelling.md.ReferenceMDMaker`): ASE MD with a local
        calculator, the DFT codes' own AIMD.
        """

    @property
    @abstractmethod
    def reference(self) -> Reference:
        """The calculator name and settings (they enter every frame's content hash)."""

    @abstractmethod
    def make(
        self,
        structures: list[Structure],
        provenance: Provenance | list[Provenance] | dict | list[dict] | None = None,
    ) -> Job | Flow:
        """A job (or flow) labelling ``structures``; its output is a :class:`LabelOutput`."""


def label_outputs(labels: Any) -> list[LabelOutput]:
    """The :class:`LabelOutput` of each labelling job in ``labels``.

    Nested lists as jobflow hands them are flattened; None (a job that did not finish) is left out.
    """
    out: list[LabelOutput] = []
    for x in labels if isinstance(labels, list) else [labels]:
        if isinstance(x, list):
            out += label_outputs(x)
        elif x:
            out.append(LabelOutput.model_validate(x.model_dump() if isinstance(x, BaseModel) else x))
    return out


def provenances_for(
    structures: list[Any], provenance: Provenance | list | dict | None, source: str = "labelling"
) -> list[Provenance]:
    """One Provenance per structure.

    A list is used as is; a single one is copied, completed by the structure's own
    ``properties["provenance"]`` (e.g. the exploration task and step) where it leaves a field unset,
    and ``frame_index`` falls back to the position in the list.
    """
    if isinstance(provenance, list):
        if len(provenance) != len(structures):
            raise InputError(
                f"{len(provenance)} provenances for {len(structures)} structures",
                "pass one provenance, or one per structure",
            )
        return [Provenance.model_validate(p) for p in provenance]
    base = Provenance.model_validate(provenance) if provenance is not None else Provenance(source=source)
    out = []
    for i, structure in enumerate(structures):
        own = (getattr(structure, "properties", None) or {}).get("provenance") or {}
        p = base.model_copy(
            update={k: v for k, v in own.items() if getattr(base, k, None) is None}, deep=True
        )
        if p.frame_index is None:
            p.frame_index = i
        out.append(p)
    return out


def frame_id_of(structure: Any, reference: Reference) -> str:
    """The content hash a frame of ``structure`` labelled by ``reference`` will have."""
    species, positions, cell, _ = structure_arrays(structure)
    return structure_hash(species, positions, cell, reference)


def pending(
    structures: list[Any], reference: Reference, store: FrameStore,
    provenances: list[Provenance] | None = None,
) -> tuple[list[int], list[str]]:
    """Indices of structures not yet labelled with ``reference``, and the ids already stored.

    Failed records do not count as stored: a failed structure may be tried again. Stored ones are
    counted as the campaign's (from ``provenances``) so that campaign trains on them too.
    """
    todo, done = [], []
    for i, structure in enumerate(structures):
        frame_id = frame_id_of(structure, reference)
        if store.has(frame_id):
            done.append(frame_id)
        else:
            todo.append(i)
    campaigns = {p.campaign for p in provenances or [] if p.campaign}
    for campaign in campaigns:
        store.tag_campaign(done, campaign)
    return todo, done


def flag_absurd(
    frames: list[LabelledFrame],
    max_force: float = DEFAULT_MAX_FORCE,
    energy_window: float = DEFAULT_ENERGY_WINDOW,
) -> list[LabelledFrame]:
    """Mark absurd frames as ``flagged``, in place.

    Absurd: non-finite labels, max |F| above ``max_force`` (eV/Å), or an energy per atom more than
    ``energy_window`` from their composition's median. A carved frame: only its core's forces count.
    """
    per_atom: dict[str, list[float]] = {}
    for f in frames:
        if f.energy is not None and np.isfinite(f.energy):
            per_atom.setdefault("".join(sorted(f.species)), []).append(f.energy / f.natoms)
    medians = {k: float(np.median(v)) for k, v in per_atom.items()}
    for f in frames:
        reason = _absurd_reason(f, max_force, energy_window, medians)
        if reason is not None:
            f.status, f.reason = FrameStatus.FLAGGED, reason
    return frames


def _absurd_reason(
    f: LabelledFrame, max_force: float, energy_window: float, medians: dict[str, float]
) -> str | None:
    if f.energy is None or not np.isfinite(f.energy):
        return "energy is missing or not finite"
    if f.forces is None or not np.all(np.isfinite(f.forces)):
        return "forces are missing or not finite"
    if f.virial is not None and not np.all(np.isfinite(f.virial)):
        return "virial is not finite"
    forces = np.linalg.norm(np.asarray(f.forces), axis=1)
    if f.carved:  # only the core's forces are trained on; the cut surface's contacts may push hard
        forces = forces[np.asarray(f.atom_pref) > 0]
    fmax = float(forces.max()) if forces.size else 0.0
    if fmax > max_force:
        return f"max |F| {fmax:.3g} eV/Å above max_force {max_force:g}" + (" (core atoms)" if f.carved else "")
    if f.carved:
        return None  # its energy includes the cut surface and is never trained on
    median = medians.get("".join(sorted(f.species)))
    e_atom = f.energy / f.natoms
    if median is not None and abs(e_atom - median) > energy_window:
        return f"energy {e_atom:.4g} eV/atom is {abs(e_atom - median):.3g} from the median {median:.4g}"
    return None


def store_results(
    store: FrameStore,
    reference: Reference,
    frames: list[LabelledFrame],
    failures: list[tuple[Any, Provenance, str]] = (),
    duplicate_ids: list[str] = (),
    max_force: float = DEFAULT_MAX_FORCE,
    energy_window: float = DEFAULT_ENERGY_WINDOW,
) -> LabelOutput:
    """Flag, store and record a batch; returns its :class:`LabelOutput`.

    ``frames`` are labelled now, ``failures`` are (structure, provenance, reason), ``duplicate_ids``
    were found already stored. Carved frames (``provenance.carve_core_a``) get their per-atom force weights.
    """
    out = LabelOutput(reference=reference, frame_ids=list(duplicate_ids), n_duplicate=len(duplicate_ids))
    for frame in frames:  # a carved box: its force weights from its geometry, whatever order the reference kept
        if frame.provenance.carve_core_a is not None and frame.atom_pref is None:
            frame.atom_pref = core_weights(frame.positions, frame.cell, frame.provenance.carve_core_a)
    for frame in flag_absurd(frames, max_force, energy_window):
        frame_id, inserted = store.add(frame)
        if frame.status == FrameStatus.FLAGGED:
            out.flagged_ids.append(frame_id)
            out.n_flagged += 1
        else:
            out.frame_ids.append(frame_id)
        out.n_new += int(inserted)
        out.n_duplicate += int(not inserted)
        record = frame.provenance.custodian
        out.n_corrected += int(inserted and record is not None and record.n_corrections > 0)
    for structure, provenance, reason in failures:
        frame_id = store.record_failure(structure, reference, provenance, reason)
        out.failures.append(
            LabelFailure(
                frame_id=frame_id, origin=provenance.origin,
                frame_index=provenance.frame_index, reason=reason,
            )
        )
        out.n_failed += 1
    return out


def label_maker_for(config: LabellingConfig) -> LabelMaker:
    """The labelling maker of a campaign's ``labelling`` section (its registered reference)."""
    return REFERENCES.create(config.reference, max_force=config.max_force)
