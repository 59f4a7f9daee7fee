"""The JobStore carried by every firework: serialised as two collection names, rebuilt by each worker."""

from __future__ import annotations

from bson import BSON
from fireworks import Firework
from fireworks.core.fworker import FWorker
from fireworks.core.rocket_launcher import rapidfire
from jobflow import Flow, JobStore
from jobflow.managers.fireworks import flow_to_workflow
from monty.json import MontyDecoder

from seiflow import store
from seiflow.constants import JOBSTORE_DATA_BUCKET, JOBSTORE_DOCS_COLLECTION
from seiflow.testing.flows import add, grow, make_array


def _plain_jobstore() -> JobStore:
    """The JobStore seiflow serialised before: jobflow's own, holding both stores' dicts."""
    return JobStore(
        docs_store=store.SettingsMongoStore(JOBSTORE_DOCS_COLLECTION),
        additional_stores={"data": store.SettingsGridFSStore(JOBSTORE_DATA_BUCKET)},
    )


def _firework_doc(jobstore: JobStore) -> dict:
    return flow_to_workflow(Flow([add(1, 2)]), store=jobstore).fws[0].to_db_dict()


def test_jobstore_is_its_collection_names_and_round_trips():
    js = store.get_jobstore()
    assert js.as_dict() == {"@module": "seiflow.store", "@class": "SettingsJobStore",
                            "docs_collection": JOBSTORE_DOCS_COLLECTION, "data_bucket": JOBSTORE_DATA_BUCKET}
    back = MontyDecoder().process_decoded(js.as_dict())
    assert isinstance(back, store.SettingsJobStore)
    assert back.docs_store.collection_name == JOBSTORE_DOCS_COLLECTION
    assert back.additional_stores["data"].collection_name == JOBSTORE_DATA_BUCKET
    other = store.SettingsJobStore("outputs_b", "data_b")
    again = store.SettingsJobStore.from_dict(other.as_dict())
    assert (again.docs_store.collection_name, again.additional_stores["data"].collection_name) == (
        "outputs_b", "data_b")


def test_firework_document_is_smaller_and_reloads_the_same_store():
    compact, plain = _firework_doc(store.get_jobstore()), _firework_doc(_plain_jobstore())
    assert len(BSON.encode(compact)) < len(BSON.encode(plain)) - 200
    task = Firework.from_dict(compact).tasks[0]
    assert isinstance(task["store"], store.SettingsJobStore)


def test_compact_and_plain_stores_run_side_by_side(seiflow_env, tmp_path, monkeypatch):
    """A workflow stored with the former plain JobStore still runs next to new ones (same collections)."""
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    old, arr, g = add(40, 2), make_array(300), grow(1, 3)
    lp.add_wf(flow_to_workflow(Flow([old]), store=_plain_jobstore()))
    lp.add_wf(flow_to_workflow(Flow([arr, g]), store=store.get_jobstore()))
    monkeypatch.chdir(tmp_path)
    rapidfire(lp, FWorker(), nlaunches=0)
    assert {fw["state"] for fw in lp.fireworks.find({}, {"state": 1})} == {"COMPLETED"}
    js = store.get_jobstore()
    js.connect()
    assert js.get_output(old.uuid) == 42
    assert js.get_output(arr.uuid, load=True)["values"][-1] == 299  # through the GridFS store
    assert sorted(d["output"] for d in store.get_database()[JOBSTORE_DOCS_COLLECTION].find({"name": "grow"})) == [
        2, 3]
    grown = list(lp.fireworks.find({"name": "grow"}))
    assert len(grown) == 2  # the second one added at run time keeps the compact store
    assert {fw["spec"]["_tasks"][0]["store"]["@class"] for fw in grown} == {"SettingsJobStore"}
