"""The study's DFT settings, as presets for the VASP and CP2K labelling makers.

The seed study used VASP, PBE, NVT AIMD at 300 K (interface) and 300/600 K (bulks, 1 ps = 1,000 frames).
Values it does not state are seiflow's choices and are marked as such below.

VASP (``STUDY_VASP``):

- functional PBE (``GGA = PE``; atomate2's default base set is PBEsol, so this is overridden);
- ``ENCUT = 520`` eV (Materials Project standard; *seiflow's choice*);
- ``ISMEAR = 0``, ``SIGMA = 0.05`` eV (Gaussian smearing safe for metal and insulator; *seiflow's choice*);
- ``ISPIN = 1`` (Li, In, Cl: non-magnetic), ``EDIFF = 1e-5`` eV, ``PREC = Accurate``, ``LREAL = Auto``;
- no charge/wavefunction/LOCPOT files (``LCHARG = LWAVE = LVTOT = LAECHG = False``) to keep runs small;
- k-points: Gamma-centred, ``reciprocal_density = 64`` for statics (*seiflow's choice*).

AIMD (``STUDY_AIMD``): NVT, Nose-Hoover (atomate2's ``nvt``: ``MDALGO = 2``, ``SMASS = 0``), 1 fs time
step, 1,000 steps (1 ps), temperatures 300 K and 600 K, Gamma point only (large cells).

CP2K (``STUDY_CP2K``): PBE, GTH pseudopotentials (GTH-PBE), DZVP-MOLOPT-SR-GTH basis from
``/usr/share/cp2k`` (Debian ``cp2k``), plane-wave cutoff 400 Ry / relative 50 Ry, Fermi-Dirac smearing
300 K with diagonalisation (metals), Gamma point only, analytical stress. Each element's entries are
looked up in those files (:func:`seiflow.labelling.cp2k_inputs.kind_names`), so any element they hold works.
"""

from __future__ import annotations

from typing import ClassVar

from atomate2.vasp.sets.core import MDSetGenerator, StaticSetGenerator
from pydantic import BaseModel, ConfigDict, Field

from seiflow.schemas.frame import Reference

# VASP INCAR settings shared by statics and AIMD (see the module docstring for why).
VASP_COMMON_INCAR: dict[str, object] = {
    "GGA": "PE",
    "ENCUT": 520,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "ISPIN": 1,
    "EDIFF": 1e-5,
    "LREAL": "Auto",
    "LCHARG": False,
    "LWAVE": False,
    "LVTOT": False,
    "LAECHG": False,
    "LORBIT": None,
    "MAGMOM": None,
}


class VaspPreset(BaseModel):
    """A VASP labelling preset: INCAR overrides and k-point density for static single points."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: ClassVar[str] = "vasp"  # Reference.calculator of the frames labelled with it

    name: str = Field(..., description="Preset name, stored in each frame's reference settings.")
    incar: dict[str, object] = Field(default_factory=lambda: dict(VASP_COMMON_INCAR))
    reciprocal_density: int = Field(64, ge=1, description="k-points per reciprocal atom (statics).")

    def static_generator(self) -> StaticSetGenerator:
        """atomate2's static input generator with this preset's settings."""
        return StaticSetGenerator(
            user_incar_settings=dict(self.incar),
            user_kpoints_settings={"reciprocal_density": self.reciprocal_density},
            auto_ispin=False,
        )

    def reference_settings(self) -> dict[str, object]:
        """What identifies labels made with this preset (enters the frame content hash)."""
        return {"preset": self.name, "incar": dict(self.incar), "kppra": self.reciprocal_density}

    def reference(self) -> Reference:
        """The reference of frames labelled with this preset (statics and AIMD alike: they train together)."""
        return Reference(calculator=self.code, settings=self.reference_settings())


class AimdPreset(BaseModel):
    """An NVT AIMD preset (the study's reference MD)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    temperatures: tuple[float, ...] = Field((300.0, 600.0), description="K, one run per value.")
    ensemble: str = Field("nvt", description="atomate2 ensemble name (nvt = Nose-Hoover).")
    time_step: float = Field(1.0, gt=0, description="fs (VASP POTIM).")
    nsteps: int = Field(1000, ge=1, description="MD steps (VASP NSW); 1,000 x 1 fs = 1 ps.")
    incar: dict[str, object] = Field(default_factory=lambda: dict(VASP_COMMON_INCAR))

    def md_generator(self, temperature: float) -> MDSetGenerator:
        """atomate2's MD input generator for one temperature, Gamma point only."""
        return MDSetGenerator(
            ensemble=self.ensemble,
            start_temp=temperature,
            end_temp=temperature,
            nsteps=self.nsteps,
            time_step=self.time_step,
            user_incar_settings=dict(self.incar),
            user_kpoints_settings={"reciprocal_density": 1},
            auto_ispin=False,
        )


class Cp2kPreset(BaseModel):
    """CP2K static single-point settings (PBE, GTH, MOLOPT)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: ClassVar[str] = "cp2k"  # Reference.calculator of the frames labelled with it

    name: str
    data_dir: str = Field("/usr/share/cp2k", description="Folder with BASIS_MOLOPT and GTH_POTENTIALS.")
    basis_file: str = "BASIS_MOLOPT"
    potential_file: str = "GTH_POTENTIALS"
    basis: str = Field(
        "DZVP-MOLOPT-SR-GTH", description="Basis set of every element (its entry for the potential's valence).")
    xc: str = Field("PBE", description="XC functional; potentials are GTH-<xc>.")
    cutoff: float = Field(400.0, gt=0, description="Plane-wave cutoff, Ry.")
    rel_cutoff: float = Field(50.0, gt=0, description="Relative cutoff, Ry.")
    eps_scf: float = Field(1e-6, gt=0, description="SCF convergence, Ha.")
    max_scf: int = Field(100, ge=1)
    smearing_temperature: float | None = Field(300.0, description="Fermi-Dirac K; None: OT, no smearing.")
    added_mos: int = Field(20, ge=0, description="Extra orbitals when smearing.")

    def reference_settings(self) -> dict[str, object]:
        """What identifies labels made with this preset (enters the frame content hash)."""
        return self.model_dump(exclude={"data_dir"})

    def reference(self) -> Reference:
        """The reference of frames labelled with this preset (statics and MD alike: they train together)."""
        return Reference(calculator=self.code, settings=self.reference_settings())


STUDY_VASP = VaspPreset(name="study-pbe")
STUDY_AIMD = AimdPreset(name="study-aimd-nvt")
STUDY_CP2K = Cp2kPreset(name="study-cp2k-pbe")

CHEAP_CP2K = Cp2kPreset(
    name="cheap-cp2k-pbe",
    cutoff=250.0,
    rel_cutoff=40.0,
    eps_scf=1e-5,
    added_mos=10,
)
"""The cheapest CP2K settings found with sane forces on Li and Li/Cl cells: for tests and demos .

Same as ``STUDY_CP2K`` (PBE, GTH, DZVP-MOLOPT-SR-GTH, Fermi-Dirac 300 K, Gamma point) but CUTOFF 250 Ry,
REL_CUTOFF 40 Ry and EPS_SCF 1e-5. On rattled (0.08 Å) cells its forces match ``STUDY_CP2K``'s within
0.008-0.012 eV/Å rms (cosine >= 0.99; virial within 0.07 eV). Measured 2026-12-01, one process
(``OMP_NUM_THREADS=1 cp2k.psmp``: it beats ``mpirun -np 2`` and 2 threads at these sizes), CPU seconds on
a shared 2-core machine: single point 7-11 s for 2-atom bcc Li, 9-10 s for 4-atom Li2Cl2, 14-19 s for
8-atom LiCl (the 2-atom fcc primitive LiCl costs 15-20 s: avoid it); an NVT MD step ~6 s (Li2, Li2Cl2),
~12 s (Li4Cl4). CUTOFF 300 costs about the same (+5 %) with errors of 0.001-0.012 eV/Å.
Cheaper settings fail: REL_CUTOFF 30 Ry (at CUTOFF 120-200) gives force errors as large as the forces,
and SZV-MOLOPT-SR-GTH, though 3-5x cheaper and right for Li metal (0.009 eV/Å rms), gets Cl cells wrong
(cosine 0.77-0.80 to the DZVP forces).
"""

# Presets by the name a campaign gives (``labelling.reference: {code: cp2k, preset: cheap}``).
VASP_PRESETS: dict[str, VaspPreset] = {"study_pbe": STUDY_VASP}
CP2K_PRESETS: dict[str, Cp2kPreset] = {"study_pbe": STUDY_CP2K, "cheap": CHEAP_CP2K}
