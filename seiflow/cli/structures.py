"""``seiflow structures ...``: bundled bulks, the interface, its scale-up and perturbed seeds."""

from __future__ import annotations

from pathlib import Path

import click
from pymatgen.core import Structure

from seiflow.cli.common import emit, json_option
from seiflow.cli.control import DEMO_CAMPAIGN
from seiflow.dataset.importers import check_extxyz_layout
from seiflow.errors import InputError
from seiflow.schemas.campaign import Campaign, load_campaign
from seiflow.structures.bulk import BULKS, prepare_bulks
from seiflow.structures.checks import check_structure, write_structure
from seiflow.structures.interface import LABEL
from seiflow.structures.jobs import relax_calculator_for
from seiflow.structures.perturb import perturb
from seiflow.structures.scale import ScaleUpTarget, scale_up


def _campaign(path: str | None) -> Campaign:
    """The named campaign file, else the demo's (``seiflow demo``'s default, in the working folder)."""
    if path:
        return load_campaign(path)
    if not DEMO_CAMPAIGN.is_file():
        raise InputError(f"no CAMPAIGN_FILE given and no {DEMO_CAMPAIGN} in {Path.cwd()}",
                         "name the campaign whose structures to build, e.g. workflows/li_li3incl6_demo.yaml")
    return load_campaign(DEMO_CAMPAIGN)


def _lattice(values: tuple[str, ...]) -> dict[str, float]:
    fixed = {}
    for item in values:
        name, _, value = item.partition("=")
        try:
            fixed[name] = float(value)
        except ValueError:
            raise InputError(f"--lattice {item!r} is not NAME=A", "e.g. --lattice Li=3.44") from None
    return fixed


def _bulks(campaign: Campaign, relax: bool | None, lattice: tuple[str, ...]):
    cfg = campaign.structures
    if cfg.interface is None:
        raise InputError("structures.interface is null in the campaign", "add an interface section")
    names = list(dict.fromkeys([cfg.interface.substrate, cfg.interface.film]))
    fixed = {k: v for k, v in {**cfg.lattice_constants, **_lattice(lattice)}.items() if k in names}
    calculator = relax_calculator_for(campaign)
    return prepare_bulks(names, cfg.relax if relax is None else relax, calculator, fixed, config=cfg)


_common = [
    click.argument("campaign_file", required=False, type=click.Path(dir_okay=False)),
    click.option("--out", "out_dir", default="structures", show_default=True, type=click.Path()),
    click.option("--relax/--no-relax", default=None, help="Override structures.relax."),
    click.option("--lattice", multiple=True, help="Fix a phase's conventional a, e.g. Li=3.44."),
    json_option,
]


def _with_common(func):
    for decorator in reversed(_common):
        func = decorator(func)
    return func


def _read(path: str) -> Structure:
    """A structure from any file pymatgen or ASE reads (POSCAR, CIF, extxyz, LAMMPS data, ...)."""
    if not path.endswith((".extxyz", ".xyz")):
        try:
            return Structure.from_file(path)
        except Exception:  # pymatgen raises many types for files it does not know; try ASE
            pass
    try:
        from ase.io import read
        from ase.io.formats import filetype
        from pymatgen.io.ase import AseAtomsAdaptor

        if filetype(path) in ("xyz", "extxyz"):
            check_extxyz_layout(Path(path))  # ASE reads `count` lines after a count line: a huge one never ends
        atoms = read(path)
        structure = AseAtomsAdaptor.get_structure(atoms)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read {path}: {exc}", "give a POSCAR, CIF or extxyz file") from None
    if LABEL in atoms.arrays:  # extxyz written by seiflow keeps which atoms are electrolyte
        structure.add_site_property(LABEL, [str(x) for x in atoms.arrays[LABEL]])
    return structure


@click.group("structures")
def structures_group() -> None:
    """Bulk phases, lattice-matched interfaces, scale-up and perturbed seeds."""


@structures_group.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """List the bundled bulk phases."""
    phases = [
        {"name": e.name, "formula": e.formula, "space_group": e.space_group, "file": e.filename,
         "note": e.note}
        for e in BULKS.values()
    ]
    text = "\n".join(f"{p['name']:<18} {p['space_group']:<7} {p['note']}" for p in phases)
    emit({"phases": phases}, as_json, text)


def _write_and_emit(campaign, result, out_dir: str, stem: str, sources: dict, as_json: bool,
                    describe) -> None:
    """Check and write a built structure, then print its report (``describe`` makes the text line)."""
    files = write_structure(
        result.structure, out_dir, campaign.system.type_map, stem, campaign.structures.min_distance
    )
    rep = result.report
    emit(
        {"report": rep, "files": {k: str(v) for k, v in files.items()}, "bulk_sources": sources},
        as_json, f"{describe(rep)}; wrote {files['poscar']}",
    )


@structures_group.command("interface")
@_with_common
def interface_cmd(
    campaign_file: str | None, out_dir: str, relax: bool | None, lattice: tuple[str, ...], as_json: bool
) -> None:
    """Build the campaign's interface (default: Li(110) | Li3InCl6(001)) and write it to --out."""
    from seiflow.structures.interface import build_interface

    campaign = _campaign(campaign_file)
    bulks, sources = _bulks(campaign, relax, lattice)
    result = build_interface(campaign.structures.interface, bulks)
    _write_and_emit(
        campaign, result, out_dir, "interface", sources, as_json,
        lambda rep: f"{rep['natoms']} atoms, area {rep['area']} Å², von Mises strain "
        f"{rep['von_mises_strain']:.2%}, {'/'.join(rep['termination']['film_facing'])} facing "
        f"{'/'.join(rep['termination']['substrate_facing'])}",
    )


@structures_group.command("scale-up")
@_with_common
@click.option("--substrate-atoms", default=12000, show_default=True, type=int)
@click.option("--film-fu", default=2000, show_default=True, type=int, help="Film formula units.")
@click.option("--repeat", nargs=2, type=int, default=None, help="In-plane repeats NA NB.")
def scale_up_cmd(
    campaign_file: str | None, out_dir: str, relax: bool | None, lattice: tuple[str, ...],
    as_json: bool, substrate_atoms: int, film_fu: int, repeat: tuple[int, int] | None,
) -> None:
    """The campaign's interface match grown to a target size (default 12,000 Li + 2,000 f.u.)."""
    campaign = _campaign(campaign_file)
    bulks, sources = _bulks(campaign, relax, lattice)
    target = ScaleUpTarget(substrate_atoms=substrate_atoms, film_formula_units=film_fu)
    result = scale_up(campaign.structures.interface, bulks, target, repeat or None)
    _write_and_emit(
        campaign, result, out_dir, "scaled", sources, as_json,
        lambda rep: f"{rep['natoms']} atoms ({rep['repeat'][0]}x{rep['repeat'][1]}, "
        f"{rep['substrate_layers']} + {rep['film_layers']} layers): {rep['achieved']} vs target "
        f"{rep['target']}",
    )


@structures_group.command("perturb")
@click.argument("structure_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-n", "n_copies", default=2, show_default=True, type=int)
@click.option("--cell-strain", default=0.03, show_default=True, type=float)
@click.option("--displacement", default=0.05, show_default=True, type=float, help="Sigma, Å.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--type-map", default=None, help="Element order, e.g. Li,In,Cl (default: the file's, by first "
              "appearance).")
@click.option("--min-distance", default=1.5, show_default=True, type=float)
@click.option("--out", "out_dir", default="perturbed", show_default=True, type=click.Path())
@json_option
def perturb_cmd(
    structure_file: str, n_copies: int, cell_strain: float, displacement: float, seed: int,
    type_map: str, min_distance: float, out_dir: str, as_json: bool,
) -> None:
    """Write N perturbed copies of STRUCTURE_FILE (POSCAR, CIF, extxyz, ...); reproducible by --seed."""
    structure = _read(structure_file)
    types = ([t.strip() for t in type_map.split(",") if t.strip()] if type_map
             else list(dict.fromkeys(site.specie.symbol for site in structure)))
    copies = perturb(structure, n_copies, cell_strain, displacement, seed)
    for copy in copies:
        check_structure(copy, types, min_distance)
    stem = Path(structure_file).stem
    files = [
        {k: str(v) for k, v in write_structure(c, out_dir, types, f"{stem}_{i:03d}", min_distance).items()}
        for i, c in enumerate(copies)
    ]
    emit({"n": len(copies), "seed": seed, "files": files}, as_json, f"wrote {len(copies)} copies to {out_dir}")
