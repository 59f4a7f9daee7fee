"""Compression range: DeePMD's own messages counted, table coverage from its logged bounds, real tiny models.

The slow tests train a real tiny model and compress it with ``dp compress``; frames squeezed beyond the
training data show that a table too short gives wrong forces (silently: DeePMD prints nothing) and that
``compress_in_range`` widens it, or drops the compressed file in the training job.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from seiflow.training.compression import (
    beyond_table,
    compress_in_range,
    covered_distance,
    min_neighbour_distance,
    out_of_range,
    smooth_inverse,
    table_bounds,
)
from tests.training.conftest import DATA, TYPE_MAP

LICL = DATA / "Li32Cl32"
# Two lines of a real `dp --tf compress` log of a tiny LiCl model (rcut 4, rcut_smth 0.5, 100 steps)
COMPRESS_LOG = (
    "[2026-12-01 11:30:10,157] DEEPMD INFO    training data with lower boundary: [-0.38884428 -0.38908548]\n"
    "[2026-12-01 11:30:10,157] DEEPMD INFO    training data with upper boundary: [5.22316841 5.22307777]\n"
)
D_MIN = 2.18449638546796  # that model's train_attr/min_nbor_dist (= min_neighbour_distance of LICL)


def deepmd_warnings() -> list[str]:
    """DeePMD's neighbour-list warnings as its library prints them (format strings read from libdeepmd.so)."""
    lib = Path(importlib.util.find_spec("deepmd").submodule_search_locations[0]) / "lib" / "libdeepmd.so"
    found = re.findall(rb"# warning: \w+ idx out of \w+ bound \(ignored if warned for more than ", lib.read_bytes())
    return [text.decode() + "10 times) " for text in dict.fromkeys(found)]


def test_out_of_range_counts_deepmd_messages_in_dp_test_and_lammps_text():
    messages = deepmd_warnings()
    assert len(messages) == 4 and any("loc idx out of upper bound" in m for m in messages)
    dp_test = ("[2026-12-01 11:31:30,650] DEEPMD INFO    # number of test data : 3\n"
               + "\n".join(messages[:1] * 3) + "\nDEEPMD INFO    Force  RMSE        : 6.69e-02 eV/Å\n")
    lammps = "Step Temp PotEng\n0 300 -250.1\n" + "\n".join(messages) + "\n100 310 -250.0\nTotal wall time: 0:00:01\n"
    assert out_of_range(dp_test) == 3 and out_of_range(lammps) == 4
    assert out_of_range("DEEPMD INFO    Energy RMSE        : 1.0e-03 eV\nLoop time of 1.2 on 1 procs\n") == 0


def test_table_bounds_from_tf_and_pytorch_style_logs():
    lower, upper = table_bounds(COMPRESS_LOG, 2)
    assert np.allclose(lower, [-0.38884428, -0.38908548]) and np.allclose(upper, [5.22316841, 5.22307777])
    pt = ("DEEPMD INFO    training data with lower boundary: [[-0.5 -0.4]\n [-0.3 -0.2]]\n"
          "DEEPMD INFO    training data with upper boundary: [[4.0 5.0]\n [6.0 3.0]]\n")
    lower, upper = table_bounds(pt, 2)
    assert lower.tolist() == [-0.5, -0.3] and upper.tolist() == [5.0, 6.0]


def test_covered_distance_matches_the_real_compressed_model():
    """Measured on that model: moving one atom to r from its neighbour, compressed (-e) minus frozen forces
    were 1e-13 eV/Å at 2.10 Å and 0.60 at 2.08 Å for -e 1; 3e-13 at 0.76 Å and 8e-3 at 0.74 Å for -e 5."""
    assert min_neighbour_distance([LICL], TYPE_MAP, 4.0) == pytest.approx(D_MIN, abs=1e-9)
    lower, upper = table_bounds(COMPRESS_LOG, 2)
    e1, e5, e20 = (covered_distance(lower, upper, D_MIN, 4.0, 0.5, e) for e in (1, 5, 20))
    assert np.all(np.abs(e1 - 2.09) < 0.01) and np.all(np.abs(e5 - 0.75) < 0.01) and np.all(e20 < 0.2)
    value = lower + (upper - lower) * smooth_inverse(e5, 0.5, 4.0) / smooth_inverse(D_MIN, 0.5, 4.0)
    assert np.allclose(value, 5 * np.ceil(upper))  # the table's top, where the covered distance sits
    one_side = covered_distance(lower, upper, D_MIN, 4.0, 0.5, 1, type_one_side=True)
    assert np.all(one_side <= e1)


def scaled_system(dest: Path, factor: float, n_frames: int = 4) -> Path:
    """The first frames of the LiCl data with box and coordinates scaled by ``factor``."""
    shutil.copytree(LICL, dest)
    for name in ("box", "coord", "energy", "force", "virial"):
        arr = np.load(dest / "set.000" / f"{name}.npy")[:n_frames]
        np.save(dest / "set.000" / f"{name}.npy", arr * factor if name in ("box", "coord") else arr)
    return dest


def test_beyond_table(tmp_path):
    squeezed = scaled_system(tmp_path / "s", 0.8)
    covered = np.array([2.0, 2.0])
    assert beyond_table([LICL], TYPE_MAP, covered, 4.0)[0] == 0
    count, closest = beyond_table([squeezed], TYPE_MAP, covered, 4.0)
    assert count > 0 and 0.8 * D_MIN - 1e-9 <= closest < 2.0


def _forces(model: Path, system: Path) -> np.ndarray:
    from deepmd.infer import DeepPot

    coord, box = (np.load(system / "set.000" / f"{n}.npy") for n in ("coord", "box"))
    return DeepPot(str(model)).eval(coord, box, np.loadtxt(system / "type.raw", dtype=int))[1]


@pytest.mark.slow
def test_short_table_is_widened_until_it_covers_squeezed_frames(tmp_path):
    from seiflow.training import run
    from tests.exploration.models import train_model

    work = tmp_path / "m"
    frozen = train_model(LICL, work, numb_steps=20, seed=1)
    squeezed = scaled_system(tmp_path / "squeezed", 0.8)  # nearest neighbours 1.75 Å, training 2.18 Å
    short, _ = run.compress(work, "tensorflow", frozen, extrapolate=1, log_name="short.log")
    assert out_of_range((work / "short.log").read_text()) == 0  # DeePMD says nothing about its table...
    wrong = np.nan_to_num(np.abs(_forces(short, squeezed) - _forces(frozen, squeezed)), nan=np.inf).max()
    assert wrong > 0.05, wrong  # ...yet forces beyond it are wrong (off, or not even finite: NaN in one run)
    assert np.abs(_forces(short, LICL) - _forces(frozen, LICL)).max() < 1e-8

    checks = {"train": [LICL], "validation": [squeezed]}
    out, record, seconds = compress_in_range(work, "tensorflow", frozen, TYPE_MAP, checks, extrapolates=(1, 5))
    assert record.used == "compressed" and record.extrapolate == 5 and record.tried == [1, 5]
    assert record.out_of_range_counts == {"train": 0, "validation": 0} and "beyond -e 1" in record.note
    assert record.min_nbor_dist == pytest.approx(D_MIN, abs=1e-6) and seconds > 0
    assert all(0.5 < d < 1.0 for d in record.covered_min_distance.values())
    assert np.abs(_forces(out, squeezed) - _forces(frozen, squeezed)).max() < 1e-6


@pytest.mark.slow
def test_training_job_drops_a_compressed_model_its_table_cannot_cover(seiflow_env, tiny_config, tmp_path):
    from jobflow import run_locally

    from seiflow.dataset.frames import FrameStore
    from seiflow.labelling.local import local_reference
    from seiflow.models.store import ModelStore
    from seiflow.schemas.frame import LabelledFrame, Provenance
    from seiflow.store import get_jobstore
    from seiflow.training.data import training_data
    from seiflow.training.jobs import DeepmdTrainMaker

    ref = local_reference("chgnet")
    species = [TYPE_MAP[t] for t in np.loadtxt(LICL / "type.raw", dtype=int)]
    arrays = {n: np.load(LICL / "set.000" / f"{n}.npy") for n in ("box", "coord", "energy", "force", "virial")}
    arrays["energy"] = arrays["energy"].ravel()

    def frame(i: int, source: str, coord: np.ndarray) -> LabelledFrame:
        return LabelledFrame(
            species=species, positions=coord.reshape(-1, 3), cell=arrays["box"][i].reshape(3, 3),
            energy=float(arrays["energy"][i]), forces=arrays["force"][i].reshape(-1, 3),
            virial=arrays["virial"][i].reshape(3, 3), reference=ref,
            provenance=Provenance(campaign="licl", round=0, source=source, origin="LiCl", frame_index=i),
        )

    close = arrays["coord"][0].reshape(-1, 3).copy()
    close[1] = close[0] + [0.05, 0.0, 0.0]  # two atoms 0.05 Å apart: beyond any table up to -e 20
    FrameStore().add_many([frame(i, "reference_md", arrays["coord"][i]) for i in range(len(arrays["box"]))]
                          + [frame(0, "validation", close)]
                          + [frame(1, "test", close + 0.01)])  # the test set decides nothing: never checked
    maker = DeepmdTrainMaker(config=tiny_config.model_copy(update={"compress": True}), type_map=TYPE_MAP,
                             save_freq=20, disp_freq=20)
    job = maker.make(training_data("licl", ref), campaign="licl", round=1, index=0)
    out = run_locally(job, store=get_jobstore(), ensure_success=True, log=False)[job.uuid][1].output
    doc = ModelStore().get(out.model_id)
    record = doc.compression
    assert record.used == "frozen" and record.extrapolate is None and record.tried == [5, 20]
    assert record.out_of_range_counts["validation"] == 2 and record.out_of_range_counts["train"] == 0
    assert record.out_of_range_counts["held_out"] == 0 and record.min_distance["validation"] < 0.06
    assert set(record.out_of_range_counts) == {"train", "held_out", "validation"}
    assert "frozen model is used" in record.note and record.deepmd_warnings == 0
    assert "compressed" not in doc.files and "compress" in doc.timings_s
    assert ModelStore().fetch(out.model_id, tmp_path / "got").name.endswith("frozen.pb")
