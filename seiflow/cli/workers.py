"""``seiflow workers``: the shipped example worker files (one per node type) and the commands to start them.

Each node type has a folder under ``seiflow/data/workers/<node>/`` with a FireWorks ``my_fworker.yaml``
(which job categories it pulls) and a SLURM ``my_qadapter.yaml`` (how ``qlaunch`` submits a job for it).
The files expect the layout ``~/seiflow/{launchpad.yaml,seiflow.yaml,workers/<node>/}``; ``--home`` moves it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click
import yaml
from pydantic import BaseModel, Field

from seiflow.cli.common import emit, json_option
from seiflow.errors import InputError

WORKERS_DATA = Path(str(files("seiflow") / "data" / "workers"))
DEFAULT_HOME = "$HOME/seiflow"  # the root the shipped qadapter files name
FWORKER = "my_fworker.yaml"
QADAPTER = "my_qadapter.yaml"


class WorkerExample(BaseModel):
    """One shipped node type: its worker and queue files and how to start it."""

    node: str = Field(description="Folder name under seiflow/data/workers (vasp, gpu, lammps, light).")
    name: str = Field(description="The FWorker name, recorded on every launch it runs.")
    categories: list[str | None] = Field(description="Job categories it pulls (None: uncategorised jobs).")
    fworker_file: Path = Field(description="The shipped my_fworker.yaml.")
    qadapter_file: Path = Field(description="The shipped my_qadapter.yaml (SLURM).")

    def texts(self, home: str = DEFAULT_HOME) -> dict[str, str]:
        """The two files' contents, with the ``$HOME/seiflow`` root replaced by ``home``."""
        return {
            FWORKER: self.fworker_file.read_text(),
            QADAPTER: self.qadapter_file.read_text().replace(DEFAULT_HOME, home),
        }

    def commands(self, home: str = DEFAULT_HOME) -> dict[str, str]:
        """Shell commands to start this worker through SLURM (qlaunch) or directly (rlaunch)."""
        lp, cfg, d = f"{home}/launchpad.yaml", f"{home}/seiflow.yaml", f"{home}/workers/{self.node}"
        return {
            "write": f"seiflow workers {self.node} --write --home {home}",
            "qlaunch": (
                f"qlaunch -r -l {lp} -w {d}/{FWORKER} -q {d}/{QADAPTER} --launch_dir {d} "
                "rapidfire -m 4 --nlaunches infinite"
            ),
            "rlaunch": f"SEIFLOW_CONFIG={cfg} seiflow-rlaunch -l {lp} -w {d}/{FWORKER} rapidfire",
        }


def list_examples() -> list[WorkerExample]:
    """The shipped node types, sorted by folder name."""
    examples = []
    for folder in sorted(p for p in WORKERS_DATA.iterdir() if (p / FWORKER).is_file()):
        data = yaml.safe_load((folder / FWORKER).read_text())
        category = data.get("category") or []
        examples.append(
            WorkerExample(
                node=folder.name,
                name=data["name"],
                categories=category if isinstance(category, list) else [category],
                fworker_file=folder / FWORKER,
                qadapter_file=folder / QADAPTER,
            )
        )
    return examples


def select_examples(nodes: tuple[str, ...] | list[str]) -> list[WorkerExample]:
    """The examples named by ``nodes`` (all when empty); raise InputError on an unknown name."""
    examples = list_examples()
    known = {e.node: e for e in examples}
    unknown = [n for n in nodes if n not in known]
    if unknown:
        raise InputError(
            f"unknown worker node {unknown[0]!r}", f"choose from {', '.join(sorted(known))}"
        )
    return [known[n] for n in nodes] if nodes else examples


def write_examples(examples: list[WorkerExample], home: Path, force: bool = False) -> list[Path]:
    """Copy each example's files to ``home/workers/<node>/``; refuse to overwrite unless ``force``."""
    written = []
    for example in examples:
        folder = home / "workers" / example.node
        texts = example.texts(str(home))
        for fname in texts:
            if (folder / fname).exists() and not force:
                raise InputError(f"{folder / fname} already exists", "pass --force to overwrite it")
        folder.mkdir(parents=True, exist_ok=True)
        for fname, text in texts.items():
            (folder / fname).write_text(text)
            written.append(folder / fname)
    return written


def _describe(example: WorkerExample, home: str) -> str:
    texts, cmds = example.texts(home), example.commands(home)
    lines = [f"== {example.node}: worker {example.name!r}, categories {example.categories}"]
    for fname, text in texts.items():
        lines += [f"--- {home}/workers/{example.node}/{fname}", text.rstrip()]
    lines += [f"# {key}:\n{cmd}" for key, cmd in cmds.items()]
    return "\n".join(lines)


@click.command("workers")
@click.argument("nodes", nargs=-1)
@click.option("--home", default=DEFAULT_HOME, show_default=True,
              help="Worker root: launchpad.yaml, seiflow.yaml and workers/<node>/ live here.")
@click.option("--write", "do_write", is_flag=True, help="Copy the files to HOME/workers/<node>/.")
@click.option("--force", is_flag=True, help="With --write: overwrite existing files.")
@json_option
def workers_cmd(nodes: tuple[str, ...], home: str, do_write: bool, force: bool, as_json: bool) -> None:
    """Print the example worker files for NODES (vasp, gpu, lammps, light; default all) and how to start them."""
    examples = select_examples(nodes)
    written: list[Path] = []
    if do_write:
        root = Path(home.replace("$HOME", str(Path.home()))).expanduser().resolve()
        written = write_examples(examples, root, force=force)
        home = str(root)
    result = {
        "home": home,
        "written": [str(p) for p in written],
        "workers": [
            {
                "node": e.node,
                "name": e.name,
                "categories": e.categories,
                "files": e.texts(home),
                "commands": e.commands(home),
            }
            for e in examples
        ],
    }
    text = "\n\n".join(_describe(e, home) for e in examples)
    if written:
        text += "\n\nwrote " + ", ".join(str(p) for p in written)
    emit(result, as_json, text)
