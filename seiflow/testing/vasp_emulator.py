"""A ``vasp_std`` stand-in for tests: any POSCAR/INCAR/KPOINTS in, VASP-format outputs out (VASP is licensed).

Run ``python -m seiflow.testing.vasp_emulator [--calculator pair|chgnet|sevennet] [--errors E1,E2]
[--always E]`` in a VASP run folder, or put :func:`write_vasp_std`'s script on ``PATH`` / in a maker's
``vasp_cmd``. It reads INCAR, POSCAR, KPOINTS (or KSPACING) and POTCAR or POTCAR.spec (headers only;
with POTCAR.spec the TITEL/ZVAL come from pymatgen's public POTCAR summary table), then:

- statics (NSW=0 or IBRION=-1): one ionic step; relaxations (IBRION=1/2/3): ASE BFGS/FIRE steps until
  EDIFFG or NSW; MD (IBRION=0): NSW velocity-Verlet steps of POTIM fs from TEBEG to TEEND with a
  stand-in thermostat (:mod:`seiflow.testing.vaspemu.dynamics`);
- energies, forces and stress from a cheap calculator: ``pair`` (default; smooth Morse pairs from
  covalent radii, any elements, deterministic), or CHGNet/SevenNet through
  :func:`seiflow.labelling.calculators.get_calculator`; chosen with ``--calculator`` or the
  ``SEIFLOW_VASP_EMULATOR_CALC`` environment variable;
- writes ``vasprun.xml`` (one ``<calculation>`` per ionic step, in VASP 6.3's element order),
  ``OUTCAR``, ``OSZICAR``, ``CONTCAR`` (with velocities after MD) and VASP's standard output. The
  calculator's energy is the free energy TOTEN (= E0: the synthetic bands have a gap and no smearing
  entropy); forces and stress are printed as VASP prints them (vasprun 8 decimals; OUTCAR 6 for forces,
  5 for ``in kB``).

Template and provenance: the ``<generator>`` and ``<parameters>`` blocks and the layout come from a real
VASP 6.3.0 run, dpdata's ``tests/poscars/Ti-aimd-nwrite0/vasprun.xml`` (deepmodeling/dpdata, LGPL-3.0,
commit bb14c5a95bf6cc93d45f45e7a8b0a62316fa43d6, git blob cad534d3f5f907082407c09f1f0b95106dfa8e48),
shipped byte-identical as ``seiflow/data/vasp/ti_aimd_nwrite0_vasprun.xml`` (also
``tests/data/vasp/ti_aimd_nwrite0/``, whose OUTCAR gave the OUTCAR line formats). See
``seiflow/data/vasp/PROVENANCE.md``.

Error injection works as in :mod:`seiflow.testing.fake_vasp`: attempt *i* plays ``--errors[i]``, or
``--always`` every attempt. ``zbrent``, ``kpoints_trans`` and ``frozen`` are fake_vasp's own; any key of
custodian's ``VaspErrorHandler.error_msgs`` (``brmix``, ``eddrmm``, ``too_few_bands``...) prints that
message to stdout and stops; ``unconverged`` (every SCF hits NELM), ``nonconverging`` (>= 11 ionic
steps at NELM) and ``positive_energy`` (the SCF ends at +1234 eV) write complete, consistent outputs
that custodian's Unconverged/NonConverging/PositiveEnergy handlers flag.
"""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import stat
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

CALC_ENV = "SEIFLOW_VASP_EMULATOR_CALC"
DEFAULT_CALCULATOR = "pair"
POSITIVE_ENERGY = 1234.0
OUTPUT_SCENARIOS = ("unconverged", "nonconverging", "positive_energy")
FAKE_VASP_SCENARIOS = ("zbrent", "kpoints_trans", "frozen")  # played by fake_vasp's own functions
STALE_FILES = ("vasprun.xml", "OUTCAR", "OSZICAR", "CONTCAR")  # as fake_vasp: VASP truncates them
ATTEMPT_FILE = ".vasp_emulator_attempt"


def scenarios() -> list[str]:
    """Every error the emulator can play."""
    from custodian.vasp.handlers import VaspErrorHandler

    return sorted({*OUTPUT_SCENARIOS, *FAKE_VASP_SCENARIOS, *VaspErrorHandler.error_msgs})


def next_attempt(run_dir: Path) -> int:
    """Count this attempt in the run folder; 0 for the first."""
    path = run_dir / ATTEMPT_FILE
    attempt = int(path.read_text()) if path.is_file() else 0
    path.write_text(str(attempt + 1))
    return attempt


def _play_message(name: str, run_dir: Path) -> int:
    if name in FAKE_VASP_SCENARIOS:  # imported here: fake_vasp pulls in pydantic, slow to start
        from seiflow.testing import fake_vasp

        plays: dict[str, Callable[[Path, Path], int]] = {
            "zbrent": fake_vasp.play_zbrent, "kpoints_trans": fake_vasp.play_kpoints_trans,
            "frozen": fake_vasp.play_frozen,
        }
        return plays[name](run_dir, run_dir)
    from custodian.vasp.handlers import VaspErrorHandler

    print(" running on    1 total cores\n entering main loop")
    print(f" {VaspErrorHandler.error_msgs[name][0]}", flush=True)
    return 1


def emulate(run_dir: Path, calculator: str = DEFAULT_CALCULATOR, scenario: str | None = None) -> int:
    """Run the emulator in ``run_dir`` and write the outputs; returns VASP's exit code (0)."""
    import numpy as np

    from seiflow.testing.vaspemu.dynamics import get_emulator_calculator, run_ionic_loop
    from seiflow.testing.vaspemu.electrons import bands, scf_count, scf_steps, total_dos
    from seiflow.testing.vaspemu.files import poscar_text
    from seiflow.testing.vaspemu.inputs import read_inputs
    from seiflow.testing.vaspemu.text import oszicar_text, outcar_text, stdout_text
    from seiflow.testing.vaspemu.vasprun import write_vasprun

    start = time.perf_counter()
    inputs = read_inputs(run_dir)
    traj = run_ionic_loop(inputs, get_emulator_calculator(calculator))
    if scenario == "positive_energy":
        traj.steps[-1].energy = POSITIVE_ENERGY
    if scenario == "nonconverging":
        while len(traj.steps) < 11:
            traj.steps.append(copy.deepcopy(traj.steps[-1]))
    last = len(traj.steps) - 1
    converged = [not (scenario == "unconverged" or (scenario == "nonconverging" and n < last))
                 for n in range(len(traj.steps))]
    scf = [scf_steps(inputs, step.energy, scf_count(inputs, n == 0, not ok), n == 0, ok)
           for n, (step, ok) in enumerate(zip(traj.steps, converged, strict=True))]
    b = bands(inputs)
    write_vasprun(run_dir / "vasprun.xml", inputs, traj, scf, b, total_dos(inputs, b))
    (run_dir / "OSZICAR").write_text(oszicar_text(inputs, traj, scf, b.magnetization))
    (run_dir / "OUTCAR").write_text(outcar_text(inputs, traj, scf, b, converged, time.perf_counter() - start))
    frac = traj.final_positions @ np.linalg.inv(traj.final_cell)
    (run_dir / "CONTCAR").write_text(poscar_text(inputs.comment, traj.final_cell, frac - np.floor(frac),
                                                 [p.element for p in inputs.potcars], inputs.type_counts,
                                                 traj.final_velocities))
    print(stdout_text(inputs, traj, scf, b.magnetization), end="", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: play a scripted error or emulate the run in the current folder."""
    parser = argparse.ArgumentParser(prog="vasp_emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", default=os.environ.get(CALC_ENV, DEFAULT_CALCULATOR),
                        help=f"pair (default), chgnet or sevennet; or set {CALC_ENV}")
    parser.add_argument("--errors", default="", help="comma-separated error per attempt")
    parser.add_argument("--always", default=None, help="error played on every attempt")
    args = parser.parse_args(argv)
    run_dir = Path.cwd()
    for name in STALE_FILES:  # VASP truncates them as it starts
        (run_dir / name).unlink(missing_ok=True)
    script = [e for e in args.errors.split(",") if e]
    asked = [*script, *([args.always] if args.always else [])]
    own = {*OUTPUT_SCENARIOS, *FAKE_VASP_SCENARIOS}
    known = scenarios() if set(asked) - own else sorted(own)  # custodian's import is slow: only if needed
    for name in asked:
        if name not in known:
            print(f"vasp_emulator: unknown error {name!r}; use one of {', '.join(known)}", file=sys.stderr)
            return 2
    attempt = next_attempt(run_dir)
    scenario = args.always or (script[attempt] if attempt < len(script) else None)
    if scenario is not None and scenario not in OUTPUT_SCENARIOS:
        return _play_message(scenario, run_dir)
    from seiflow.testing.vaspemu.inputs import EmulatorInputError

    try:
        return emulate(run_dir, args.calculator, scenario)
    except EmulatorInputError as exc:
        print(f" {exc}", flush=True)
        print(f"vasp_emulator: {exc.one_line()}", file=sys.stderr)
        return 2


def vasp_emulator_cmd(calculator: str | None = None, errors: list[str] | None = None,
                      always: str | None = None) -> str:
    """The command line that runs the emulator, for a maker's ``vasp_cmd`` field."""
    cmd = f"{shlex.quote(sys.executable)} -m seiflow.testing.vasp_emulator"
    if calculator:
        cmd += f" --calculator {calculator}"
    if errors:
        cmd += f" --errors {','.join(errors)}"
    if always:
        cmd += f" --always {always}"
    return cmd


def write_vasp_std(directory: Path, calculator: str | None = None, errors: list[str] | None = None,
                   always: str | None = None) -> Path:
    """Write executable ``vasp_std`` and ``vasp_gam`` scripts running the emulator; returns ``vasp_std``.

    Put ``directory`` first on ``PATH`` (atomate2's default ``VASP_CMD`` is ``vasp_std``; custodian
    switches to ``vasp_gam`` for Gamma-only KPOINTS), or give the path as ``vasp_cmd``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    script = ("#!/bin/sh\n# VASP emulator for tests (seiflow.testing.vasp_emulator): not VASP.\n"
              f"exec {vasp_emulator_cmd(calculator, errors, always)} \"$@\"\n")
    for name in ("vasp_std", "vasp_gam"):
        path = directory / name
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory / "vasp_std"


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # VASP's stderr stays empty unless an error is played
    sys.exit(main())
