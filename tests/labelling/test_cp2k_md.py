"""CP2K NVT MD as reference MD: the input, a failing run recorded, and a real run whose frames equal statics."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow, run_locally
from pymatgen.core import Lattice, Structure
from pymatgen.io.cp2k.inputs import Cp2kInput

from seiflow import store
from seiflow.dataset.frames import FrameStore
from seiflow.dataset.trajectories import TrajectoryStore
from seiflow.errors import InputError
from seiflow.labelling.cp2k import (
    OUTPUT_FILE,
    Cp2kInputGenerator,
    Cp2kLabelMaker,
    frame_from_cp2k_dir,
)
from seiflow.labelling.cp2k_md import (
    FORCES_FILE,
    MD_FOLDER,
    POSITIONS_FILE,
    Cp2kMDInputGenerator,
    Cp2kMDMaker,
)
from seiflow.labelling.presets import CHEAP_CP2K
from seiflow.schemas.frame import FrameStatus, Provenance
from seiflow.testing.flows import add

# CHEAP_CP2K with a single-zeta basis: right for Li metal, ~5x faster an MD step (2-atom Li: ~1.4 s).
FAST = CHEAP_CP2K.model_copy(update={"name": "fast-test", "basis": "SZV-MOLOPT-SR-GTH", "added_mos": 4})


def _li2() -> Structure:
    return Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.52, 0.5, 0.5]])


def _section(text: str, name: str) -> str:
    start = text.index(f"&{name}")
    return text[start : text.index(f"&END {name}", start)]


def test_md_input_is_the_static_force_eval_with_md_prints():
    gen = Cp2kMDInputGenerator(CHEAP_CP2K, temperature=600, steps=12, sample_every=3, seed=4)
    text = gen.get_input(_li2())
    ci = Cp2kInput.from_str(text)
    assert ci["GLOBAL"]["RUN_TYPE"].values[0] == "MD" and ci["GLOBAL"]["SEED"].values[0] == 5  # seed + 1: CP2K aborts on 0
    md = ci["MOTION"]["MD"]
    assert md["ENSEMBLE"].values[0] == "NVT" and md["STEPS"].values[0] == 12
    assert md["TEMPERATURE"].values[0] == 600 and md["THERMOSTAT"]["TYPE"].values[0] == "CSVR"
    for section in (ci["FORCE_EVAL"]["PRINT"]["FORCES"], ci["FORCE_EVAL"]["PRINT"]["STRESS_TENSOR"],
                    ci["MOTION"]["PRINT"]["TRAJECTORY"], ci["MOTION"]["PRINT"]["FORCES"]):
        assert section["EACH"]["MD"].values[0] == 3
    static = Cp2kInputGenerator(CHEAP_CP2K).get_input(_li2())
    for name in ("DFT", "SUBSYS"):  # the same physics as the static labeller, word for word
        assert _section(text, name) == _section(static, name)
    nose = Cp2kMDInputGenerator(CHEAP_CP2K, thermostat="nose").get_input(_li2())
    assert Cp2kInput.from_str(nose)["MOTION"]["MD"]["THERMOSTAT"]["NOSE"]["LENGTH"].values[0] == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("sample_every", 30), ("timestep_fs", 0.0), ("temperature", -1.0), ("thermostat", "berendsen")],
)
def test_bad_md_settings_name_the_field(field, value):
    with pytest.raises(InputError, match=field if field != "thermostat" else "berendsen"):
        Cp2kMDMaker(**{"steps": 20, field: value})


def test_maker_shares_the_static_reference_and_category():
    maker = Cp2kMDMaker(preset=CHEAP_CP2K, temperature=450.0)
    assert maker.reference == Cp2kLabelMaker(preset=CHEAP_CP2K).reference
    md_job = maker.make(_li2(), origin="Li2", campaign="c")
    assert md_job.config.manager_config["_category"] == "dft" and md_job.name == "cp2k md Li2 450K"


def test_failing_command_is_recorded_and_campaign_goes_on(seiflow_env, tmp_path):
    maker = Cp2kMDMaker(preset=CHEAP_CP2K, steps=2, sample_every=1, cp2k_cmd="false", max_errors=1,
                        polling_time_step=0.5)
    md_job, after = maker.make(_li2(), origin="Li2", campaign="c"), add(1, 2)
    responses = run_locally(Flow([md_job, after]), root_dir=tmp_path, create_folders=True,
                            store=store.get_jobstore(), ensure_success=True)
    out = responses[md_job.uuid][1].output
    assert responses[after.uuid][1].output == 3
    assert (out.n_new, out.n_failed) == (0, 1) and "CP2K MD failed" in out.failures[0].reason
    assert FrameStore().get(out.failures[0].frame_id).status == FrameStatus.FAILED


@pytest.mark.cp2k
@pytest.mark.slow
def test_real_cp2k_md_frames_equal_static_single_points(seiflow_env, tmp_path):
    maker = Cp2kMDMaker(preset=FAST, temperature=600.0, steps=4, sample_every=2, seed=3,
                        polling_time_step=1)
    md_job = maker.make(_li2(), origin="Li2", campaign="c")
    responses = run_locally(md_job, root_dir=tmp_path, create_folders=True, store=store.get_jobstore(),
                            ensure_success=True)
    out = responses[md_job.uuid][1].output
    assert (out.n_new, out.n_failed, out.n_flagged) == (2, 0, 0)
    frames = FrameStore()
    stored = sorted(frames.find(campaign="c"), key=lambda f: f.provenance.frame_index)
    assert [f.provenance.frame_index for f in stored] == [2, 4]
    assert {(f.provenance.source, f.provenance.origin, f.provenance.temperature) for f in stored} == {
        ("reference_md", "Li2", 600.0)
    }
    run_dir = next(tmp_path.glob(f"job_*/{MD_FOLDER}"))
    assert (run_dir / POSITIONS_FILE).is_file() and (run_dir / FORCES_FILE).is_file()  # stay in the folder
    # the whole trajectory (positions, forces, log) is in GridFS, its id in each frame's provenance
    (trajectory,) = {f.provenance.trajectory for f in stored}
    files = TrajectoryStore().read_files(trajectory)
    assert files[POSITIONS_FILE] == (run_dir / POSITIONS_FILE).read_bytes()
    assert set(files) == {POSITIONS_FILE, FORCES_FILE, OUTPUT_FILE}

    # A static single point of the last frame's positions gives the same labels (eV, eV/Å, virial eV).
    md_frame = stored[-1]
    assert not np.allclose(md_frame.positions, _li2().cart_coords)  # the atoms moved
    structure = Structure(md_frame.cell, md_frame.species, md_frame.positions, coords_are_cartesian=True)
    static = Cp2kLabelMaker(preset=FAST, polling_time_step=1)
    static_dir = tmp_path / "static"
    assert static.run_one(structure, static_dir).ok
    sp = frame_from_cp2k_dir(static_dir, structure, static.reference, Provenance(source="test"))
    assert sp.energy == pytest.approx(md_frame.energy, abs=1e-4)
    assert np.allclose(sp.forces, md_frame.forces, atol=2e-3)
    assert np.allclose(sp.virial, md_frame.virial, atol=2e-3)
    assert np.abs(md_frame.forces).max() > 0.02 and np.abs(md_frame.virial).max() > 0.1  # not vacuous

    # Same reference, same hash: the static labeller finds the MD frame already stored.
    label = static.make([structure], {"source": "labelling", "campaign": "c"})
    again = run_locally(label, root_dir=tmp_path, create_folders=True, store=store.get_jobstore(),
                        ensure_success=True)
    assert (again[label.uuid][1].output.n_duplicate, again[label.uuid][1].output.n_new) == (1, 0)
