"""Tiny real DeePMD ensembles for tests: CHGNet-labelled LiCl frames, ``dp --tf train`` + ``freeze``.

Kept tiny (se_e2_a rcut 4 Å, neurons [4, 8], fitting [16, 16]) so one model trains in seconds on one thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

TYPE_MAP = ["Li", "Cl"]
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "DP_INTRA_OP_PARALLELISM_THREADS": "1",
    "DP_INTER_OP_PARALLELISM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def licl_supercell() -> Structure:
    """Rock-salt LiCl, 2x2x2 conventional cells (64 atoms, box 10.3 Å)."""
    cell = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.14), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return cell * (2, 2, 2)


def labelled_frames(n_frames: int, seed: int = 0, sigma: float = 0.12):
    """``n_frames`` rattled, slightly strained LiCl supercells labelled by CHGNet, as a dpdata LabeledSystem."""
    import dpdata
    from chgnet.model import CHGNet

    rng = np.random.default_rng(seed)
    model = CHGNet.load(verbose=False)
    base = licl_supercell()
    structures = []
    for _ in range(n_frames):
        lattice = Lattice(base.lattice.matrix @ np.diag(1 + rng.uniform(-0.02, 0.02, 3)))
        frac = base.frac_coords + rng.normal(0, sigma, (len(base), 3)) / base.lattice.abc
        structures.append(Structure(lattice, base.species, frac))
    preds = model.predict_structure(structures, task="efs", batch_size=8)
    natoms = len(base)
    stress = np.array([np.asarray(p["s"]) for p in preds]) / 160.21766208  # GPa -> eV/Å^3
    volumes = np.array([s.volume for s in structures])
    data = {
        "atom_names": TYPE_MAP,
        "atom_numbs": [sum(1 for x in base if x.specie.symbol == e) for e in TYPE_MAP],
        "atom_types": np.array([TYPE_MAP.index(x.specie.symbol) for x in base]),
        "orig": np.zeros(3),
        "cells": np.array([s.lattice.matrix for s in structures]),
        "coords": np.array([s.cart_coords for s in structures]),
        "energies": np.array([float(p["e"]) * natoms for p in preds]),
        "forces": np.array([np.asarray(p["f"]) for p in preds]),
        "virials": -stress * volumes[:, None, None],
    }
    return dpdata.LabeledSystem(data=data)


def train_input(data_dir: Path, numb_steps: int, seed: int) -> dict:
    """A tiny DeePMD TF training input."""
    return {
        "model": {
            "type_map": TYPE_MAP,
            "descriptor": {
                "type": "se_e2_a", "rcut": 4.0, "rcut_smth": 0.5, "sel": [24, 24],
                "neuron": [4, 8], "axis_neuron": 4, "seed": seed,
            },
            "fitting_net": {"neuron": [16, 16], "seed": seed},
        },
        "learning_rate": {"type": "exp", "start_lr": 0.005, "stop_lr": 1e-4, "decay_steps": 50},
        "loss": {
            "start_pref_e": 0.2, "limit_pref_e": 1, "start_pref_f": 100, "limit_pref_f": 1,
            "start_pref_v": 0, "limit_pref_v": 0,
        },
        "training": {
            "training_data": {"systems": [str(data_dir)], "batch_size": 2},
            "numb_steps": numb_steps, "seed": seed, "disp_freq": max(numb_steps, 1),
            "save_freq": numb_steps, "disp_file": "lcurve.out",
        },
    }


def train_model(data_dir: Path, work: Path, numb_steps: int, seed: int) -> Path:
    """Train and freeze one tiny model in ``work``; returns the frozen ``.pb``."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "input.json").write_text(json.dumps(train_input(data_dir, numb_steps, seed)))
    env = {**os.environ, **THREAD_ENV}
    dp = str(Path(sys.executable).parent / "dp")
    for args in (["--tf", "train", "input.json"], ["--tf", "freeze", "-o", "graph.pb"]):
        proc = subprocess.run([dp, *args], cwd=work, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"dp {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return work / "graph.pb"


COMMITTED_DATA = Path(__file__).resolve().parents[1] / "data" / "licl_deepmd" / "Li32Cl32"


def build_ensemble(root: Path, n_models: int, numb_steps: int, n_frames: int = 20) -> list[Path]:
    """Train ``n_models`` models with different seeds on the committed LiCl data (or fresh CHGNet frames)."""
    data_dir = COMMITTED_DATA
    if not data_dir.is_dir():
        data_dir = root / "data"
        if not data_dir.exists():
            labelled_frames(n_frames).to("deepmd/npy", str(data_dir))
    return [train_model(data_dir, root / f"m{i}", numb_steps, seed=i + 1) for i in range(n_models)]
