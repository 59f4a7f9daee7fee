"""The store: FireWorks' LaunchPad and a jobflow JobStore, both on the MongoDB that ``launchpad.yaml`` names.

seiflow's own collections (frames, models, rounds) live in the LaunchPad's database; large arrays go
to GridFS. The JobStore embedded in workflows holds only collection names: each worker resolves the
connection from its own settings, so no credentials are written into the LaunchPad.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import pymongo
import yaml
from fireworks import LaunchPad
from jobflow import JobStore
from maggma.stores import GridFSStore, MongoStore
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import ConfigurationError, PyMongoError

from seiflow.constants import (
    EMBEDDED_HOST,
    JOBSTORE_DATA_BUCKET,
    JOBSTORE_DOCS_COLLECTION,
)
from seiflow.db import embedded
from seiflow.errors import EmbeddedServerError, InputError, StoreUnreachableError
from seiflow.retry import retry_call
from seiflow.settings import Settings, find_settings_file, launchpad_file, load_settings

_log = logging.getLogger(__name__)
BLOB_KEY = "blob_uuid"  # the key jobflow's JobStore gives its additional (GridFS) stores
_LOCK = threading.Lock()
_LAUNCHPADS: dict[str, LaunchPad] = {}
# (settings file, launchpad file, SEIFLOW_* variables) stamp -> (settings, LaunchPad config, cache key)
_RESOLVED: dict[tuple, tuple[Settings, dict[str, Any], str]] = {}
_INDEXED: set[tuple[str, str, str]] = set()  # (server addresses, database, collection) whose indexes were ensured
PASSWORD_ENV = "SEIFLOW_DB_PASSWORD"
LOOPBACK = {"127.0.0.1", "localhost", "::1", EMBEDDED_HOST}
CHECK_S = 10.0  # how long the reachability check of a command waits (fail fast, clearly)
_CREDENTIALS = re.compile(r"(mongodb(?:\+srv)?://)[^@/\s]*@")

# The embedded server is one node, but its hello names a replica set ("secantus"), so a plain client
# watches it as a set. While it shuts down it answers hello as a standalone; a client whose monitor
# reads that answer drops the server from the set for good (pymongo never re-adds a seed), and every
# later call of that process fails after db_wait_s, even once the server is back. A direct connection
# (topology Single) keeps the server whatever it answers: seiflow's clients of it always use one.
EMBEDDED_CLIENT = {"directConnection": True}


def redact(text: str) -> str:
    """``text`` with the ``user:password@`` part of any MongoDB URI removed (for messages and logs)."""
    return _CREDENTIALS.sub(r"\1", str(text))


class _LaunchPad(LaunchPad):
    """FireWorks' LaunchPad whose repr (used in tracebacks and assertion messages) hides the password."""

    def __repr__(self) -> str:
        return f"LaunchPad({describe(self.to_dict())})"

    __str__ = __repr__


def launchpad_config(settings: Settings) -> dict[str, Any]:
    """The LaunchPad's settings as FireWorks reads them (embedded default when no file is set)."""
    path = launchpad_file(settings)
    if path is None:
        wait_ms = int(settings.db_wait_s * 1000)  # outage tolerance, as below
        return {"host": settings.embedded.host, "port": settings.embedded.port, "name": "seiflow",
                "mongoclient_kwargs": {"serverSelectionTimeoutMS": wait_ms, **EMBEDDED_CLIENT}}
    if not path.is_file():
        raise InputError(f"launchpad_file {path} does not exist", "create it or fix launchpad_file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}", "fix its syntax") from exc
    if not isinstance(data, dict) or not data.get("name"):
        raise InputError(f"{path} has no database 'name'", "add 'name: <database>' to it")
    if data.get("username") and not data.get("password") and os.environ.get(PASSWORD_ENV):
        data["password"] = os.environ[PASSWORD_ENV]  # keep passwords out of files
    # wait out a short server outage (pymongo waits for server selection, then retries once);
    # workers get this through the launchpad.yaml written for them
    kwargs = dict(data.get("mongoclient_kwargs") or {})
    kwargs.setdefault("serverSelectionTimeoutMS", int(settings.db_wait_s * 1000))
    if is_embedded(settings, data):
        for key, value in EMBEDDED_CLIENT.items():  # see EMBEDDED_CLIENT
            kwargs.setdefault(key, value)
    data["mongoclient_kwargs"] = kwargs
    return data


def is_embedded(settings: Settings, config: dict[str, Any] | None = None) -> bool:
    """True when the LaunchPad points at the embedded server's address."""
    config = config or launchpad_config(settings)
    return (
        not config.get("uri_mode")
        and str(config.get("host", "localhost")) in LOOPBACK
        and int(config.get("port") or 27017) == settings.embedded.port
    )


def ensure_server(settings: Settings) -> None:
    """Start the embedded server when the LaunchPad points at it and it is not running.

    A server already answering on the port must be the one seiflow started on this settings' storage
    (:func:`seiflow.db.embedded.start` checks): another ``HOME``'s demo server on the same port would
    otherwise silently take this campaign's data.
    """
    config = launchpad_config(settings)
    if is_embedded(settings, config) and settings.embedded.auto_start:
        embedded.start(settings.embedded)


def describe(config: dict[str, Any]) -> str:
    """Where a LaunchPad points, without credentials (for messages and status output)."""
    if config.get("uri_mode"):
        host = str(config.get("host", ""))
        scheme, _, rest = host.partition("://")
        rest = rest.rsplit("@", 1)[-1]
        return f"{scheme}://{rest.split('/')[0]}/{config.get('name')}"
    host = redact(config.get("host", "localhost")).removeprefix("mongodb://").split("/")[0]
    return f"mongodb://{host}:{config.get('port', 27017)}/{config.get('name')}"


def _stamp(path: Path | None) -> tuple | None:
    """What identifies a file's content cheaply: absolute path, mtime, size, inode (None: no file)."""
    if path is None:
        return None
    path = path.absolute()
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def _resolve(settings: Settings | None = None) -> tuple[Settings, dict[str, Any], str]:
    """Settings, LaunchPad config and cache key of the process's store.

    Given no ``settings``, they are read from the settings search order once and then reused for as long
    as the settings file, the launchpad file and the ``SEIFLOW_*`` variables stay the same (a worker runs
    many jobs; each job's JobStore connects anew). :func:`reset_connections` forgets them.
    """
    if settings is not None:
        config = launchpad_config(settings)
        return settings, config, json.dumps(config, sort_keys=True, default=str)
    path = find_settings_file()
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SEIFLOW_")))
    outer = (_stamp(path), env)
    with _LOCK:
        hit = _RESOLVED.get(outer)
    if hit is not None:
        lp_stamp = _stamp(launchpad_file(hit[0]))  # ./launchpad.yaml may depend on the working folder
        with _LOCK:
            found = _RESOLVED.get((*outer, lp_stamp))
        if found is not None:
            return found
    settings = load_settings(path)
    lp_stamp = _stamp(launchpad_file(settings))
    config = launchpad_config(settings)
    resolved = (settings, config, json.dumps(config, sort_keys=True, default=str))
    with _LOCK:
        _RESOLVED[outer] = resolved
        _RESOLVED[(*outer, lp_stamp)] = resolved
    return resolved


def get_launchpad(settings: Settings | None = None, check: bool = True, worker: bool = False) -> LaunchPad:
    """A LaunchPad for the configured server (cached per process), starting the embedded one if needed.

    ``worker``: a worker runs the jobs of the LaunchPad it is pointed at (a container or a cluster node
    connecting to another folder's ``seiflow db start``), so the embedded-owner check is left out.
    """
    settings, config, key = _resolve(settings)
    with _LOCK:
        lp = _LAUNCHPADS.get(key)
        known = lp is not None  # it answered before: an outage is waited out, not reported at once
        if lp is None:
            if is_embedded(settings, config) and settings.embedded.auto_start:
                ensure_server(settings)
            kwargs = dict(config.get("mongoclient_kwargs") or {})
            try:
                lp = LaunchPad.from_dict({**config, "mongoclient_kwargs": kwargs, "strm_lvl": "WARNING"})
                lp.__class__ = _LaunchPad  # from_dict always builds a plain LaunchPad
            except (PyMongoError, ValueError, OSError) as exc:  # bad URI, SRV lookup, TLS files
                no_password = config.get("username") and not config.get("password")
                raise StoreUnreachableError(
                    f"cannot connect to the LaunchPad at {describe(config)}: {_reason(exc)}",
                    f"set {PASSWORD_ENV} (or password in launchpad.yaml)" if no_password
                    else "fix launchpad.yaml host/port/uri_mode/mongoclient_kwargs",
                ) from None
            _LAUNCHPADS[key] = lp
    if check:
        try:
            _ping(lp, settings.db_wait_s if known else 0.0)
        except PyMongoError as exc:
            with _LOCK:
                _LAUNCHPADS.pop(key, None)
            raise StoreUnreachableError(
                f"cannot reach the LaunchPad at {describe(config)}: {_reason(exc)}",
                "start it (seiflow db start) or fix launchpad.yaml host/port/credentials",
            ) from None
        # after the ping, so that bad credentials read as such and not as a lookup that timed out
        loopback = str(config.get("host", "localhost")) in LOOPBACK and not config.get("uri_mode")
        if not known and not worker and loopback:
            try:
                _check_owner(lp, settings, config)
            except EmbeddedServerError:
                with _LOCK:
                    _LAUNCHPADS.pop(key, None)
                raise
    return lp


def _check_owner(lp: LaunchPad, settings: Settings, config: dict[str, Any]) -> None:
    """Refuse a loopback LaunchPad that is another storage's embedded server (another HOME's demo, say).

    The embedded server records the folder it keeps its data in; a launchpad.yaml whose port no longer
    matches ``embedded.port`` would otherwise write this campaign into someone else's store.
    """
    try:
        held_by = embedded.owner(lp.connection)
    except PyMongoError:
        return  # not reachable yet: the ping below says so
    mine = str(settings.embedded.storage_path.expanduser().resolve())
    if held_by is not None and held_by != mine:
        where = launchpad_file(settings)
        raise EmbeddedServerError(
            f"the LaunchPad at {describe(config)} ({where or 'embedded default'}) is the embedded server of "
            f"{held_by}, not of this settings' {mine} (embedded.port {settings.embedded.port})",
            f"point {where or 'launchpad_file'} at port {settings.embedded.port}, or remove it to use the "
            "embedded default, or set embedded.storage_path to that folder to share its store on purpose",
        )


def _ping(lp: LaunchPad, retry_s: float) -> None:
    """Ping within CHECK_S (fail fast on a first connection); retry transient errors for ``retry_s``."""

    def ping() -> None:
        with pymongo.timeout(CHECK_S):
            lp.connection.admin.command("ping")

    retry_call(ping, deadline_s=retry_s) if retry_s else ping()


def _reason(exc: Exception) -> str:
    """The error type, plus pymongo's text for auth/config errors (never holding a password)."""
    name = type(exc).__name__
    if getattr(exc, "code", None) == 18 or isinstance(exc, ConfigurationError):  # 18: AuthenticationFailed
        first = redact(str(exc)).split(", full error")[0].splitlines()[0][:200]
        return f"{name}: {first}"
    return name


def get_database(settings: Settings | None = None) -> Database:
    """The database holding seiflow's collections (the LaunchPad's, unless ``database`` is set)."""
    settings = settings or _resolve()[0]
    return _database_of(get_launchpad(settings), settings)


def _database_of(lp: LaunchPad, settings: Settings) -> Database:
    return lp.connection[settings.database] if settings.database else lp.db


def _store_database() -> Database:
    """:func:`get_database` for a JobStore connecting in a worker (once per job).

    While the process's cached client sees its server as writable (pymongo's topology, no round trip),
    the reachability ping is skipped: the job's own calls wait for the server for ``db_wait_s``
    (serverSelectionTimeoutMS), and the stores' ``update`` retries an outage for ``db_wait_s``. A first
    connection, or a server the client has seen go away, takes the checked path (ping, outages retried
    for ``db_wait_s``).
    """
    settings, _, key = _resolve()
    with _LOCK:
        lp = _LAUNCHPADS.get(key)
    if lp is None or not lp.connection.topology_description.has_writable_server():
        return get_database(settings)
    return _database_of(lp, settings)


def _ensure_indexes(db: Database, collection: str, indexes: list) -> None:
    """Create ``indexes`` on ``db[collection]`` once per process and server (idempotent on the server).

    jobflow finds and replaces outputs by ``uuid``/``index`` (and data blobs by ``blob_uuid``); without an
    index each lookup scans the whole collection, which grows with every job ever run.
    """
    servers = repr(sorted(db.client.topology_description.server_descriptions()))  # addresses only
    mark = (servers, db.name, collection)
    with _LOCK:
        if mark in _INDEXED:
            return
    try:
        for keys in indexes:
            db[collection].create_index(keys)
    except PyMongoError as exc:  # e.g. a user without createIndex rights: run without, but say so
        _log.warning("could not create index on %s.%s: %s", db.name, collection, _reason(exc))
        return
    with _LOCK:
        _INDEXED.add(mark)


class SettingsMongoStore(MongoStore):
    """A maggma ``MongoStore`` that takes its connection from the worker's seiflow settings at connect.

    Only ``collection_name`` is serialised, so workflows stored in the LaunchPad carry no host or password.
    """

    def __init__(self, collection_name: str, **kwargs):
        super().__init__(database="seiflow", collection_name=collection_name, **kwargs)

    def connect(self, force_reset: bool = False):
        """Connect to the settings' store (the process's shared client)."""
        if self._coll is None or force_reset:
            db = _store_database()
            _ensure_indexes(db, self.collection_name, [[("uuid", ASCENDING), ("index", ASCENDING)]])
            self.database = db.name
            self._coll = db[self.collection_name]

    def update(self, docs, key=None):
        """Maggma's update (an idempotent upsert), retried while the server is away (``db_wait_s``).

        On a standalone server pymongo does not retry writes, and :meth:`connect` does not ping per job.
        """
        retry_call(super().update, docs, key, deadline_s=_resolve()[0].db_wait_s)

    def close(self):
        """Forget the collection; the shared client stays open."""
        self._coll = None  # the client is shared by the process; do not close it

    @property
    def name(self) -> str:
        """A name for jobflow's messages (no connection details)."""
        return f"seiflow://{self.collection_name}"


class SettingsGridFSStore(GridFSStore):
    """A maggma ``GridFSStore`` resolved like :class:`SettingsMongoStore`."""

    def __init__(self, collection_name: str, **kwargs):
        kwargs.setdefault("compression", True)
        super().__init__(database="seiflow", collection_name=collection_name, **kwargs)

    def connect(self, force_reset: bool = False):
        """Connect to the settings' GridFS bucket (the process's shared client)."""
        if not self._coll or force_reset:
            import gridfs

            db = _store_database()
            _ensure_indexes(db, f"{self.collection_name}.files", [f"metadata.{BLOB_KEY}"])
            self.database = db.name
            self._coll = gridfs.GridFS(db, self.collection_name)
            self._files_collection = db[f"{self.collection_name}.files"]
            self._fs = MongoStore.from_collection(self._files_collection)
            self._fs.last_updated_field = f"metadata.{self.last_updated_field}"
            self._fs.key = self.key
            self._chunks_collection = db[f"{self.collection_name}.chunks"]

    def update(self, docs, key=None, additional_metadata=None):
        """Maggma's update, retried like :meth:`SettingsMongoStore.update` (older copies are cleaned up)."""
        retry_call(super().update, docs, key, additional_metadata, deadline_s=_resolve()[0].db_wait_s)

    def close(self):
        """Forget the bucket; the shared client stays open."""
        self._coll = None

    @property
    def name(self) -> str:
        """A name for jobflow's messages (no connection details)."""
        return f"seiflow-gridfs://{self.collection_name}"


class SettingsJobStore(JobStore):
    """jobflow's ``JobStore`` over :class:`SettingsMongoStore` and a :class:`SettingsGridFSStore` (key ``data``).

    Serialised as its two collection names only (~130 bytes instead of the ~560 of a plain ``JobStore``
    holding both stores' dicts). Every firework of a flow carries its store, and the embedded server
    decodes every READY firework on each checkout, so the firework documents are kept small.

    Parameters
    ----------
    docs_collection
        Collection of the job output documents.
    data_bucket
        GridFS bucket of the large outputs.
    """

    def __init__(self, docs_collection: str = JOBSTORE_DOCS_COLLECTION, data_bucket: str = JOBSTORE_DATA_BUCKET):
        super().__init__(
            docs_store=SettingsMongoStore(docs_collection),
            additional_stores={"data": SettingsGridFSStore(data_bucket)},
        )
        self.docs_collection = docs_collection
        self.data_bucket = data_bucket

    def as_dict(self) -> dict[str, Any]:
        """The class and the two collection names (what a worker needs to rebuild it)."""
        return {"@module": type(self).__module__, "@class": type(self).__name__,
                "docs_collection": self.docs_collection, "data_bucket": self.data_bucket}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SettingsJobStore:
        """Rebuild from :meth:`as_dict`."""
        return cls(d.get("docs_collection", JOBSTORE_DOCS_COLLECTION), d.get("data_bucket", JOBSTORE_DATA_BUCKET))


def get_jobstore() -> JobStore:
    """The jobflow JobStore: documents in MongoDB, large outputs (key ``data``) in GridFS."""
    return SettingsJobStore()


def reset_connections() -> None:
    """Forget cached connections (tests and long-lived processes that switch servers)."""
    with _LOCK:
        for lp in _LAUNCHPADS.values():
            with contextlib.suppress(PyMongoError):
                lp.connection.close()
        _LAUNCHPADS.clear()
        _RESOLVED.clear()
        _INDEXED.clear()
