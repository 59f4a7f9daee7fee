"""The study's validation protocol, like for like: a model against the campaign's fixed validation set.

The same measures serve the independent test set (frames of source ``test``), which the closing
analysis alone reads.

Two measures, both on data never trained on:

- **errors** (:func:`validate_model`): RMSE and MAE of energy per atom (with the mean offset and without),
  force and stress (MPa) of one model on every validation frame, per structure (interface, each bulk)
  and overall;
- **dynamics** (:func:`compare_dynamics`): NNP MD from the validation trajectory's own start structure,
  at its temperature, for its length and sampling, against that reference trajectory: partial RDFs with
  one agreement score per pair and overall, and the mechanism descriptors of both, frame by frame.

:func:`validation_frames` reads the set's labelled frames; :func:`dynamics_comparisons` runs the dynamics
measure for every structure and temperature the set names. The round's validation job
(:mod:`seiflow.analysis.validation_jobs`) and the closing analysis (:mod:`seiflow.analysis.jobs`) both
use them; the NNP MD itself is the production run's (:func:`seiflow.analysis.production.nnp_md`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.chemistry import Chemistry
from seiflow.analysis.mechanism import analyse_trajectory, mechanism_row
from seiflow.analysis.production import nnp_md
from seiflow.analysis.rdf import compare_trajectories
from seiflow.analysis.validation_metrics import evaluate
from seiflow.dataset.convert import to_atoms
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.schemas.frame import LabelledFrame, Reference
from seiflow.schemas.validation import (
    VALIDATION_SOURCE,
    DynamicsComparison,
    ErrorMetrics,
    ModelValidation,
    ValidationSet,
)


def validate_model(model_id: str, model_file: Path, frames: dict[str, list[LabelledFrame]]) -> ModelValidation:
    """Errors of the DeePMD model in ``model_file`` on the validation frames, by structure and overall."""
    from deepmd.calculator import DP

    calc = DP(model=str(model_file))
    per = {name: evaluate(group, calc)[0] for name, group in frames.items() if group}
    everything = [f for group in frames.values() for f in group]
    return ModelValidation(model_id=model_id, overall=evaluate(everything, calc)[0], per_structure=per)


def mean_validation(validations: Sequence[ModelValidation]) -> ErrorMetrics | None:
    """The ensemble's mean overall metrics (every numeric field of :class:`ErrorMetrics`); None without models."""
    if not validations:
        return None
    rows = [v.overall.model_dump() for v in validations]
    keys = [k for k, value in rows[0].items() if isinstance(value, float)]
    means = {k: float(np.mean([r[k] for r in rows if r[k] is not None])) for k in keys
             if any(r[k] is not None for r in rows)}
    return ErrorMetrics(n_frames=validations[0].overall.n_frames, **means)


def mechanism_rows(nnp: Sequence[Atoms], reference: Sequence[Atoms], dt_ps: float,
                   chem: Chemistry) -> list[dict[str, Any]]:
    """Per frame pair: ``time_ps`` and each descriptor of :func:`mechanism_row` as ``<key>_nnp``, ``<key>_reference``."""
    rows = []
    for k, (a, b) in enumerate(zip(analyse_trajectory(nnp, chem), analyse_trajectory(reference, chem), strict=False)):
        row: dict[str, Any] = {"time_ps": round((k + 1) * dt_ps, 4)}
        ref = mechanism_row(b)
        for key, value in mechanism_row(a).items():
            row[f"{key}_nnp"] = value
            row[f"{key}_reference"] = ref.get(key)
        rows.append(row)
    return rows


def compare_dynamics(
    name: str, start: Atoms, reference: Sequence[Atoms], model_id: str, model_file: Path, type_map: list[str],
    temperature: float, steps: int, sample_every: int, timestep_fs: float, run_dir: Path, chem: Chemistry,
) -> DynamicsComparison:
    """Run NNP MD from ``start`` like the reference trajectory and compare the two."""
    frames, speed, health = nnp_md(AseAtomsAdaptor.get_structure(start), model_file, type_map, run_dir,
                                   temperature, steps, sample_every)
    # the dump starts at step 0 (a reference of the same length does too; a blown-up run is shorter)
    nnp = frames[1:] if len(frames) > len(reference) or not health.healthy else frames
    n = min(len(nnp), len(reference))
    nnp, ref = list(nnp[:n]), list(reference[:n])
    if n < 2:  # blew up before two frames: nothing to compare
        return DynamicsComparison(structure=name, temperature=temperature, steps=steps, model_id=model_id,
                                  n_frames=n, natoms=len(start), unstable=health.reason)
    nnp_rdf, ref_rdf, agreement = compare_trajectories(nnp, ref, chem.rdf_pairs or None)
    return DynamicsComparison(
        structure=name, temperature=temperature, steps=steps, model_id=model_id, n_frames=n,
        natoms=len(start), speed_us_step_atom=speed, unstable=health.reason,
        rdf_r=list(nnp_rdf.r), rdf_nnp=nnp_rdf.g, rdf_reference=ref_rdf.g,
        rdf_per_pair=agreement.per_pair, rdf_overall=agreement.overall, rdf_definition=agreement.definition,
        mechanism=mechanism_rows(nnp, ref, sample_every * timestep_fs / 1000.0, chem),
    )


def validation_frames(
    campaign: str, reference: Reference | None = None, source: str = VALIDATION_SOURCE
) -> dict[str, list[LabelledFrame]]:
    """The campaign's validation (or ``source``: test) frames by structure name, in (temperature, step) order."""
    groups: dict[str, list[LabelledFrame]] = defaultdict(list)
    for frame in FrameStore().find(campaign=campaign, source=source, reference=reference):
        groups[frame.provenance.origin or "?"].append(frame)
    for frames in groups.values():
        frames.sort(key=lambda f: (f.provenance.temperature or 0, f.provenance.frame_index))
    return dict(groups)


def reference_trajectory(frames: list[LabelledFrame], temperature: float) -> list:
    """One structure's validation frames at ``temperature`` as ASE Atoms, in step order."""
    return [to_atoms(f) for f in frames
            if abs((f.provenance.temperature if f.provenance.temperature is not None else -1) - temperature) < 0.5]


def dynamics_comparisons(
    vset: ValidationSet, frames: dict[str, list[LabelledFrame]], model_id: str, type_map: list[str], run_dir: Path,
    chem: Chemistry,
) -> list[DynamicsComparison]:
    """Like-for-like NNP MD of every ``vset.dynamics`` structure and temperature with one model."""
    model = ModelStore().fetch(model_id, run_dir / "models")
    names = [n for n in vset.dynamics if n in vset.structures] or list(vset.structures)[:1]
    out = []
    for name in names:
        start = AseAtomsAdaptor.get_atoms(vset.start(name))
        for temperature in vset.temperatures:
            ref = reference_trajectory(frames.get(name, []), temperature)
            if not ref:
                continue
            out.append(compare_dynamics(
                name, start, ref, model_id, model, type_map, temperature, vset.steps, vset.sample_every,
                vset.timestep_fs, run_dir / f"nnp_{name}_{temperature:g}K", chem,
            ))
    return out
