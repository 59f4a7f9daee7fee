"""A campaign on DeePMD-kit's PyTorch backend with an attention descriptor, end to end.

Two local workers run the tiny LiCl campaign for two rounds with ``backend: pytorch`` and a DPA-1
(se_atten, one attention layer, type embedding stripped so that ``dp compress`` can tabulate it):
``dp --pt train``, ``freeze`` to ``.pth``, ``compress``, ``dp test``, LAMMPS exploration with the
ensemble's deviation through the DeePMD plugin, calibration, and round 2 restarting each member from its
round-1 PyTorch checkpoint. Needs DeePMD-kit built for the pinned torch (scripts/install_deepmd_pt.sh,
run by ``scripts/install.sh test``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seiflow.schemas.campaign import load_campaign
from tests.training.conftest import assert_rounds_explored_and_calibrated

TINY = Path(__file__).parents[1] / "controller" / "tiny_campaign.yaml"
DPA1 = {"type": "se_atten", "attn": 8, "attn_layer": 1, "tebd_dim": 4, "tebd_input_mode": "strip"}


def _campaign_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(TINY.read_text())
    data["name"] = "tinypt"
    data["training"].update({"backend": "pytorch", "descriptor": DPA1, "compress": True,
                             "next_round_init": "restart"})
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_pytorch_dpa1_campaign_trains_compresses_explores_and_restarts(seiflow_env, tmp_path):
    from seiflow.controller.flows import campaign_flow
    from seiflow.controller.runner import run_locally
    from seiflow.controller.submit import submit
    from seiflow.models.store import ModelStore
    from seiflow.store import get_launchpad

    campaign = load_campaign(_campaign_file(tmp_path))
    assert campaign.training.backend == "pytorch" and campaign.training.descriptor.type == "se_atten"
    lp = get_launchpad()
    lp.reset("", require_password=False)
    submit(campaign, campaign_flow(campaign), lp)
    lines: list[str] = []
    outcome = run_locally(seiflow_env.settings, "tinypt", n_workers=2, timeout_s=1400, poll_s=2,
                          progress=lines.append)
    assert outcome.state == "not_converged", (outcome.error, lines[-20:])

    store = ModelStore()
    models = [store.get(m.model_id) for m in sorted(store.list("tinypt"), key=lambda m: (m.round, m.index))]
    assert [(m.round, m.index) for m in models] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    for m in models:
        assert m.backend == "pytorch" and m.deepmd_version and m.type_map == ["Li", "Cl"]
        assert m.input["model"]["descriptor"]["type"] == "se_atten"
        assert m.input["model"]["descriptor"]["attn_layer"] == 1
        assert {"frozen", "compressed", "checkpoint"} <= set(m.files)
        assert m.compression.used == "compressed", m.compression
        assert m.metrics.rmse_f_mev_a > 0  # dp --pt test on the held-out frames
    assert [m.init for m in models] == ["scratch", "scratch", "restart", "restart"]
    for m in models[2:]:
        parent = next(p for p in models[:2] if p.model_id == m.parent_model_id)
        assert parent.index == m.index  # each member goes on from its own checkpoint
    assert_rounds_explored_and_calibrated("tinypt", [1, 2])  # LAMMPS explored with the .pth ensemble


def test_a_pytorch_backend_built_for_another_torch_says_how_to_rebuild(tmp_path, monkeypatch):
    """The PyPI wheel's PyTorch ops beside the pinned torch: the error names the install command."""
    from seiflow.training import run

    fake = tmp_path / "dp"
    fake.write_text("#!/bin/sh\necho 'RuntimeError: The version of PyTorch used to compile this deepmd-kit package "
                    "is 2.11.0, while the version of PyTorch in runtime is 2.13.0+cpu.'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(run, "dp_executable", lambda: str(fake))
    with pytest.raises(run.TrainingError) as err:
        run.train(tmp_path, "pytorch")
    assert "bash scripts/install.sh pytorch" in err.value.fix, err.value
