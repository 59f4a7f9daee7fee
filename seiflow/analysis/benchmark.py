"""The study's validation protocol, like for like: a model against the campaign's fixed validation set.

Two measures, both on data never trained on:

- **errors** (:func:`validate_model`): RMSE and MAE of energy per atom (with the mean offset and without),
  force and stress (MPa) of one model on every validation frame, per structure (interface, each bulk)
  and overall;
- **dynamics** (:func:`compare_dynamics`): NNP MD from the validation trajectory's own start structure,
  at its temperature, for its length and sampling, against that reference trajectory: partial RDFs with
  one agreement score per pair and overall, and the mechanism descriptors of both, frame by frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from seiflow.analysis.mechanism import analyse_trajectory
from seiflow.analysis.rdf import compare_trajectories
from seiflow.analysis.validation import ErrorMetrics, evaluate
from seiflow.schemas.frame import LabelledFrame

MECHANISM_KEYS = ("in_cl_mean", "reduced_in", "in_in_mean", "largest_in_cluster", "licl_like_li")


class ModelValidation(BaseModel):
    """One model's errors on the validation set."""

    model_id: str = Field(..., description="The model tested.")
    overall: ErrorMetrics = Field(..., description="All validation frames together.")
    per_structure: dict[str, ErrorMetrics] = Field(default_factory=dict, description="By structure name.")


class DynamicsComparison(BaseModel):
    """NNP MD against the reference trajectory from the same start, temperature, length and sampling."""

    structure: str = Field(..., description="Structure name (interface, a bulk).")
    temperature: float = Field(..., description="K.")
    steps: int = Field(..., description="MD steps of both trajectories.")
    model_id: str = Field(..., description="The model that ran the NNP MD.")
    n_frames: int = Field(..., description="Frames compared per trajectory.")
    natoms: int = Field(0, description="Atoms in the structure.")
    speed_us_step_atom: float | None = Field(None, description="NNP MD speed, µs/step/atom (1 model).")
    rdf_r: list[float] = Field(default_factory=list, description="RDF bin centres, Å.")
    rdf_nnp: dict[str, list[float]] = Field(default_factory=dict, description="Pair -> g(r), NNP.")
    rdf_reference: dict[str, list[float]] = Field(default_factory=dict, description="Pair -> g(r), reference.")
    rdf_per_pair: dict[str, float] = Field(default_factory=dict, description="Agreement per pair, [0, 1].")
    rdf_overall: float | None = Field(None, description="Mean agreement over the pairs present.")
    rdf_definition: str = Field("", description="How the agreement is defined.")
    mechanism: list[dict[str, Any]] = Field(
        default_factory=list, description="Per frame: time_ps, then each descriptor for nnp and reference."
    )


def validate_model(model_id: str, model_file: Path, frames: dict[str, list[LabelledFrame]]) -> ModelValidation:
    """Errors of the DeePMD model in ``model_file`` on the validation frames, by structure and overall."""
    from deepmd.calculator import DP

    calc = DP(model=str(model_file))
    per = {name: evaluate(group, calc)[0] for name, group in frames.items() if group}
    everything = [f for group in frames.values() for f in group]
    return ModelValidation(model_id=model_id, overall=evaluate(everything, calc)[0], per_structure=per)


def mean_validation(validations: Sequence[ModelValidation]) -> dict[str, float]:
    """The ensemble's mean overall metrics (every numeric field of :class:`ErrorMetrics`)."""
    rows = [v.overall.model_dump() for v in validations]
    keys = [k for k, value in (rows[0] if rows else {}).items() if isinstance(value, float)]
    return {k: float(np.mean([r[k] for r in rows if r[k] is not None])) for k in keys
            if any(r[k] is not None for r in rows)}


def _mechanism_rows(nnp: Sequence[Atoms], reference: Sequence[Atoms], dt_ps: float) -> list[dict[str, Any]]:
    rows = []
    for k, (a, b) in enumerate(zip(analyse_trajectory(nnp), analyse_trajectory(reference), strict=False)):
        row: dict[str, Any] = {"time_ps": round((k + 1) * dt_ps, 4)}
        for key, attr in (("in_cl_mean", "in_cl_mean"), ("reduced_in", "reduced_in_fraction"),
                          ("in_in_mean", "in_in_mean"), ("licl_like_li", "licl_like_li_fraction")):
            row[f"{key}_nnp"] = round(float(getattr(a, attr)), 4)
            row[f"{key}_reference"] = round(float(getattr(b, attr)), 4)
        row["largest_in_cluster_nnp"] = a.clusters.largest
        row["largest_in_cluster_reference"] = b.clusters.largest
        rows.append(row)
    return rows


def compare_dynamics(
    name: str, start: Atoms, reference: Sequence[Atoms], model_id: str, model_file: Path, type_map: list[str],
    temperature: float, steps: int, sample_every: int, timestep_fs: float, run_dir: Path,
) -> DynamicsComparison:
    """Run NNP MD from ``start`` like the reference trajectory and compare the two."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.analysis.jobs import nnp_md

    frames, speed = nnp_md(AseAtomsAdaptor.get_structure(start), model_file, type_map, run_dir, temperature,
                       steps, sample_every)
    nnp = frames[1:] if len(frames) > len(reference) else frames  # the dump starts at step 0
    n = min(len(nnp), len(reference))
    nnp, ref = list(nnp[:n]), list(reference[:n])
    nnp_rdf, ref_rdf, agreement = compare_trajectories(nnp, ref)
    return DynamicsComparison(
        structure=name, temperature=temperature, steps=steps, model_id=model_id, n_frames=n,
        natoms=len(start), speed_us_step_atom=speed,
        rdf_r=list(nnp_rdf.r), rdf_nnp=nnp_rdf.g, rdf_reference=ref_rdf.g,
        rdf_per_pair=agreement.per_pair, rdf_overall=agreement.overall, rdf_definition=agreement.definition,
        mechanism=_mechanism_rows(nnp, ref, sample_every * timestep_fs / 1000.0),
    )
