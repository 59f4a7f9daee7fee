"""Only the store modules touch the database's collections: everything else goes through their classes."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "seiflow"

# The store modules: each owns its collections (schema, indexes, typed reads and writes).
STORE_MODULES = {
    "store.py",  # the JobStore's collections and the connections
    "dataset/frames.py",  # frames (and their GridFS arrays)
    "dataset/trajectories.py",  # reference MD trajectories (GridFS)
    "models/store.py",  # models (and their GridFS files)
    "records/base.py",  # what the record stores share
    "records/campaigns.py",
    "records/rounds.py",
    "records/validations.py",  # validation_sets, validations
    "records/calibrations.py",
    "records/analyses.py",
    "records/production.py",  # production_runs, production, the production_files bucket
    "records/properties.py",  # properties: stages, diffusion runs, Arrhenius fits, elastic constants
}
# Indexing a database (``db[...]``, ``database(db)[...]``) or naming a collection or bucket constant.
ACCESS = re.compile(r"\bdb\s*\[|\bdatabase\([^)]*\)\s*\[|\b[A-Z_]+_(?:COLLECTION|BUCKET)\b")


def test_collections_are_accessed_only_in_store_modules():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in STORE_MODULES or name == "constants.py":
            continue
        for k, line in enumerate(path.read_text().splitlines(), 1):
            if ACCESS.search(line):
                found.append(f"seiflow/{name}:{k}: {line.strip()}")
    assert not found, "collection access outside the store modules (add a store method):\n" + "\n".join(found)


def test_every_store_module_exists():
    assert all((PACKAGE / name).is_file() for name in STORE_MODULES)
