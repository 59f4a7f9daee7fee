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


def test_several_files_are_one_tar_read_back_by_name(seiflow_env, tmp_path):
    run = tmp_path / "cp2k_md"
    run.mkdir()
    for name in ("seiflow-pos-1.xyz", "seiflow-frc-1.xyz", "cp2k.out"):
        (run / name).write_text(f"{name} contents\n" * 50)
    paths = sorted(run.iterdir())
    store = TrajectoryStore()
    tid = store.put(paths, campaign="c1", source="reference_md", code="cp2k")
    assert store.put(paths, campaign="c1", source="reference_md", code="cp2k") == tid  # same files: same bytes
    files = store.read_files(tid)
    assert files == {p.name: p.read_bytes() for p in paths}
    assert store.find(code="cp2k")[0]["filename"] == "cp2k_md.tar.gz"
