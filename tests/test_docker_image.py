"""The worker image built for real and run: podman, a Debian bookworm base made with debootstrap.

``docker/podman-build.sh`` builds ``docker/Dockerfile.worker`` (wheels from the test venv, no registry).
In the container: seiflow, seiflow-rlaunch, dp and lmp answer; a ``seiflow-rlaunch`` worker, on the host's
network, pulls a DeePMD training job from a password-protected server on the host's loopback, the password
given only through ``SEIFLOW_DB_PASSWORD``; the model it stored is read back on the host and run by the
container's ``lmp`` with ``pair_style deepmd``, whose energy matches DeePMD's Python API on the host. No
file under docker/ or written by the worker holds the password.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.dataset.frames import FrameStore
from seiflow.dataset.importers import frames_from_file
from seiflow.db import embedded
from seiflow.models.store import ModelStore
from seiflow.schemas.campaign import TrainingConfig
from seiflow.training.data import TrainingDataSpec
from seiflow.training.jobs import DeepmdTrainMaker
from tests.security.servers import PASSWORD, USER, own_server, start_with_auth, write_settings
from tests.security.test_credentials import files_holding

REPO = Path(__file__).resolve().parents[1]
LICL = REPO / "tests" / "data" / "licl_deepmd" / "Li32Cl32"
TRAIN_WORKER = REPO / "seiflow" / "data" / "workers" / "gpu" / "my_fworker.yaml"  # category train
IMAGE = "localhost/seiflow-worker:test"
PODMAN = ["podman", "--runtime", "runc"] if shutil.which("runc") else ["podman"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(2400),  # a cold build (base, wheels, image) takes ~6-10 min on 2 busy cores
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman missing: run scripts/install-system.sh"),
]


def podman_run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """``podman run --rm --network host IMAGE-and-args``; its output (fails the test on a non-zero exit)."""
    cmd = [*PODMAN, "run", "--rm", "--network", "host", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built by docker/podman-build.sh (layers and wheels cached between runs)."""
    start = time.monotonic()
    proc = subprocess.run(["bash", str(REPO / "docker" / "podman-build.sh"), IMAGE],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    phases = [line for line in proc.stderr.splitlines() if line.startswith("podman-build:")]
    print(f"image built in {time.monotonic() - start:.0f} s:", *phases, sep="\n  ")
    return IMAGE


def test_image_holds_seiflow_deepmd_lammps(image):
    out = podman_run(image, "sh", "-c", "python --version && seiflow --version && seiflow-rlaunch --version"
                     " && dp --version && echo 'plugin list' | lmp -log none")
    assert "Python 3.11." in out and "seiflow, version" in out and "seiflow-rlaunch" in out
    assert re.search(r"DeePMD-kit v3\.2\.0", out), out[-2000:]
    assert "pair style plugin deepmd" in out, out[-2000:]


@pytest.fixture
def auth_store(tmp_path, monkeypatch):
    """A daemon with --auth on the host's loopback; this process reaches it with SEIFLOW_DB_PASSWORD."""
    cfg = own_server(tmp_path / "server")
    start_with_auth(cfg)
    launchpad = {"host": "127.0.0.1", "port": cfg.port, "name": "dockerdb", "username": USER,
                 "authsource": "admin"}
    settings = write_settings(tmp_path, launchpad, cfg)
    monkeypatch.setenv("SEIFLOW_CONFIG", str(settings))
    monkeypatch.setenv("SEIFLOW_DB_PASSWORD", PASSWORD)
    store.reset_connections()
    yield launchpad
    store.reset_connections()
    embedded.stop(cfg)


def container_config(directory: Path, launchpad: dict) -> Path:
    """/etc/seiflow for the container: docker/seiflow.yaml's settings, a launchpad.yaml with no password."""
    directory.mkdir()
    settings = yaml.safe_load((REPO / "docker" / "seiflow.yaml").read_text())
    (directory / "seiflow.yaml").write_text(yaml.safe_dump({**settings, "db_wait_s": 30}))
    (directory / "launchpad.yaml").write_text(yaml.safe_dump({**launchpad, "strm_lvl": "INFO"}))
    shutil.copy(TRAIN_WORKER, directory / "my_fworker.yaml")
    return directory


def lammps_energy(image: str, model: Path, workdir: Path) -> tuple[float, float]:
    """First LiCl frame: (LAMMPS pe at step 0 in the container, DeePMD's Python API on the host), eV."""
    from ase import Atoms
    from ase.io import write
    from deepmd.infer import DeepPot

    coords = np.load(LICL / "set.000" / "coord.npy")[0].reshape(-1, 3)
    cell = np.load(LICL / "set.000" / "box.npy")[0].reshape(3, 3)
    types = np.loadtxt(LICL / "type.raw", dtype=int)
    atoms = Atoms(symbols=[["Li", "Cl"][t] for t in types], positions=coords, cell=cell, pbc=True)
    write(workdir / "conf.lmp", atoms, format="lammps-data", specorder=["Li", "Cl"], masses=True)
    shutil.copy(model, workdir / "model.pb")
    (workdir / "in.lammps").write_text(
        "units metal\natom_style atomic\nboundary p p p\nread_data conf.lmp\n"
        "pair_style deepmd model.pb\npair_coeff * * Li Cl\n"
        "thermo_style custom step pe\nthermo_modify format float %20.10f\nrun 0\n"
    )
    out = podman_run("-v", f"{workdir}:/work", "-w", "/work", "--user", "0", image,
                     "lmp", "-in", "in.lammps", "-log", "none")
    pe = float(re.search(r"^\s*0\s+(-?\d+\.\d+)\s*$", out, re.M).group(1))
    e, _, _ = DeepPot(str(model)).eval(coords.reshape(1, -1), cell.reshape(1, -1), types)
    return pe, float(np.ravel(e)[0])


def test_worker_in_the_container_trains_a_model_with_the_password_from_the_environment(
    image, auth_store, tmp_path
):
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    frames = FrameStore()
    ids = [fid for fid, _ in frames.add_many(frames_from_file(LICL, "deepmd/npy"))]
    frames.tag_campaign(ids, "docker")
    config = TrainingConfig(
        numb_models=1, rcut=4.0, rcut_smth=0.5, sel=[24, 24], descriptor_neurons=[4, 8], axis_neuron=2,
        fitting_neurons=[8, 8], numb_steps=20, decay_steps=10, validation_fraction=0.2, compress=False,
    )
    job = DeepmdTrainMaker(config=config, type_map=["Li", "Cl"], save_freq=10, disp_freq=10).make(
        TrainingDataSpec(query={"campaign": "docker"}), campaign="docker"
    )
    lp.add_wf(flow_to_workflow(job, store=store.get_jobstore()))

    etc = container_config(tmp_path / "etc", auth_store)
    runs = tmp_path / "runs-container"
    runs.mkdir(mode=0o777)
    runs.chmod(0o777)  # the image's user (uid 1000) writes here
    env = {**os.environ, "SEIFLOW_DB_PASSWORD": PASSWORD}  # given to podman only by name (-e NAME)
    out = podman_run("-e", "SEIFLOW_DB_PASSWORD", "-v", f"{etc}:/etc/seiflow:ro", "-v", f"{runs}:/data/runs",
                     image, "seiflow-rlaunch", "-l", "/etc/seiflow/launchpad.yaml",
                     "-w", "/etc/seiflow/my_fworker.yaml", "rapidfire", env=env, timeout=900)
    states = {fw["state"] for fw in lp.fireworks.find({}, {"state": 1})}
    assert states == {"COMPLETED"}, out[-3000:]

    (model,) = ModelStore().latest_ensemble("docker")
    assert model.numb_steps == 20 and model.metrics.n_test_frames == 6 and model.metrics.rmse_f_mev_a > 0
    launch = lp.launches.find_one({})
    assert launch["fworker"]["name"] == "gpu-node" and launch["launch_dir"].startswith("/data/runs/")
    assert (runs / "training" / "docker" / "round_001" / "model_0" / "input.json").is_file()
    frozen = ModelStore().fetch(model.model_id, tmp_path / "model", kind="frozen")
    workdir = tmp_path / "lmp"
    workdir.mkdir()
    pe, e_host = lammps_energy(image, frozen, workdir)
    assert abs(pe - e_host) < 1e-5 * 64, (pe, e_host)

    assert PASSWORD not in out
    assert files_holding(PASSWORD, REPO / "docker", etc, runs) == []
    inspect = subprocess.run([*PODMAN, "image", "inspect", image], capture_output=True, text=True, check=True)
    history = subprocess.run([*PODMAN, "history", "--no-trunc", image], capture_output=True, text=True,
                             check=True)
    assert PASSWORD not in inspect.stdout + history.stdout
