"""The study campaign (workflows/li_li3incl6_study.yaml): it validates, holds the study's settings,
and every job it makes (at submission, in rounds 0 and 1, at run time) is taken by a shipped worker.

The worker files are the ones in seiflow/data/workers; docs/study.md adds two VASP worker files that
split the long AIMD from the statics, checked here on a real LaunchPad.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from fireworks import FWorker, Workflow
from jobflow import Flow, Job
from jobflow.managers.fireworks import flow_to_workflow
from pymatgen.core import Lattice, Structure

from seiflow import store
from seiflow.cli.main import cli
from seiflow.constants import JobCategory
from seiflow.controller.flows import RoundMaker, reference_relaxations
from seiflow.labelling.base import label_maker_for
from seiflow.labelling.groups import GroupedLabelMaker
from seiflow.labelling.md import initial_data_flow
from seiflow.schemas.campaign import Campaign, load_campaign

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "workflows" / "li_li3incl6_study.yaml"
STUDY_DOC = REPO / "docs" / "study.md"
WORKERS = REPO / "seiflow" / "data" / "workers"
_FCC = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    """The study campaign as seiflow reads it."""
    return load_campaign(STUDY)


def shipped_categories() -> set[str | None]:
    """Every category a shipped worker file (seiflow/data/workers/*/my_fworker.yaml) takes."""
    taken: set[str | None] = set()
    for path in sorted(WORKERS.glob("*/my_fworker.yaml")):
        taken.update(FWorker.from_file(str(path)).category)
    return taken


def _leaf_jobs(flow: Flow | Job) -> list[Job]:
    if isinstance(flow, Job):
        return [flow]
    return [leaf for item in flow.jobs for leaf in _leaf_jobs(item)]


def _category(job: Job) -> str | None:
    return job.config.manager_config.get("_category")


@cache
def _licl_cell() -> Structure:
    cl = [[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]]
    return Structure(Lattice.cubic(5.13), ["Li"] * 4 + ["Cl"] * 4, _FCC + cl)


def _licl() -> Structure:
    """An 8-atom rock-salt LiCl cell: a cheap stand-in seed (the flows are built, not run)."""
    return _licl_cell().copy()


def test_seiflow_validate_passes_for_the_study_file():
    result = CliRunner().invoke(cli, ["validate", str(STUDY), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["valid"] is True and out["name"] == "li_li3incl6_study"


def test_the_study_settings_are_in_the_file(campaign):
    lab = campaign.labelling
    assert (lab.reference.code, lab.reference.preset) == ("vasp", "study_pbe")
    md = lab.md
    assert (md.steps, md.timestep_fs) == (1000, 1.0)  # 1 ps
    assert md.temperatures == [300.0, 600.0] and md.interface_temperatures == [300.0]
    assert 4 <= lab.group_size <= 8
    t = campaign.training
    assert (t.descriptor.type, t.rcut, t.descriptor_neurons, t.axis_neuron) == (
        "se_e2_a",
        6.0,
        [25, 50, 100],
        16,
    )
    assert t.fitting_neurons == [240, 240, 240] and t.numb_models == 4
    assert 400_000 <= t.numb_steps <= 1_000_000 and t.decay_steps < t.numb_steps_next
    s = campaign.selection
    assert 0.05 <= s.f_trust_lo <= 0.10 and 0.25 <= s.f_trust_hi <= 0.35
    assert campaign.exploration.nsteps_growth > 1 and {"nvt", "npt"} == set(
        campaign.exploration.ensembles
    )
    criteria = campaign.convergence.criteria
    assert {name: getattr(c, "target", None) for name, c in criteria.items()} == {
        "accurate_ratio": None,
        "energy_rmse_mev_atom": 1.6,
        "force_rmse_mev_a": 46.2,
        "stress_rmse_mpa": 33.6,
    }
    assert 200 <= campaign.structures.interface.max_atoms <= 400


def test_the_vasp_command_reaches_statics_and_aimd(campaign):
    """The command is fixed where the controller builds the jobs: it must come from the file."""
    maker = label_maker_for(campaign.labelling)
    aimd = maker.md_maker(300.0, campaign.labelling.md)
    assert maker.vasp_cmd == aimd.vasp_cmd == "srun vasp_std"
    assert (aimd.steps, aimd.sample_every, aimd.timestep_fs) == (1000, 10, 1.0)


def test_the_submitted_workflow_is_taken_by_shipped_workers(tmp_path, monkeypatch):
    """``seiflow submit --write`` needs no LaunchPad; its one job (start) has a shipped category."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    wf_file = tmp_path / "wf.yaml"
    result = CliRunner().invoke(cli, ["submit", str(STUDY), "--write", str(wf_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n_jobs"] == 1
    wf = Workflow.from_file(str(wf_file))
    categories = {fw.spec.get("_category") for fw in wf.fws}
    assert categories and categories <= shipped_categories(), categories
    assert all(fw.spec["campaign"] == "li_li3incl6_study" for fw in wf.fws)


def test_round_zero_is_the_study_aimd_on_vasp_nodes(campaign):
    """Bulks at 300 and 600 K, the interface at 300 K, 1 ps of VASP AIMD each, all category dft."""
    bulks = {"Li": _licl(), "Li3InCl6": _licl(), "In": _licl(), "LiCl": _licl()}
    structures = {**bulks, "interface": _licl()}
    flow = initial_data_flow(
        label_maker_for(campaign.labelling),
        structures,
        campaign.labelling.md,
        campaign=campaign.name,
        bulks=tuple(bulks),
    )
    jobs = _leaf_jobs(flow)
    assert len(jobs) == 4 * 2 + 1
    assert {_category(j) for j in jobs} == {JobCategory.DFT.value} <= shipped_categories()
    assert all(j.name.startswith("vasp md ") for j in jobs)
    for job in jobs:
        maker, start = job.function_args[0], job.function_args[1]
        assert maker.steps == 1000 and maker.vasp_cmd == "srun vasp_std"
        assert len(start) >= campaign.labelling.md.bulk_supercell_atoms or job.name.startswith(
            "vasp md interface"
        )
    assert sorted(j.name for j in jobs if "interface" in j.name) == ["vasp md interface 300K"]


def test_the_bulks_are_relaxed_by_vasp_on_vasp_nodes(campaign):
    """``relax_with: reference``: one atomate2 RelaxMaker job per bulk, the campaign's VASP command."""
    relaxations = reference_relaxations(campaign)
    assert sorted(relaxations) == sorted(campaign.structures.bulks)
    for name, job in relaxations.items():
        assert job.name == f"li_li3incl6_study relax {name}"
        assert _category(job) == JobCategory.DFT.value
        assert job.maker.run_vasp_kwargs["vasp_cmd"] == "srun vasp_std"


def test_round_one_jobs_are_taken_by_shipped_workers(campaign):
    seeds = {"interface": _licl(), "interface_p0": _licl(), "interface_p1": _licl()}
    jobs = _leaf_jobs(RoundMaker.from_campaign(campaign).make(campaign, 1, seeds, None))
    categories = [_category(j) for j in jobs]
    assert set(categories) <= shipped_categories(), categories
    assert categories.count(JobCategory.TRAIN.value) == campaign.training.numb_models
    explore = [j for j in jobs if j.name.startswith("explore ")]
    assert len(explore) == 3 * 6 and {_category(j) for j in explore} == {JobCategory.LAMMPS.value}
    (validate,) = [j for j in jobs if j.name.endswith(" validate r1")]  # the fixed validation set
    assert _category(validate) == JobCategory.LAMMPS.value
    (planner,) = [j for j in jobs if j.function.__name__ == "label_in_groups"]
    assert _category(planner) == JobCategory.LIGHT.value  # the jobs it makes at run time are dft


def test_the_label_planner_makes_dft_jobs_at_run_time(campaign, seiflow_env):
    """The planner, run for real: 13 candidates in groups of 6 make 3 dft jobs and light ones."""
    maker = GroupedLabelMaker(
        labelling=label_maker_for(campaign.labelling), group_size=campaign.labelling.group_size
    )
    planner = maker.make(
        [_licl() for _ in range(13)],
        {"campaign": campaign.name, "round": 1, "source": "exploration"},
    )
    jobstore = store.get_jobstore()
    jobstore.connect()
    response = planner.run(jobstore)
    new = _leaf_jobs(response.replace)
    groups = [j for j in new if " group " in j.name]
    assert [j.name for j in groups] == [f"vasp label group {k}/3" for k in (1, 2, 3)]
    assert {_category(j) for j in groups} == {JobCategory.DFT.value}
    assert {_category(j) for j in new if j not in groups} == {JobCategory.LIGHT.value}
    assert {_category(j) for j in new} <= shipped_categories()
    assert all(j.config.manager_config.get("campaign") == campaign.name for j in new)


def _doc_workers() -> dict[str, FWorker]:
    """The my_fworker.yaml files docs/study.md gives, by node folder name."""
    import yaml

    text = STUDY_DOC.read_text()
    blocks = re.findall(
        r"```yaml\n# ~/seiflow/workers/([\w-]+)/my_fworker\.yaml\n(.*?)```", text, re.S
    )
    return {node: FWorker.from_dict(yaml.safe_load(body)) for node, body in blocks}


def test_the_docs_split_aimd_from_statics_on_a_real_launchpad(campaign, seiflow_env):
    """The long-walltime worker takes only AIMD fireworks, the 8 h one the rest of category dft."""
    workers = _doc_workers()
    assert set(workers) == {"vasp", "vasp-aimd"}
    labeller = label_maker_for(campaign.labelling)
    aimd = initial_data_flow(
        labeller, {"LiCl": _licl()}, campaign.labelling.md, campaign=campaign.name, bulks=("LiCl",)
    )
    static = labeller.make([_licl()], None)
    static.name = "vasp label group 1/1"
    relax = reference_relaxations(campaign)["LiCl"]
    lp = store.get_launchpad()
    lp.reset("", require_password=False)
    lp.add_wf(flow_to_workflow(Flow([aimd, static, relax]), store=store.get_jobstore()))

    def picked(worker: FWorker) -> list[str]:
        ids = lp.get_fw_ids(query={**worker.query, "state": "READY"})
        return sorted(lp.get_fw_by_id(i).name for i in ids)

    assert picked(workers["vasp-aimd"]) == ["vasp md LiCl 300K", "vasp md LiCl 600K"]
    assert picked(workers["vasp"]) == ["li_li3incl6_study relax LiCl", "vasp label group 1/1"]
