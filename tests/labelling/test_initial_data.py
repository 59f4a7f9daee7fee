"""labelling.initial_data: existing AIMD imported once at the start, trained on with the campaign's reference."""

from __future__ import annotations

import json
from pathlib import Path

import dpdata
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from jobflow.managers.local import run_locally

from seiflow import store
from seiflow.cli.main import cli
from seiflow.dataset.frames import FrameStore
from seiflow.errors import InputError
from seiflow.labelling.base import label_maker_for
from seiflow.labelling.imports import import_job
from seiflow.schemas.campaign import load_campaign
from seiflow.schemas.formats import guess_format

DATA = Path(__file__).resolve().parents[1] / "data" / "vasp"
TI_RUN = DATA / "ti_aimd_nwrite0" / "vasprun.xml"  # real VASP 6.3 AIMD, 10 ionic steps (PROVENANCE.md)


def write_campaign(tmp_path: Path, labelling: dict, name: str = "ti") -> Path:
    data = {"name": name, "system": {"type_map": ["Ti"]}, "structures": {"bulks": [], "interface": None},
            "labelling": labelling,
            "training": {"numb_models": 1, "rcut": 4.0, "rcut_smth": 0.5, "sel": [40], "descriptor_neurons": [4, 8],
                         "axis_neuron": 2, "fitting_neurons": [8, 8], "numb_steps": 20, "decay_steps": 10,
                         "compress": False, "validation_fraction": 0.2}}
    path = tmp_path / "campaigns" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_format_is_guessed_from_the_name():
    assert guess_format("run1/vasprun.xml") == "vasp/xml" and guess_format("OUTCAR") == "vasp/outcar"
    assert guess_format("md.extxyz") == "extxyz" and guess_format("cp2k.out") == "cp2k/output"
    assert guess_format("notes.txt") is None


def test_labels_of_another_code_are_refused_or_flagged(tmp_path):
    vasp_file = str(TI_RUN)
    with pytest.raises(InputError, match=r"initial_data\[0\].*holds vasp labels but the reference is chgnet"):
        load_campaign(write_campaign(tmp_path, {"reference": "chgnet", "initial_data": [{"path": vasp_file}]}))
    path = write_campaign(tmp_path, {"reference": "chgnet", "initial_data": [{"path": vasp_file, "labelled_by": "other"}]})
    result = CliRunner().invoke(cli, ["validate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    warning = json.loads(result.output)["warnings"][0]
    assert "labelled by another reference (vasp" in warning and "never trained on" in warning


def test_frames_import_guesses_the_format(seiflow_env):
    result = CliRunner().invoke(cli, ["frames", "import", str(TI_RUN), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["fmt"] == "vasp/xml" and out["n_frames"] == 10


@pytest.mark.slow
def test_initial_data_is_imported_once_and_trained_on(seiflow_env, tmp_path, monkeypatch):
    (tmp_path / "aimd").mkdir()
    (tmp_path / "aimd" / "vasprun.xml").write_bytes(TI_RUN.read_bytes())
    path = write_campaign(tmp_path, {"reference": "vasp", "initial_data": [{"path": "../aimd/vasprun*.xml"}]})
    c = load_campaign(path)
    assert c.labelling.initial_data[0].path == str(tmp_path / "aimd" / "vasprun*.xml")  # relative to the file
    reference = label_maker_for(c.labelling).reference
    entries = [e.model_dump(mode="json") for e in c.labelling.initial_data]
    monkeypatch.chdir(tmp_path)
    outs = []
    for _ in range(2):  # a second start imports nothing again
        j = import_job(entries, reference, c.name)
        outs.append(run_locally(j, store=store.get_jobstore(), ensure_success=True)[j.uuid][1].output)
    assert (outs[0].n_new, outs[1].n_new, outs[1].n_duplicate) == (10, 0, 10)
    frames = list(FrameStore().find(campaign=c.name, reference=reference.model_dump(mode="json")))
    system = dpdata.LabeledSystem(str(TI_RUN), fmt="vasp/xml")
    assert np.allclose(sorted(f.energy for f in frames), sorted(system["energies"]))

    from seiflow.training.data import training_data
    from seiflow.training.jobs import DeepmdTrainMaker

    train = DeepmdTrainMaker(config=c.training, type_map=["Ti"]).make(training_data(c.name, reference), c.name, 1)
    done = run_locally(train, store=store.get_jobstore(), create_folders=True, root_dir=tmp_path, ensure_success=True)
    model = done[train.uuid][1].output
    assert model.metrics.n_test_frames == 2
    doc = store.get_database()["models"].find_one({"model_id": model.model_id})
    assert doc["data"]["n_train_frames"] == 8
