"""The store's per-process caches: settings re-read only when they change, no ping per job, indexes once."""

from __future__ import annotations

import os

import yaml
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow

from seiflow import store
from seiflow.constants import JOBSTORE_DATA_BUCKET, JOBSTORE_DOCS_COLLECTION
from seiflow.testing.flows import add


def _rewrite(path, **changes) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    st = path.stat()  # a later mtime even on a coarse clock
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_changed_launchpad_file_or_variable_is_seen_without_reset(seiflow_env, monkeypatch):
    assert store.get_database().name == seiflow_env.db_name
    _rewrite(seiflow_env.launchpad_file, name=f"{seiflow_env.db_name}_b")
    assert store.get_database().name == f"{seiflow_env.db_name}_b"
    monkeypatch.setenv("SEIFLOW_DATABASE", "other_db")
    assert store.get_database().name == "other_db"
    monkeypatch.delenv("SEIFLOW_DATABASE")
    assert store.get_database().name == f"{seiflow_env.db_name}_b"


def test_reset_connections_forgets_cached_settings(seiflow_env):
    store.get_database()
    data = yaml.safe_load(seiflow_env.launchpad_file.read_text())
    data["name"] = "same_len_" + seiflow_env.db_name[9:]  # mtime/size may not change: reset must re-read
    seiflow_env.launchpad_file.write_text(yaml.safe_dump(data))
    store.reset_connections()
    assert store.get_database().name == data["name"]


def test_jobstore_connects_per_job_without_a_ping_once_the_server_answered(seiflow_env, monkeypatch):
    calls = []
    real_ping = store._ping
    monkeypatch.setattr(store, "_ping", lambda lp, retry_s: calls.append(retry_s) or real_ping(lp, retry_s))
    store.reset_connections()
    for _ in range(3):  # a worker deserialises a fresh JobStore for every job
        js = store.get_jobstore()
        js.connect()
        js.docs_store.count()
    assert len(calls) == 1  # the first connection is checked (fail fast), later ones reuse the client


def test_jobstore_connect_creates_its_lookup_indexes(seiflow_env):
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    job = add(1, 2)
    lp.add_wf(flow_to_workflow(Flow([job]), store=store.get_jobstore()))
    js = store.get_jobstore()
    js.connect()
    db = store.get_database()
    keys = [list(ix["key"].items()) for ix in db[JOBSTORE_DOCS_COLLECTION].list_indexes()]
    assert [("uuid", 1), ("index", 1)] in keys
    files = [list(ix["key"].items()) for ix in db[f"{JOBSTORE_DATA_BUCKET}.files"].list_indexes()]
    assert [("metadata.blob_uuid", 1)] in files
