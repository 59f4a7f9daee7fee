"""Helpers: a test's own MongoDB-protocol daemon (with auth or TLS) and settings pointing at it."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import yaml
from pymongo import MongoClient

from seiflow.db import embedded
from seiflow.settings import EmbeddedServerSettings

USER = "seiuser"
PASSWORD = "S3cr3t-pw-4-tests"  # noqa: S105 - a test password, searched for everywhere it must not be


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_server(root: Path) -> EmbeddedServerSettings:
    """Settings of a separate daemon (not the session one) on a free port, data under ``root``."""
    return EmbeddedServerSettings(port=free_port(), storage_path=root / "db", auto_start=False)


def start_with_auth(cfg: EmbeddedServerSettings) -> None:
    """Create a root user without auth, then restart the daemon with ``--auth``."""
    embedded.start(cfg)
    client: MongoClient = MongoClient(cfg.host, cfg.port, directConnection=True)
    try:
        client.admin.command("createUser", USER, pwd=PASSWORD, roles=["root"])
    finally:
        client.close()
    embedded.stop(cfg)
    embedded.start(cfg, extra_args=["--auth"])


def make_certs(directory: Path) -> dict[str, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1/localhost, made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                          "server.pem"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=seiflow-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return {"ca": ca, "key": key, "cert": cert}


def write_settings(root: Path, launchpad: dict, cfg: EmbeddedServerSettings | None = None) -> Path:
    """launchpad.yaml + seiflow.yaml under ``root``; returns the settings file."""
    lp_file = root / "launchpad.yaml"
    lp_file.write_text(yaml.safe_dump({"strm_lvl": "WARNING", **launchpad}))
    settings: dict = {"launchpad_file": str(lp_file), "work_dir": str(root / "runs"), "db_wait_s": 5}
    if cfg is not None:
        settings["embedded"] = {"port": cfg.port, "storage_path": str(cfg.storage_path), "auto_start": False}
    else:
        settings["embedded"] = {"auto_start": False}
    path = root / "seiflow.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path
