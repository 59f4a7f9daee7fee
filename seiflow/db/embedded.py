"""Start, stop and query the embedded MongoDB-protocol server.

The server is SecantusDB's daemon (``secantusd-py``, the optional ``embedded`` extra, GPL-2.0). It runs
as its own process: seiflow only starts it, talks to it over TCP with pymongo, and stops it. Nothing
here imports it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from seiflow.constants import EMBEDDED_LOG_FILE, EMBEDDED_OWNER_DB, EMBEDDED_PID_FILE
from seiflow.errors import EmbeddedServerError
from seiflow.settings import EmbeddedServerSettings

log = logging.getLogger(__name__)

DAEMON = "secantusd-py"


@dataclass
class ServerStatus:
    """What ``seiflow db status`` reports."""

    running: bool
    host: str
    port: int
    storage_path: str
    pid: int | None
    uri: str

    def as_dict(self) -> dict:
        """The settings as a plain mapping."""
        return asdict(self)


def _daemon_path() -> str:
    local = Path(sys.executable).parent / DAEMON
    if local.exists():
        return str(local)
    found = shutil.which(DAEMON)
    if not found:
        raise EmbeddedServerError(
            f"{DAEMON} (the embedded MongoDB-protocol server) is not installed",
            "pip install 'seiflow[embedded]', or point launchpad.yaml at your MongoDB",
        )
    return found


def ping(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a MongoDB-protocol server answers on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError:
        return False
    client: MongoClient = MongoClient(
        host, port, serverSelectionTimeoutMS=int(timeout_s * 1000), directConnection=True
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def owner(client: MongoClient) -> str | None:
    """The storage folder of the embedded server ``client`` talks to; None for any other server."""
    try:
        doc = client[EMBEDDED_OWNER_DB]["owner"].find_one({"_id": "owner"})
    except PyMongoError:
        return None
    return str(doc["storage"]) if doc and doc.get("storage") else None


def _mark_owner(cfg: EmbeddedServerSettings, storage: Path) -> None:
    """Record ``storage`` in the server, so that a client of another storage's settings can tell.

    A server started with ``--auth`` refuses the write without credentials: its record (written when it
    last ran without auth, kept in its storage) stays, and its password already keeps other clients out.
    """
    client: MongoClient = MongoClient(cfg.host, cfg.port, serverSelectionTimeoutMS=5000, directConnection=True)
    try:
        client[EMBEDDED_OWNER_DB]["owner"].replace_one(
            {"_id": "owner"}, {"_id": "owner", "storage": str(storage)}, upsert=True)
    except OperationFailure as exc:
        log.info("embedded server on port %s: owner not recorded (%s)", cfg.port, exc.details or exc)
    finally:
        client.close()


def _pid_file(storage: Path) -> Path:
    return storage / EMBEDDED_PID_FILE


def _read_pid(storage: Path) -> int | None:
    try:
        info = json.loads(_pid_file(storage).read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def status(cfg: EmbeddedServerSettings) -> ServerStatus:
    """Whether the embedded server answers, and where its data is."""
    storage = cfg.storage_path.expanduser()
    return ServerStatus(
        running=ping(cfg.host, cfg.port),
        host=cfg.host,
        port=cfg.port,
        storage_path=str(storage),
        pid=_read_pid(storage),
        uri=f"mongodb://{cfg.host}:{cfg.port}",
    )


def start(cfg: EmbeddedServerSettings, timeout_s: float = 30.0, extra_args: list[str] | None = None) -> ServerStatus:
    """Start the daemon in its own session (it outlives this process) and wait until it answers."""
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        raise EmbeddedServerError(
            f"embedded.host is {cfg.host!r}; the embedded server only binds to loopback",
            "set embedded.host to 127.0.0.1, or run a real MongoDB for remote workers",
        )
    storage = cfg.storage_path.expanduser().resolve()
    if ping(cfg.host, cfg.port):
        pid = _read_pid(storage)
        if pid is None:
            raise EmbeddedServerError(
                f"port {cfg.port} on {cfg.host} is already used by a server that seiflow did not start "
                f"with storage {storage}",
                "stop that server or choose another port (SEIFLOW_EMBEDDED__PORT)",
            )
        client: MongoClient = MongoClient(cfg.host, cfg.port, serverSelectionTimeoutMS=5000, directConnection=True)
        try:
            held_by = owner(client)
        finally:
            client.close()
        if held_by is not None and held_by != str(storage):
            raise EmbeddedServerError(
                f"port {cfg.port} on {cfg.host} is the embedded server of {held_by}, not of {storage}",
                "stop that server (seiflow db stop with its settings) or choose another port (SEIFLOW_EMBEDDED__PORT)",
            )
        if held_by is None:
            _mark_owner(cfg, storage)  # a server started before owners were recorded
        return status(cfg)
    storage.mkdir(parents=True, exist_ok=True)
    log = open(storage / EMBEDDED_LOG_FILE, "ab")  # noqa: SIM115 - handed to the child process
    cmd = [
        _daemon_path(),
        "--host", cfg.host,
        "--port", str(cfg.port),
        "--storage-path", str(storage),
        "--log-level", "WARNING",
        *(extra_args or []),
    ]
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        cwd=storage,
    )
    log.close()
    _pid_file(storage).write_text(json.dumps({"pid": proc.pid, "port": cfg.port, "host": cfg.host}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (storage / EMBEDDED_LOG_FILE).read_text(errors="replace")[-400:]
            raise EmbeddedServerError(
                f"the embedded server exited with code {proc.returncode}: {tail.strip()}",
                f"see {storage / EMBEDDED_LOG_FILE}; another server may hold {storage}",
            )
        if ping(cfg.host, cfg.port, timeout_s=0.5):
            _mark_owner(cfg, storage)
            return status(cfg)
        time.sleep(0.2)
    proc.terminate()
    raise EmbeddedServerError(
        f"the embedded server did not answer on {cfg.host}:{cfg.port} within {timeout_s:.0f} s",
        f"see {storage / EMBEDDED_LOG_FILE}",
    )


def stop(cfg: EmbeddedServerSettings, timeout_s: float = 20.0) -> ServerStatus:
    """Stop the daemon that ``start`` launched (SIGTERM, then SIGKILL after ``timeout_s``)."""
    storage = cfg.storage_path.expanduser().resolve()
    pid = _read_pid(storage)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
    _pid_file(storage).unlink(missing_ok=True)
    return status(cfg)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
