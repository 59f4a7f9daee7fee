"""Fine-tuning from a pretrained checkpoint: the campaign's checks, and a campaign that starts from one.

No pretrained model can be downloaded here, so the test pretrains one: a DPA-1 (se_atten) model on the LiCl
reference frames with the type map [Cl, Br, Li] (another order, and an element the campaign lacks), frozen
to a TensorFlow .pb, the file DeePMD-kit's TensorFlow fine-tuning starts from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seiflow.errors import InputError
from seiflow.schemas.campaign import TrainingConfig, load_campaign
from seiflow.schemas.pretrained import sha256_of
from seiflow.training import run
from seiflow.training.inputs import build_input
from tests.training.conftest import assert_rounds_explored_and_calibrated

PRETRAINED_TYPES = ["Cl", "Br", "Li"]
TINY = Path(__file__).parents[1] / "controller" / "tiny_campaign.yaml"


def _pretrain(run_dir: Path, licl_system: Path, backend: str) -> Path:
    """A 30-step DPA-1 model of LiCl with the type map [Cl, Br, Li]: the .pb (TensorFlow) or .pt checkpoint."""
    config = TrainingConfig(backend=backend, descriptor={"type": "se_atten", "attn": 8, "attn_layer": 1,
                                                         "tebd_dim": 4},
                            rcut=4.0, rcut_smth=0.5, descriptor_neurons=[4, 8], fitting_neurons=[8, 8],
                            numb_steps=30, decay_steps=10, validation_fraction=0.0, compress=False)
    inp = build_input(config, PRETRAINED_TYPES, [str(licl_system)], [24, 0, 24], seed=5, numb_steps=30,
                      save_freq=30, disp_freq=10)
    (run_dir / "input.json").write_text(json.dumps(inp))
    run.train(run_dir, backend)
    if backend == "pytorch":
        return run_dir / run.restart_path(run_dir, backend)
    return run.freeze(run_dir, backend)[0]


@pytest.fixture(scope="module")
def pretrained_pb(tmp_path_factory, licl_system) -> Path:
    """The TensorFlow model, frozen (what a user downloads, in small)."""
    return _pretrain(tmp_path_factory.mktemp("pretrain"), licl_system, "tensorflow")


@pytest.fixture(scope="module")
def pretrained_pt(tmp_path_factory, licl_system) -> Path:
    """The PyTorch checkpoint (PyTorch fine-tunes from a .pt)."""
    return _pretrain(tmp_path_factory.mktemp("pretrain_pt"), licl_system, "pytorch")


def _campaign_file(tmp_path: Path, pretrained: Path, **training) -> Path:
    data = yaml.safe_load(TINY.read_text())
    data["name"] = "tinyft"
    data["training"].update({"finetune": {"model": pretrained.name}, "next_round_init": "restart", **training})
    (tmp_path / pretrained.name).write_bytes(pretrained.read_bytes())  # relative to the campaign file
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_campaign_records_what_it_fine_tunes_from(pretrained_pb, tmp_path):
    campaign = load_campaign(_campaign_file(tmp_path, pretrained_pb))
    pretrained = campaign.training.finetune
    assert pretrained.sha256 == sha256_of(pretrained_pb) and pretrained.backend == "tensorflow"
    assert pretrained.type_map == PRETRAINED_TYPES and pretrained.descriptor == "se_atten"
    assert pretrained.model_params["descriptor"]["attn_layer"] == 1
    assert Path(pretrained.model).is_absolute()  # resolved against the campaign file's folder


@pytest.mark.parametrize(("change", "words"), [
    ({"system": {"type_map": ["Li", "Cl", "In"]}},
     ["system.type_map ['Li', 'Cl', 'In'] has In", "pretrained model's type_map ['Cl', 'Br', 'Li'] lacks"]),
    ({"training": {"backend": "pytorch"}}, ["is a tensorflow checkpoint but training.backend is pytorch"]),
    ({"training": {"compress": True}}, ["descriptor se_atten is not compressed here"]),
    ({"training": {"finetune": {"model": "missing.pb"}}}, ["missing.pb does not exist"]),
    ({"training": {"finetune": {"model": "PRETRAINED", "sha256": "0" * 64}}}, ["not the 000000000000... given"]),
    ({"training": {"finetune": {"model": "PRETRAINED", "branch": "H"}}}, ["branch is for multi-task PyTorch"]),
])
def test_a_checkpoint_that_cannot_serve_is_a_one_line_error(pretrained_pb, tmp_path, change, words):
    path = _campaign_file(tmp_path, pretrained_pb)
    data = yaml.safe_load(path.read_text())
    for section, values in change.items():
        if "finetune" in values and values["finetune"]["model"] == "PRETRAINED":
            values = {"finetune": {**values["finetune"], "model": pretrained_pb.name}}
        if section == "training" and "finetune" in values:
            data["training"]["finetune"] = values["finetune"]
        else:
            data[section].update(values)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as err:
        load_campaign(path)
    line = str(err.value)
    assert "\n" not in line and all(w in line for w in words), line


def test_a_tensorflow_checkpoint_without_attention_is_refused(tmp_path, licl_system):
    """DeePMD-kit's TensorFlow fine-tuning takes se_atten models only: an se_e2_a .pb is refused at load."""
    run_dir = tmp_path / "se_e2_a"
    run_dir.mkdir()
    config = TrainingConfig(rcut=4.0, descriptor_neurons=[4, 8], fitting_neurons=[8, 8], numb_steps=2,
                            validation_fraction=0.0, compress=False)
    inp = build_input(config, ["Li", "Cl"], [str(licl_system)], [24, 24], seed=1, numb_steps=2)
    (run_dir / "input.json").write_text(json.dumps(inp))
    run.train(run_dir, "tensorflow")
    frozen, _ = run.freeze(run_dir, "tensorflow")
    with pytest.raises(InputError, match="TensorFlow fine-tunes only se_atten"):
        load_campaign(_campaign_file(tmp_path, frozen))


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_campaign_fine_tunes_round_1_and_restarts_round_2_from_it(seiflow_env, pretrained_pb, tmp_path):
    """Two workers, two rounds: round 1 fine-tunes from the stored checkpoint, round 2 restarts from round 1;
    LAMMPS explores with the fine-tuned models (whose type order is the checkpoint's) by element names."""
    from seiflow.controller.flows import campaign_flow
    from seiflow.controller.runner import run_locally
    from seiflow.controller.submit import submit
    from seiflow.models.store import ModelStore
    from seiflow.store import get_launchpad

    campaign = load_campaign(_campaign_file(tmp_path, pretrained_pb))
    lp = get_launchpad()
    lp.reset("", require_password=False)
    submit(campaign, campaign_flow(campaign), lp)
    (tmp_path / pretrained_pb.name).unlink()  # workers read the store's copy, never the user's file
    lines: list[str] = []
    outcome = run_locally(seiflow_env.settings, "tinyft", n_workers=2, timeout_s=1400, poll_s=2,
                          progress=lines.append)
    assert outcome.state == "not_converged", (outcome.error, lines[-20:])
    sha = sha256_of(pretrained_pb)
    store = ModelStore()
    models = [store.get(m.model_id) for m in sorted(store.list("tinyft"), key=lambda m: (m.round, m.index))]
    assert [m.round for m in models] == [1, 1, 2, 2]
    for m in models:
        assert m.pretrained_sha256 == sha and m.type_map == PRETRAINED_TYPES and m.deepmd_version
        assert m.input["model"]["descriptor"]["type"] == "se_atten"
        assert m.input["model"]["descriptor"]["seed"] == m.seed  # members differ by their seed
    assert [m.init for m in models] == ["finetune", "finetune", "restart", "restart"]
    assert all(m.parent_model_id in {p.model_id for p in models[:2]} for m in models[2:])
    assert_rounds_explored_and_calibrated("tinyft", [1, 2])  # LAMMPS ran with the fine-tuned models


def test_models_list_says_what_a_model_was_fine_tuned_from_and_what_a_student_learned():
    """``seiflow models list/get --json``: the model's own type map, its checkpoint and its teacher."""
    from seiflow.cli.models import _summary
    from seiflow.schemas.model import ModelDoc

    doc = ModelDoc(model_id="c-r1-m0-x", campaign="c", round=1, index=0, seed=1, backend="tensorflow",
                   deepmd_version="3.2.0", type_map=PRETRAINED_TYPES, numb_steps=10, init="finetune",
                   pretrained_sha256="ab" * 32)
    row = _summary(doc)
    assert row["type_map"] == PRETRAINED_TYPES and row["pretrained_sha256"] == "ab" * 32
    assert row["init"] == "finetune" and row["teacher_model_id"] is None
    student = _summary(doc.model_copy(update={"teacher_model_id": "c-r1-m4-y", "pretrained_sha256": None}))
    assert student["teacher_model_id"] == "c-r1-m4-y" and student["pretrained_sha256"] is None


def test_a_fresh_fitting_net_needs_a_pytorch_checkpoint(pretrained_pb, pretrained_pt, tmp_path):
    """Unset, the members' fitting nets start fresh from a .pt and from the checkpoint's with a .pb."""
    assert load_campaign(_campaign_file(tmp_path, pretrained_pb)).training.finetune.fitting == "pretrained"
    pt = load_campaign(_campaign_file(tmp_path, pretrained_pt, backend="pytorch")).training.finetune
    assert pt.fitting == "fresh" and pt.model_branch == "RANDOM"
    with pytest.raises(InputError) as err:
        load_campaign(_campaign_file(tmp_path, pretrained_pb, finetune={"model": pretrained_pb.name,
                                                                        "fitting": "fresh"}))
    assert "fitting: fresh needs a PyTorch .pt checkpoint" in err.value.one_line()


def _member_spread(models: list[Path], system: Path) -> tuple[float, float]:
    """(mean over frames of the largest per-atom force deviation between the models in eV/Å, Spearman of that
    deviation against the frame's largest force error of the members' mean)."""
    import numpy as np
    from deepmd.infer import DeepPot
    from deepmd.infer.model_devi import calc_model_devi_f
    from scipy.stats import spearmanr

    types = np.loadtxt(system / "type.raw", dtype=int)
    names = (system / "type_map.raw").read_text().split()
    coords = np.load(system / "set.000" / "coord.npy")
    cells = np.load(system / "set.000" / "box.npy")
    reference = np.load(system / "set.000" / "force.npy").reshape(len(coords), -1, 3)
    forces = []
    for path in models:
        pot = DeepPot(str(path))
        order = pot.get_type_map()
        atypes = [order.index(names[t]) for t in types]
        forces.append(pot.eval(coords, cells, atypes)[1].reshape(len(coords), -1, 3))
    stacked = np.stack(forces)
    deviation = calc_model_devi_f(stacked)[0]  # DeePMD-kit's max_devi_f, what LAMMPS writes
    error = np.linalg.norm(stacked.mean(axis=0) - reference, axis=-1).max(axis=1)
    return float(deviation.mean()), float(spearmanr(deviation, error).statistic)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fresh_fitting_nets_make_fine_tuned_members_differ(seiflow_env, pretrained_pt, licl_system, tmp_path):
    """Members fine-tuned from one PyTorch checkpoint: with the pretrained fitting net they differ only by the
    order they saw the data in; with a fresh fitting net each (own seed) their forces spread far more."""
    from jobflow import run_locally

    from seiflow.models.store import ModelStore
    from seiflow.store import get_jobstore
    from seiflow.training.data import TrainingDataSpec
    from seiflow.training.jobs import DeepmdTrainMaker

    store = ModelStore()
    spread = {}
    for fitting in ("pretrained", "fresh"):
        (tmp_path / fitting).mkdir()
        campaign = load_campaign(_campaign_file(
            tmp_path / fitting, pretrained_pt, backend="pytorch", numb_steps=20,
            finetune={"model": pretrained_pt.name, "fitting": fitting}))
        store.put_pretrained(Path(campaign.training.finetune.model), campaign.training.finetune.sha256)
        maker = DeepmdTrainMaker(config=campaign.training, type_map=["Li", "Cl"], save_freq=20, disp_freq=10)
        frozen = []
        for index in (0, 1):
            job = maker.make(TrainingDataSpec(systems=[str(licl_system)]), campaign=f"ft-{fitting}", round=1,
                             index=index)
            responses = run_locally(job, store=get_jobstore(), ensure_success=True, log=False)
            model_id = responses[job.uuid][1].output.model_id
            doc = store.get(model_id)
            assert doc.init == "finetune" and doc.type_map == PRETRAINED_TYPES
            frozen.append(store.fetch(model_id, tmp_path / fitting / f"m{index}", kind="frozen"))
        spread[fitting] = _member_spread(frozen, licl_system)
    print("member spread (eV/Å), Spearman against error:", spread)
    assert spread["fresh"][0] > 3 * spread["pretrained"][0], spread
