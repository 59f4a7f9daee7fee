"""The calibration job of every round (category ``lammps``): deviation against true error on the new labels.

After labelling, the round's ensemble predicts every frame it just had labelled; each frame's true error
(max-atom force error of the ensemble mean, energy error per atom) is paired with the deviation that selected
it. Frames labelled as sanity checks (random explored frames the ensemble called accurate) give the true
error where the ensemble claims to be right. Pairs of this and earlier rounds are fitted
(:mod:`seiflow.convergence.calibration`), and the fit gives the next round's trust levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Job, Maker, job

from seiflow.constants import CALIBRATIONS_COLLECTION, JobCategory
from seiflow.convergence.calibration import fit_calibration
from seiflow.jobconfig import set_category
from seiflow.schemas.campaign import CalibrationConfig
from seiflow.schemas.frame import LabelledFrame
from seiflow.store import get_database

SANITY_KEY = "sanity"  # provenance flag of a sanity label


def ensemble_errors(frames: list[LabelledFrame], model_files: list[Path], type_map: list[str]) -> np.ndarray:
    """Per frame: (max-atom |F_mean - F_label| eV/Å, |E_mean - E_label| per atom eV)."""
    from deepmd.infer import DeepPot

    models = [DeepPot(str(p)) for p in model_files]
    out = []
    for frame in frames:
        atype = np.array([type_map.index(s) for s in frame.species])
        coords = np.asarray(frame.positions, dtype=float).reshape(1, -1)
        cell = np.asarray(frame.cell, dtype=float).reshape(1, 9)
        preds = [m.eval(coords, cell, atype) for m in models]
        forces = np.mean([p[1].reshape(-1, 3) for p in preds], axis=0)
        energy = float(np.mean([np.ravel(p[0])[0] for p in preds]))
        f_err = float(np.linalg.norm(forces - np.asarray(frame.forces), axis=1).max())
        out.append((f_err, abs(energy - frame.energy) / frame.natoms))
    return np.array(out).reshape(-1, 2)


def levels_from(fit: dict[str, Any] | None, config: CalibrationConfig) -> dict[str, float] | None:
    """Trust levels (eV/Å of deviation) where the fitted error bound meets the targets, if it can."""
    if not fit or fit["n_pairs"] < config.min_pairs or fit["spearman"] < config.min_spearman:
        return None
    from seiflow.convergence.calibration import CalibrationFit

    model = CalibrationFit.model_validate(fit)
    lo, hi = model.level_for(config.f_error_lo), model.level_for(config.f_error_hi)
    if lo is None or hi is None or hi <= lo:
        return None
    return {"f_trust_lo": lo, "f_trust_hi": hi}


@job
def calibrate_round(campaign: str, r: int, model_ids: list[str], type_map: list[str], config: dict,
                    labels: Any = None) -> dict[str, Any]:
    """Pair this round's new labels with their deviations, refit, and propose the next levels."""
    from seiflow.dataset.frames import FrameStore
    from seiflow.models.store import ModelStore

    cfg = CalibrationConfig.model_validate(config)
    db = get_database()
    frames = [f for f in FrameStore().find(campaign=campaign, round=r, source="exploration")
              if (f.provenance.model_extra or {}).get("max_devi_f") is not None]
    store = ModelStore()
    files = [store.fetch(m, Path.cwd() / "models", kind="frozen") for m in model_ids]
    errors = ensemble_errors(frames, files, type_map) if frames else np.zeros((0, 2))
    rows = [{"max_devi_f": float(f.provenance.model_extra["max_devi_f"]), "f_error": float(e[0]),
             "e_error_ev_atom": float(e[1]), "sanity": bool(f.provenance.model_extra.get(SANITY_KEY, False))}
            for f, e in zip(frames, errors, strict=True)]
    past = [row for doc in db[CALIBRATIONS_COLLECTION].find({"campaign": campaign, "round": {"$lt": r}})
            for row in doc.get("pairs", [])]
    pairs = past + [row for row in rows if not row["sanity"]]
    fit = None
    if len(pairs) >= 3:
        fitted = fit_calibration(np.array([p["max_devi_f"] for p in pairs]),
                                 np.array([p["f_error"] for p in pairs]), cfg.quantile)
        fit = fitted.model_dump()
    sanity = [row["f_error"] for row in rows if row["sanity"]]
    doc = {
        "campaign": campaign, "round": r, "created_at": datetime.now(UTC), "pairs": rows,
        "n_pairs_fitted": len(pairs), "fit": fit, "levels": levels_from(fit, cfg),
        "sanity": {"n": len(sanity), "max_f_error": max(sanity) if sanity else None,
                   "p90_f_error": float(np.quantile(sanity, 0.9)) if sanity else None},
    }
    db[CALIBRATIONS_COLLECTION].replace_one({"campaign": campaign, "round": r}, doc, upsert=True)
    return {k: doc[k] for k in ("round", "n_pairs_fitted", "fit", "levels", "sanity")}


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
