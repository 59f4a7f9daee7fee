"""Typed documents of the properties stage: diffusion runs, Arrhenius fits and elastic constants.

One collection (``properties``), a ``kind`` per document: the stage (what was asked, with which models), one
``diffusion_run`` per (system, cell size, temperature, model), one ``arrhenius`` per (system, region) once
every run is in, and one ``elastic`` per structure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from seiflow.schemas.production import now


class RegionDiffusivity(BaseModel):
    """The mobile ion's D in one region of one run (``bulk`` for a phase; anode, reacted, electrolyte)."""

    d_a2_ps: float = Field(..., description="D, Å^2/ps (slope of MSD vs t / 6 over the fit window).")
    d_err_a2_ps: float = Field(..., description="Standard error of the slope / 6, Å^2/ps.")
    n_atoms: int = Field(..., description="Mobile atoms in the region at the first sampled frame.")


class PropertiesStage(BaseModel):
    """One run of the stage: its settings, the models it used and the diffusion runs it planned."""

    kind: Literal["stage"] = "stage"
    campaign: str
    stage_id: str
    model_id: str = Field(..., description="The production model: central values, size check, elastic constants.")
    member_ids: list[str] = Field(default_factory=list, description="The committee (converged ensemble members).")
    species: str | None = Field(None, description="The mobile ion whose diffusivity is measured.")
    systems: dict[str, str] = Field(default_factory=dict, description="System -> how its cell was made.")
    sizes: dict[str, list[int]] = Field(default_factory=dict, description="System -> atoms of its cells.")
    temperatures: list[float] = Field(default_factory=list)
    planned_runs: int = 0
    elastic: list[str] = Field(default_factory=list, description="Structures whose elastic constants are computed.")
    created_at: datetime = Field(default_factory=now)


class DiffusionRun(BaseModel):
    """One NVT run: a system at one size and temperature, driven by one model, and the D it gave per region."""

    kind: Literal["diffusion_run"] = "diffusion_run"
    campaign: str
    stage_id: str
    system: str
    n_atoms: int
    size_check: bool = Field(False, description="The second, larger cell of the size check.")
    temperature: float
    model_id: str
    role: Literal["production", "member"]
    length_ps: float
    n_frames: int = 0
    regions: dict[str, RegionDiffusivity] = Field(default_factory=dict)
    health: str | None = Field(None, description="Why the run gives no D (MD blew up), or None.")
    wall_s: float = 0.0
    created_at: datetime = Field(default_factory=now)


class SizeCheck(BaseModel):
    """D of the larger cell over D of the main cell (production model), per temperature."""

    atoms: tuple[int, int]
    ratio: dict[str, float | None] = Field(default_factory=dict, description="Temperature (K, as text) -> ratio.")


class ArrheniusResult(BaseModel):
    """ln D = ln D0 - Ea/(kB T) for one system's region; error bars from the committee."""

    kind: Literal["arrhenius"] = "arrhenius"
    campaign: str
    stage_id: str
    system: str
    region: str
    species: str
    temperatures: list[float]
    d_a2_ps: list[float | None] = Field(..., description="The production model's D per temperature, Å^2/ps.")
    d_committee_std_a2_ps: list[float | None] = Field(
        default_factory=list, description="Standard deviation of the members' D per temperature (None: < 2).")
    d_members_a2_ps: list[list[float | None]] = Field(default_factory=list, description="Per member, per temperature.")
    activation_energy_ev: float | None = None
    activation_energy_err_ev: float | None = Field(
        None, description="The committee's spread (std of the members' Ea); the fit's own error without a committee.")
    activation_energy_fit_err_ev: float | None = Field(None, description="1 sigma of the production model's fit.")
    members_activation_energy_ev: list[float] = Field(default_factory=list)
    prefactor_a2_ps: float | None = None
    size_check: SizeCheck | None = None
    note: str | None = Field(None, description="Why there is no fit (fewer than two positive D), or None.")
    created_at: datetime = Field(default_factory=now)


class ElasticRecord(BaseModel):
    """The stiffness tensor of one structure with the production model."""

    kind: Literal["elastic"] = "elastic"
    campaign: str
    stage_id: str
    name: str = Field(..., description="A phase, or 'SEI' for the frame.")
    source: str = Field(..., description="Where the cell came from (phase, production frame at t, interface).")
    model_id: str
    n_atoms: int
    strain: float
    relax_ions: bool
    c_gpa: list[list[float]]
    bulk_vrh_gpa: float
    shear_vrh_gpa: float
    young_vrh_gpa: float
    poisson_vrh: float
    wall_s: float = 0.0
    created_at: datetime = Field(default_factory=now)
