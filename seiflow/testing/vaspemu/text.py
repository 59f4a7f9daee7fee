"""Write OUTCAR, OSZICAR and VASP's standard output in VASP 6.3's formats (NWRITE=2 style).

Line formats follow the real OUTCAR of the template run (``tests/data/vasp/ti_aimd_nwrite0``): the
``Iteration`` headers, the energy blocks (``free energy    TOTEN`` per SCF step, ``free  energy   TOTEN``
per ionic step), ``in kB`` stress, ``POSITION ... TOTAL-FORCE``, the MD thermostat block and the final
timing block, which is what pymatgen's ``Outcar``, dpdata's ``vasp/outcar``, ASE and custodian read.
"""

from __future__ import annotations

import math
import time

import numpy as np

from seiflow.testing.vaspemu.dynamics import IonicStep, Trajectory
from seiflow.testing.vaspemu.electrons import Bands, ScfStep, energy_terms
from seiflow.testing.vaspemu.inputs import RunInputs

VERSION = " vasp.6.3.0 20Jan22 (build Apr 09 2022 18:33:31) complex"
RULE = "-" * 104
EV_A3_PER_KB = 1.0 / 1602.1766208  # "in kB" x volume -> eV
OSZICAR_HEADER = "       N       E                     dE             d eps       ncg     rms          rms(c)"


def fe(x: float, digits: int, lead_zero: bool = True) -> str:
    """Fortran's E format (``0.12345E+02``); VASP drops the 0 of negatives in ionic lines (``-.123E+02``)."""
    if x == 0 or not math.isfinite(x):
        return f"0.{'0' * digits}E+00"
    exp = math.floor(math.log10(abs(x))) + 1
    mant = round(abs(x) / 10**exp, digits)
    if mant >= 1.0:
        mant, exp = mant / 10, exp + 1
    body = f"{mant:.{digits}f}"[1:]
    return f"{'-' if x < 0 else ''}{'0' if (x > 0 or lead_zero) else ''}{body}E{exp:+03d}"


def oszicar_lines(inputs: RunInputs, n: int, step: IonicStep, scf: list[ScfStep], previous: float,
                  mag: float) -> list[str]:
    """One ionic step's OSZICAR lines: the SCF table and the ionic summary line."""
    lines = [OSZICAR_HEADER]
    for k, e in enumerate(scf):
        line = (f"{e.algo}:{k + 1:4d}{fe(e.energy, 12):>23s}{fe(e.de, 5):>15s}{fe(e.deps, 5):>15s}"
                f"{e.ncg:6d}{fe(e.rms, 3):>12s}")
        lines.append(line + (f"{fe(e.rms_c, 3):>13s}" if e.rms_c is not None else ""))
    spin = f"  mag={mag:11.4f}" if inputs.ispin == 2 else ""
    if inputs.mode == "md":
        total = step.energy + step.kinetic
        lines.append(f"{n + 1:6d} T={round(step.temperature):6d}. E= {fe(total, 8, False)} "
                     f"F= {fe(step.energy, 8, False)} E0= {fe(step.energy, 8, False)}  "
                     f"EK= {fe(step.kinetic, 5)} SP= {fe(0.0, 2)} SK= {fe(0.0, 2)}{spin}")
    else:
        lines.append(f"{n + 1:4d} F= {fe(step.energy, 8, False)} E0= {fe(step.energy, 8, False)}  "
                     f"d E ={fe(step.energy - previous, 6, False)}{spin}")
    return lines


def oszicar_text(inputs: RunInputs, traj: Trajectory, scf: list[list[ScfStep]], mag: float) -> str:
    """The whole OSZICAR."""
    lines: list[str] = []
    previous = 0.0
    for n, (step, steps) in enumerate(zip(traj.steps, scf, strict=True)):
        lines += oszicar_lines(inputs, n, step, steps, previous, mag)
        previous = step.energy
    return "\n".join(lines) + "\n"


def stdout_text(inputs: RunInputs, traj: Trajectory, scf: list[list[ScfStep]], mag: float) -> str:
    """What VASP prints to standard output (custodian's ``vasp.out``)."""
    names = " ".join(p.element for p in inputs.potcars)
    head = [" running on    1 total cores", " distrk:  each k-point on    1 cores,    1 groups",
            " distr:  one band on NCORE=   1 cores,    1 groups", VERSION, "  ",
            f" POSCAR found type information on POSCAR {names}",
            f" POSCAR found :  {len(inputs.potcars)} types and {inputs.nions:7d} ions",
            " LDA part: xc-table for Pade appr. of Perdew", " POSCAR, INCAR and KPOINTS ok, starting setup",
            " FFT: planning ... GRIDC", " FFT: planning ... GRID_SOFT", " FFT: planning ... GRID",
            " WAVECAR not read", " entering main loop"]
    tail = []
    if inputs.mode == "relax" and traj.converged:
        tail.append(" reached required accuracy - stopping structural energy minimisation")
    tail.append(" writing wavefunctions")
    return "\n".join(head) + "\n" + oszicar_text(inputs, traj, scf, mag) + "\n".join(tail) + "\n"


def _mat(a: np.ndarray, b: np.ndarray, fmt: str = "{:13.9f}") -> list[str]:
    return ["   " + "".join(fmt.format(x) for x in ra) + "  " + "".join(fmt.format(x) for x in rb)
            for ra, rb in zip(a, b, strict=True)]


def header_text(inputs: RunInputs) -> str:
    """Everything before the first SCF iteration: INCAR and POTCAR echoes, dimensions, parameters."""
    k = inputs.kpoints
    cell, rec = inputs.cell, np.linalg.inv(inputs.cell).T
    ngx, ngy, ngz = inputs.fft_grid
    g = inputs.get
    out = [VERSION, "  ", f" executed on             LinuxIFC date {time.strftime('%Y.%m.%d  %H:%M:%S')}",
           " running on    1 total cores", " distrk:  each k-point on    1 cores,    1 groups",
           " distr:  one band on NCORE=   1 cores,    1 groups", "", "", RULE, "", "", " INCAR:"]
    out += [f"   {key} = {value}" for key, value in inputs.incar.items()] + [""]
    out += [f" POTCAR:    {p.titel:<38s}" for p in inputs.potcars]
    for p, mass in zip(inputs.potcars, inputs.masses, strict=True):
        out += [f" POTCAR:    {p.titel:<38s}", f"   VRHFIN ={p.vrhfin}", f"   LEXCH  = {p.lexch}",
                f"   TITEL  = {p.titel}", f"   POMASS = {mass:8.3f}; ZVAL   = {p.zval:8.3f}    mass and valenz",
                "  local pseudopotential read in", "    PAW grid and wavefunctions read in", " "]
    velocities = "initial velocities read in" if inputs.velocities is not None else "No initial velocities read in"
    out += ["", f" POSCAR: {inputs.comment}", "  positions in direct lattice", f"  {velocities}", "", "", RULE,
            "", "", " Dimension of arrays:",
            f"   k-points           NKPTS = {len(k.weights):6d}   k-points in BZ     NKDIM = {len(k.weights):6d}"
            f"   number of bands    NBANDS= {inputs.nbands:6d}",
            f"   number of dos      NEDOS = {int(g('NEDOS', 301)):6d}   number of ions     NIONS = {inputs.nions:6d}",
            f"   total plane-waves  NPLWV = {ngx * ngy * ngz:6d}",
            f"   dimension x,y,z NGX = {ngx:5d} NGY = {ngy:5d} NGZ = {ngz:5d}",
            f"   dimension x,y,z NGXF= {2 * ngx:5d} NGYF= {2 * ngy:5d} NGZF= {2 * ngz:5d}",
            "   ions per type =          " + "".join(f"{n:4d}" for n in inputs.type_counts), "",
            f" SYSTEM =  {g('SYSTEM', 'unknown system')}", f" POSCAR =  {inputs.comment}", ""]
    out += startparameters(inputs)
    out += ["", RULE, "", "", f" {MODE_LINES[inputs.mode]}", "", "", RULE, "", "",
            f"  energy-cutoff  : {inputs.encut:11.2f}", f"  volume of cell : {inputs.volume:11.2f}",
            "      direct lattice vectors                 reciprocal lattice vectors", *_mat(cell, rec), "",
            "  length of vectors", *_mat(np.linalg.norm(cell, axis=1)[None], np.linalg.norm(rec, axis=1)[None]),
            "", "", " ", " k-points in reciprocal lattice and weights: ",
            *[f"  {a:11.8f}{b:12.8f}{c:12.8f}{w:12.3f}" for (a, b, c), w in zip(k.kpoints, k.weights, strict=True)],
            " ", " position of ions in fractional coordinates (direct lattice) ",
            *[f"  {a:11.8f}{b:12.8f}{c:12.8f}" for a, b, c in inputs.frac], " ", "", ""]
    text = "\n".join(out) + "\n" + RULE + "\n\n\n"
    text += "".join(f" k-point {i + 1:3d} :   {a:6.4f} {b:6.4f} {c:6.4f}  plane waves: {inputs.n_plane_waves:6d}\n"
                    for i, (a, b, c) in enumerate(k.kpoints))
    text += (f"\n maximum and minimum number of plane-waves per node : {inputs.n_plane_waves:9d}"
             f" {inputs.n_plane_waves:8d}\n\n maximum number of plane-waves: {inputs.n_plane_waves:9d}\n\n\n")
    return text + RULE + "\n\n\n"


MODE_LINES = {"md": "molecular dynamics for ions", "relax": "ions are relaxed (conjugate gradient or quasi-Newton)",
              "static": "no ionic relaxation, static calculation"}


def startparameters(inputs: RunInputs) -> list[str]:
    """The ``Startparameter for this run`` section (the keys parsers and validators look for)."""
    g = inputs.get
    lreal = "T" if str(g("LREAL", False)).strip().lower() in ("true", "auto", "a", "on", "o", "t") else "F"
    return [
        " Startparameter for this run:",
        f"   NWRITE = {int(g('NWRITE', 2)):6d}    write-flag & timer",
        f"   PREC   = {inputs.prec:>6s}    normal or accurate (medium, high low for compatibility)",
        f"   ISTART = {int(g('ISTART', 0)):6d}    job   : 0-new  1-cont  2-samecut",
        f"   ICHARG = {int(g('ICHARG', 2)):6d}    charge: 1-file 2-atom 10-const",
        f"   ISPIN  = {inputs.ispin:6d}    spin polarized calculation?",
        f"   LNONCOLLINEAR = {'T' if g('LNONCOLLINEAR', False) else 'F':>6s} non collinear calculations",
        " Electronic Relaxation 1",
        f"   ENCUT  = {inputs.encut:6.1f} eV",
        f"   NELM   = {inputs.nelm:6d};   NELMIN={inputs.nelmin:3d}; NELMDL={int(g('NELMDL', -5)):3d}     # of ELM steps ",
        f"   EDIFF  = {fe(inputs.ediff, 1)}   stopping-criterion for ELM",
        f"   LREAL  = {lreal:>6s}    real-space projection",
        " Ionic relaxation",
        f"   EDIFFG = {fe(float(g('EDIFFG', 10 * inputs.ediff)), 1)}   stopping-criterion for IOM",
        f"   NSW    = {inputs.nsw:6d}    number of steps for IOM",
        f"   IBRION = {inputs.ibrion:6d}    ionic relax: 0-MD 1-quasi-New 2-CG",
        f"   ISIF   = {inputs.isif:6d}    stress and relaxation",
        f"   ISYM   = {int(g('ISYM', 2)):6d}    0-nonsym 1-usesym 2-fastsym",
        "",
        f"   POTIM  = {inputs.potim:6.4f}    time-step for ionic-motion",
        f"   TEIN   = {inputs.tebeg:6.1f}    initial temperature",
        f"   TEBEG  = {inputs.tebeg:6.1f};   TEEND  ={inputs.teend:6.1f} temperature during run",
        f"   SMASS  = {float(g('SMASS', -3)):6.2f}    Nose mass-parameter (am)",
        f"   MDALGO = {int(g('MDALGO', 0)):6d}    molecular dynamics algorithm",
        f"   PSTRESS= {float(g('PSTRESS', 0.0)):6.1f} pullay stress",
        "",
        "  Mass of Ions in am",
        "   POMASS = " + "".join(f"{m:6.2f}" for m in inputs.masses),
        "  Ionic Valenz",
        "   ZVAL   = " + "".join(f"{p.zval:6.2f}" for p in inputs.potcars),
        f"   NELECT = {inputs.nelect:12.4f}    total number of electrons",
        f"   NUPDOWN= {float(g('NUPDOWN', -1)):12.4f}    fix difference up-down",
        "",
        " DOS related values:",
        f"   ISMEAR = {int(g('ISMEAR', 1)):5d};   SIGMA  = {float(g('SIGMA', 0.2)):6.2f}  broadening in eV -4-tet -1-fermi 0-gaus",
        "",
        " Write flags",
        f"   LORBIT       = {int(g('LORBIT', 0)):6d}    0 simple, 1 ext, 2 COOP (PROOUT), +10 PAW based schemes",
        "",
        " Exchange correlation treatment:",
        f"   GGA     = {str(g('GGA', '--')).upper():>6s}    GGA type",
        f"   LEPSILON= {'T' if g('LEPSILON', False) else 'F':>6s}    determine dielectric tensor",
    ]


TERM_LABELS = (("alphaZ", "  alpha Z        PSCENC ="), ("ewald", "  Ewald energy   TEWEN  ="),
               ("hartreedc", "  -Hartree energ DENC   ="), (None, "  -exchange      EXHF   ="),
               ("XCdc", "  -V(xc)+E(xc)   XCENC  ="), ("paw", "  PAW double counting   ="),
               ("eentropy", "  entropy T*S    EENTRO ="), ("bandstr", "  eigenvalues    EBANDS ="),
               ("atom", "  atomic energy  EATOM  ="), (None, "  Solvation  Ediel_sol  ="))
STRESS_PARTS = ((" Alpha Z", 0.0), (" Ewald", -1.1), (" Hartree", 0.2), (" E(xc)", -0.6),
                (" Local", 0.5), (" n-local", -0.3), (" augment", 0.4), (" Kinetic", None), (" Fock", 0.0))


def iteration_text(inputs: RunInputs, n: int, k: int, e: ScfStep, mag: float) -> str:
    """One SCF iteration block, as NWRITE=2 writes it."""
    terms = energy_terms(inputs, e.energy)
    spin = f" {mag:11.7f}" if inputs.ispin == 2 else ""
    lines = [f"{'-' * 39} Iteration {n + 1:6d}({k + 1:4d})  {'-' * 39}", "", "",
             f"      LOOP:  cpu time {0.01:11.4f}: real time {0.01:11.4f}", "",
             f" eigenvalue-minimisations  : {e.ncg:5d}",
             f" total energy-change (2. order) :{fe(e.de, 7):>14s}  ({fe(e.deps, 7)})",
             f" number of electron {inputs.nelect:15.7f} magnetization{spin}",
             f" augmentation part  {0.3 * inputs.nelect:15.7f} magnetization{spin}", "",
             " Free energy of the ion-electron system (eV)", "  " + "-" * 51]
    for key, label in TERM_LABELS:
        if key == "paw":
            lines.append(f"{label}{terms['pawpsdc']:19.8f}{terms['pawaedc']:18.8f}")
        else:
            lines.append(f"{label}{terms[key] if key else 0.0:19.8f}")
    lines += ["  " + "-" * 51, f"  free energy    TOTEN  ={e.energy:19.8f} eV", "",
              f"  energy without entropy ={e.energy:18.8f}  energy(sigma->0) ={e.energy:18.8f}", "", "", RULE,
              "", "", "", ""]
    return "\n".join(lines) + "\n"


def bands_text(inputs: RunInputs, b: Bands) -> str:
    """The Fermi energy and, per spin and k-point, the band energies and occupations."""
    text = f" E-fermi : {b.efermi:8.4f}     XC(G=0): -10.0000     alpha+bet : -5.0000\n\n"
    text += f" Fermi energy: {b.efermi:20.10f}\n\n"
    full = 2.0 / inputs.ispin
    for s in range(inputs.ispin):
        if inputs.ispin == 2:
            text += f" spin component {s + 1}\n\n"
        for i, (kx, ky, kz) in enumerate(inputs.kpoints.kpoints):
            text += f" k-point {i + 1:5d} :   {kx:10.4f}{ky:10.4f}{kz:10.4f}\n  band No.  band energies     occupation \n"
            text += "".join(f"  {j + 1:5d}   {e:10.4f}   {o * full:10.5f}\n"
                            for j, (e, o) in enumerate(zip(b.eigenvalues[s, i], b.occupations[s, i], strict=True)))
            text += "\n"
    return text


def site_tables_text(inputs: RunInputs, mag: float) -> str:
    """``total charge`` and, when spin polarised, ``magnetization (x)`` per site (LORBIT >= 10)."""
    def table(title: str, values: list[float]) -> str:
        rows = "".join(f"{i + 1:5d}{0.3 * q:13.3f}{0.6 * q:8.3f}{0.1 * q:8.3f}{q:8.3f}\n"
                       for i, q in enumerate(values))
        tot = sum(values)
        return (f" {title}\n \n# of ion       s       p       d       tot\n{'-' * 42}\n{rows}{'-' * 50}\n"
                f"tot  {0.3 * tot:13.3f}{0.6 * tot:8.3f}{0.1 * tot:8.3f}{tot:8.3f}\n \n\n")
    charges = [0.7 * inputs.potcars[t].zval for t in inputs.type_of_site]
    text = table("total charge     ", charges)
    if inputs.ispin == 2:
        text += table("magnetization (x)", [mag / inputs.nions] * inputs.nions)
    return text


def ionic_text(inputs: RunInputs, step: IonicStep, converged: bool) -> str:
    """After the SCF loop: stress, lattice, forces and the free energy of one ionic step."""
    text = ("------------------------ aborting loop because EDIFF is reached ----------------------------------------\n\n\n"
            if converged else "\n\n")
    vol = abs(np.linalg.det(step.cell))
    if step.stress_kb is not None:
        sk = step.stress_kb
        kb6 = [sk[0, 0], sk[1, 1], sk[2, 2], sk[0, 1], sk[1, 2], sk[2, 0]]
        total6 = [x * vol * EV_A3_PER_KB for x in kb6]
        rows = []
        for label, frac in STRESS_PARTS:
            vals = ([frac * total6[i] for i in range(6)] if frac is not None else
                    [total6[i] * (1 - sum(f for _, f in STRESS_PARTS if f)) for i in range(6)])
            rows.append(f"  {label.strip():<7s}" + "".join(f" {v:11.5f}" for v in vals))
        pressure = float(np.trace(sk)) / 3 - float(inputs.get("PSTRESS", 0.0))
        text += ("  FORCE on cell =-STRESS in cart. coord.  units (eV):\n"
                 "  Direction    XX          YY          ZZ          XY          YZ          ZX\n"
                 f"  {'-' * 86}\n" + "\n".join(rows) + f"\n  {'-' * 85}\n"
                 "  Total  " + "".join(f" {v:11.5f}" for v in total6) + "\n"
                 "  in kB  " + "".join(f" {v:11.5f}" for v in kb6) + "\n"
                 f"  external pressure = {pressure:11.2f} kB  Pullay stress = {float(inputs.get('PSTRESS', 0.0)):11.2f} kB\n")
        if inputs.mode == "md":
            kin = 2 * step.kinetic / (3 * vol) / EV_A3_PER_KB
            text += (f"\n  kinetic pressure (ideal gas correction) = {kin:8.2f} kB\n"
                     f"  total pressure  = {pressure + kin:8.2f} kB\n")
        text += "\n"
    rec = np.linalg.inv(step.cell).T
    text += (" VOLUME and BASIS-vectors are now :\n -----------------------------------------------------------------------------\n"
             f"  energy-cutoff  : {inputs.encut:11.2f}\n  volume of cell : {vol:11.2f}\n"
             "      direct lattice vectors                 reciprocal lattice vectors\n"
             + "\n".join(_mat(step.cell, rec)) + "\n\n  length of vectors\n"
             + "\n".join(_mat(np.linalg.norm(step.cell, axis=1)[None], np.linalg.norm(rec, axis=1)[None])) + "\n\n\n")
    drift = step.forces.sum(axis=0)
    text += (" POSITION                                       TOTAL-FORCE (eV/Angst)\n " + "-" * 83 + "\n"
             + "".join(f"{x:13.5f}{y:13.5f}{z:13.5f}{fx:17.6f}{fy:14.6f}{fz:14.6f}\n"
                       for (x, y, z), (fx, fy, fz) in zip(step.positions, step.forces, strict=True))
             + " " + "-" * 83 + f"\n    total drift:                            {drift[0]:12.6f}  {drift[1]:12.6f}  {drift[2]:12.6f}\n\n\n"
             + RULE + "\n\n\n\n")
    text += ("  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)\n  " + "-" * 51 + "\n"
             f"  free  energy   TOTEN  ={step.energy:19.8f} eV\n\n"
             f"  energy  without entropy={step.energy:18.8f}  energy(sigma->0) ={step.energy:18.8f}\n \n\n\n")
    if inputs.mode == "md":
        text += ("  ENERGY OF THE ELECTRON-ION-THERMOSTAT SYSTEM (eV)\n  " + "-" * 51 + "\n"
                 f"% ion-electron   TOTEN  ={step.energy:17.6f}  see above\n"
                 f"  kinetic energy EKIN   ={step.kinetic:17.6f}\n"
                 f"  kin. lattice  EKIN_LAT={0.0:17.6f}  (temperature{step.temperature:8.2f} K)\n"
                 f"  nose potential ES     ={0.0:17.6f}\n  nose kinetic   EPS    ={0.0:17.6f}\n  " + "-" * 51 + "\n"
                 f"  total energy   ETOTAL ={step.energy + step.kinetic:17.6f} eV\n\n")
    return text + RULE + "\n\n\n"


def footer_text(seconds: float, relaxed: bool) -> str:
    """The end of a finished run: timing and memory (what pymatgen reads as ``run_stats``)."""
    done = "\n reached required accuracy - stopping structural energy minimisation\n" if relaxed else ""
    return (f"{done}\n  \n  \n General timing and accounting informations for this job:\n"
            " ========================================================\n  \n"
            f"                  Total CPU time used (sec): {seconds:12.3f}\n"
            f"                            User time (sec): {seconds:12.3f}\n"
            f"                          System time (sec): {0.0:12.3f}\n"
            f"                         Elapsed time (sec): {seconds:12.3f}\n  \n"
            f"                   Maximum memory used (kb): {102400.0:12.0f}.\n"
            "                   Average memory used (kb):          N/A\n  \n"
            "                          Minor page faults:        10000\n"
            "                          Major page faults:            0\n"
            "                 Voluntary context switches:         1000\n")


def outcar_text(inputs: RunInputs, traj: Trajectory, scf: list[list[ScfStep]], bands: Bands,
                converged_scf: list[bool], seconds: float) -> str:
    """The whole OUTCAR."""
    parts = [header_text(inputs)]
    last = len(traj.steps) - 1
    for n, (step, steps) in enumerate(zip(traj.steps, scf, strict=True)):
        parts += [iteration_text(inputs, n, k, e, bands.magnetization) for k, e in enumerate(steps)]
        parts.append(bands_text(inputs, bands) if n in (0, last) else
                     f" E-fermi : {bands.efermi:8.4f}     XC(G=0): -10.0000     alpha+bet : -5.0000\n\n")
        if n == last and int(inputs.get("LORBIT", 0)) >= 10:
            parts.append(site_tables_text(inputs, bands.magnetization))
        parts.append(ionic_text(inputs, step, converged_scf[n]))
    parts.append(footer_text(seconds, inputs.mode == "relax" and traj.converged))
    return "".join(parts)
