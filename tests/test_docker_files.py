"""docker/: the worker image and compose stack, checked by reading them against the repository.

tests/test_docker_image.py builds the image with podman and runs it; no Docker engine (compose) runs
here, so these tests parse the files: every referenced file exists, every command is a console script
the image installs, the workers cover every job category, the settings the containers read are valid
seiflow settings pointing at the compose ``mongo`` service, and the password is only in the environment.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker

from seiflow.controller.workers import ALL_CATEGORIES
from seiflow.settings import load_settings
from seiflow.store import launchpad_config

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (DOCKER / "Dockerfile.worker").read_text().replace("\\\n", " ")
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, args = line.partition(" ")
            steps.append((op.upper(), " ".join(args.split())))
    return steps


def _seiflow_services() -> dict[str, dict]:
    return {k: v for k, v in _compose()["services"].items() if k != "mongo"}


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host path (resolved from docker/) for bind mounts."""
    result = {}
    for spec in service.get("volumes", []):
        src, dst = spec.split(":")[:2]
        if src.startswith("."):
            result[dst] = str((DOCKER / src).resolve())
    return result


def _console_scripts() -> set[str]:
    return {e.name for e in entry_points(group="console_scripts")}


def test_mongo_is_a_real_mongodb_on_loopback():
    mongo = _compose()["services"]["mongo"]
    assert mongo["image"] == "mongo:7"
    assert all(p.startswith("127.0.0.1:") for p in mongo.get("ports", []))
    assert any(v.endswith(":/data/db") for v in mongo["volumes"])


def test_services_build_the_worker_image_and_mount_existing_files():
    services = _seiflow_services()
    assert "controller" in services and len(services) >= 4
    for name, service in services.items():
        build = service["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile.worker", name
        assert service["depends_on"]["mongo"]["condition"] == "service_healthy"
        for dst, src in _mounts(service).items():
            assert Path(src).exists(), f"{name}: {src} (for {dst}) does not exist"
        named = {v.split(":")[0] for v in service["volumes"] if not v.startswith(".")}
        assert named <= set(_compose()["volumes"]), name


def test_containers_read_valid_settings_pointing_at_mongo(monkeypatch):
    for name, service in _seiflow_services().items():
        config = service["environment"]["SEIFLOW_CONFIG"]
        mounts = _mounts(service)
        assert config in mounts, f"{name}: SEIFLOW_CONFIG {config} is not mounted"
        monkeypatch.delenv("SEIFLOW_CONFIG", raising=False)
        settings = load_settings(Path(mounts[config]))
        lp = launchpad_config(settings)
        assert (lp["host"], lp["port"]) == ("mongo", 27017)
        assert settings.embedded.auto_start is False
        # launchpad_file is resolved next to the settings file, as in the container
        assert str(Path(config).parent / "launchpad.yaml") in mounts


def test_workers_cover_every_category_with_shipped_files():
    taken: set[str | None] = set()
    for name, service in _seiflow_services().items():
        command = service["command"]
        fworker = command[command.index("-w") + 1]
        host_file = Path(_mounts(service)[fworker])
        assert host_file.parent.parent == REPO / "seiflow" / "data" / "workers", name
        worker = FWorker.from_file(str(host_file))
        taken |= set(worker.category)
        launchpad = command[command.index("-l") + 1]
        assert launchpad in _mounts(service), name
    assert set(ALL_CATEGORIES) <= taken
    assert FWorker.from_file(_mounts(_compose()["services"]["controller"])["/etc/seiflow/my_fworker.yaml"]).name == "controller"


def test_docker_workers_links_point_at_shipped_files():
    for link in sorted((DOCKER / "workers").glob("*.yaml")):
        assert link.is_symlink()
        assert link.resolve() == REPO / "seiflow" / "data" / "workers" / link.stem / "my_fworker.yaml"


def test_commands_are_installed_console_scripts():
    scripts = _console_scripts()
    assert set(PYPROJECT["project"]["scripts"]) <= scripts
    commands = [s["command"][0] for s in _seiflow_services().values()]
    final_cmd = [json_cmd for op, json_cmd in _dockerfile() if op == "CMD"]
    commands.append(yaml.safe_load(final_cmd[-1])[0])
    assert set(commands) == {"seiflow-rlaunch"}  # FireWorks' rlaunch would need the password in a file
    check = next(args for op, args in _dockerfile() if op == "RUN" and "for cmd in" in args)
    listed = shlex.split(check.split("for cmd in", 1)[1].split(";", 1)[0])
    assert {"seiflow", "seiflow-rlaunch", "rlaunch", "dp", "lmp"} <= set(listed)
    for cmd in listed:
        assert cmd in scripts, cmd


def test_dockerfile_matches_pyproject():
    steps = _dockerfile()
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim") and steps[1] == ("FROM", "${BASE_IMAGE}")
    assert "3.11" in PYPROJECT["project"]["requires-python"]
    runs = [args for op, args in steps if op == "RUN"]
    deps = next(r for r in runs if "pip install --progress-bar off torch==2.13.0" in r)
    assert deps.index("torch==2.13.0") < deps.index('"/src[ml]"')  # torch first, then the ml extra
    assert any("pip install --progress-bar off --no-deps /src" in r for r in runs)
    assert "torch==2.13.0" in PYPROJECT["project"]["optional-dependencies"]["ml"]
    for op, args in steps:
        if op == "COPY":
            for src in args.split()[:-1]:
                assert (REPO / src).exists(), f"COPY source {src} is missing"
    env = next(args for op, args in steps if op == "ENV")
    compose_config = _compose()["services"]["controller"]["environment"]["SEIFLOW_CONFIG"]
    assert f"SEIFLOW_CONFIG={compose_config}" in env


def test_dockerfile_bakes_in_nothing_of_one_machine():
    """Defaults are the public ones; pip's build-only settings are ARGs without defaults (not ENV)."""
    args = dict(a.partition("=")[::2] for op, a in _dockerfile() if op == "ARG")
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert args["WITH_CP2K"] == "0"
    for name in ("PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT"):
        assert args[name] == "", name
    envs = " ".join(a for op, a in _dockerfile() if op == "ENV")
    assert "PIP_FIND_LINKS" not in envs and "PIP_CERT" not in envs and "/run/" not in envs
    text = (DOCKER / "Dockerfile.worker").read_text()
    for local in ("/opt/wheels", "/opt/pypi", "/etc/xdg/pip", "localhost/", "/root/"):
        assert local not in text.split("FROM", 1)[1], local


def test_password_only_in_the_environment():
    """No file under docker/ holds a password; every seiflow service and mongo take it from the environment."""
    lp = yaml.safe_load((DOCKER / "launchpad.yaml").read_text())
    assert lp["username"] and "password" not in lp
    from_env = "${SEIFLOW_DB_PASSWORD:?export SEIFLOW_DB_PASSWORD first}"
    for name, service in _seiflow_services().items():
        assert service["environment"]["SEIFLOW_DB_PASSWORD"] == from_env, name
    mongo = _compose()["services"]["mongo"]["environment"]
    assert mongo["MONGO_INITDB_ROOT_USERNAME"] == lp["username"]
    assert mongo["MONGO_INITDB_ROOT_PASSWORD"] == from_env
    for path in DOCKER.rglob("*"):
        if path.is_file():
            assert not re.search(r"(?i)^\s*password\s*:", path.read_text(errors="replace"), re.M), path


def test_compose_image_is_the_one_podman_build_makes():
    script = (DOCKER / "podman-build.sh").read_text()
    default_tag = re.search(r"tag=\$\{1:-([^}]+)\}", script).group(1)
    assert default_tag == "localhost/" + _compose()["x-worker"]["image"]
    assert "docker/Dockerfile.worker" in script and "Dockerfile.worker.dockerignore" in script


@pytest.mark.parametrize("name", ["controller", "worker-dft", "worker-train", "worker-lammps", "mongo"])
def test_readme_documents_each_service(name):
    readme = (DOCKER / "README.md").read_text()
    assert f"`{name}`" in readme
    assert "docker compose -f docker/compose.yaml up" in readme
    assert "bash docker/podman-build.sh" in readme and "SEIFLOW_DB_PASSWORD" in readme
