"""Descriptors as registered choices: inputs DeePMD-kit accepts, refusals, and DPA-1 trained for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from deepmd.utils.argcheck import normalize
from jobflow import run_locally

from seiflow.errors import InputError
from seiflow.models.store import ModelStore
from seiflow.registry import MODEL_DESCRIPTORS
from seiflow.schemas.campaign import TrainingConfig, load_campaign
from seiflow.store import get_jobstore
from seiflow.training.inputs import build_input
from seiflow.training.jobs import DeepmdTrainMaker
from tests.training.conftest import TYPE_MAP

CHOICES = [
    ("se_e2_a", "tensorflow", True),
    ({"type": "se_atten", "attn_layer": 0}, "tensorflow", True),
    ({"type": "se_atten", "attn_layer": 1}, "pytorch", True),
    ({"type": "se_atten", "tebd_input_mode": "concat"}, "pytorch", False),
    ({"type": "dpa2", "nlayers": 2}, "pytorch", True),
    ("dpa3", "pytorch", False),
]


def test_every_registered_descriptor_is_offered():
    assert set(MODEL_DESCRIPTORS.names()) == {"se_e2_a", "se_atten", "dpa2", "dpa3"}


@pytest.mark.parametrize(("descriptor", "backend", "compress"), CHOICES)
def test_each_descriptor_writes_an_input_deepmd_kit_accepts(descriptor, backend, compress):
    config = TrainingConfig(descriptor=descriptor, backend=backend, compress=compress, rcut=5.0)
    inp = build_input(config, ["Li", "In", "Cl"], ["/data/sys"], [20, 4, 32], seed=3, numb_steps=100)
    normalize(inp)  # DeePMD-kit's own argument check raises on anything it does not know
    section = inp["model"]["descriptor"]
    assert section["type"] == config.descriptor.type and section["seed"] == 3
    if config.descriptor.type == "se_e2_a":
        assert section["sel"] == [20, 4, 32]
    elif config.descriptor.type == "se_atten":
        assert section["sel"] == 56 and section["attn_layer"] == config.descriptor.attn_layer
    elif config.descriptor.type == "dpa2":
        assert section["repinit"]["nsel"] == 56 and section["repinit"]["rcut"] == 5.0
        assert section["repformer"]["nlayers"] == 2
    else:
        assert section["repflow"]["e_sel"] == 56 and section["repflow"]["e_rcut"] == 5.0
    again = TrainingConfig.model_validate(config.model_dump(mode="json"))  # round trip through a document
    assert again.descriptor == config.descriptor


@pytest.mark.parametrize(("settings", "words"), [
    ({"descriptor": "dpa3", "backend": "tensorflow", "compress": False},
     ["dpa3 trains only with backend pytorch", "set training.backend: pytorch"]),
    ({"descriptor": "dpa2", "backend": "tensorflow"}, ["dpa2 trains only with backend pytorch"]),
    ({"descriptor": "dpa3", "backend": "pytorch"}, ["cannot compress dpa3", "set training.compress: false"]),
    ({"descriptor": {"type": "se_atten", "tebd_input_mode": "concat"}},
     ["se_atten compresses only with tebd_input_mode: strip"]),
    ({"descriptor": {"type": "se_atten", "attn_layer": 1}}, ["on tensorflow se_atten compresses only with attn_layer: 0"]),
    ({"descriptor": "dpa9"}, ["dpa9", "se_atten", "se_e2_a"]),
])
def test_a_descriptor_that_cannot_serve_is_refused_with_the_fix(settings, words):
    with pytest.raises(ValueError) as err:
        TrainingConfig(**settings)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_the_campaign_file_error_is_one_line(tmp_path):
    text = (Path(__file__).parents[2] / "workflows" / "li_li3incl6_demo.yaml").read_text()
    bad = tmp_path / "campaign.yaml"
    bad.write_text(text.replace("  backend: tensorflow\n", "  backend: tensorflow\n  descriptor: dpa3\n"))
    with pytest.raises(InputError) as err:
        load_campaign(bad)
    line = err.value.one_line()
    assert "\n" not in line and "training" in line and "dpa3 trains only with backend pytorch" in line, line


def _run(job):
    responses = run_locally(job, store=get_jobstore(), ensure_success=True, log=False, raise_immediately=True)
    return responses[job.uuid][1].output


@pytest.mark.slow
def test_dpa1_trains_and_restarts_in_the_next_round_and_compresses_without_attention(seiflow_env, tiny_config,
                                                                                       licl_data):
    dpa1 = {"type": "se_atten", "attn": 8, "attn_layer": 1, "tebd_dim": 4}
    config = TrainingConfig.model_validate({**tiny_config.model_dump(), "descriptor": dpa1,
                                            "next_round_init": "restart"})
    maker = DeepmdTrainMaker(config=config, type_map=TYPE_MAP, save_freq=20, disp_freq=10)
    first = _run(maker.make(licl_data, campaign="dpa1", round=1, index=0))
    doc = ModelStore().get(first.model_id)
    assert doc.input["model"]["descriptor"]["type"] == "se_atten" and "checkpoint" in doc.files
    assert doc.input["model"]["descriptor"]["attn_layer"] == 1 and first.metrics.rmse_f_mev_a > 0
    second = _run(maker.make(licl_data, campaign="dpa1", round=2, index=0, prev_model_id=first.model_id))
    assert second.start_step == first.numb_steps == 40 and second.numb_steps == 40 + tiny_config.numb_steps_next
    assert ModelStore().get(second.model_id).init == "restart"

    plain = TrainingConfig.model_validate({**tiny_config.model_dump(), "compress": True,
                                           "descriptor": {**dpa1, "attn_layer": 0}})
    out = _run(DeepmdTrainMaker(config=plain, type_map=TYPE_MAP, save_freq=20, disp_freq=10).make(
        licl_data, campaign="dpa1c", round=1, index=0))
    doc = ModelStore().get(out.model_id)
    assert doc.compression.used == "compressed" and "compressed" in doc.files and "se_atten" in doc.compression.note


@pytest.mark.slow
@pytest.mark.parametrize(("descriptor", "compress"), [
    ({"type": "dpa2", "nlayers": 1, "g1_dim": 8, "g2_dim": 4, "tebd_dim": 4, "repformer_rcut": 3.5,
      "repformer_rcut_smth": 3.0, "repformer_nsel": 12}, True),
    ({"type": "dpa3", "nlayers": 1, "n_dim": 8, "e_dim": 4, "a_dim": 4, "a_rcut": 3.5, "a_rcut_smth": 3.0,
      "a_sel": 8}, False),
], ids=["dpa2", "dpa3"])
def test_dpa2_and_dpa3_train_test_and_run_in_lammps_on_pytorch(seiflow_env, tiny_config, licl_data, licl_system,
                                                               tmp_path, descriptor, compress):
    """The PyTorch-only descriptors through seiflow's training job (dp train, freeze to .pth, compress where
    DeePMD-kit can, dp test) and LAMMPS MD through the DeePMD plugin with the stored model."""
    import dpdata
    from pymatgen.io.ase import AseAtomsAdaptor

    from seiflow.analysis.production import nnp_md

    config = TrainingConfig.model_validate({**tiny_config.model_dump(), "backend": "pytorch",
                                            "descriptor": descriptor, "compress": compress, "numb_models": 1,
                                            "numb_steps": 20})
    out = _run(DeepmdTrainMaker(config=config, type_map=TYPE_MAP, save_freq=20, disp_freq=10).make(
        licl_data, campaign=descriptor["type"], round=1, index=0))
    doc = ModelStore().get(out.model_id)
    assert doc.backend == "pytorch" and doc.input["model"]["descriptor"]["type"] == descriptor["type"]
    assert doc.file_names["frozen"].endswith(".pth") and doc.metrics.rmse_f_mev_a > 0
    assert (doc.compression is not None and doc.compression.used == "compressed") is compress, doc.compression
    model = ModelStore().fetch(out.model_id, tmp_path / "model")
    atoms = dpdata.LabeledSystem(str(licl_system), fmt="deepmd/npy").to("ase/structure")[0]
    frames, speed, health = nnp_md(AseAtomsAdaptor.get_structure(atoms), model, TYPE_MAP, tmp_path / "md",
                                   temperature=300, steps=20, dump_every=10)
    assert len(frames) == 3 and speed and health.healthy, health
