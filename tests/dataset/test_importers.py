"""Importing real VASP MD outputs (tests/data/vasp, see PROVENANCE.md) through dpdata into the store."""

from __future__ import annotations

import dpdata
import numpy as np
import pytest
from pymatgen.io.vasp import Vasprun

from seiflow.dataset.frames import FrameStore
from seiflow.dataset.importers import IncompleteImportWarning, frames_from_file
from seiflow.errors import InputError
from seiflow.schemas.frame import Provenance
from tests.conftest import DATA

VASP = DATA / "vasp"
EV_A3_PER_KBAR = 1 / 1602.1766208


@pytest.mark.parametrize(
    ("path", "fmt", "n"),
    [
        ("h2o_md/OUTCAR", "vasp/outcar", 3),
        ("h2o_md/vasprun.xml", "vasp/xml", 3),
        ("ti_aimd_nwrite0/vasprun.xml", "vasp/xml", 10),
    ],
)
def test_import_stores_every_ionic_step(seiflow_env, path, fmt, n):
    frames = frames_from_file(VASP / path, fmt, provenance=Provenance(campaign="c", round=0, source="import"))
    store = FrameStore()
    results = store.add_many(frames)
    assert len(frames) == n and all(inserted for _, inserted in results)
    ref = dpdata.LabeledSystem(str(VASP / path), fmt=fmt)
    for i, (frame_id, _) in enumerate(results):
        stored = store.get(frame_id)
        assert stored.provenance.frame_index == i and stored.reference.calculator == "vasp"
        np.testing.assert_allclose(stored.energy, ref["energies"][i], rtol=0, atol=1e-8)
        np.testing.assert_allclose(stored.forces, ref["forces"][i], atol=1e-10)
        np.testing.assert_allclose(stored.virial, ref["virials"][i], atol=1e-10)
        np.testing.assert_allclose(stored.positions, ref["coords"][i], atol=1e-10)
    assert store.counts_by("round") == {"0": n}


def test_vasprun_labels_match_pymatgen(seiflow_env):
    """Independent check of energies, forces and virial sign/units against pymatgen's parser."""
    path = VASP / "ti_aimd_nwrite0/vasprun.xml"
    frames = frames_from_file(path, "vasp/xml")
    steps = Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_potcar_file=False).ionic_steps
    for frame, step in zip(frames, steps, strict=True):
        np.testing.assert_allclose(frame.energy, step["e_fr_energy"], atol=1e-6)
        np.testing.assert_allclose(frame.forces, step["forces"], atol=1e-6)
        virial = np.array(step["stress"]) * frame.volume * EV_A3_PER_KBAR  # VASP: + = compressive
        np.testing.assert_allclose(frame.virial, virial, atol=1e-4)


def test_outcar_nwrite0_warns_and_keeps_labelled_steps():
    with pytest.warns(IncompleteImportWarning, match="vasprun.xml"):
        frames = frames_from_file(VASP / "ti_aimd_nwrite0/OUTCAR", "vasp/outcar")
    assert len(frames) == 2  # NWRITE=0: forces only for the first and last ionic steps


def test_roundtrip_through_extxyz_and_deepmd_npy(seiflow_env, tmp_path):
    frames = frames_from_file(VASP / "h2o_md/vasprun.xml", "vasp/xml")
    FrameStore().add_many(frames)
    paths = FrameStore().export_deepmd(tmp_path / "npy", type_map=["H", "O"])
    back = frames_from_file(paths[0], "deepmd/npy")
    assert len(back) == 3
    np.testing.assert_allclose(sorted(f.energy for f in back), sorted(f.energy for f in frames))
    dpdata.LabeledSystem(str(paths[0]), fmt="deepmd/npy").to("extxyz", str(tmp_path / "h2o.xyz"))
    xyz = frames_from_file(tmp_path / "h2o.xyz", "extxyz")
    assert len(xyz) == 3 and xyz[0].virial is not None


def test_bad_format_is_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown import format"):
        frames_from_file(VASP / "h2o_md/OUTCAR", "vasp/poscarx")
    with pytest.raises(InputError, match="does not exist"):
        frames_from_file(tmp_path / "nope", "vasp/xml")


@pytest.mark.parametrize("header", [
    "Lattice=\"1 0 0 0 1 0 0 0 1\" 123456789012345678901234567890",  # a comment line is never a count
    "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩",  # Unicode digits: dpdata's \\d would read them as a count of 10^19 atoms
])
def test_extxyz_with_a_digit_run_in_a_header_is_refused_at_once(tmp_path, header):
    """Found by the fuzz test in CI: dpdata's reader looped for hours on such a file."""
    path = tmp_path / "frames.extxyz"
    path.write_text(f"1\n{header}\nLi 0 0 0 0 0 0\n{header.split()[-1]}\nx\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 4: (expected the number of atoms|a frame of \d+ atoms needs)"):
        frames_from_file(path, "extxyz")


def test_extxyz_layout_check_accepts_blank_lines_between_frames(tmp_path):
    frame = ('2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 '
             'pbc="T T T"\nLi 0 0 0 0.1 0 0\nCl 2.5 2.5 2.5 -0.1 0 0\n')
    path = tmp_path / "frames.extxyz"
    path.write_text(frame + "\n" + frame)
    assert len(frames_from_file(path, "extxyz")) == 2
