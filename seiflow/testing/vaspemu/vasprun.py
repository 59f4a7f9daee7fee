"""Write ``vasprun.xml`` in VASP 6.3's layout, from a real run's file as the template.

The template (``seiflow/data/vasp/ti_aimd_nwrite0_vasprun.xml``, see PROVENANCE.md there) gives the
``<generator>`` block and the whole ``<parameters>`` block, whose values are replaced by this run's
(INCAR, VASP's defaults, and what VASP derives: NELECT, NBANDS, FFT grids, masses). Everything else is
written here in the template's element order and number formats.
"""

from __future__ import annotations

import re
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from seiflow.testing.vaspemu.dynamics import IonicStep, Trajectory
from seiflow.testing.vaspemu.electrons import Bands, ScfStep, energy_terms
from seiflow.testing.vaspemu.inputs import RunInputs

TEMPLATE = Path(__file__).resolve().parents[2] / "data" / "vasp" / "ti_aimd_nwrite0_vasprun.xml"
PER_TYPE = {"ROPT": -0.00025, "RWIGS": -1.0, "DARWINR": 0.0, "DARWINV": 1.0}
TRUE_WORDS = {"t", "true", ".true.", "auto", "a", "on", "o"}
_ELEMENT = re.compile(r'<(i|v)( type="(\w+)")? name="([^"]+)">(.*?)</\1>', re.DOTALL)


@cache
def _template() -> str:
    return TEMPLATE.read_text(encoding="iso-8859-1")


def _block(text: str, tag: str) -> str:
    start = text.index(f" <{tag}>")
    end = text.index(f" </{tag}>", start) + len(f" </{tag}>")
    return text[start:end] + "\n"


def _fmt(value: Any, kind: str | None, vector: bool) -> str:
    """A value as VASP prints it for ``type`` (int, logical, string; none for a real)."""
    if vector:
        items = value if isinstance(value, list | tuple | np.ndarray) else [value]
        cells = [f"{int(x):6d}" if kind == "int" else f"{float(x):16.8f}" for x in items]
        return "\n      ".join("".join(cells[i:i + 20]) for i in range(0, len(cells), 20))
    if kind == "int":
        return f"{int(float(value)):6d}"
    if kind == "logical":
        true = value if isinstance(value, bool) else str(value).strip().lower() in TRUE_WORDS
        return " T  " if true else " F  "
    if kind == "string":
        return str(value)
    return f"{float(value):16.8f}"


def effective_parameters(inputs: RunInputs) -> dict[str, Any]:
    """The run's values for the template's parameters (INCAR first, then VASP's defaults)."""
    ngx, ngy, ngz = inputs.fft_grid
    p: dict[str, Any] = {
        "SYSTEM": "unknown system", "PREC": inputs.prec, "ENMAX": inputs.encut, "ENINI": inputs.encut,
        "EDIFF": inputs.ediff, "IALGO": inputs.ialgo, "NBANDS": inputs.nbands, "NELECT": inputs.nelect,
        "ISMEAR": 1, "SIGMA": 0.2, "KSPACING": 0.5, "KGAMMA": True, "LREAL": False, "ISTART": 0,
        "ICHARG": 2, "ISPIN": inputs.ispin, "MAGMOM": [1.0] * inputs.nions, "NELM": inputs.nelm,
        "NELMDL": -5, "NELMIN": inputs.nelmin, "NGX": ngx, "NGY": ngy, "NGZ": ngz, "NGXF": 2 * ngx,
        "NGYF": 2 * ngy, "NGZF": 2 * ngz, "NSW": inputs.nsw, "IBRION": inputs.ibrion, "MDALGO": 0,
        "ISIF": inputs.isif, "EDIFFG": 10 * inputs.ediff, "POTIM": inputs.potim, "SMASS": -3.0,
        "TEBEG": inputs.tebeg, "TEEND": inputs.teend, "NBLOCK": 1, "KBLOCK": max(inputs.nsw, 1),
        "ISYM": 2, "NWRITE": 2, "LWAVE": True, "LCHARG": True, "NPAR": 1, "LASPH": False, "GGA": "--",
        "LORBIT": 0, "POMASS": inputs.masses,
    }
    for key, value in inputs.incar.items():
        if key not in ("PREC", "ENCUT"):
            p[key] = value
    if isinstance(p.get("GGA"), str):
        p["GGA"] = p["GGA"].upper()
    p.update({k: [v] * len(inputs.potcars) for k, v in PER_TYPE.items()})
    return p


def parameters_block(inputs: RunInputs) -> str:
    """The template's ``<parameters>`` with this run's values; INCAR keys it lacks are appended."""
    values = effective_parameters(inputs)
    seen: set[str] = set()

    def swap(m: re.Match) -> str:
        tag, type_attr, kind, name = m.group(1), m.group(2) or "", m.group(3), m.group(4)
        seen.add(name)
        if name not in values:
            return m.group(0)
        return f'<{tag}{type_attr} name="{name}">{_fmt(values[name], kind, tag == "v")}</{tag}>'

    block = _ELEMENT.sub(swap, _block(_template(), "parameters"))
    extra = "".join(_incar_line(k, v, "  ") for k, v in inputs.incar.items() if k not in seen)
    return block.replace(" </parameters>", extra + " </parameters>")


def _incar_line(key: str, value: Any, indent: str = " ") -> str:
    if isinstance(value, list):
        kind = ' type="int"' if all(isinstance(x, int) and not isinstance(x, bool) for x in value) else ""
        body = _fmt(value, "int" if kind else None, True)
        return f'{indent}<v{kind} name="{key}">{body}</v>\n'
    kind = ("logical" if isinstance(value, bool) else "int" if isinstance(value, int)
            else None if isinstance(value, float) else "string")
    type_attr = f' type="{kind}"' if kind else ""
    return f'{indent}<i{type_attr} name="{key}">{_fmt(value, kind, False)}</i>\n'


def _rows(values: np.ndarray, indent: str) -> str:
    return "".join(f"{indent}<v>{''.join(f'{x:17.8f}' for x in row)} </v>\n" for row in np.atleast_2d(values))


def _varray(name: str, values: np.ndarray, indent: str) -> str:
    return f'{indent}<varray name="{name}" >\n{_rows(values, indent + " ")}{indent}</varray>\n'


def structure_xml(cell: np.ndarray, frac: np.ndarray, indent: str, name: str | None = None,
                  velocities: np.ndarray | None = None) -> str:
    """A ``<structure>`` block; ``velocities`` are fractional displacements per time step."""
    head = f'{indent}<structure name="{name}" >\n' if name else f"{indent}<structure>\n"
    i2, i3 = indent + " ", indent + "  "
    text = head + f"{i2}<crystal>\n" + _varray("basis", cell, i3)
    text += f'{i3}<i name="volume">{abs(np.linalg.det(cell)):16.8f} </i>\n'
    text += _varray("rec_basis", np.linalg.inv(cell).T, i3) + f"{i2}</crystal>\n"
    text += _varray("positions", frac, i2)
    if velocities is not None:
        text += _varray("velocities", velocities, i2)
    return text + f"{indent}</structure>\n"


def _wrap(frac: np.ndarray) -> np.ndarray:
    return frac - np.floor(frac + 1e-12)


def _frac(cell: np.ndarray, cart: np.ndarray) -> np.ndarray:
    """Fractional coordinates in [0, 1), as VASP writes them."""
    return _wrap(cart @ np.linalg.inv(cell))


def header_xml(inputs: RunInputs) -> str:
    """Everything before the first ``<calculation>``."""
    now = time.localtime()
    gen = _block(_template(), "generator")
    gen = re.sub(r'(name="date" type="string">)[^<]*', rf"\g<1>{time.strftime('%Y %m %d', now)} ", gen)
    gen = re.sub(r'(name="time" type="string">)[^<]*', rf"\g<1>{time.strftime('%H:%M:%S', now)} ", gen)
    cell, frac = inputs.cell, _wrap(inputs.frac)
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n' + gen + " <incar>\n"
    text += "".join(_incar_line(k, v, "  ") for k, v in inputs.incar.items()) + " </incar>\n"
    text += " <primitive_cell>\n" + structure_xml(cell, frac, "  ", "primitive_cell")
    text += '  <varray name="primitive_index" >\n'
    text += "".join(f'   <v type="int" >{i + 1:9d} </v>\n' for i in range(inputs.nions)) + "  </varray>\n"
    text += " </primitive_cell>\n" + kpoints_xml(inputs) + parameters_block(inputs) + atominfo_xml(inputs)
    return text


def kpoints_xml(inputs: RunInputs) -> str:
    """The ``<kpoints>`` block."""
    k = inputs.kpoints
    text = " <kpoints>\n"
    if k.divisions is not None:
        text += f'  <generation param="{k.style}">\n'
        text += f'   <v type="int" name="divisions">{" ".join(f"{n:8d}" for n in k.divisions)} </v>\n'
        text += f'   <v name="usershift">{"".join(f"{x:16.8f}" for x in k.shift)} </v>\n'
        for i, n in enumerate(k.divisions):
            vec = np.eye(3)[i] / n
            text += f'   <v name="genvec{i + 1}">{"".join(f"{x:16.8f}" for x in vec)} </v>\n'
        text += f'   <v name="shift">{"".join(f"{x:16.8f}" for x in k.shift)} </v>\n  </generation>\n'
    text += _varray("kpointlist", k.kpoints, "  ") + _varray("weights", k.weights[:, None], "  ")
    return text + " </kpoints>\n"


def atominfo_xml(inputs: RunInputs) -> str:
    """The ``<atominfo>`` block: elements, types, masses, valences, POTCAR titles."""
    text = f" <atominfo>\n  <atoms>{inputs.nions:8d} </atoms>\n  <types>{len(inputs.potcars):8d} </types>\n"
    text += ('  <array name="atoms" >\n   <dimension dim="1">ion</dimension>\n'
             '   <field type="string">element</field>\n   <field type="int">atomtype</field>\n   <set>\n')
    for t in inputs.type_of_site:
        text += f"    <rc><c>{inputs.potcars[t].element:2s}</c><c>{t + 1:4d}</c></rc>\n"
    text += ('   </set>\n  </array>\n  <array name="atomtypes" >\n   <dimension dim="1">type</dimension>\n'
             '   <field type="int">atomspertype</field>\n   <field type="string">element</field>\n'
             '   <field>mass</field>\n   <field>valence</field>\n'
             '   <field type="string">pseudopotential</field>\n   <set>\n')
    for p, n, mass in zip(inputs.potcars, inputs.type_counts, inputs.masses, strict=True):
        text += (f"    <rc><c>{n:4d}</c><c>{p.element:2s}</c><c>{mass:16.8f}</c><c>{p.zval:16.8f}</c>"
                 f"<c>  {p.titel:<38s}</c></rc>\n")
    return text + "   </set>\n  </array>\n </atominfo>\n"


def _energy_items(indent: str, values: dict[str, float]) -> str:
    return "".join(f'{indent}<i name="{k}">{v:16.8f} </i>\n' for k, v in values.items())


def calculation_xml(inputs: RunInputs, step: IonicStep, scf: list[ScfStep], md: bool,
                    bands: Bands | None, dos: tuple | None) -> str:
    """One ``<calculation>`` (one ionic step); the last one also has eigenvalues and DOS."""
    text = " <calculation>\n"
    per = step.seconds / max(len(scf), 1)
    for k, e in enumerate(scf):
        text += f'  <scstep>\n   <time name="dav">{per:8.2f}{per:8.2f}</time>\n'
        text += f'   <time name="total">{per:8.2f}{per:8.2f}</time>\n   <energy>\n'
        if k in (0, len(scf) - 1):
            text += _energy_items("    ", energy_terms(inputs, e.energy))
        text += _energy_items("    ", {"e_fr_energy": e.energy, "e_wo_entrp": e.energy, "e_0_energy": e.energy})
        text += "   </energy>\n  </scstep>\n"
    text += structure_xml(step.cell, _frac(step.cell, step.positions), "  ")
    text += _varray("forces", step.forces, "  ")
    if step.stress_kb is not None:
        text += _varray("stress", step.stress_kb, "  ")
    energies = {"e_fr_energy": step.energy, "e_wo_entrp": step.energy, "e_0_energy": step.energy}
    if md:
        energies |= {"kinetic": step.kinetic, "lattice kinetic": 0.0, "nosepot": 0.0, "nosekinetic": 0.0,
                     "total": step.energy + step.kinetic}
    text += "  <energy>\n" + _energy_items("   ", energies) + "  </energy>\n"
    text += f'  <time name="totalsc">{step.seconds:8.2f}{step.seconds:8.2f}</time>\n'
    if bands is not None and dos is not None:
        text += eigenvalues_xml(bands) + dos_xml(bands, dos)
    return text + " </calculation>\n"


def eigenvalues_xml(b: Bands) -> str:
    """The ``<eigenvalues>`` block and the orbital-magnetisation separator that follows it."""
    text = ('  <eigenvalues>\n   <array>\n    <dimension dim="1">band</dimension>\n'
            '    <dimension dim="2">kpoint</dimension>\n    <dimension dim="3">spin</dimension>\n'
            "    <field>eigene</field>\n    <field>occ</field>\n    <set>\n")
    for s in range(b.eigenvalues.shape[0]):
        text += f'     <set comment="spin {s + 1}">\n'
        for k in range(b.eigenvalues.shape[1]):
            text += f'      <set comment="kpoint {k + 1}">\n'
            text += "".join(f"       <r>{e:10.4f}{o:10.4f} </r>\n"
                            for e, o in zip(b.eigenvalues[s, k], b.occupations[s, k], strict=True))
            text += "      </set>\n"
        text += "     </set>\n"
    text += "    </set>\n   </array>\n  </eigenvalues>\n"
    return text + ('  <separator name="orbital magnetization" >\n   <v name="MAGDIPOLOUT">'
                   "      0.00000000      0.00000000      0.00000000</v>\n  </separator>\n")


def dos_xml(b: Bands, dos: tuple) -> str:
    """The total ``<dos>`` block with the Fermi energy."""
    energies, total, integrated = dos
    text = (f'  <dos>\n   <i name="efermi">{b.efermi:16.8f} </i>\n   <total>\n    <array>\n'
            '     <dimension dim="1">gridpoints</dimension>\n     <dimension dim="2">spin</dimension>\n'
            "     <field>energy</field>\n     <field>total</field>\n     <field>integrated</field>\n"
            "     <set>\n")
    for s in range(total.shape[0]):
        text += f'      <set comment="spin {s + 1}">\n'
        text += "".join(f"       <r>{e:11.4f}{d:11.4f}{n:11.4f} </r>\n"
                        for e, d, n in zip(energies, total[s], integrated[s], strict=True))
        text += "      </set>\n"
    return text + "     </set>\n    </array>\n   </total>\n  </dos>\n"


def write_vasprun(path: Path, inputs: RunInputs, traj: Trajectory, scf: list[list[ScfStep]],
                  bands: Bands, dos: tuple) -> None:
    """Write the whole file; MD runs carry velocities in ``initialpos`` and ``finalpos``."""
    md = inputs.mode == "md"
    v0 = traj.initial_velocities * inputs.potim @ np.linalg.inv(inputs.cell) if md else None
    parts = [header_xml(inputs), structure_xml(inputs.cell, _wrap(inputs.frac), " ", "initialpos", v0)]
    last = len(traj.steps) - 1
    for n, (step, steps) in enumerate(zip(traj.steps, scf, strict=True)):
        final = n == last
        parts.append(calculation_xml(inputs, step, steps, md, bands if final else None, dos if final else None))
    cell = traj.final_cell
    vf = traj.final_velocities * inputs.potim @ np.linalg.inv(cell) if md else None
    parts.append(structure_xml(cell, _frac(cell, traj.final_positions), " ", "finalpos", vf))
    parts.append("</modeling>\n")
    path.write_text("".join(parts), encoding="iso-8859-1")
