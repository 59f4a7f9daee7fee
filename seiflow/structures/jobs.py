"""The first job of a campaign: relaxed bulks, the interface and its report, perturbed seeds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobflow import Maker, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from seiflow.constants import JobCategory
from seiflow.jobconfig import set_category
from seiflow.labelling.base import label_maker_for
from seiflow.schemas.campaign import Campaign, StructuresConfig
from seiflow.structures.bulk import describe_bulk, prepare_bulks
from seiflow.structures.checks import check_structure
from seiflow.structures.interface import LABEL, build_interface, file_interface_report
from seiflow.structures.perturb import perturb


class StructuresDocument(BaseModel):
    """Output of ``prepare_structures``: every structure the campaign starts from."""

    bulks: dict[str, Structure] = Field(..., description="Bulk phases by name, as used for matching.")
    bulk_sources: dict[str, str] = Field(..., description="How each bulk was obtained and prepared.")
    bulk_info: dict[str, dict[str, Any]] = Field(..., description="Formula, space group, lattice.")
    relax_calculator: str | None = Field(None, description="Calculator that relaxed the bulks.")
    interface: Structure | None = Field(None, description="The interface (site property interface_label).")
    interface_report: dict[str, Any] | None = Field(None, description="InterfaceReport mapping.")
    perturbed: dict[str, list[Structure]] = Field(
        default_factory=dict, description="Perturbed copies per seed name ('interface' or a bulk)."
    )
    type_map: list[str]


def relax_calculator_for(campaign: Campaign) -> str:
    """Who relaxes the campaign's bulks: ``structures.relax_with``, else the reference.

    A local reference relaxes in-process; a DFT reference (VASP) relaxes in its own jobs before this
    one (``relaxed`` in :func:`prepare_structures`), and its code name is recorded.
    """
    if campaign.structures.relax_with not in (None, "reference"):
        return campaign.structures.relax_with
    labeller = label_maker_for(campaign.labelling)
    return labeller.reference.calculator if labeller.relax_maker() is not None else labeller.relax_calculator()


@job(output_schema=StructuresDocument)
def prepare_structures(
    structures: StructuresConfig | dict, type_map: list[str], calculator_name: str = "chgnet",
    relaxed: dict[str, Structure] | None = None,
) -> StructuresDocument:
    """Prepare bulks, build and check the interface, and make perturbed seeds.

    ``relaxed`` holds bulks already relaxed by the reference's own jobs (``calculator_name`` names it).
    """
    cfg = StructuresConfig.model_validate(structures)
    phases, sources = prepare_bulks(
        cfg.prepared(), cfg.relax, calculator_name, cfg.lattice_constants, relaxed=relaxed, config=cfg
    )
    bulks = {name: phases[name] for name in cfg.bulks}  # labelled by reference MD; the others only build
    seeds: dict[str, Structure] = dict(bulks)
    interface = report = None
    if cfg.interface is not None and cfg.interface.file:
        interface = cfg.interface.from_file()
        report = file_interface_report(interface, cfg.interface.file)
        seeds = {"interface": interface, **seeds}
    elif cfg.interface is not None:
        result = build_interface(cfg.interface, phases)
        interface, report = result.structure, result.report
        seeds = {"interface": interface, **seeds}
    for name, structure in seeds.items():
        unmarked = name == "interface" and LABEL not in structure.site_properties  # a file that does not say
        check_structure(structure, type_map, cfg.min_distance, charge=not unmarked)
    p = cfg.perturb
    perturbed = {
        name: perturb(structure, p.n_copies, p.cell_strain, p.displacement, p.seed)
        for name, structure in seeds.items()
    }
    return StructuresDocument(
        bulks=bulks,
        bulk_sources={name: sources[name] for name in bulks},
        bulk_info={name: describe_bulk(s) for name, s in bulks.items()},
        relax_calculator=calculator_name if cfg.relax else None,
        interface=interface,
        interface_report=report,
        perturbed=perturbed,
        type_map=list(type_map),
    )


@dataclass
class PrepareStructuresMaker(Maker):
    """Make the campaign's structures job.

    Parameters
    ----------
    name
        Job name.
    calculator_name
        Local calculator that relaxes the bulks; None: the campaign's reference if it is local,
        else CHGNet.
    """

    name: str = "prepare structures"
    calculator_name: str | None = None

    def make(self, campaign: Campaign, relaxed: dict | None = None):
        """A job whose output is a ``StructuresDocument`` for ``campaign``.

        ``relaxed``: bulks relaxed by the reference's own jobs (their outputs), by phase name.
        """
        calculator = self.calculator_name or relax_calculator_for(campaign)
        new_job = prepare_structures(
            campaign.structures.model_dump(mode="json"), list(campaign.system.type_map), calculator, relaxed
        )
        new_job.name = self.name
        set_category(new_job, JobCategory.DFT)  # relaxation runs here with a local reference
        return new_job
