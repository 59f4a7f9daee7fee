"""The calibration job of every round (category ``lammps``): deviation against true error on the new labels.

After labelling, the round's ensemble predicts every frame it just had labelled; each frame's true error
(max-atom force error of the ensemble mean; energy error per atom; largest stress-component error) is
paired with the deviations that selected it (max force deviation; energy deviation per atom when
exploration computed it; max virial deviation per atom). The force fit sets the force levels; with
``e_error_lo`` (meV/atom) or ``v_error_lo`` (MPa) set, the energy or virial fit adds that quantity's
lower level. Frames labelled as sanity checks (random explored frames the ensemble called accurate) give
the true error where the ensemble claims to be right. Pairs of this and earlier rounds are fitted
(:mod:`seiflow.convergence.calibration`: one slope, and by default each round its own offset, the newest one
setting the level), and the fit gives the next round's trust levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Job, Maker, job

from seiflow.constants import EV_A3_TO_MPA, JobCategory
from seiflow.convergence.calibration import fit_calibration
from seiflow.dataset.frames import FrameStore
from seiflow.jobconfig import set_category
from seiflow.models.store import ModelStore
from seiflow.records.calibrations import CalibrationStore
from seiflow.schemas.calibration import (
    CalibrationFit,
    CalibrationPair,
    CalibrationRecord,
    CalibrationSummary,
    SanityErrors,
)
from seiflow.schemas.campaign import CalibrationConfig
from seiflow.schemas.frame import LabelledFrame

# Each calibrated quantity: (deviation key in provenance, error key in a pair, target field, level field).
QUANTITIES = {
    "force": ("max_devi_f", "f_error", "f_error_lo", "f_trust_lo"),
    "energy": ("devi_e", "e_error_mev_atom", "e_error_lo", "e_trust_lo"),
    "virial": ("max_devi_v", "s_error_mpa", "v_error_lo", "v_trust_lo"),
}


def ensemble_errors(frames: list[LabelledFrame], model_files: list[Path], type_map: list[str]) -> np.ndarray:
    """Per frame, of the ensemble mean: max-atom force error (eV/Å), energy error per atom (eV), stress.

    The stress error is the largest |component| of the stress difference, MPa (NaN: the label has no
    virial).
    """
    from deepmd.infer import DeepPot

    models = [DeepPot(str(p)) for p in model_files]
    model_types = [m.get_type_map() or type_map for m in models]  # a fine-tuned model keeps its checkpoint's
    out = []
    for frame in frames:
        coords = np.asarray(frame.positions, dtype=float).reshape(1, -1)
        cell = np.asarray(frame.cell, dtype=float).reshape(1, 9)
        preds = [m.eval(coords, cell, np.array([types.index(s) for s in frame.species]))
                 for m, types in zip(models, model_types, strict=True)]
        forces = np.mean([p[1].reshape(-1, 3) for p in preds], axis=0)
        energy = float(np.mean([np.ravel(p[0])[0] for p in preds]))
        virial = np.mean([np.ravel(p[2])[:9] for p in preds], axis=0)
        f_err = float(np.linalg.norm(forces - np.asarray(frame.forces), axis=1).max())
        s_err = np.nan
        if frame.virial is not None:
            s_err = float(np.abs(virial - np.ravel(frame.virial)).max() / frame.volume * EV_A3_TO_MPA)
        out.append((f_err, abs(energy - frame.energy) / frame.natoms, s_err))
    return np.array(out, dtype=float).reshape(-1, 3)


def error_target(config: CalibrationConfig, quantity: str) -> float | None:
    """The campaign's target for ``quantity`` in its pair's units (eV/Å, meV/atom, MPa); None: not fitted."""
    return getattr(config, QUANTITIES[quantity][2])


def levels_from(fit: CalibrationFit | dict | None, config: CalibrationConfig,
                extra_fits: dict[str, CalibrationFit | dict | None] | None = None) -> dict[str, float] | None:
    """Trust levels (deviation units) where the fitted error bounds meet the targets, if they can.

    The force levels decide: without them there are none. Energy and virial lower levels (``extra_fits``)
    are added where their fit is usable; their upper level stays unset (never failed on them).
    """

    def usable(f: CalibrationFit | dict | None) -> CalibrationFit | None:
        f = CalibrationFit.model_validate(f) if isinstance(f, dict) else f
        if f is None or f.n_pairs < config.min_pairs or f.spearman < config.min_spearman:
            return None
        return f

    model = usable(fit)
    if model is None:
        return None
    lo, hi = model.level_for(config.f_error_lo), model.level_for(config.f_error_hi)
    if lo is None or hi is None or hi <= lo:
        return None
    levels = {"f_trust_lo": lo, "f_trust_hi": hi}
    for quantity, other in (extra_fits or {}).items():
        target, model = error_target(config, quantity), usable(other)
        level = model.level_for(target) if model is not None and target is not None else None
        if level is not None:
            levels[QUANTITIES[quantity][3]] = level
    return levels


def _fit(pairs: list[tuple[int, CalibrationPair]], quantity: str,
         config: CalibrationConfig) -> CalibrationFit | None:
    """The quantile fit of one quantity's error on its deviation over the (round, pair)s that have both."""
    dev_key, err_key = QUANTITIES[quantity][:2]
    values = [(r, getattr(p, dev_key), getattr(p, err_key)) for r, p in pairs]
    both = [(r, d, e) for r, d, e in values if d is not None and e is not None and np.isfinite(e)]
    if len(both) < 3:
        return None
    rounds, dev, err = np.array(both).T
    return fit_calibration(dev, err, config.quantile, rounds=rounds if config.per_round_offset else None,
                           min_round_pairs=config.min_round_pairs)


@job(output_schema=CalibrationSummary)
def calibrate_round(campaign: str, r: int, model_ids: list[str], type_map: list[str], config: dict,
                    labels: Any = None) -> CalibrationSummary:
    """Pair this round's new labels with their deviations, refit, and propose the next levels."""
    cfg = CalibrationConfig.model_validate(config)
    frames = [f for f in FrameStore().find(campaign=campaign, round=r, source="exploration")
              if f.provenance.max_devi_f is not None]
    models = ModelStore()
    files = [models.fetch(m, Path.cwd() / "models", kind="frozen") for m in model_ids]
    errors = ensemble_errors(frames, files, type_map) if frames else np.zeros((0, 3))
    rows = []
    for f, e in zip(frames, errors, strict=True):
        p = f.provenance
        rows.append(CalibrationPair(
            max_devi_f=float(p.max_devi_f), f_error=float(e[0]), e_error_ev_atom=float(e[1]),
            e_error_mev_atom=1000.0 * float(e[1]), s_error_mpa=None if np.isnan(e[2]) else float(e[2]),
            max_devi_v=p.max_devi_v, devi_e=p.devi_e, sanity=bool(p.sanity),
        ))
    store = CalibrationStore()
    # sanity labels check the ensemble's claim of accuracy; they are never fitted, in this round or earlier ones
    pairs = [(k, p) for k, p in store.pairs_before(campaign, r) + [(r, row) for row in rows] if not p.sanity]
    fit = _fit(pairs, "force", cfg)
    fits = {q: _fit(pairs, q, cfg) for q in ("energy", "virial") if error_target(cfg, q) is not None}
    sanity = [row.f_error for row in rows if row.sanity]
    record = CalibrationRecord(
        campaign=campaign, round=r, pairs=rows, n_pairs_fitted=len(pairs), fit=fit, fits=fits,
        levels=levels_from(fit, cfg, fits),
        sanity=SanityErrors(n=len(sanity), max_f_error=max(sanity) if sanity else None,
                            p90_f_error=float(np.quantile(sanity, 0.9)) if sanity else None),
    )
    store.put(record)
    return record.summary()


@dataclass
class CalibrationMaker(Maker):
    """The round's calibration job (category ``lammps``), after its labelling."""

    name: str = "calibrate"
    config: CalibrationConfig | None = None

    def make(self, campaign: str, r: int, model_ids: list, type_map: list[str], labels: Any = None) -> Job:
        """The job fitting deviation against true error with this round's labels."""
        j = calibrate_round(campaign, r, model_ids, list(type_map),
                            (self.config or CalibrationConfig()).model_dump(mode="json"), labels)
        j.name = f"{campaign} {self.name} r{r}"
        set_category(j, JobCategory.LAMMPS)
        return j
