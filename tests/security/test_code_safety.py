"""User strings never reach ``$where``, ``eval``/``exec`` or pickle: the package source uses none of them."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "seiflow"
FORBIDDEN = {
    "$where": re.compile(r"\$where"),
    "eval(": re.compile(r"(?<![\w.])eval\("),
    "exec(": re.compile(r"(?<![\w.])exec\("),
    "pickle.load": re.compile(r"pickle\.loads?\(|from pickle import|import pickle|cPickle"),
    "yaml.load (unsafe)": re.compile(r"yaml\.load\((?!.*Loader=yaml\.SafeLoader)"),
}


def test_package_never_uses_where_eval_exec_or_pickle():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    hits = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {what}"
        for path in files
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for what, pattern in FORBIDDEN.items()
        if pattern.search(line.split("#")[0])
    ]
    assert hits == []
