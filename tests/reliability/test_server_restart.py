"""The embedded server restarting under a running process: seiflow's clients keep it.

The daemon's hello names a replica set, but while it shuts down it answers as a standalone. A client that
watches it as a replica set and reads that answer drops it for good (pymongo never re-adds a seed): every
later call of the process then fails after ``db_wait_s``, even with the server back. This is what failed a
campaign's worker now and then across a store outage (CI run of stop 39). seiflow connects to the embedded
server directly (topology Single), which keeps the server whatever it answers.
"""

from __future__ import annotations

import contextlib
import threading

import yaml
from fireworks import Firework, ScriptTask
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from pymongo.hello import Hello
from pymongo.server_description import ServerDescription
from pymongo.topology_description import updated_topology_description

from seiflow import store
from seiflow.db import embedded
from seiflow.settings import Settings
from tests.security.servers import own_server


def _hellos_while_stopping(cfg) -> list[dict]:
    """The hello answers a client reads, as fast as it can, while ``embedded.stop`` shuts the server down."""
    probe: MongoClient = MongoClient(cfg.host, cfg.port, directConnection=True, serverSelectionTimeoutMS=500,
                                     connectTimeoutMS=500, socketTimeoutMS=500)
    replies: list[dict] = []
    try:
        probe.admin.command("ping")
        stopper = threading.Thread(target=embedded.stop, args=(cfg,))
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(PyMongoError):
                replies.append(probe.admin.command("hello"))
        stopper.join()
    finally:
        probe.close()
    return replies


def _standalone_answer(cfg) -> dict:
    """A hello answer of the shutting-down server that names no replica set (stops it; tries 5 times)."""
    for _ in range(5):
        embedded.start(cfg)
        standalone = [r for r in _hellos_while_stopping(cfg) if "setName" not in r]
        if standalone:
            return standalone[0]
    raise AssertionError("5 shutdowns gave no standalone hello answer: the daemon no longer does that")


def test_the_shutdown_answer_drops_the_server_from_a_plain_client_but_not_from_seiflows(tmp_path, monkeypatch):
    cfg = own_server(tmp_path)
    monkeypatch.chdir(tmp_path)  # no ./launchpad.yaml: the embedded default
    settings = Settings(embedded=cfg, work_dir=tmp_path / "runs")
    embedded.start(cfg)
    plain: MongoClient = MongoClient(cfg.host, cfg.port, serverSelectionTimeoutMS=5000)
    store.reset_connections()
    try:
        lp = store.get_launchpad(settings)
        plain.admin.command("ping")
        assert plain.topology_description.topology_type_name == "ReplicaSetWithPrimary"
        assert lp.connection.topology_description.topology_type_name == "Single"
        answer = _standalone_answer(cfg)
        assert answer.get("isWritablePrimary") and not answer.get("hosts")
        # what a monitor does with that answer: the plain client's view loses the server, seiflow's keeps it
        read = ServerDescription((cfg.host, cfg.port), Hello(answer))
        assert updated_topology_description(plain.topology_description, read).server_descriptions() == {}
        kept = updated_topology_description(lp.connection.topology_description, read)
        assert list(kept.server_descriptions()) == [(cfg.host, cfg.port)]
        # and with the server back, the same LaunchPad resets its database, adds a workflow and finds it
        embedded.start(cfg)
        lp.reset("", require_password=False)
        lp.add_wf(Firework(ScriptTask.from_str("true"), name="after the restart"))
        assert lp.get_fw_ids({"name": "after the restart"}) != []
    finally:
        plain.close()
        store.reset_connections()
        embedded.stop(cfg)


def test_a_launchpad_file_on_the_embedded_port_connects_directly_and_one_elsewhere_does_not(tmp_path):
    cfg = own_server(tmp_path)
    on_embedded = tmp_path / "embedded.yaml"
    on_embedded.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": cfg.port, "name": "x"}))
    elsewhere = tmp_path / "cluster.yaml"
    elsewhere.write_text(yaml.safe_dump({"host": "mongo.cluster.example", "port": 27017, "name": "x"}))
    own_choice = tmp_path / "own.yaml"
    own_choice.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": cfg.port, "name": "x",
                                          "mongoclient_kwargs": {"directConnection": False}}))

    def kwargs(path):
        return store.launchpad_config(Settings(embedded=cfg, launchpad_file=path))["mongoclient_kwargs"]

    assert kwargs(on_embedded)["directConnection"] is True
    assert "directConnection" not in kwargs(elsewhere)  # a replica set of the user's own: pymongo's default
    assert kwargs(own_choice)["directConnection"] is False  # an explicit setting is kept
