"""The training job: one DeePMD model trained, frozen, compressed, tested and stored.

The run directory is fixed by (campaign, round, index) under the worker's ``work_dir``, so a job rerun
after its worker died (walltime, OOM) finds the checkpoint there and resumes with ``--restart``.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Job, Maker, job

from seiflow.constants import JobCategory
from seiflow.dataset.carved import is_carved_system, masked_force_loss
from seiflow.errors import InputError
from seiflow.jobconfig import set_category
from seiflow.models.store import ModelStore, new_model_id
from seiflow.runfiles import tidy
from seiflow.schemas.campaign import TrainingConfig
from seiflow.schemas.model import CompressionRecord, ModelDoc, TrainOutput
from seiflow.settings import load_settings
from seiflow.training import run
from seiflow.training.compression import compress_in_range, out_of_range, validation_systems
from seiflow.training.data import TrainingDataSpec, held_out_dir, prepare_data, train_systems
from seiflow.training.inputs import auto_sel, build_input

# what a stored model's run folder no longer needs: exported data, checkpoints (stored), fetched parents
# dp compress leaves its own checkpoint in model-compression/ (as big as the compressed model)
TRAINING_SCRATCH = ("data", "model.ckpt*", "checkpoint", "checkpoint.latest", "checkpoint.tar.gz", "prev",
                    "model-compression")

RUN_LINK = "training_run"  # in the launch folder: a link to the model's run folder (run_dir_for)


def run_dir_for(campaign: str, round_: int, index: int) -> Path:
    """The deterministic run directory of model ``index`` of ``round_`` on this worker."""
    return load_settings().resolved_work_dir() / "training" / campaign / f"round_{round_:03d}" / f"model_{index}"


def deepmd_version() -> str:
    """The installed deepmd-kit version."""
    from importlib.metadata import version

    return version("deepmd-kit")


@dataclass
class _Plan:
    """How this run starts: steps to reach, restart checkpoint or previous model to start from."""

    numb_steps: int
    init: str = "scratch"
    restart_from: str | None = None
    init_frz_model: Path | None = None
    start_step: int = 0
    finetune_from: Path | None = None
    model_section: dict | None = None  # a fine-tuned lineage's net: the checkpoint's, then the parent's
    pretrained_sha256: str | None = None


def _plan_start(
    config: TrainingConfig, run_dir: Path, prev_model_id: str | None
) -> _Plan:
    """Decide the starting point; a checkpoint already in ``run_dir`` always wins (resume).

    A run given no previous model (round 1) starts from scratch with ``numb_steps``; with one, it runs
    ``numb_steps_next`` from it (``next_round_init``), whatever its round (a production model after round 1).
    """
    first = prev_model_id is None or config.next_round_init == "scratch"
    plan = _Plan(numb_steps=config.numb_steps if first else config.numb_steps_next)
    step = run.checkpoint_step(run_dir)
    pretrained = config.finetune
    if first and pretrained is not None:  # from the checkpoint the campaign names (copied into the store)
        plan.init, plan.model_section, plan.pretrained_sha256 = "finetune", pretrained.model_params, pretrained.sha256
        if step is None:
            plan.finetune_from = ModelStore().fetch_pretrained(pretrained.sha256, run_dir / pretrained.file_name)
    if not first:
        plan.init = config.next_round_init
        store = ModelStore()
        parent = store.get(prev_model_id)
        if parent.pretrained_sha256:  # the fine-tuned net, not the campaign's descriptor settings
            plan.model_section, plan.pretrained_sha256 = parent.input.get("model"), parent.pretrained_sha256
        if config.next_round_init == "restart":  # the previous model's checkpoint, N more steps
            plan.numb_steps = parent.numb_steps + config.numb_steps_next
            if step is None:
                _unpack_checkpoint(store.read_file(prev_model_id, "checkpoint"), run_dir)
                step = run.checkpoint_step(run_dir)
        elif step is None:
            plan.init_frz_model = store.fetch(prev_model_id, run_dir / "prev", kind="frozen")
    if step is not None:
        plan.restart_from = run.restart_path(run_dir, config.backend)
        plan.start_step = step
    return plan


def _link_launch_dir(run_dir: Path) -> None:
    """Point the job's launch folder at its run folder (``RUN_LINK``): where progress finds lcurve.out.

    Only in a FireWorks launch folder (it holds ``FW.json``): a job run in-process leaves its cwd alone.
    """
    link = Path.cwd() / RUN_LINK
    if not (Path.cwd() / "FW.json").is_file() or link.exists() or link.is_symlink():
        return
    with contextlib.suppress(OSError):  # a file system without links: no step shown, training unaffected
        link.symlink_to(run_dir, target_is_directory=True)


def _pack_checkpoint(run_dir: Path, backend: str = "tensorflow") -> Path:
    """The newest checkpoint as ``checkpoint.tar.gz``: TF's index file and data files, or PyTorch's ``.pt``."""
    step = run.checkpoint_step(run_dir)
    out = run_dir / "checkpoint.tar.gz"
    index = run_dir / "checkpoint.latest"
    latest = run.restart_path(run_dir, backend)
    index.write_text(latest if backend == "pytorch" else f'model_checkpoint_path: "{latest}"\n')
    with tarfile.open(out, "w:gz") as tar:
        tar.add(index, arcname="checkpoint")
        for path in run_dir.glob(f"model.ckpt-{step}*"):
            tar.add(path, arcname=path.name)
    return out


def _unpack_checkpoint(data: bytes, run_dir: Path) -> None:
    """Unpack a stored checkpoint tarball into ``run_dir`` (plain files only, no paths)."""
    import io

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(run_dir, filter="data")


def _write_input(
    config: TrainingConfig, type_map: list[str], run_dir: Path, seed: int, plan: _Plan,
    save_freq: int, disp_freq: int,
) -> dict:
    data_dir = run_dir / "data"
    systems = train_systems(data_dir)
    sel = config.sel if config.sel != "auto" else auto_sel(systems, type_map, config.rcut)
    if len(sel) != len(type_map):
        raise InputError(f"training.sel has {len(sel)} values for {len(type_map)} types", "fix sel")
    inp = build_input(config, type_map, systems, sel, seed, plan.numb_steps, save_freq, disp_freq,
                      resumed=plan.init == "init_frz_model")
    if any(is_carved_system(s) for s in systems):
        if plan.init == "scratch":  # DeePMD's energy statistics from scratch would read their absent energies as 0
            raise InputError("carved frames (forces only) are in the training data of a model trained from scratch",
                             "train it from the previous model (training.next_round_init: init_frz_model)")
        inp["loss"] = masked_force_loss(inp["loss"])
    if plan.model_section:
        inp["model"] = with_seed(plan.model_section, seed)
    (run_dir / "input.json").write_text(json.dumps(inp, indent=2))
    return inp


def with_seed(model: dict, seed: int) -> dict:
    """A copy of a DeePMD model section with this member's seed in its descriptor, fitting and embedding."""
    out = json.loads(json.dumps(model))
    for key in ("descriptor", "fitting_net", "type_embedding"):
        if isinstance(out.get(key), dict):
            out[key]["seed"] = seed
    return out


def _compress(
    run_dir: Path, backend: str, frozen: Path, type_map: list[str], data: TrainingDataSpec
) -> tuple[Path | None, CompressionRecord, float]:
    """Compress with a table covering the data (see :mod:`seiflow.training.compression`), else None."""
    data_dir = run_dir / "data"
    checks = {"train": train_systems(data_dir)}
    if (held := held_out_dir(data_dir)) is not None:
        checks["held_out"] = sorted(p for p in held.iterdir() if p.is_dir())
    if (valid := validation_systems(data.query, run_dir / "validation", type_map)) is not None:
        checks["validation"] = sorted(p for p in valid.iterdir() if p.is_dir())
    return compress_in_range(run_dir, backend, frozen, type_map, checks)


@job(output_schema=TrainOutput)
def train_model(
    config: TrainingConfig,
    type_map: list[str],
    data: TrainingDataSpec,
    campaign: str,
    round: int,
    index: int,
    seed: int,
    prev_model_id: str | None = None,
    save_freq: int = 100,
    disp_freq: int = 100,
) -> TrainOutput:
    """Train (or resume), freeze, compress, test and store one model of the ensemble.

    Idempotent: when this model is already in the store (a worker died after storing it), the
    stored model is returned and nothing is trained again.
    """
    done = ModelStore().find(campaign, round, index)
    if done is not None:
        return TrainOutput(
            model_id=done.model_id, campaign=campaign, round=round, index=index, seed=done.seed,
            start_step=done.start_step, numb_steps=done.numb_steps, metrics=done.metrics,
            run_dir=str(run_dir_for(campaign, round, index)),
        )
    backend = config.backend
    run_dir = run_dir_for(campaign, round, index)
    run_dir.mkdir(parents=True, exist_ok=True)
    _link_launch_dir(run_dir)
    record = prepare_data(data, run_dir / "data", type_map, config.validation_fraction, config.seed)
    plan = _plan_start(config, run_dir, prev_model_id)
    inp = _write_input(config, type_map, run_dir, seed, plan, save_freq, disp_freq)
    timings = {}
    if plan.restart_from is None or plan.start_step < plan.numb_steps:
        timings["train"] = run.train(run_dir, backend, plan.init_frz_model, plan.restart_from,
                                     plan.finetune_from, config.finetune.model_branch if config.finetune else None)
    frozen, timings["freeze"] = run.freeze(run_dir, backend)
    files = {"frozen": frozen}
    compression = None
    if config.compress:  # kept only when its tables cover the training, held-out and validation frames
        compressed, compression, timings["compress"] = _compress(run_dir, backend, frozen, type_map, data)
        if compressed is not None:
            files["compressed"] = compressed
    files["checkpoint"] = _pack_checkpoint(run_dir, backend)  # next_round_init: restart unpacks it
    doc = ModelDoc(
        model_id=new_model_id(campaign, round, index), campaign=campaign, round=round, index=index,
        seed=seed, backend=backend, deepmd_version=deepmd_version(),
        type_map=list(inp["model"].get("type_map", type_map)),
        numb_steps=run.checkpoint_step(run_dir) or plan.numb_steps, start_step=plan.start_step,
        init=plan.init, parent_model_id=prev_model_id, data=record, input=inp,
        compression=compression, pretrained_sha256=plan.pretrained_sha256,
        pretrained_branch=config.finetune.branch if config.finetune and plan.pretrained_sha256 else None,
    )
    tests = held_out_dir(run_dir / "data")
    if tests is not None:
        prefix, timings["test"] = run.dp_test(run_dir, backend, files.get("compressed", frozen), tests)
        doc.metrics, parity = run.read_test_details(prefix)
        if doc.compression is not None:
            doc.compression.deepmd_warnings = out_of_range((run_dir / run.TEST_LOG).read_text(errors="replace"))
        files["parity"] = run_dir / "test" / "parity.json"
        files["parity"].write_text(parity.model_dump_json())
    doc.timings_s = {k: float(f"{v:.2f}") for k, v in timings.items()}  # `round` is a parameter here
    ModelStore().put(doc, files)
    # stored: keep logs, input.json, lcurve, dp test output and the model files; drop the bulk
    tidy(run_dir, TRAINING_SCRATCH, load_settings().keep_run_files)
    return TrainOutput(
        model_id=doc.model_id, campaign=campaign, round=round, index=index, seed=seed,
        start_step=plan.start_step, numb_steps=doc.numb_steps, metrics=doc.metrics, run_dir=str(run_dir),
    )


@dataclass
class DeepmdTrainMaker(Maker):
    """One DeePMD model: input from the campaign, train (resuming), freeze, compress, test, store."""

    name: str = "deepmd train"
    config: TrainingConfig = field(default_factory=TrainingConfig)
    type_map: list[str] = field(default_factory=list)
    save_freq: int = 100  # checkpoint every this many steps: what a killed run resumes from
    disp_freq: int = 100

    def make(
        self, data: TrainingDataSpec, campaign: str, round: int = 1, index: int = 0,
        seed: int | None = None, prev_model_id: str | None = None,
    ) -> Job:
        """A job training model ``index`` of ``round`` (seed defaults to config.seed + index)."""
        if not self.type_map:
            raise InputError("DeepmdTrainMaker.type_map is empty", "pass the campaign's system.type_map")
        seed = self.config.seed + index if seed is None else seed
        new = train_model(
            self.config, list(self.type_map), data, campaign, round, index, seed, prev_model_id,
            self.save_freq, self.disp_freq,
        )
        new.name = f"{self.name} {campaign} r{round} m{index}"
        set_category(new, JobCategory.TRAIN)
        return new
