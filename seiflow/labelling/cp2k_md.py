"""CP2K NVT molecular dynamics as reference MD: every sampled step becomes a labelled frame.

:class:`Cp2kMDInputGenerator` writes the static labeller's FORCE_EVAL (:class:`Cp2kInputGenerator`)
word for word, with forces and stress printed every ``sample_every`` MD steps, under a
``RUN_TYPE MD`` / ``ENSEMBLE NVT`` GLOBAL and MOTION. :class:`Cp2kMDMaker` runs it under custodian in
one folder and stores the sampled steps as :class:`~seiflow.schemas.frame.LabelledFrame` documents
with the static labeller's Reference, so MD frames and static single points train together (and a
frame labelled once is never labelled again). Provenance: source ``reference_md``, origin,
``temperature`` (K), ``frame_index`` = MD step; step 0 (the input structure) is not stored, as in
:mod:`seiflow.labelling.md`.

Why not dpdata's ``cp2k/aimd_output``: it splits the log at `` ****`` lines followed by
``ENSEMBLE TYPE`` and reads stress after a ``STRESS`` line, the layout of CP2K before 2023. CP2K
2023.1 (Debian's) prints ``MD| Step number`` blocks and ``STRESS|`` rows, and dpdata raises
"please check if your cp2k files include full information". So the frames are read from CP2K's
own trajectory files (positions ``-pos-1.xyz`` in Å, forces ``-frc-1.xyz`` in Ha/bohr, the
potential energy in both headers) and the electronic stress from the log's ``STRESS|`` blocks (the
``.stress`` file of MOTION/PRINT adds the kinetic term, which DeePMD labels must not hold). Units
and signs are those of :func:`seiflow.labelling.cp2k.frame_from_cp2k_dir`: eV, eV/Å, virial in eV.

The job, and its one error path, are :mod:`seiflow.labelling.md`'s.

Examples
--------
>>> maker = Cp2kMDMaker(preset=CHEAP_CP2K, temperature=600.0, steps=20, sample_every=5)  # doctest: +SKIP
>>> job = maker.make(structure, origin="Li2", campaign="demo")                          # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pymatgen.core.units import Ha_to_eV

from seiflow.dataset.convert import structure_arrays
from seiflow.errors import InputError
from seiflow.labelling.cp2k_inputs import OUTPUT_FILE, PROJECT, Cp2kInputGenerator
from seiflow.labelling.cp2k_run import GPA_TO_EV_A3, HA_BOHR_TO_EV_A, Cp2kRunFields
from seiflow.labelling.md import ReferenceMDMaker, sampled_step
from seiflow.labelling.presets import STUDY_CP2K, Cp2kPreset
from seiflow.schemas.frame import LabelledFrame, Provenance, Reference

if TYPE_CHECKING:
    from pathlib import Path

    from pymatgen.core import Structure

    from seiflow.labelling.handlers import RunOutcome

MD_FOLDER = "cp2k_md"
POSITIONS_FILE = f"{PROJECT}-pos-1.xyz"  # CP2K's MOTION/PRINT/TRAJECTORY, Å
FORCES_FILE = f"{PROJECT}-frc-1.xyz"  # CP2K's MOTION/PRINT/FORCES, Ha/bohr
_XYZ_HEADER = re.compile(r"i\s*=\s*(\d+),\s*time\s*=\s*\S+,\s*E\s*=\s*(\S+)")
_STRESS_TITLE = "STRESS| Analytical stress tensor [GPa]"
_STRESS_ROW = re.compile(r"^\s*STRESS\|\s+([xyz])\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


class Thermostat(StrEnum):
    """CP2K NVT thermostats."""

    CSVR = "csvr"  # Bussi's canonical sampling through velocity rescaling
    NOSE = "nose"  # Nose-Hoover chain (length 3)


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"the static CP2K input does not hold {old.strip()!r} once; update cp2k_md")
    return text.replace(old, new)


def _each_md(section: str, every: int) -> str:
    return f"    &{section} ON\n      &EACH\n        MD {every}\n      &END EACH\n    &END {section}\n"


@dataclass
class Cp2kMDInputGenerator:
    """Writes a CP2K NVT MD input whose FORCE_EVAL is the static labeller's (:class:`Cp2kInputGenerator`).

    Parameters
    ----------
    preset
        PBE/GTH/MOLOPT settings, as for static single points.
    temperature
        Thermostat and initial-velocity temperature, K.
    steps, timestep_fs
        Number of MD steps and time step (fs).
    sample_every
        Positions, forces and stress are printed every this many steps (and at step 0).
    thermostat, timecon_fs
        ``csvr`` or ``nose`` and its time constant, fs.
    seed
        Random seed (initial velocities, CSVR noise); CP2K gets ``seed + 1`` (it refuses 0).
    """

    preset: Cp2kPreset = STUDY_CP2K
    temperature: float = 300.0
    steps: int = 20
    timestep_fs: float = 1.0
    sample_every: int = 1
    thermostat: Thermostat = Thermostat.CSVR
    timecon_fs: float = 100.0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "temperature": (self.temperature > 0, "give a temperature above 0 K"),
            "steps": (self.steps >= 1, "give at least one MD step"),
            "timestep_fs": (self.timestep_fs > 0, "give a positive time step in fs, e.g. 1.0"),
            "sample_every": (1 <= self.sample_every <= self.steps, "sample every 1 to `steps` steps"),
            "timecon_fs": (self.timecon_fs > 0, "give a positive thermostat time constant in fs"),
            "seed": (self.seed >= 0, "give a seed >= 0"),  # CP2K aborts on SEED 0: it writes seed + 1
        }
        for field, (ok, fix) in checks.items():
            if not ok:
                raise InputError(f"CP2K MD {field}={getattr(self, field)!r} is not allowed", fix)
        try:
            self.thermostat = Thermostat(self.thermostat)
        except ValueError:
            raise InputError(f"unknown thermostat {self.thermostat!r}", "use 'csvr' or 'nose'") from None

    def _thermostat(self) -> str:
        if self.thermostat == Thermostat.NOSE:
            body = f"      &NOSE\n        LENGTH 3\n        TIMECON {self.timecon_fs:g}\n      &END NOSE\n"
        else:
            body = f"      &CSVR\n        TIMECON {self.timecon_fs:g}\n      &END CSVR\n"
        return f"    &THERMOSTAT\n      TYPE {self.thermostat.name}\n{body}    &END THERMOSTAT\n"

    def _motion(self) -> str:
        k = self.sample_every
        return (
            "&MOTION\n  &MD\n    ENSEMBLE NVT\n"
            f"    STEPS {self.steps}\n    TIMESTEP {self.timestep_fs:g}\n"
            f"    TEMPERATURE {self.temperature:g}\n{self._thermostat()}  &END MD\n"
            "  &PRINT\n"
            f"    &TRAJECTORY\n      FORMAT XYZ\n      &EACH\n        MD {k}\n      &END EACH\n    &END TRAJECTORY\n"
            f"    &FORCES\n      FORMAT XYZ\n      &EACH\n        MD {k}\n      &END EACH\n    &END FORCES\n"
            "    &VELOCITIES OFF\n    &END VELOCITIES\n"
            "  &END PRINT\n&END MOTION\n"
        )

    def get_input(self, structure: Structure) -> str:
        """The input file text for NVT MD from ``structure``."""
        static = Cp2kInputGenerator(self.preset).get_input(structure)
        head, sep, force_eval = static.partition("&END GLOBAL\n")
        if not sep:
            raise RuntimeError("the static CP2K input has no &GLOBAL section; update cp2k_md")
        head = _replace_once(head, "  RUN_TYPE ENERGY_FORCE\n", f"  RUN_TYPE MD\n  SEED {self.seed + 1}\n")
        for section in ("FORCES", "STRESS_TENSOR"):
            old = f"    &{section} ON\n    &END {section}\n"
            force_eval = _replace_once(force_eval, old, _each_md(section, self.sample_every))
        return head + sep + force_eval + self._motion()


def read_xyz_frames(path: Path) -> list[tuple[int, float, list[str], np.ndarray]]:
    """(step, energy in Ha, symbols, (N, 3) values) of each frame of a CP2K MD xyz file."""
    lines = path.read_text().splitlines()
    frames, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i])
        header = _XYZ_HEADER.search(lines[i + 1])
        rows = [line.split() for line in lines[i + 2 : i + 2 + n]]
        if header is None or len(rows) != n or any(len(r) != 4 for r in rows):
            raise ValueError(f"{path.name}: malformed frame at line {i + 1}")
        values = np.array([[float(x) for x in r[1:]] for r in rows])
        frames.append((int(header.group(1)), float(header.group(2)), [r[0] for r in rows], values))
        i += n + 2
    return frames


def read_log_stresses(path: Path) -> list[np.ndarray]:
    """Every ``STRESS| Analytical stress tensor [GPa]`` block of a CP2K log, as (3, 3) GPa arrays."""
    lines = path.read_text(errors="replace").splitlines()
    tensors = []
    for i, line in enumerate(lines):
        if line.strip() != _STRESS_TITLE:
            continue
        rows = [_STRESS_ROW.match(row) for row in lines[i + 2 : i + 5]]
        if not all(rows) or [m.group(1) for m in rows] != ["x", "y", "z"]:
            raise ValueError(f"{path.name}: malformed stress block at line {i + 1}")
        tensors.append(np.array([[float(v) for v in m.groups()[1:]] for m in rows]))
    return tensors


def frames_from_cp2k_md(
    directory: Path, structure: Structure, reference: Reference, provenance: Provenance,
    temperature: float,
) -> list[LabelledFrame]:
    """The sampled steps (step 0 left out) of a CP2K MD run in ``directory``: eV, eV/Å, virial in eV.

    Raises ValueError when the trajectory files and the log do not describe the same steps.
    """
    species, _, cell, pbc = structure_arrays(structure)
    positions = read_xyz_frames(directory / POSITIONS_FILE)
    forces = read_xyz_frames(directory / FORCES_FILE)
    stresses = read_log_stresses(directory / OUTPUT_FILE)
    if not (len(positions) == len(forces) == len(stresses)) or not positions:
        raise ValueError(
            f"CP2K MD printed {len(positions)} positions, {len(forces)} forces and "
            f"{len(stresses)} stresses: they must be the same steps"
        )
    volume = abs(float(np.linalg.det(cell)))
    frames = []
    for (step, energy, symbols, pos), (f_step, f_energy, _, frc), stress in zip(
        positions, forces, stresses, strict=True
    ):
        if step != f_step or not np.isclose(energy, f_energy, rtol=0, atol=1e-9):
            raise ValueError(f"CP2K MD step {step}: positions and forces files disagree (step {f_step})")
        if symbols != species:
            raise ValueError(f"CP2K MD step {step}: atoms {symbols} are not the input's {species}")
        if step == 0:
            continue
        frames.append(LabelledFrame(
            species=species, positions=pos, cell=cell, pbc=pbc, energy=energy * Ha_to_eV,
            forces=frc * HA_BOHR_TO_EV_A, virial=stress * GPA_TO_EV_A3 * volume,
            reference=reference,
            provenance=sampled_step(provenance, step, temperature),
        ))
    return frames


@dataclass
class Cp2kMDMaker(Cp2kRunFields, ReferenceMDMaker, Cp2kMDInputGenerator):
    """NVT CP2K MD of one structure at one temperature under custodian; stores the sampled frames.

    The MD settings are :class:`Cp2kMDInputGenerator`'s (preset, temperature, steps, timestep_fs,
    sample_every, thermostat, timecon_fs, seed); the frames' Reference is the preset's, as for
    :class:`~seiflow.labelling.cp2k.Cp2kLabelMaker`.

    Parameters
    ----------
    name
        Job name.
    cp2k_cmd, handlers, max_errors, polling_time_step
        As for :class:`~seiflow.labelling.cp2k.Cp2kLabelMaker` (one ``cp2k.psmp`` with
        ``OMP_NUM_THREADS=1`` is fastest for a few atoms).
    max_force, energy_window, category, source
        Flagging thresholds, FireWorks category, provenance source (``reference_md`` or ``validation``).
    """

    folder: ClassVar[str] = MD_FOLDER

    name: str = "cp2k md"
    steps: int = 20
    sample_every: int = 5

    @property
    def reference(self) -> Reference:
        """The static CP2K labeller's reference for the same preset."""
        return self.preset.reference()

    def input_generator(self) -> Cp2kMDInputGenerator:
        """The input generator with this maker's MD settings."""
        return Cp2kMDInputGenerator(**{f.name: getattr(self, f.name) for f in fields(Cp2kMDInputGenerator)})

    def run(self, structure: Structure, directory: Path) -> RunOutcome:
        """Write the MD input for ``structure`` in ``directory`` and run CP2K there under custodian."""
        return self.run_cp2k(self.input_generator().get_input(structure), directory)

    def trajectory(self, directory: Path) -> list[Path]:
        """Positions, forces and the log: everything the frames are read from."""
        return [directory / POSITIONS_FILE, directory / FORCES_FILE, directory / OUTPUT_FILE]

    def read_frames(self, directory: Path, structure: Structure, provenance: Provenance) -> list[LabelledFrame]:
        """The sampled steps of the run (step 0 left out)."""
        return frames_from_cp2k_md(directory, structure, self.reference, provenance, self.temperature)
