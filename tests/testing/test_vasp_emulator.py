"""The VASP emulator: its files read as VASP's in pymatgen, dpdata, custodian, atomate2 and seiflow."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from contextlib import chdir, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from ase import units
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from atomate2.vasp.files import write_vasp_input_set
from atomate2.vasp.run import DEFAULT_HANDLERS
from atomate2.vasp.sets.core import MDSetGenerator, StaticSetGenerator
from custodian.utils import tracked_lru_cache
from custodian.vasp.handlers import (
    NonConvergingErrorHandler,
    PositiveEnergyErrorHandler,
    StdErrHandler,
    UnconvergedErrorHandler,
    VaspErrorHandler,
)
from custodian.vasp.validators import VaspFilesValidator, VasprunXMLValidator
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Kpoints, Oszicar, Outcar, Poscar, Vasprun

from seiflow.structures.bulk import load_bulk
from seiflow.testing import vasp_emulator
from seiflow.testing.vaspemu.dynamics import MVV2E, PairPotential
from seiflow.testing.vaspemu.inputs import potcar_info

EV_PER_KB_A3 = 1e3 / 1.6021766208e6  # dpdata's kbar -> eV/Å^3


def _structure(name: str, seed: int = 0, repeat: tuple[int, int, int] | None = None):
    s = load_bulk(name)
    if repeat:
        s.make_supercell(repeat)
    rng = np.random.default_rng(seed)
    return Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, 0.04, (len(s), 3)),
                     coords_are_cartesian=True)


def _emulate(run_dir: Path, *args: str) -> int:
    """Run the emulator in-process in ``run_dir``, its stdout in ``vasp.out`` (as custodian does)."""
    (run_dir / "std_err.txt").touch()
    with chdir(run_dir), open(run_dir / "vasp.out", "w") as out, redirect_stdout(out):
        return vasp_emulator.main(list(args))


def _inputs(run_dir: Path, structure, generator) -> Path:
    write_vasp_input_set(structure, generator, run_dir, potcar_spec=True)
    return run_dir


def _pair_labels(run_dir: Path) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy, forces and virial (eV) of the PairPotential on the POSCAR, in POSCAR order."""
    atoms = AseAtomsAdaptor.get_atoms(Poscar.from_file(run_dir / "POSCAR").structure)
    atoms.calc = PairPotential()
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    return atoms.get_potential_energy(), atoms.get_forces(), virial


def _dpdata(run_dir: Path):
    import dpdata

    return (dpdata.LabeledSystem(str(run_dir / "vasprun.xml"), fmt="vasp/xml"),
            dpdata.LabeledSystem(str(run_dir / "OUTCAR"), fmt="vasp/outcar"))


def _vasprun_masses(path: Path) -> np.ndarray:
    """Per-site masses from vasprun.xml's atominfo (what the run used)."""
    root = ET.parse(path).getroot()
    types = [int(rc.findall("c")[1].text) for rc in root.find("atominfo/array[@name='atoms']/set")]
    masses = [float(rc.findall("c")[2].text) for rc in root.find("atominfo/array[@name='atomtypes']/set")]
    return np.array([masses[t - 1] for t in types])


def test_pair_potential_forces_and_stress_are_derivatives():
    atoms = AseAtomsAdaptor.get_atoms(_structure("Li3InCl6", seed=1))
    atoms.calc = PairPotential()
    forces, stress = atoms.get_forces(), atoms.get_stress()
    assert np.allclose(calculate_numerical_forces(atoms, 1e-4), forces, atol=1e-5)
    assert np.allclose(calculate_numerical_stress(atoms, 1e-5), stress, atol=1e-6)
    assert np.abs(forces).max() > 0.05 and np.abs(stress).max() > 1e-4  # not a trivial point


def test_static_reads_as_vasp_in_every_parser(tmp_path):
    run_dir = _inputs(tmp_path, _structure("LiCl"), StaticSetGenerator())
    assert _emulate(run_dir) == 0
    energy, forces, virial = _pair_labels(run_dir)

    vr = Vasprun(run_dir / "vasprun.xml", parse_potcar_file=False)
    assert vr.converged and len(vr.ionic_steps) == 1 and vr.vasp_version.startswith("6.3")
    assert vr.final_energy == pytest.approx(energy, abs=1e-7)
    assert np.allclose(vr.ionic_steps[-1]["forces"], forces, atol=1e-7)
    assert vr.potcar_symbols == ["PAW_PBE Li_sv 10Sep2004", "PAW_PBE Cl 06Sep2000"]
    assert vr.parameters["NELECT"] == 4 * 3 + 4 * 7 and vr.parameters["ENMAX"] == 680
    assert vr.incar["ISMEAR"] == -5 and vr.eigenvalue_band_properties[0] > 2  # an insulator
    assert vr.kpoints.kpts == [(4, 4, 4)] and sum(vr.actual_kpoints_weights) == pytest.approx(1)
    outcar, oszicar = Outcar(run_dir / "OUTCAR"), Oszicar(run_dir / "OSZICAR")
    assert outcar.final_fr_energy == pytest.approx(energy, abs=1e-7)
    assert (outcar.nelect, outcar.data["nbands"], outcar.run_stats["cores"]) == (40, vr.parameters["NBANDS"], 1)
    assert len(outcar.magnetization) == 8 and outcar.total_mag == 0  # LORBIT=11, ISPIN=2
    assert oszicar.final_energy == pytest.approx(energy, abs=1e-6) and oszicar.ionic_steps[0]["mag"] == 0

    xml, out = _dpdata(run_dir)
    assert xml.get_nframes() == out.get_nframes() == 1 and xml["atom_names"] == out["atom_names"] == ["Li", "Cl"]
    assert xml["energies"][0] == pytest.approx(energy, abs=1e-7) == out["energies"][0]
    assert np.allclose(xml["forces"][0], forces, atol=1e-7) and np.allclose(out["forces"][0], forces, atol=1e-6)
    assert np.allclose(xml["virials"][0], virial, atol=1e-6) and np.allclose(out["virials"][0], virial, atol=2e-5)

    assert not VasprunXMLValidator().check(str(run_dir)) and not VaspFilesValidator().check(str(run_dir))
    with chdir(run_dir):  # a clean run: none of atomate2's default handlers sees an error
        assert [type(h).__name__ for h in DEFAULT_HANDLERS if h.check(str(run_dir))] == []


def test_md_steps_follow_velocity_verlet_and_read_alike(tmp_path):
    structure = _structure("Li3InCl6", seed=2)
    (tmp_path / "POTCAR.spec").write_text("Li_sv\nIn_d\nCl\n")
    Poscar(structure.get_sorted_structure(key=lambda site: ["Li", "In", "Cl"].index(site.specie.symbol))).write_file(
        tmp_path / "POSCAR")
    Incar({"IBRION": 0, "NSW": 6, "POTIM": 1.5, "TEBEG": 600, "SMASS": -3, "ISIF": 2, "EDIFF": 1e-6,
           "ENCUT": 400, "ISMEAR": 0, "SIGMA": 0.05}).write_file(tmp_path / "INCAR")
    Kpoints.gamma_automatic((1, 1, 1)).write_file(tmp_path / "KPOINTS")
    assert _emulate(tmp_path) == 0

    vr = Vasprun(tmp_path / "vasprun.xml", parse_potcar_file=False)
    assert vr.converged and len(vr.ionic_steps) == 6
    masses = _vasprun_masses(tmp_path / "vasprun.xml")
    x = np.array([s["structure"].cart_coords for s in vr.ionic_steps])
    f = np.array([s["forces"] for s in vr.ionic_steps])
    for n in range(1, 5):  # x(n+1) - 2x(n) + x(n-1) = F(n) dt^2 / m
        lhs = x[n + 1] - 2 * x[n] + x[n - 1]
        lhs -= np.round(lhs @ np.linalg.inv(vr.final_structure.lattice.matrix)) @ vr.final_structure.lattice.matrix
        assert np.allclose(lhs, f[n] * 1.5**2 / (masses[:, None] * MVV2E), atol=5e-7)  # 8-decimal coordinates
    kinetic = [s["kinetic"] for s in vr.ionic_steps]
    total = [s["total"] for s in vr.ionic_steps]
    assert kinetic[0] == pytest.approx(0.5 * (3 * 20 - 3) * units.kB * 600, rel=1e-6)  # VASP: 3N-3 dof
    assert np.ptp(total) < 5e-3 * abs(total[0]) and all(
        t == pytest.approx(s["e_fr_energy"] + s["kinetic"]) for t, s in zip(total, vr.ionic_steps, strict=True))

    oszicar = Oszicar(tmp_path / "OSZICAR")
    assert [s["T"] for s in oszicar.ionic_steps][0] == 600 and len(oszicar.electronic_steps) == 6
    assert oszicar.ionic_steps[-1]["E"] == pytest.approx(total[-1], abs=1e-5)
    assert oszicar.ionic_steps[-1]["EK"] == pytest.approx(kinetic[-1], rel=1e-4)
    xml, out = _dpdata(tmp_path)
    assert xml.get_nframes() == out.get_nframes() == 6
    assert np.allclose(xml["energies"], out["energies"], atol=1e-7)
    assert np.allclose(xml["forces"], out["forces"], atol=1e-6)
    assert np.allclose(xml["virials"], out["virials"], atol=2e-5)
    contcar = Poscar.from_file(tmp_path / "CONTCAR")
    assert contcar.velocities is not None and np.abs(contcar.velocities).max() > 1e-3  # Å/fs


def test_relaxation_stops_at_ediffg(tmp_path):
    (tmp_path / "POTCAR.spec").write_text("In_d\n")
    Poscar(_structure("In", seed=3, repeat=(2, 2, 1))).write_file(tmp_path / "POSCAR")
    Incar({"IBRION": 2, "NSW": 40, "EDIFFG": -0.02, "ISIF": 2}).write_file(tmp_path / "INCAR")
    Kpoints.gamma_automatic((3, 3, 2)).write_file(tmp_path / "KPOINTS")
    assert _emulate(tmp_path) == 0
    vr = Vasprun(tmp_path / "vasprun.xml", parse_potcar_file=False)
    assert vr.converged_ionic and 1 < len(vr.ionic_steps) < 40
    assert np.linalg.norm(vr.ionic_steps[-1]["forces"], axis=1).max() < 0.02
    assert "reached required accuracy" in (tmp_path / "vasp.out").read_text()


@pytest.mark.parametrize(
    ("scenario", "handler"),
    [
        ("unconverged", UnconvergedErrorHandler),
        ("nonconverging", NonConvergingErrorHandler),
        ("positive_energy", PositiveEnergyErrorHandler),
        ("zbrent", VaspErrorHandler),
        ("eddrmm", VaspErrorHandler),
    ],
)
def test_injected_error_is_what_custodian_finds(tmp_path, scenario, handler):
    run_dir = _inputs(tmp_path, _structure("LiCl"), StaticSetGenerator())
    rc = _emulate(run_dir, "--errors", f"{scenario}")
    assert rc == (0 if scenario in vasp_emulator.OUTPUT_SCENARIOS else 1)
    with chdir(run_dir):
        assert handler().check(str(run_dir))
        assert not StdErrHandler().check(str(run_dir))
    assert _emulate(run_dir, "--errors", f"{scenario}") == 0  # the second attempt runs clean
    tracked_lru_cache.tracked_cache_clear()  # custodian caches parsed files per path, clearing between runs
    with chdir(run_dir):
        assert not handler().check(str(run_dir))


def test_wrapper_script_and_calculator_choice(tmp_path, monkeypatch):
    exe = vasp_emulator.write_vasp_std(tmp_path / "bin")
    assert exe.name == "vasp_std" and (tmp_path / "bin" / "vasp_gam").is_file()
    run_dir = _inputs(tmp_path / "run", _structure("LiCl"), StaticSetGenerator())
    monkeypatch.setenv(vasp_emulator.CALC_ENV, "nope")
    proc = subprocess.run([str(exe)], cwd=run_dir, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "nope" in proc.stderr
    monkeypatch.setenv(vasp_emulator.CALC_ENV, "pair")
    proc = subprocess.run([str(exe)], cwd=run_dir, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and "entering main loop" in proc.stdout
    assert Vasprun(run_dir / "vasprun.xml", parse_potcar_file=False).final_energy == pytest.approx(
        _pair_labels(run_dir)[0], abs=1e-7)
    (run_dir / "POTCAR.spec").unlink()
    assert _emulate(run_dir) == 2  # VASP stops without POTCAR


def test_potcar_headers_from_the_public_summary():
    info = potcar_info("In_d")
    assert (info.titel, info.zval, info.element) == ("PAW_PBE In_d 06Sep2000", 13.0, "In")
    assert (potcar_info("Li_sv").zval, potcar_info("Li").zval, potcar_info("Cl").zval) == (3.0, 1.0, 7.0)
    assert potcar_info("Ga_d_GW_new").zval == 13.0  # not in the table: guessed from the symbol


def test_atomate2_static_and_md_jobs_run_end_to_end(tmp_path, monkeypatch):
    from atomate2.vasp.jobs.core import StaticMaker
    from atomate2.vasp.jobs.md import MDMaker
    from jobflow import Flow, JobStore, run_locally
    from maggma.stores import MemoryStore

    exe = vasp_emulator.write_vasp_std(tmp_path / "bin")
    kwargs = {"vasp_cmd": str(exe), "vasp_gamma_cmd": str(exe.with_name("vasp_gam")),
              "custodian_kwargs": {"polling_time_step": 0.2, "monitor_freq": 1}}
    structure = _structure("LiCl", seed=4)
    static = StaticMaker(run_vasp_kwargs=kwargs, write_input_set_kwargs={"potcar_spec": True}).make(structure)
    md_maker = MDMaker(input_set_generator=MDSetGenerator(nsteps=4), write_input_set_kwargs={"potcar_spec": True})
    md_maker.run_vasp_kwargs["custodian_kwargs"] = kwargs["custodian_kwargs"]  # atomate2's vasp_std, from PATH
    monkeypatch.setenv("PATH", f"{exe.parent}:{os.environ['PATH']}")
    md = md_maker.make(static.output.structure)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(Flow([static, md]), store=store, root_dir=tmp_path, create_folders=True,
                            ensure_success=True)
    static_doc, md_doc = responses[static.uuid][1].output, responses[md.uuid][1].output
    assert (static_doc.state.value, static_doc.task_type.value) == ("successful", "Static")
    assert (md_doc.state.value, md_doc.task_type.value) == ("successful", "Molecular Dynamics")
    assert static_doc.output.energy < 0 and static_doc.output.bandgap == pytest.approx(3.0)
    traj = md_doc.vasp_objects["trajectory"]
    assert len(traj) == 4 and md_doc.input.incar["NSW"] == 4
    assert store.additional_stores["data"].count() >= 1


def test_vasp_label_maker_labels_through_custodian(seiflow_env, tmp_path):
    from jobflow import Flow, run_locally

    from seiflow.dataset.frames import FrameStore
    from seiflow.labelling.vasp import VaspLabelMaker

    exe = vasp_emulator.write_vasp_std(tmp_path / "bin", errors=["unconverged"])
    structure = _structure("LiCl", seed=5)
    maker = VaspLabelMaker(vasp_cmd=str(exe), potcar_spec=True, max_errors=3, polling_time_step=0.2)
    label = maker.make([structure], {"source": "test", "origin": "licl"})
    responses = run_locally(Flow([label]), root_dir=tmp_path, create_folders=True, ensure_success=True)
    out = responses[label.uuid][1].output
    assert (out.n_new, out.n_failed) == (1, 0)
    run_dir = next(tmp_path.glob("job_*/vasp_0000"))
    log = json.loads((run_dir / "custodian.json").read_text())
    assert "Unconverged" in [str(e) for run in log for c in run["corrections"] for e in c["errors"]]
    frame = FrameStore().get(out.frame_ids[0])
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = PairPotential()
    assert frame.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
    assert np.allclose(frame.forces, atoms.get_forces(), atol=1e-6)  # the candidate's site order
    assert np.allclose(frame.virial, -atoms.get_stress(voigt=False) * atoms.get_volume(), atol=1e-5)


@pytest.mark.slow
def test_chgnet_labels_through_the_env_var(tmp_path, monkeypatch):
    from seiflow.labelling.calculators import get_calculator

    exe = vasp_emulator.write_vasp_std(tmp_path / "bin")
    run_dir = _inputs(tmp_path / "run", _structure("LiCl", seed=6), StaticSetGenerator())
    monkeypatch.setenv(vasp_emulator.CALC_ENV, "chgnet")
    proc = subprocess.run([str(exe)], cwd=run_dir, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    atoms = AseAtomsAdaptor.get_atoms(Poscar.from_file(run_dir / "POSCAR").structure)
    atoms.calc = get_calculator("chgnet")
    xml, out = _dpdata(run_dir)
    assert xml["energies"][0] == pytest.approx(atoms.get_potential_energy(), abs=1e-5)
    assert np.allclose(out["forces"][0], atoms.get_forces(), atol=1e-5)
    assert np.allclose(xml["virials"][0], -atoms.get_stress(voigt=False) * atoms.get_volume(), atol=1e-4)
