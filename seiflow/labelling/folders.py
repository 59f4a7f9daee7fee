"""Labelling with an external DFT code: one folder per structure, run under custodian, then parsed.

VASP and CP2K share everything but writing/running (``run_one``) and parsing (``parse``): stored
structures are skipped, a run custodian cannot repair or an unreadable output is recorded as a
failure with its reason, and the round goes on. Each frame (or failure) keeps custodian's record of
its run in ``provenance.custodian``.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jobflow import Job, job

from seiflow.jobconfig import set_category
from seiflow.labelling.base import (
    LabelMaker,
    LabelOutput,
    pending,
    provenances_for,
    store_results,
)
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pymatgen.core import Structure

    from seiflow.labelling.handlers import RunOutcome
    from seiflow.labelling.md import ReferenceMDMaker
    from seiflow.schemas.campaign import ReferenceMDConfig


@dataclass
class FolderLabelMaker(LabelMaker):
    """Base of makers that label each structure in its own folder with an external code.

    A subclass has a ``preset`` field (whose :meth:`reference` names the code) and names its MD maker in
    ``md_maker_type``.
    """

    md_maker_type: ClassVar[type[ReferenceMDMaker]]  # the code's own NVT MD, sharing this Reference
    parse_errors: ClassVar[tuple[type[Exception], ...]] = (ValueError,)

    def make(
        self,
        structures: list[Structure],
        provenance: Provenance | list[Provenance] | dict | list[dict] | None = None,
    ) -> Job:
        """One job that labels each not-yet-labelled structure in its own folder and stores the frames."""
        provs = [p.model_dump(mode="json") for p in provenances_for(structures, provenance)]
        label_job = label_in_folders(self, list(structures), provs)
        label_job.name = self.name
        set_category(label_job, self.category)
        return label_job

    @classmethod
    def from_settings(cls, settings: BaseModel, **common: Any) -> FolderLabelMaker:
        """The maker of ``labelling.reference: {code: ..., preset: ...}`` (the settings resolve the preset)."""
        maker = super().from_settings(settings, **common)
        maker.preset = settings.resolved_preset()
        return maker

    @property
    def reference(self) -> Reference:
        """The code with the preset's settings (they enter every frame's hash)."""
        return self.preset.reference()

    def md_maker(self, temperature: float, md: ReferenceMDConfig, seed: int = 0) -> ReferenceMDMaker:
        """The code's own NVT MD with this preset, command and handlers; frames share this Reference."""
        return self.md_maker_type(
            preset=self.preset, temperature=temperature, steps=md.steps, timestep_fs=md.timestep_fs,
            sample_every=md.sample_every, max_force=self.max_force, energy_window=self.energy_window,
            **self.md_options(seed),
        )

    def run_fields(self, kind: type) -> dict[str, Any]:
        """The values of the dataclass ``kind``'s fields on this maker (how the code runs), for its MD maker."""
        return {f.name: getattr(self, f.name) for f in fields(kind)}

    @abstractmethod
    def md_options(self, seed: int) -> dict[str, Any]:
        """The MD maker's code-specific fields (command, handlers, custodian budget, seed...)."""

    @abstractmethod
    def run_one(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write the inputs for ``structure`` in ``directory`` and run the code there."""

    @abstractmethod
    def parse(
        self, directory: Path, structure: Structure, reference: Reference, provenance: Provenance
    ) -> LabelledFrame:
        """The labelled frame of a finished run in ``directory``."""


@job(output_schema=LabelOutput)
def label_in_folders(
    maker: FolderLabelMaker, structures: list[Structure], provenances: list[dict[str, Any]]
) -> LabelOutput:
    """Label ``structures`` with ``maker``'s code (skipping stored ones); failures are recorded, not raised."""
    from seiflow.dataset.frames import FrameStore

    store = FrameStore()
    reference = maker.reference
    provs = [Provenance.model_validate(p) for p in provenances]
    todo, done = pending(structures, reference, store, provs)
    frames: list[LabelledFrame] = []
    failures: list[tuple[Any, Provenance, str]] = []
    code = reference.calculator
    for i in todo:
        run_dir = Path.cwd() / f"{code}_{i:04d}"
        outcome = maker.run_one(structures[i], run_dir)
        prov = provs[i].model_copy(update={"custodian": outcome.custodian})  # kept with the result
        if not outcome.ok:
            failures.append((structures[i], prov, outcome.reason or "unknown failure"))
            continue
        try:
            frames.append(maker.parse(run_dir, structures[i], reference, prov))
        except maker.parse_errors as exc:
            failures.append((structures[i], prov, f"unreadable {code.upper()} output: {exc}"))
    return store_results(store, reference, frames, failures, done, maker.max_force, maker.energy_window)
