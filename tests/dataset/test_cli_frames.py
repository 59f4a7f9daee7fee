"""``seiflow frames`` import/list/count/export through the real CLI entry point and server."""

from __future__ import annotations

import json
import subprocess
import sys

import dpdata

from tests.conftest import DATA

VASP = DATA / "vasp"


def run(env, *args: str) -> dict:
    cmd = [sys.executable, "-m", "seiflow.cli.main", "frames", *args, "--json"]
    proc = subprocess.run(cmd, env=env.subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_import_count_list_export(seiflow_env, tmp_path):
    out = run(seiflow_env, "import", str(VASP / "h2o_md/vasprun.xml"), "--fmt", "vasp/xml", "--campaign", "c")
    assert (out["n_frames"], out["n_new"], out["n_duplicate"]) == (3, 3, 0)
    again = run(seiflow_env, "import", str(VASP / "h2o_md/vasprun.xml"), "--fmt", "vasp/xml", "--campaign", "c")
    assert (again["n_new"], again["n_duplicate"]) == (0, 3)
    assert again["frame_ids"] == out["frame_ids"]
    counts = run(seiflow_env, "count", "--by", "formula", "--campaign", "c")
    assert counts == {"by": "formula", "count": 3, "counts": {"H4O2": 3}}
    listed = run(seiflow_env, "list", "--limit", "2")
    assert listed["n"] == 2 and listed["frames"][0]["calculator"] == "vasp"
    exported = run(seiflow_env, "export", str(tmp_path / "npy"), "--type-map", "O,H", "--campaign", "c")
    assert exported["n_frames"] == 3 and exported["type_map"] == ["O", "H"]
    system = dpdata.LabeledSystem(exported["systems"][0]["path"], fmt="deepmd/npy")
    assert system.get_nframes() == 3 and "virials" in system.data


def test_outcar_nwrite0_import_reports_warning(seiflow_env):
    out = run(seiflow_env, "import", str(VASP / "ti_aimd_nwrite0/OUTCAR"), "--fmt", "vasp/outcar")
    assert out["n_frames"] == 2 and "vasprun.xml" in out["warnings"][0]


def test_bad_format_exits_2(seiflow_env):
    cmd = [sys.executable, "-m", "seiflow.cli.main", "frames", "import", str(VASP / "h2o_md/OUTCAR"), "--fmt", "pdb"]
    proc = subprocess.run(cmd, env=seiflow_env.subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "unknown import format" in proc.stderr
