"""A fake ``vasp_std`` for tests: checks its inputs, then writes real VASP outputs (VASP is licensed).

Run as ``python -m seiflow.testing.fake_vasp --reference DIR [--errors zbrent,unconverged] [--always ERR]``
in a VASP run folder. ``DIR`` holds a real run's outputs (``vasprun.xml``, ``OUTCAR``), the ``POSCAR`` the
run must be given, and ``fake_vasp.json`` (:class:`FakeVaspReference`: INCAR values the run must have).
Attempt *i* (counted in ``.fake_vasp_attempt``) first plays ``--errors[i]`` if given, or ``--always`` on
every attempt, instead of finishing: it writes the error the way VASP does, so custodian's own handlers
must find it (the texts contain the handlers' patterns). Otherwise it copies the real outputs (the
atomate2 ``utils/testing/vasp.py`` pattern) and derives an ``OSZICAR`` and ``CONTCAR`` from them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from pymatgen.io.vasp import Vasprun

REFERENCE_FILE = "fake_vasp.json"
ATTEMPT_FILE = ".fake_vasp_attempt"
OUTPUT_FILES = ("vasprun.xml", "OUTCAR")
STALE_FILES = ("vasprun.xml", "OUTCAR", "OSZICAR", "CONTCAR")  # VASP truncates these as it starts
REQUIRED_INPUTS = ("INCAR", "POSCAR", "KPOINTS")

# Real VASP messages; each contains the pattern the named custodian handler looks for.
ZBRENT_TEXT = (
    " ZBRENT: fatal error in bracketing\n"
    "     please rerun with smaller EDIFF, or copy CONTCAR\n"
    "     to POSCAR and continue\n"
)
KPOINTS_TRANS_TEXT = (
    " internal error in GENERATE_KPOINTS_TRANS: number of G-vector changed in star\n"
)


class FakeVaspReference(BaseModel):
    """What the fake checks before it writes the reference outputs."""

    incar: dict[str, object] = Field(default_factory=dict, description="INCAR values the run must have.")
    position_tolerance: float = Field(1e-3, description="Å; POSCAR must match the reference's.")


class FakeVaspError(RuntimeError):
    """The inputs are not what the reference run was made with."""


def check_inputs(run_dir: Path, ref_dir: Path) -> None:
    """Raise if INCAR/POSCAR/KPOINTS are missing or differ from the reference run's."""
    import numpy as np
    from pymatgen.io.vasp import Incar, Poscar

    for name in REQUIRED_INPUTS:
        if not (run_dir / name).is_file():
            raise FakeVaspError(f"{name} missing in {run_dir}")
    if not any((run_dir / p).is_file() for p in ("POTCAR", "POTCAR.spec")):
        raise FakeVaspError("neither POTCAR nor POTCAR.spec was written")
    spec = FakeVaspReference.model_validate_json((ref_dir / REFERENCE_FILE).read_text())
    incar = Incar.from_file(run_dir / "INCAR")
    for key, value in spec.incar.items():
        if incar.get(key) != value:
            raise FakeVaspError(f"INCAR {key}={incar.get(key)!r}, reference run has {value!r}")
    got = Poscar.from_file(run_dir / "POSCAR").structure
    want = Poscar.from_file(ref_dir / "POSCAR").structure
    if got.composition != want.composition:
        raise FakeVaspError(f"POSCAR is {got.formula}, the reference run is {want.formula}")
    if np.abs(got.lattice.matrix - want.lattice.matrix).max() > spec.position_tolerance:
        raise FakeVaspError("POSCAR cell differs from the reference run's")
    for site in got:  # site order may differ (input sets sort by electronegativity)
        dists = [site.distance(other) for other in want if other.specie == site.specie]
        if min(dists) > spec.position_tolerance:
            raise FakeVaspError(f"POSCAR site {site.specie} at {site.coords} is not in the reference run")


def oszicar_text(vasprun: Vasprun, nelm_per_step: int | None = None, n_steps: int | None = None,
                 final_energy: float | None = None) -> str:
    """An OSZICAR in VASP's format from a vasprun's energies (optionally forced electronic step counts)."""
    lines = []
    steps = vasprun.ionic_steps
    n = n_steps or len(steps)
    for i in range(n):
        step = steps[min(i, len(steps) - 1)]
        scf = step["electronic_steps"]
        n_el = nelm_per_step or len(scf)
        lines.append("       N       E                     dE             d eps       ncg     rms          rms(c)")
        for j in range(n_el):
            e = scf[min(j, len(scf) - 1)]["e_fr_energy"]
            lines.append(f"DAV:  {j + 1:3d}    {e: .12E}   {0.0: .5E}   {0.0: .5E}    96   0.100E-01")
        f_energy, e0 = (step["e_fr_energy"], step["e_0_energy"]) if final_energy is None else (final_energy,) * 2
        lines.append(f"{i + 1:4d} F= {f_energy: .8E} E0= {e0: .8E}  d E ={0.0: .6E}")
    return "\n".join(lines) + "\n"


def write_success(run_dir: Path, ref_dir: Path) -> Vasprun:
    """Copy the real outputs and derive OSZICAR, CONTCAR and a short vasp.out."""
    for name in OUTPUT_FILES:
        shutil.copyfile(ref_dir / name, run_dir / name)
    shutil.copyfile(run_dir / "POSCAR", run_dir / "CONTCAR")
    from pymatgen.io.vasp import Vasprun

    vasprun = Vasprun(run_dir / "vasprun.xml", parse_dos=False, parse_eigen=False, parse_potcar_file=False)
    (run_dir / "OSZICAR").write_text(oszicar_text(vasprun))
    print(" running on    1 total cores\n reached required accuracy - stopping structural energy minimisation")
    return vasprun


def _nelm(run_dir: Path) -> int:
    from pymatgen.io.vasp import Incar

    return int(Incar.from_file(run_dir / "INCAR").get("NELM", 60))


def play_zbrent(run_dir: Path, ref_dir: Path) -> int:
    """VaspErrorHandler ("zbrent"): VASP prints ZBRENT to stdout and stops."""
    print(ZBRENT_TEXT, end="")
    return 1


def play_kpoints_trans(run_dir: Path, ref_dir: Path) -> int:
    """StdErrHandler ("kpoints_trans"): the message goes to stderr and VASP aborts."""
    print(KPOINTS_TRANS_TEXT, end="", file=sys.stderr)
    return 1


def play_unconverged(run_dir: Path, ref_dir: Path) -> int:
    """UnconvergedErrorHandler: the run ends normally but the last SCF used all NELM steps."""
    vasprun = write_success(run_dir, ref_dir)
    n_scf = len(vasprun.ionic_steps[-1]["electronic_steps"])
    text = (run_dir / "vasprun.xml").read_text(encoding="iso-8859-1")
    text = re.sub(r'(<i type="int" name="NELM">)\s*\d+(</i>)', rf"\g<1>{n_scf:6d}\g<2>", text, count=1)
    (run_dir / "vasprun.xml").write_text(text, encoding="iso-8859-1")
    return 0


def play_nonconverging(run_dir: Path, ref_dir: Path) -> int:
    """NonConvergingErrorHandler: 11 ionic steps in OSZICAR each hit NELM electronic steps."""
    vasprun = write_success(run_dir, ref_dir)
    (run_dir / "OSZICAR").write_text(oszicar_text(vasprun, nelm_per_step=_nelm(run_dir), n_steps=11))
    return 0


def play_positive_energy(run_dir: Path, ref_dir: Path) -> int:
    """PositiveEnergyErrorHandler: the SCF diverged to a positive total energy."""
    vasprun = write_success(run_dir, ref_dir)
    (run_dir / "OSZICAR").write_text(oszicar_text(vasprun, final_energy=1.234e3))
    return 0


def play_frozen(run_dir: Path, ref_dir: Path) -> int:
    """FrozenJobErrorHandler: VASP hangs, writing nothing, until custodian kills it."""
    print(" running on    1 total cores", flush=True)
    time.sleep(120)
    return 1


SCENARIOS: dict[str, Callable[[Path, Path], int]] = {
    "zbrent": play_zbrent,
    "kpoints_trans": play_kpoints_trans,
    "unconverged": play_unconverged,
    "nonconverging": play_nonconverging,
    "positive_energy": play_positive_energy,
    "frozen": play_frozen,
}


def next_attempt(run_dir: Path) -> int:
    """Count this attempt in the run folder; 0 for the first."""
    path = run_dir / ATTEMPT_FILE
    attempt = int(path.read_text()) if path.is_file() else 0
    path.write_text(str(attempt + 1))
    return attempt


def main(argv: list[str] | None = None) -> int:
    """Entry point: check inputs, play a scripted error or write the reference outputs."""
    parser = argparse.ArgumentParser(prog="fake_vasp", description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, type=Path, help="folder of real outputs")
    parser.add_argument("--errors", default="", help="comma-separated scenario per attempt")
    parser.add_argument("--always", default=None, choices=sorted(SCENARIOS), help="fail every attempt")
    args = parser.parse_args(argv)
    run_dir = Path.cwd()
    for name in STALE_FILES:  # first, so custodian's monitors never read the last attempt's files
        (run_dir / name).unlink(missing_ok=True)
    try:
        check_inputs(run_dir, args.reference)
    except FakeVaspError as exc:
        print(f"fake_vasp: {exc}", file=sys.stderr)
        return 2
    attempt = next_attempt(run_dir)
    script = [e for e in args.errors.split(",") if e]
    scenario = args.always or (script[attempt] if attempt < len(script) else None)
    if scenario is None:
        write_success(run_dir, args.reference)
        return 0
    if scenario not in SCENARIOS:
        print(f"fake_vasp: unknown scenario {scenario!r}; use {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    return SCENARIOS[scenario](run_dir, args.reference)


def fake_vasp_cmd(reference: Path, errors: list[str] | None = None, always: str | None = None) -> str:
    """The command line that runs this fake, for a maker's ``vasp_cmd`` field."""
    cmd = f"{sys.executable} -m seiflow.testing.fake_vasp --reference {reference}"
    if errors:
        cmd += f" --errors {','.join(errors)}"
    if always:
        cmd += f" --always {always}"
    return cmd


if __name__ == "__main__":
    sys.exit(main())
