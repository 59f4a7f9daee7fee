"""TrajectoryStore against a real MongoDB-protocol server: stored gzipped, once, found by metadata."""

from __future__ import annotations

from seiflow.dataset.trajectories import TrajectoryStore


def test_same_trajectory_is_stored_once_and_read_back(seiflow_env, tmp_path):
    path = tmp_path / "vasprun.xml"
    path.write_text("<modeling>one run</modeling>\n" * 100)
    store = TrajectoryStore()
    first = store.put(path, campaign="c1", origin="interface", temperature=300.0, code="vasp")
    again = store.put(path, campaign="c1", origin="interface", temperature=300.0, code="vasp")  # a re-run job
    assert again == first
    assert store.read(first) == path.read_bytes()

    other_t = store.put(path, campaign="c1", origin="interface", temperature=600.0, code="vasp")
    path.write_text("<modeling>another run</modeling>\n")
    other_run = store.put(path, campaign="c1", origin="interface", temperature=300.0, code="vasp")
    assert len({first, other_t, other_run}) == 3
    found = store.find(campaign="c1", temperature=300.0)
    assert sorted(f["id"] for f in found) == sorted([first, other_run])
    assert all(f["filename"] == "vasprun.xml.gz" and len(f["metadata"]["sha256"]) == 64 for f in found)
