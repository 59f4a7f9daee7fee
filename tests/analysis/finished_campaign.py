"""A small finished campaign seeded by hand into the store, with the collections the report reads.

Numbers are realistic for a 4-round demo-size campaign (ensemble of 2, CHGNet labels): validation errors
falling with labels but above the study's force RMSE, an energy error that is mostly an offset, and a
2 ps, 600 K validation MD of the 232-atom Li | Li3InCl6 interface in which four In atoms leave the
electrolyte, lose their Cl and form one In cluster in the Li metal; the NNP does the same, later.
The trajectories are constructed; their RDFs, mechanism descriptors and snapshots come from seiflow's real
analysis code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from seiflow.analysis.production import estimate_cost
from seiflow.analysis.rdf import compare_trajectories
from seiflow.analysis.snapshot import Snapshot
from seiflow.analysis.validation_protocol import mechanism_rows
from seiflow.constants import (
    ANALYSES_COLLECTION,
    CAMPAIGNS_COLLECTION,
    MODELS_COLLECTION,
    ROUNDS_COLLECTION,
    VALIDATION_SETS_COLLECTION,
    VALIDATIONS_COLLECTION,
)
from seiflow.dataset.frames import FrameStore
from seiflow.models.store import ModelStore
from seiflow.records import campaigns
from seiflow.schemas.campaign import load_campaign
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference
from seiflow.schemas.model import ModelDoc, ParityData, TrainingDataRecord, ValidationMetrics
from seiflow.schemas.round import CriterionResult, Histogram, RoundReport, SelectionResult
from tests.analysis.structures import study_chemistry

REPO = Path(__file__).resolve().parents[2]
CHGNET = Reference(calculator="chgnet", settings={"version": "0.4.2", "model": "0.3.0"})
TEMPERATURE = 600.0
N_FRAMES = 10
DT_PS = 0.2  # 2,000 steps of 1 fs, every 200th step
# round -> (training labels, validation RMSE e/f/v, energy offset, dp-test RMSE e/f/v)
ROUNDS = {1: (90, (9.8, 290.0, 80.0), 6.9, (3.1, 95.0, 60.0)),
          2: (126, (6.3, 205.0, 52.0), 4.6, (2.4, 80.0, 44.0)),
          3: (162, (4.9, 160.0, 38.0), 3.6, (2.0, 70.0, 35.0)),
          4: (198, (4.1, 152.0, 31.8), 3.2, (1.7, 62.0, 29.0))}
BULKS = {"LiCl": 5.13}


@lru_cache(maxsize=1)
def interface() -> Atoms:
    """The demo's 232-atom Li(110) | Li3InCl6(001) interface, built by seiflow (z: the interface normal)."""
    from seiflow.schemas.campaign import InterfaceConfig
    from seiflow.structures.bulk import load_bulk, set_lattice_constant
    from seiflow.structures.interface import build_interface

    bulks = {"Li": set_lattice_constant(load_bulk("Li"), 3.44), "Li3InCl6": load_bulk("Li3InCl6")}
    return AseAtomsAdaptor.get_atoms(build_interface(InterfaceConfig(), bulks).structure)


def _swap_plan(atoms: Atoms, n_in: int) -> list[tuple[int, int]]:
    """(In, Li) pairs: the ``n_in`` lowest In and a compact group of Li-metal atoms below them."""
    sym = np.asarray(atoms.get_chemical_symbols())
    pos = atoms.positions
    in_idx = np.flatnonzero(sym == "In")
    in_idx = in_idx[np.argsort(pos[in_idx, 2])][:n_in]
    li = np.flatnonzero(sym == "Li")
    metal = li[(pos[li, 2] > pos[in_idx, 2].min() - 6.0) & (pos[li, 2] < pos[in_idx, 2].min() - 3.0)]
    centre = metal[np.argmin(np.linalg.norm(pos[metal, :2] - pos[in_idx, :2].mean(axis=0), axis=1))]
    group = metal[np.argsort(np.linalg.norm(pos[metal] - pos[centre], axis=1))][:n_in]
    return list(zip(in_idx.tolist(), group.tolist(), strict=True))


def trajectory(start: Atoms, delay: int, seed: int, n_in: int = 4) -> list[Atoms]:
    """``N_FRAMES`` frames with thermal noise: from frame ``delay`` on, one In per frame hops into the Li metal.

    Each hopping In swaps places with a Li atom of a compact Li-metal group, so the In lose their Cl and
    the group becomes one In cluster; the Li takes the In's site in the electrolyte.
    """
    rng = np.random.default_rng(seed)
    plan = _swap_plan(start, n_in)
    frames = []
    for k in range(N_FRAMES):
        atoms = start.copy()
        for i, j in plan[: max(0, k - delay + 1)]:
            atoms.positions[[i, j]] = start.positions[[j, i]]
        atoms.positions += rng.normal(0.0, 0.08, atoms.positions.shape)
        atoms.wrap()
        frames.append(atoms)
    return frames


def _labelled(atoms: Atoms, name: str, origin: str, k: int, source: str, rnd: int, rng) -> LabelledFrame:
    n = len(atoms)
    return LabelledFrame(
        species=atoms.get_chemical_symbols(), positions=atoms.positions, cell=np.asarray(atoms.cell),
        energy=-3.4 * n + rng.normal(0, 0.02 * n), forces=rng.normal(0, 0.4, (n, 3)),
        virial=np.diag(rng.normal(0, 0.5, 3)), reference=CHGNET,
        provenance=Provenance(campaign=name, round=rnd, source=source, origin=origin, frame_index=k,
                              temperature=TEMPERATURE),
    )


def dynamics(ref: list[Atoms], nnp: list[Atoms], model_id: str) -> dict:
    """A DynamicsComparison document as the validation job writes it."""
    chem = study_chemistry()
    nnp_rdf, ref_rdf, agreement = compare_trajectories(nnp, ref, chem.rdf_pairs)
    return {"structure": "interface", "temperature": TEMPERATURE, "steps": 2000, "model_id": model_id,
            "n_frames": len(ref), "natoms": len(ref[0]), "speed_us_step_atom": 71.0, "rdf_r": nnp_rdf.r,
            "rdf_nnp": nnp_rdf.g, "rdf_reference": ref_rdf.g, "rdf_per_pair": agreement.per_pair,
            "rdf_overall": agreement.overall, "rdf_definition": agreement.definition,
            "mechanism": mechanism_rows(nnp, ref, DT_PS, chem)}


def _metrics(e: float, f: float, v: float, offset: float, n: int) -> dict:
    return {"n_frames": n, "rmse_e_mev_atom": e, "mae_e_mev_atom": 0.8 * e, "e_offset_mev_atom": offset,
            "rmse_e_centered_mev_atom": float(np.sqrt(max(e**2 - offset**2, 0.0))), "rmse_f_mev_a": f,
            "mae_f_mev_a": 0.7 * f, "rmse_v_mpa": v, "mae_v_mpa": 0.8 * v}


def seed(db, tmp_path: Path) -> str:
    """Seed the whole finished campaign into ``db``; returns its name."""
    campaign = load_campaign(REPO / "workflows" / "li_li3incl6_demo.yaml")
    campaigns.ensure(db, campaign)
    name = campaign.name
    db[CAMPAIGNS_COLLECTION].update_one({"name": name}, {"$set": {"state": "not_converged", "round": 4}})
    rng = np.random.default_rng(7)
    start = interface()
    ref, nnp = trajectory(start, 2, 1), trajectory(start, 3, 2)
    licl = bulk("LiCl", "rocksalt", a=BULKS["LiCl"], cubic=True).repeat(2)
    frames = [_labelled(a, name, "interface", k, "validation", 0, rng) for k, a in enumerate(ref)]
    for k in range(N_FRAMES):
        a = licl.copy()
        a.positions += rng.normal(0, 0.1, a.positions.shape)
        frames.append(_labelled(a, name, "LiCl", k, "validation", 0, rng))
    for rnd, n in ((0, 12), (1, 4), (2, 4), (3, 4)):
        for k in range(n):
            a = start.copy()
            a.positions += rng.normal(0, 0.05, a.positions.shape)
            frames.append(_labelled(a, name, "interface", k, "reference_md" if rnd == 0 else "exploration", rnd, rng))
    FrameStore(db).add_many(frames)
    db[VALIDATION_SETS_COLLECTION].insert_one({
        "campaign": name, "reference": CHGNET.model_dump(mode="json"),
        "structures": {"interface": AseAtomsAdaptor.get_structure(start).as_dict(),
                       "LiCl": AseAtomsAdaptor.get_structure(licl).as_dict()},
        "temperatures": [TEMPERATURE], "steps": 2000, "sample_every": 200, "timestep_fs": 1.0, "seed": 1000,
        "dynamics": ["interface"]})
    store = ModelStore(db)
    parity = ParityData(energy_per_atom=[[-3.40, -3.402], [-3.35, -3.347], [-3.42, -3.418]],
                        force=[[0.4, 0.46], [-0.3, -0.25], [1.1, 1.02], [-0.8, -0.86]],
                        stress_mpa=[[120.0, 131.0], [-40.0, -52.0], [10.0, 4.0]])
    (tmp_path / "parity.json").write_text(parity.model_dump_json())
    final_id = f"{name}-r{max(ROUNDS):03d}-m0-seeded0"
    final = dynamics(ref, nnp, final_id)  # the closing analysis and the last round's validation agree here
    for rnd, (n_train, (e, f, v), offset, (te, tf, tv)) in ROUNDS.items():
        validations = []
        for idx in range(2):
            model_id = f"{name}-r{rnd:03d}-m{idx}-seeded{idx}"
            store.put(ModelDoc(model_id=model_id, campaign=name, round=rnd, index=idx, seed=idx,
                               backend="tensorflow", deepmd_version="3.2.0", type_map=["Li", "In", "Cl"],
                               numb_steps=2000 * rnd, metrics=ValidationMetrics(
                                   rmse_e_mev_atom=te * (1 + 0.05 * idx), rmse_f_mev_a=tf * (1 + 0.05 * idx),
                                   rmse_v_mpa=tv, n_test_frames=n_train // 9),
                               data=TrainingDataRecord(n_train_frames=n_train, n_test_frames=n_train // 9)),
                      {"parity": tmp_path / "parity.json"})
            scale = 1 + 0.04 * (idx - 0.5)
            val = {"model_id": model_id, "overall": _metrics(e * scale, f * scale, v * scale, offset, 20),
                   "per_structure": {"interface": _metrics(1.2 * e, 1.15 * f, 1.1 * v, offset, 10),
                                     "LiCl": _metrics(0.6 * e, 0.7 * f, 0.8 * v, 0.5 * offset, 10)}}
            db[MODELS_COLLECTION].update_one({"model_id": model_id}, {"$set": {"validation": val}})
            validations.append(val)
        comparison = final
        db[VALIDATIONS_COLLECTION].insert_one({
            "campaign": name, "round": rnd, "n_frames": 20, "mean": _metrics(e, f, v, offset, 20),
            "models": validations, "dynamics": [comparison] if rnd == 4 else [],
            "rdf_agreement": comparison["rdf_overall"] if rnd == 4 else None})
        sel = SelectionResult(n_frames=400, n_accurate=40 * rnd, n_candidate=300 - 40 * rnd, n_failed=60,
                              accurate_ratio=0.1 * rnd, candidate_ratio=0.75 - 0.1 * rnd, failed_ratio=0.15,
                              f_trust_lo_used=0.15, histogram=Histogram(edges=[0, 0.15, 0.3, 0.45, 0.6],
                                                                        counts=[40 * rnd, 200 - 40 * rnd, 100, 60]))
        report = RoundReport(
            campaign=name, round=rnd, selection=sel, converged=False, stop=rnd == 4,
            stop_reason="round cap (4) reached" if rnd == 4 else None,
            criteria=[CriterionResult(name="force_rmse_mev_a", satisfied=False, detail=f"force_rmse_mev_a {f} vs <= 46.2")],
            metrics={"energy_rmse_mev_atom": e, "force_rmse_mev_a": f, "stress_rmse_mpa": v,
                     "test_energy_rmse_mev_atom": te, "test_force_rmse_mev_a": tf, "test_stress_rmse_mpa": tv})
        db[ROUNDS_COLLECTION].insert_one(report.model_dump())
    db[ANALYSES_COLLECTION].insert_one({
        "campaign": name, "model_id": final_id, "dynamics": [final], "seed": "interface",
        "temperature": TEMPERATURE, "steps": 2000, "n_frames": N_FRAMES, "mechanism": final["mechanism"],
        "like_for_like": True, "rdf": {"r": final["rdf_r"], "curves": {"nnp": final["rdf_nnp"],
                                                                      "reference": final["rdf_reference"]},
                                       "overall": final["rdf_overall"], "per_pair": final["rdf_per_pair"],
                                       "definition": final["rdf_definition"], "n_reference_frames": N_FRAMES},
        "snapshots": [Snapshot.from_atoms(nnp[-1], "interface", TEMPERATURE, N_FRAMES * DT_PS).model_dump()],
        "cost": estimate_cost(71.0, 31_880, 10_000_000, measured_on="232-atom interface, 1 model").model_dump()})
    return name
