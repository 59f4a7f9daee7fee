"""The campaign: what a user writes in ``workflows/<name>.yaml``. Unknown keys are errors.

Choices of swappable parts (the reference, selection filters and descriptor, convergence criteria) come
from the registries in :mod:`seiflow.registry`: each registered class brings its own settings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pymatgen.core import Composition, Element, Structure

from seiflow.errors import InputError
from seiflow.registry import (
    CALCULATORS,
    CRITERIA,
    DESCRIPTORS,
    FILTERS,
    MODEL_DESCRIPTORS,
    REFERENCES,
)
from seiflow.schemas.formats import IMPORT_FORMATS, guess_format
from seiflow.schemas.phases import (
    BULKS,
    MP_ID,
    PhaseSource,
    as_structure_dict,
    bundled_structure,
    check_ordered,
    read_structure_file,
)
from seiflow.schemas.pretrained import PretrainedModel


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


class SystemConfig(_Section):
    """The chemical system: element order shared by DeePMD, LAMMPS and the dataset."""

    type_map: list[str] = Field(..., min_length=1, description="Element symbols in model type order.")

    @field_validator("type_map")
    @classmethod
    def _known_elements(cls, value: list[str]) -> list[str]:
        for symbol in value:
            if not Element.is_valid_symbol(symbol):
                raise ValueError(f"unknown element {symbol!r}; use chemical symbols such as Li, In, Cl")
        if len(set(value)) != len(value):
            raise ValueError("type_map lists an element twice")
        return value


class InterfaceConfig(_Section):
    """A lattice-matched interface built with pymatgen's Zur-McGill ``CoherentInterfaceBuilder``, or a file.

    With ``file`` the interface is the user's ready-made structure (its normal along the third lattice
    vector) and the build settings below are not used.
    """

    file: str | None = Field(
        None, description="A ready-made interface structure file instead of the build (relative to the campaign)."
    )
    structure: dict[str, Any] | None = Field(
        None, description="Filled when the campaign is loaded from file: the structure itself (pymatgen dict)."
    )

    substrate: str = Field("Li", description="Bulk phase name of the substrate (the anode).")
    substrate_miller: tuple[int, int, int] = Field((1, 1, 0), description="Miller index of the substrate surface.")
    film: str = Field("Li3InCl6", description="Bulk phase name of the film (the electrolyte).")
    film_miller: tuple[int, int, int] = Field((0, 0, 1), description="Miller index of the film surface.")
    termination_species: str | None = Field(
        "Cl", description="Species of the film layer that faces the substrate; None: any."
    )
    substrate_layers: int = Field(6, ge=1, description="Substrate slab thickness in layers.")
    film_layers: int = Field(2, ge=1, description="Film slab thickness in layers.")
    gap: float = Field(2.0, gt=0, description="Substrate-film distance, Å.")
    vacuum: float = Field(0.0, ge=0, description="Vacuum above the film, Å; 0 = periodic sandwich.")
    max_area: float = Field(200.0, gt=0, description="Largest matched in-plane area, Å².")
    max_length_tol: float = Field(0.03, gt=0, description="ZSL lattice-vector length tolerance.")
    max_angle_tol: float = Field(0.01, gt=0, description="ZSL angle tolerance.")
    max_area_ratio_tol: float = Field(0.09, gt=0, description="ZSL area-ratio tolerance.")
    max_atoms: int = Field(400, ge=2, description="Atom budget: lowest-strain match within it.")
    max_strain: float = Field(0.02, gt=0, description="Largest accepted von Mises strain (fraction).")

    @field_validator("structure", mode="before")
    @classmethod
    def _as_dict(cls, value: Any) -> Any:
        return as_structure_dict(value)

    @model_validator(mode="after")
    def _read_file(self) -> InterfaceConfig:
        if self.file and self.structure is None:
            structure = read_structure_file(self.file)
            check_ordered(structure)
            self.structure = structure.as_dict()
        return self

    def from_file(self) -> Structure | None:
        """The user's ready-made interface, or None when it is built."""
        return Structure.from_dict(self.structure) if self.structure is not None else None


class PerturbConfig(_Section):
    """Perturbed copies of seed structures for exploration."""

    n_copies: int = Field(2, ge=0, description="Perturbed copies per seed.")
    cell_strain: float = Field(0.03, ge=0, lt=0.5, description="Max |strain| per cell component.")
    displacement: float = Field(0.05, ge=0, lt=1.0, description="Gaussian sigma of atom moves, Å.")
    seed: int = Field(0, description="Random seed: the same seed gives the same copies.")


class StructuresConfig(_Section):
    """Bulk phases and the interface the campaign starts from."""

    phases: dict[str, PhaseSource] = Field(
        default_factory=dict,
        description="Where each phase comes from, by the name the campaign uses: {file: path} (CIF, POSCAR, "
        "extxyz...), {bundled: name}, {mp_id: mp-...}, or that as a bare string. Bundled names need no entry.",
    )
    bulks: list[str] = Field(
        default_factory=lambda: ["Li", "Li3InCl6", "In", "LiCl"],
        description="Bulk phases (names from phases, or bundled) labelled by reference MD.",
    )
    relax: bool = Field(True, description="Relax bulks before matching (the interface depends on a).")
    relax_with: str | None = Field(
        None, description="Who relaxes them: None or 'reference' (the campaign's reference: a local "
        "calculator in-process, VASP through atomate2's RelaxMaker), or a local calculator's name.",
    )
    lattice_constants: dict[str, float] = Field(
        default_factory=dict, description="Fixed conventional a (Å) per phase, used instead of relaxing it."
    )
    interface: InterfaceConfig | None = Field(default_factory=InterfaceConfig)
    perturb: PerturbConfig = Field(default_factory=PerturbConfig)
    min_distance: float = Field(1.5, gt=0, description="Smallest allowed interatomic distance, Å.")

    def prepared(self) -> list[str]:
        """Phases prepared (relaxed) before the interface is built: the bulks and the interface's two."""
        names = list(self.bulks)
        if self.interface is not None and not self.interface.file:
            names += [self.interface.substrate, self.interface.film]
        return list(dict.fromkeys(names))

    def phase(self, name: str) -> Structure:
        """The structure of phase ``name``: from ``phases``, else the bundled one."""
        if name in self.phases:
            return self.phases[name].to_structure()
        return bundled_structure(name)

    def phase_source(self, name: str) -> str:
        """Where phase ``name`` comes from (``file:...``, ``bundled:...``, ``mp:...``; ``bundled`` by name alone)."""
        return self.phases[name].label() if name in self.phases else "bundled"


class ReferenceMDConfig(_Section):
    """Reference (AIMD or stand-in) NVT runs that seed the dataset."""

    temperatures: list[float] = Field(default_factory=lambda: [300.0, 600.0], description="K.")
    interface_temperatures: list[float] | None = Field(
        None, description="K, for the interface (the study: [300]); None: the same as temperatures."
    )
    steps: int = Field(40, ge=1, description="MD steps per structure and temperature.")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step, fs.")
    sample_every: int = Field(4, ge=1, description="Keep every n-th step as a labelled frame.")
    include_interface: bool = Field(True, description="Also run reference MD of the interface.")
    bulk_supercell_atoms: int = Field(60, ge=1, description="Bulks are repeated to at least this size.")


class InitialDataConfig(_Section):
    """Existing labelled frames (AIMD already run) imported, deduplicated, when the campaign starts."""

    path: str = Field(..., description="File, folder (deepmd/npy) or glob; relative to the campaign file.")
    fmt: Literal[tuple(IMPORT_FORMATS)] | None = Field(
        None, description="Import format; None: guessed from the file name (vasprun.xml, OUTCAR, *.xyz...)."
    )
    labelled_by: Literal["campaign", "other"] = Field(
        "campaign",
        description="campaign: labelled with the campaign's reference settings (trained on); "
        "other: another level of theory (stored, never trained on).",
    )

    def resolved_format(self) -> str:
        """``fmt``, or the format the path's name implies."""
        fmt = self.fmt or guess_format(self.path)
        if fmt is None:
            raise ValueError(f"cannot tell the format of {self.path!r}; set fmt: one of {', '.join(IMPORT_FORMATS)}")
        return fmt


class LabellingConfig(_Section):
    """Which reference labels frames, and how suspicious labels are flagged."""

    reference: REFERENCES.choice() = Field(
        "chgnet",
        description="Who labels frames: a code name, or {code: name, ...its settings} (see the choices below).",
    )
    md: ReferenceMDConfig = Field(default_factory=ReferenceMDConfig)
    max_force: float = Field(50.0, gt=0, description="Frames with max |F| above this (eV/Å) are flagged.")
    group_size: int = Field(
        1, ge=1, description="Candidates per labelling job (one firework each, run side by side)."
    )
    initial_data: list[InitialDataConfig] = Field(
        default_factory=list, description="Existing labelled frames imported at the start."
    )

    @model_validator(mode="after")
    def _initial_data_matches_the_reference(self) -> LabellingConfig:
        code = getattr(self.reference, "code", None)
        for i, entry in enumerate(self.initial_data):
            holds = IMPORT_FORMATS[entry.resolved_format()]
            if entry.labelled_by == "campaign" and holds not in ("imported", code):
                raise ValueError(
                    f"initial_data[{i}] ({entry.path}) holds {holds} labels but the reference is {code}: "
                    "set labelled_by: other (stored, never trained on), or use that reference"
                )
        return self


class LossConfig(_Section):
    """DeePMD ``ener`` loss prefactors."""

    start_pref_e: float = 0.02
    limit_pref_e: float = 1.0
    start_pref_f: float = 1000.0
    limit_pref_f: float = 1.0
    start_pref_v: float = 0.02
    limit_pref_v: float = 1.0


class DistillConfig(_Section):
    """A fast production model: a compressed se_e2_a student trained on frames the production model labels."""

    temperatures: list[float] | None = Field(
        None, description="K; the teacher's MD runs at each (default: exploration.temperatures).")
    steps: int = Field(2000, ge=1, description="Teacher MD steps per exploration seed and temperature.")
    sample_every: int = Field(10, ge=1, description="Steps between frames the teacher labels.")
    timestep_fs: float = Field(1.0, gt=0, description="Teacher MD time step, fs.")
    numb_steps: int = Field(4000, ge=1, description="Student training steps (from scratch).")
    compress: bool = Field(True, description="Compress the student (its table checked against the frames).")
    seed: int = Field(7, description="Velocity seed of the teacher MD; the student's training seed.")


class TrainingConfig(_Section):
    """The DeePMD ensemble."""

    backend: Literal["tensorflow", "pytorch"] = Field(
        "tensorflow", description="DeePMD-kit backend (TensorFlow is the CPU default here)."
    )
    numb_models: int = Field(4, ge=1, description="Ensemble size (different seeds).")
    descriptor: MODEL_DESCRIPTORS.choice() = Field(
        "se_e2_a", description="DeePMD descriptor: a type name, or {type: name, ...its settings} (choices below); "
        "rcut, rcut_smth, sel, descriptor_neurons and axis_neuron below are its radial settings.",
    )
    rcut: float = Field(6.0, gt=0, description="Cut-off radius, Å.")
    rcut_smth: float = Field(0.5, ge=0, description="Where the smoothing starts, Å.")
    sel: list[int] | Literal["auto"] = Field(
        "auto", description="Max neighbours per type, or auto (from the data)."
    )
    descriptor_neurons: list[int] = Field(default_factory=lambda: [10, 20, 40], description="Embedding net.")
    axis_neuron: int = Field(4, ge=1, description="Axis neurons of se_e2_a.")
    fitting_neurons: list[int] = Field(default_factory=lambda: [60, 60, 60], description="Fitting net.")
    numb_steps: int = Field(2000, ge=1, description="Training steps in round 1.")
    numb_steps_next: int = Field(1000, ge=1, description="Steps for rounds after the first.")
    final_numb_steps: int | None = Field(
        None, ge=1, description="After convergence, one production model trained this long on all labels; None: none."
    )
    final_init: Literal["best_member", "scratch"] = Field(
        "best_member", description="Where the production model starts: the converged round's member of lowest "
        "force RMSE on the fixed validation set (on its dp test split without one) (init_frz_model, resume_start_lr and resume_loss; it then sees the last round's "
        "labels too), or from scratch (then final_numb_steps must exceed the members' summed steps to beat them).",
    )
    next_round_init: Literal["init_frz_model", "restart", "scratch"] = Field(
        "init_frz_model", description="How later rounds start: from the last frozen model, its checkpoint, or anew."
    )
    start_lr: float = Field(1e-3, gt=0, description="Initial learning rate.")
    resume_start_lr: float | None = Field(
        1e-4, gt=0, description="Initial learning rate of a round started from the last frozen model "
        "(init_frz_model), with the resume prefactors; None: start_lr and loss (DP-GEN's training_reuse_*).",
    )
    resume_loss: LossConfig = Field(
        default_factory=lambda: LossConfig(start_pref_e=0.1, start_pref_f=100.0),
        description="Loss prefactors of a round started from the last frozen model (DP-GEN's defaults).",
    )
    stop_lr: float = Field(3.5e-8, gt=0, description="Final learning rate.")
    decay_steps: int = Field(500, ge=1, description="Learning-rate decay interval, steps.")
    loss: LossConfig = Field(default_factory=LossConfig)
    validation_fraction: float = Field(0.1, ge=0, lt=1, description="Held out for dp test.")
    compress: bool = Field(True, description="Compress frozen models (faster LAMMPS).")
    seed: int = Field(1, description="Seed of model 0; model i uses seed + i.")
    finetune: PretrainedModel | None = Field(
        None, description="Start round 1 (and a production model from scratch) from this pretrained checkpoint "
        "(dp train --finetune); its architecture replaces descriptor and fitting settings, DeePMD re-fits the "
        "energy bias on the campaign's data. Later rounds start from the last models as next_round_init says.")

    distill: DistillConfig | None = Field(
        None, description="After convergence, also distil the production model (the teacher) into a compressed "
        "se_e2_a student trained on frames it labels (DP-GEN2's dp-dist); both are validated on the fixed set.")

    @model_validator(mode="after")
    def _distil_needs_a_teacher(self) -> TrainingConfig:
        if self.distill is not None and not self.final_numb_steps:
            raise ValueError("distill needs the production model as its teacher: set training.final_numb_steps")
        return self

    @model_validator(mode="after")
    def _pretrained_fits_backend(self) -> TrainingConfig:
        if self.finetune is None:
            return self
        self.finetune.inspect()
        if self.finetune.backend != self.backend:
            raise ValueError(f"finetune.model {Path(self.finetune.model).name} is a {self.finetune.backend} "
                             f"checkpoint but training.backend is {self.backend}: set training.backend: "
                             f"{self.finetune.backend}")
        if self.compress and self.finetune.descriptor != "se_e2_a":
            raise ValueError(f"compress: true, but the pretrained model's descriptor {self.finetune.descriptor} "
                             "is not compressed here: set training.compress: false")
        return self

    @model_validator(mode="after")
    def _descriptor_fits_backend_and_compression(self) -> TrainingConfig:
        kind = self.descriptor.type
        if self.backend not in type(self.descriptor).backends:
            raise ValueError(
                f"descriptor {kind} trains only with backend {' or '.join(type(self.descriptor).backends)} "
                f"(backend is {self.backend}): set training.backend: pytorch, or use se_e2_a or se_atten"
            )
        why = self.descriptor.compressible(self.backend)
        if self.compress and why:
            raise ValueError(f"compress: true, but {why}: set training.compress: false (or change the descriptor)")
        return self

    def for_production_model(self, steps: int, from_model: bool) -> TrainingConfig:
        """The production model's settings: ``steps`` on every label (nothing held out), from a model or scratch."""
        return self.model_copy(update={
            "numb_steps": steps, "numb_steps_next": steps, "decay_steps": max(1, steps // 200),
            "next_round_init": "init_frz_model" if from_model else "scratch", "validation_fraction": 0.0,
        })


class ExplorationConfig(_Section):
    """LAMMPS runs with the ensemble that look for configurations the models disagree on."""

    ensembles: list[Literal["nvt", "npt"]] = Field(default_factory=lambda: ["nvt"], description="MD ensembles.")
    temperatures: list[float] = Field(default_factory=lambda: [300.0, 600.0], description="K.")
    pressures: list[float] = Field(default_factory=lambda: [1.0], description="bar, NPT only")
    nsteps: int = Field(2000, ge=1, description="LAMMPS steps per task in round 1.")
    nsteps_growth: float = Field(1.5, ge=1.0, description="nsteps multiplier per round.")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step, fs.")
    out_freq: int = Field(20, ge=1, description="Deviation and dump interval, steps.")
    max_temperature_factor: float = Field(
        5.0, gt=1, description="MD health: a run hotter than this x its thermostat's temperature has blown up "
        "(its frames from then on are dropped, counted as failed); the demo's reacting 116-atom interface "
        "reaches ~3x at 300 K with healthy models.",
    )
    seeds: list[str] = Field(
        default_factory=lambda: ["interface"],
        description="'interface', bulk names, or 'perturbed' for perturbed copies.",
    )
    adaptive: bool = Field(
        False, description="Lengthen runs when a round finds few candidates, shorten when many (ArcaNN)."
    )
    max_scale: float = Field(16.0, ge=1, description="Largest adaptive length multiplier.")
    adaptive_temperatures: bool = Field(
        False, description="Start at the first of temperatures; add the next when a round finds few candidates, "
        "drop the last added when it finds many; converged only once all are explored.",
    )


class CalibrationConfig(_Section):
    """Trust levels in true-error units: fitted each round from deviation against true error."""

    f_error_lo: float = Field(0.1, gt=0, description="eV/Å: a frame is accurate when its error bound is below.")
    f_error_hi: float = Field(
        0.6, gt=0, description="eV/Å: above this error bound a frame is failed (never below f_trust_hi)."
    )
    e_error_lo: float | None = Field(
        None, gt=0, description="meV/atom: if set, the energy deviation level is fitted too (energy error of "
        "the ensemble mean against the label); exploration then computes each frame's energy deviation.",
    )
    v_error_lo: float | None = Field(
        None, gt=0, description="MPa: if set, the virial deviation level is fitted too (max stress-component "
        "error of the ensemble mean against the label).",
    )
    quantile: float = Field(0.9, gt=0.5, lt=1, description="Error quantile the bound holds at.")
    min_pairs: int = Field(20, ge=3, description="Pairs needed before the fit sets the levels.")
    min_spearman: float = Field(0.3, ge=-1, le=1, description="Rank correlation needed to trust the fit.")
    per_round_offset: bool = Field(
        True, description="true: one slope over every round's pairs, each round its own offset, the level from "
        "the newest ensemble's (a later ensemble errs less at the same deviation); false: one line through every "
        "pair, early rounds weighing as much as the last.")
    min_round_pairs: int = Field(
        10, ge=3, description="Pairs the newest offset is fitted on: the rounds before the last join it until "
        "there are this many.")

    @model_validator(mode="after")
    def _ordered(self) -> CalibrationConfig:
        if self.f_error_hi <= self.f_error_lo:
            raise ValueError("f_error_hi must be greater than f_error_lo")
        return self


class SelectionConfig(_Section):
    """Model-deviation trust levels and candidate picking."""

    f_trust_lo: float = Field(0.10, ge=0, description="eV/Å; below: accurate.")
    f_trust_hi: float = Field(0.30, gt=0, description="eV/Å; above: failed.")
    relative: float | None = Field(None, gt=0, description="Relative force deviation level, if set.")
    e_trust_lo: float | None = Field(None, ge=0, description="eV/atom energy deviation levels.")
    e_trust_hi: float | None = Field(None, gt=0, description="Upper energy deviation level.")
    v_trust_lo: float | None = Field(None, ge=0, description="eV/atom virial deviation levels.")
    v_trust_hi: float | None = Field(None, gt=0, description="Upper virial deviation level.")
    max_candidates: int = Field(50, ge=1, description="Per-round cap on frames sent to labelling.")
    filters: FILTERS.mapping() = Field(
        default_factory=lambda: {"min_distance": {}, "box_skew": {}, "box_length": {}},
        description="Geometry filters candidates must pass, {name: {settings}} (choices below).",
    )
    fps: bool = Field(True, description="Farthest-point sampling on descriptors among candidates.")
    descriptor: DESCRIPTORS.choice() | None = Field(
        "deepmd", description="FPS descriptor: deepmd (the round's model) or distance_histogram."
    )
    adaptive_lower: bool = Field(False, description="Lower the force level adaptively (DP-GEN2).")
    adaptive_rate: float = Field(
        0.05, gt=0, le=1, description="Adaptive lower level: fraction of frames made candidates."
    )
    calibration: CalibrationConfig | None = Field(
        None, description="Set the force levels from deviation vs true error on labelled frames (each round)."
    )
    n_sanity: int = Field(
        0, ge=0, description="Random explored frames the ensemble calls accurate (else its lowest-deviation "
        "frames) labelled per round to check its claim (sanity labels).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> SelectionConfig:
        if self.f_trust_hi <= self.f_trust_lo:
            raise ValueError("f_trust_hi must be greater than f_trust_lo")
        for q in ("e", "v"):
            lo, hi = getattr(self, f"{q}_trust_lo"), getattr(self, f"{q}_trust_hi")
            if hi is not None and lo is None:
                raise ValueError(f"{q}_trust_hi is set without {q}_trust_lo; set both, or neither")
            if None not in (lo, hi) and hi <= lo:
                raise ValueError(f"{q}_trust_hi must be greater than {q}_trust_lo")
        return self


class ValidationConfig(_Section):
    """The fixed validation set: reference MD never trained on, and like-for-like NNP MD against it.

    Labelled once at the start by the campaign's reference, with its own velocity seed, stored with
    provenance source ``validation``; every model of every round is tested on it, and NNP MD from the
    same start structures, at the same temperatures, for the same length and sampling, is compared with it.
    """

    enabled: bool = Field(True, description="Build the validation set and test every round on it.")
    temperatures: list[float] = Field(default_factory=lambda: [300.0], description="K (the study: 300 K).")
    steps: int = Field(40, ge=1, description="Reference MD steps per structure and temperature.")
    sample_every: int = Field(4, ge=1, description="Every n-th step is a validation frame.")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step, fs.")
    seed: int = Field(1000, description="Velocity seed (differs from the training MD's).")
    structures: list[str] | None = Field(
        None, description="'interface' and bulk names; None: the interface and every bulk."
    )
    dynamics: list[str] = Field(
        default_factory=lambda: ["interface"],
        description="Structures whose NNP MD is compared with the reference trajectory (RDFs, mechanism).",
    )
    dynamics_every_round: bool = Field(
        True, description="Compare dynamics after every round (always done at the close)."
    )

    def md(self) -> ReferenceMDConfig:
        """These settings as a reference-MD section (for the labelling makers)."""
        return ReferenceMDConfig(temperatures=self.temperatures, steps=self.steps,
                                 timestep_fs=self.timestep_fs, sample_every=self.sample_every)


class TestSetConfig(_Section):
    """The independent test set: reference MD that reports the campaign's accuracy and that no decision reads.

    Labelled once at the start with its own velocity seed (provenance source ``test``), never trained on.
    The validation set decides (stopping, the production model's start, the compression range); this set
    only reports: the closing analysis tests the campaign's models on its frames and runs NNP MD against
    its trajectory, and the report's verdict takes its figures from there. By default it repeats the
    validation MD four times longer with the same number of frames, so that the interface reaction runs
    further than the validation window.
    """

    __test__ = False  # not a pytest class

    enabled: bool = Field(True, description="Build the test set and report the verdict on it.")
    temperatures: list[float] | None = Field(None, description="K; None: the validation set's.")
    steps: int | None = Field(None, ge=1, description="Reference MD steps; None: 4x the validation set's.")
    sample_every: int | None = Field(
        None, ge=1, description="Every n-th step is a test frame; None: 4x the validation set's (as many frames)."
    )
    timestep_fs: float | None = Field(None, gt=0, description="MD time step, fs; None: the validation set's.")
    seed: int = Field(2000, description="Velocity seed (differs from the training and validation MD's).")
    structures: list[str] | None = Field(None, description="Structure names; None: the validation set's.")
    dynamics: list[str] | None = Field(
        None, description="Structures whose NNP MD is compared with the test trajectory; None: the validation set's."
    )

    def settings(self, validation: ValidationConfig) -> ValidationConfig:
        """The test MD's settings in full, each unset one derived from ``validation``."""
        return ValidationConfig(
            enabled=self.enabled,
            temperatures=self.temperatures if self.temperatures is not None else validation.temperatures,
            steps=self.steps if self.steps is not None else 4 * validation.steps,
            sample_every=self.sample_every if self.sample_every is not None else 4 * validation.sample_every,
            timestep_fs=self.timestep_fs if self.timestep_fs is not None else validation.timestep_fs,
            seed=self.seed,
            structures=self.structures if self.structures is not None else validation.structures,
            dynamics=self.dynamics if self.dynamics is not None else validation.dynamics,
        )


class ConvergenceConfig(_Section):
    """When the campaign stops."""

    criteria: CRITERIA.mapping() = Field(
        default_factory=lambda: {"accurate_ratio": {}},
        description="Criteria that must all hold, {name: {settings}} (choices below).",
    )
    max_rounds: int = Field(5, ge=1, description="Round cap (stops as not converged).")


def split_pair(key: str) -> tuple[str, str]:
    """``'In-Cl'`` -> ``('In', 'Cl')``; ValueError unless it is two element symbols joined by '-'."""
    parts = key.split("-")
    if len(parts) != 2 or not all(Element.is_valid_symbol(p) for p in parts):
        raise ValueError(f"{key!r} is not an element pair; write it as A-B, e.g. In-Cl")
    return parts[0], parts[1]


class ChemistryConfig(_Section):
    """Which phase is which in the reaction the analysis looks for; every analysis reads its species here.

    The anode's elements are the mobile ion (Li); the electrolyte's other cations are the ones it may
    reduce, each measured against its anion coordination in the pristine electrolyte bulk; the products
    are the bulk phases the reaction is expected to form (the study: In and LiCl), matched atom by atom
    by their coordination; products made only of metals are the metallic phase whose clusters and
    percolation are reported.
    """

    anode: str | None = Field(None, description="Phase name of the anode; None: structures.interface.substrate.")
    electrolyte: str | None = Field(
        None, description="Phase name of the electrolyte; None: structures.interface.film."
    )
    products: list[str] = Field(
        default_factory=list, description="Phase names of the expected reaction products (e.g. In, LiCl)."
    )
    anions: list[str] | None = Field(
        None, description="The electrolyte's anions; None: from its oxidation states (pymatgen's guess)."
    )
    cutoffs: dict[str, float] = Field(
        default_factory=dict, description="Bond cutoffs, Å, by pair ('In-Cl': 3.1); others come from the "
        "phases: 1.2 x the longest first-shell distance of the pair in the phases where it is a first-shell bond.",
    )
    reduced_fraction: float = Field(
        2.0 / 3.0, gt=0, lt=1, description="A cation is reduced, and an atom matches a product, below / at "
        "this fraction of its coordination in the pristine bulk (rounded): 6 Cl around In -> reduced below 4.",
    )
    rdf_pairs: list[str] | None = Field(
        None, description="Partial RDF pairs ('Li-Cl'); None: every pair of system.type_map."
    )

    @field_validator("cutoffs")
    @classmethod
    def _pairs_and_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for key, cutoff in value.items():
            split_pair(key)
            if not cutoff > 0:
                raise ValueError(f"cutoff {key} must be positive, got {cutoff}")
        return value

    @field_validator("rdf_pairs")
    @classmethod
    def _rdf_pairs(cls, value: list[str] | None) -> list[str] | None:
        for key in value or []:
            split_pair(key)
        return value


class WatchConfig(_Section):
    """The production run's extrapolation watch: the ensemble's force deviation on the production cell."""

    enabled: bool = Field(True, description="Compute the converged ensemble's deviation beside the production model.")
    every: int = Field(100, ge=1, description="Steps between deviation checks (LAMMPS out_freq); dump_every must "
                       "be a multiple, so every dumped frame is checked.")
    f_level: float | None = Field(
        None, gt=0, description="eV/Å: a checked step is uncertain above this max-atom force deviation; None: "
        "the campaign's failed level (the last round's f_trust_hi, calibrated when the calibration set it).")
    max_fraction: float = Field(
        0.1, gt=0, le=1, description="A segment whose share of uncertain checked steps exceeds this stops the "
        "run (state uncertain) instead of starting the next segment.")
    max_located: int = Field(
        5, ge=0, description="Uncertain dumped frames per segment whose atoms beyond the level are located "
        "(index, element, position; the ensemble evaluated per atom).")


class LearningConfig(_Section):
    """Learning from the production run: an uncertain stop becomes an active-learning round, then the run resumes.

    Around the located uncertain atoms, boxes are carved (``seiflow/production/carve.py``), filtered and
    FPS-selected like explored frames, labelled by the campaign's reference, trained on (forces of each
    box's core only), checked on the fixed validation set, and the uncertain segment runs again from the
    last restart with the new models.
    """

    enabled: bool = Field(True, description="Learn from an uncertain stop (false: the run just stops uncertain).")
    max_rounds: int = Field(3, ge=1, description="Learning rounds per production run; after them an uncertain "
                            "stop stays a stop.")
    max_cells: int = Field(8, ge=1, description="Carved boxes labelled per learning round (FPS among the carved).")
    core_a: float = Field(1.5, gt=0, description="Half-width of each box's core cube around an uncertain atom, Å: "
                          "uncertain atoms inside it share the box; only core atoms enter the force loss.")
    buffer_a: float = Field(
        2.0, ge=0, description="Å beyond the core plus the model's cut-off: the reference's reach past the model's "
        "(0 for a reference as short-ranged as the model; a few Å for DFT; tests/production/test_carve.py "
        "measures CHGNet's). Box edge = 2 x (core_a + training.rcut + buffer_a).")
    max_atoms: int = Field(600, ge=2, description="A carved box holding more atoms is not labelled (too big for "
                           "the reference): shorten buffer_a or core_a.")
    numb_steps: int | None = Field(None, ge=1, description="Steps each ensemble member trains on from its last "
                                   "model; None: training.numb_steps_next.")
    final_numb_steps: int | None = Field(None, ge=1, description="Steps the production model trains on from itself; "
                                         "None: training.final_numb_steps.")
    max_validation_increase: float = Field(
        0.05, ge=0, description="The new production model's force RMSE on the fixed validation set may exceed the "
        "old one's (measured in the same job) by at most this fraction, else the run stays uncertain.")


class ProductionConfig(_Section):
    """The production run: the cell, its length in queue-sized segments, and the watch for extrapolation."""

    atoms: int = Field(10_000, ge=1, description="Atoms in the production cell (the interface repeated in-plane to "
                       "come closest, unless structure names a phase).")
    length_ns: float = Field(1.0, gt=0, description="Simulated time, ns.")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step, fs.")
    structure: str | None = Field(
        None, description="A phase (structures.phases, e.g. a file with a ready-made large cell, or a bundled "
        "name) to repeat in-plane instead of the interface.")
    temperature: float = Field(300.0, gt=0, description="NVT temperature, K (Nosé-Hoover).")
    tdamp_fs: float = Field(100.0, gt=0, description="Thermostat damping time, fs.")
    segment_ps: float = Field(100.0, gt=0, description="Simulated time per queue job, ps: size it so one "
                              "segment fits the batch wall time at the measured speed.")
    dump_every: int = Field(10_000, ge=1, description="Steps between stored frames (each is analysed).")
    thermo_every: int = Field(1_000, ge=1, description="Steps between thermo lines (MD health reads them).")
    velocity_seed: int = Field(12345, ge=1, description="Seed of the initial velocities.")
    max_temperature_factor: float = Field(
        5.0, gt=1, description="MD health: a segment hotter than this x temperature (or NaN, lost atoms) fails.")
    start: Literal["manual", "auto"] = Field(
        "manual", description="manual: `seiflow produce CAMPAIGN` starts it; auto: it starts after the closing "
        "analysis of a converged campaign.")
    watch: WatchConfig = Field(default_factory=WatchConfig)
    learning: LearningConfig = Field(default_factory=LearningConfig)

    @property
    def steps(self) -> int:
        """MD steps of the whole run."""
        return int(round(self.length_ns * 1e6 / self.timestep_fs))

    @property
    def segment_steps(self) -> int:
        """MD steps per segment (the last one may be shorter)."""
        return max(1, int(round(self.segment_ps * 1e3 / self.timestep_fs)))

    @model_validator(mode="after")
    def _watch_sees_every_frame(self) -> ProductionConfig:
        if self.watch.enabled and self.dump_every % self.watch.every:
            raise ValueError(f"production.dump_every {self.dump_every} is not a multiple of production.watch.every "
                             f"{self.watch.every}: set dump_every to a multiple so every stored frame is checked")
        return self


INTERFACE_SYSTEM = "interface"  # properties.diffusion.systems: the campaign's interface, its regions apart


class DiffusionConfig(_Section):
    """The mobile ion's diffusivity by NVT MD with the production model at several temperatures.

    Each system (a phase, or ``interface``: its anode, reacted and electrolyte regions apart) runs at every
    temperature with the production model and, with ``committee``, with each member of the converged
    ensemble: the members' spread gives the error bars of D and of the Arrhenius fit. ``size_check_atoms``
    runs the production model once more in a second, larger cell at every temperature (finite-size check).
    """

    enabled: bool = Field(True, description="Run the diffusion MD when the properties stage runs.")
    species: str | None = Field(None, description="The diffusing element (default: the mobile ion, the anode's).")
    temperatures: list[float] = Field(
        [600.0, 700.0, 800.0, 900.0], min_length=2, description="NVT temperatures, K (at least two: the "
        "Arrhenius fit).")
    systems: list[str] | None = Field(
        None, description="Phases (structures.phases or bundled names) holding the mobile ion, and/or "
        "'interface'; None: the electrolyte, each product holding the mobile ion, and the interface if built.")
    atoms: int = Field(500, ge=2, description="Atoms in each system's cell (a phase repeated near-cubic; the "
                       "interface repeated in-plane or scaled up as for production).")
    size_check_atoms: int | None = Field(
        1000, ge=2, description="Atoms of the second cell of the size check (production model, every "
        "temperature); None: no check.")
    length_ps: float = Field(50.0, gt=0, description="Sampled MD per run, ps (after equilibration).")
    equilibrate_ps: float = Field(5.0, ge=0, description="NVT equilibration before sampling, ps.")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step, fs.")
    tdamp_fs: float = Field(100.0, gt=0, description="Thermostat damping time, fs.")
    dump_every: int = Field(100, ge=1, description="Steps between frames of the MSD.")
    committee: bool = Field(True, description="Also run every ensemble member: D and Ea error bars from their "
                            "spread (else from the fits alone).")
    velocity_seed: int = Field(4242, ge=1, description="Seed of the initial velocities (the same for every model).")
    max_temperature_factor: float = Field(
        3.0, gt=1, description="MD health: a run hotter than this x its temperature (or NaN, lost atoms) fails "
        "and gives no D.")

    @property
    def steps(self) -> int:
        """Sampled MD steps per run."""
        return max(1, int(round(self.length_ps * 1e3 / self.timestep_fs)))

    @property
    def equilibrate_steps(self) -> int:
        """Equilibration steps per run."""
        return int(round(self.equilibrate_ps * 1e3 / self.timestep_fs))

    @model_validator(mode="after")
    def _enough_frames(self) -> DiffusionConfig:
        if self.steps // self.dump_every < 8:
            raise ValueError(f"properties.diffusion: length_ps {self.length_ps} at timestep_fs {self.timestep_fs} "
                             f"gives {self.steps // self.dump_every} frames every {self.dump_every} steps; an MSD "
                             f"fit needs at least 8: lengthen the run or lower dump_every")
        if self.size_check_atoms is not None and self.size_check_atoms <= self.atoms:
            raise ValueError(f"properties.diffusion.size_check_atoms {self.size_check_atoms} is not larger than "
                             f"atoms {self.atoms}: give a larger second cell, or null for no check")
        return self


class ElasticConfig(_Section):
    """Elastic constants from stress-strain fits with the production model (an ASE calculator)."""

    enabled: bool = Field(True, description="Compute elastic constants when the properties stage runs.")
    phases: list[str] | None = Field(
        None, description="Bulk phases (structures.phases or bundled names); None: the anode, the electrolyte "
        "and the products.")
    sei_frame: Literal["production", "interface", "none"] = Field(
        "production", description="Also the SEI: production = the newest production run's last frame (it must "
        "exist), interface = the built interface cell, none = bulks only.")
    strain: float = Field(0.01, ge=1e-4, le=0.05, description="Strain of each +/- deformation (central differences).")
    relax_ions: bool = Field(True, description="Relax the ions in each strained cell (relaxed-ion constants).")
    fmax: float = Field(0.05, gt=0, description="Ionic relaxation force limit, eV/Å.")


class PropertiesConfig(_Section):
    """Transport and mechanics of the converged model: ``seiflow properties CAMPAIGN`` (or start: auto)."""

    start: Literal["manual", "auto"] = Field(
        "manual", description="manual: `seiflow properties CAMPAIGN` runs it; auto: after the closing analysis "
        "of a converged campaign.")
    diffusion: DiffusionConfig = Field(default_factory=DiffusionConfig)
    elastic: ElasticConfig = Field(default_factory=ElasticConfig)

    @model_validator(mode="after")
    def _auto_has_its_frame(self) -> PropertiesConfig:
        if self.start == "auto" and self.elastic.enabled and self.elastic.sei_frame == "production":
            raise ValueError("properties.start: auto runs right after convergence, before any production frame "
                             "exists: set properties.elastic.sei_frame to interface or none, or start the stage by "
                             "hand (seiflow properties) once production has run")
        return self


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Campaign(_Section):
    """A whole active-learning campaign."""

    name: str = Field(..., description="Campaign name (letters, digits, _ - .); unique in the store.")
    description: str = Field("", description="Free text.")
    system: SystemConfig
    structures: StructuresConfig = Field(default_factory=StructuresConfig)
    labelling: LabellingConfig = Field(default_factory=LabellingConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    exploration: ExplorationConfig = Field(default_factory=ExplorationConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    test_set: TestSetConfig = Field(default_factory=TestSetConfig)
    convergence: ConvergenceConfig = Field(default_factory=ConvergenceConfig)
    chemistry: ChemistryConfig = Field(default_factory=ChemistryConfig)
    production: ProductionConfig = Field(default_factory=ProductionConfig)
    properties: PropertiesConfig = Field(default_factory=PropertiesConfig)

    def anode(self) -> str | None:
        """The anode's phase name: ``chemistry.anode``, else the built interface's substrate."""
        iface = self.structures.interface
        return self.chemistry.anode or (iface.substrate if iface is not None and not iface.file else None)

    def electrolyte(self) -> str | None:
        """The electrolyte's phase name: ``chemistry.electrolyte``, else the built interface's film."""
        iface = self.structures.interface
        return self.chemistry.electrolyte or (iface.film if iface is not None and not iface.file else None)

    def phase_names(self) -> dict[str, str]:
        """Every phase name the campaign uses, by where it is named (for error messages)."""
        names = {f"structures.bulks: {n}": n for n in self.structures.bulks}
        iface = self.structures.interface
        if iface is not None and not iface.file:
            names[f"structures.interface.substrate: {iface.substrate}"] = iface.substrate
            names[f"structures.interface.film: {iface.film}"] = iface.film
        chem = self.chemistry
        for field in ("anode", "electrolyte"):
            if getattr(chem, field):
                names[f"chemistry.{field}: {getattr(chem, field)}"] = getattr(chem, field)
        names.update({f"chemistry.products: {n}": n for n in chem.products})
        if self.production.structure is not None:
            names[f"production.structure: {self.production.structure}"] = self.production.structure
        for name in self.properties.diffusion.systems or []:
            if name != INTERFACE_SYSTEM:
                names[f"properties.diffusion.systems: {name}"] = name
        names.update({f"properties.elastic.phases: {n}": n for n in self.properties.elastic.phases or []})
        return names

    @model_validator(mode="after")
    def _phases_known_and_typed(self) -> Campaign:
        """Every phase the campaign uses is given or bundled, and its elements are in ``system.type_map``."""
        type_map = set(self.system.type_map)
        for where, name in self.phase_names().items():
            if name in self.structures.phases:
                elements = {el.symbol for el in self.structures.phases[name].to_structure().composition}
            elif name in BULKS:
                elements = {el.symbol for el in Composition(BULKS[name].formula)}
            else:
                raise ValueError(
                    f"{where} is not a known phase: add it under structures.phases (a file, a bundled name or a "
                    f"Materials Project id), or use a bundled one ({', '.join(BULKS)})"
                )
            missing = sorted(elements - type_map)
            if missing:
                raise ValueError(
                    f"system.type_map {self.system.type_map} lacks {', '.join(missing)} needed by {where}"
                )
        iface = self.structures.interface
        if iface is not None and iface.file:
            missing = sorted({el.symbol for el in iface.from_file().composition} - type_map)
            if missing:
                raise ValueError(f"system.type_map {self.system.type_map} lacks {', '.join(missing)} needed by "
                                 f"structures.interface.file: {iface.file}")
        for key in [*self.chemistry.cutoffs, *(self.chemistry.rdf_pairs or [])]:
            unknown = sorted(set(split_pair(key)) - type_map)
            if unknown:
                raise ValueError(f"chemistry: pair {key} names {', '.join(unknown)}, not in system.type_map")
        species = self.properties.diffusion.species
        if species is not None and species not in type_map:
            raise ValueError(f"properties.diffusion.species {species} is not in system.type_map {self.system.type_map}")
        pretrained = self.training.finetune
        if pretrained is not None and (missing := [t for t in self.system.type_map if t not in pretrained.type_map]):
            raise ValueError(f"system.type_map {self.system.type_map} has {', '.join(missing)}, which the pretrained "
                             f"model's type_map {pretrained.type_map} lacks: fine-tune from a model that knows "
                             "every element of the campaign")
        return self

    @model_validator(mode="after")
    def _test_set_independent(self) -> Campaign:
        """The test MD's velocity seed differs from the validation MD's and the training MD's."""
        if self.test_set.enabled:
            if self.validation.enabled and self.test_set.seed == self.validation.seed:
                raise ValueError(f"test_set.seed {self.test_set.seed} equals validation.seed: the test set would "
                                 "repeat the validation MD; give test_set.seed another value")
            if self.test_set.seed == 0:
                raise ValueError("test_set.seed 0 is the training MD's seed; give test_set.seed another value")
        return self

    @model_validator(mode="after")
    def _someone_relaxes(self) -> Campaign:
        """``structures.relax`` needs a reference that relaxes cells, or a named local calculator."""
        s = self.structures
        if not s.relax:
            return self
        if s.relax_with not in (None, "reference"):
            if s.relax_with not in CALCULATORS:
                raise ValueError(f"structures.relax_with {s.relax_with!r} is not 'reference' or a local "
                                 f"calculator ({', '.join(CALCULATORS.names())})")
            return self
        code = self.labelling.reference.code
        if not getattr(REFERENCES.get(code), "can_relax", True):
            raise ValueError(f"structures.relax: {code} does not relax cells in seiflow; name a local "
                             "calculator (relax_with: chgnet), give lattice_constants, or set relax: false")
        return self

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return value


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(x) for x in item["loc"]) or "campaign"
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key"
        elif item["type"] == "literal_error":
            msg = f"{msg} (got {item.get('input')!r})"
        elif item["type"] == "union_tag_invalid":
            expected = item["ctx"]["expected_tags"].replace("'", "").split(", ")
            msg = (f"Input should be {' or '.join(', '.join(repr(x) for x in expected).rsplit(', ', 1))} "
                   f"(got {item['ctx']['tag']!r})")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def campaign_from_dict(data: object, source: str = "campaign") -> Campaign:
    """Validate a campaign mapping; errors name each bad field and what it allows."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a campaign must be a YAML mapping", "start from workflows/*.yaml")
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {_describe(exc)}", "see docs in workflows/README.md") from None


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign YAML file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"campaign file {path} does not exist", "give the path of a workflows/*.yaml file")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path} is not valid YAML: {first}", "fix the YAML syntax") from None
    if isinstance(data, dict):
        _resolve_paths(data, path.parent)
    return campaign_from_dict(data, str(path))


def _resolve_paths(data: dict, base: Path) -> None:
    """Make file paths absolute, relative to the campaign file's folder.

    Those of ``labelling.initial_data``, ``structures.phases`` (files only: a bare string that is a bundled
    name or a Materials Project id stays as it is), ``structures.interface.file`` and
    ``training.finetune.model``.
    """
    def resolve(path: str) -> str:
        return str((base / Path(path).expanduser()).resolve())

    structures = data.get("structures")
    if isinstance(structures, dict):
        phases = structures.get("phases")
        for name, source in (phases.items() if isinstance(phases, dict) else []):
            if isinstance(source, str) and source not in BULKS and not MP_ID.match(source):
                phases[name] = resolve(source)
            elif isinstance(source, dict) and isinstance(source.get("file"), str):
                source["file"] = resolve(source["file"])
        iface = structures.get("interface")
        if isinstance(iface, dict) and isinstance(iface.get("file"), str):
            iface["file"] = resolve(iface["file"])
    training = data.get("training")
    finetune = training.get("finetune") if isinstance(training, dict) else None
    if isinstance(finetune, dict) and isinstance(finetune.get("model"), str):
        finetune["model"] = resolve(finetune["model"])
    labelling = data.get("labelling")
    entries = labelling.get("initial_data") if isinstance(labelling, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            entry["path"] = str((base / Path(entry["path"]).expanduser()).resolve())
