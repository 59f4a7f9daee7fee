"""What a job's run folder keeps once its results are in the store (``Settings.keep_run_files``).

``user`` (the default) keeps what a user would look at: logs, inputs and the final model files; the bulk
a job only needed while it ran (exported training data, checkpoints already stored in GridFS, fetched
model copies, trajectories) is removed. ``all`` keeps everything (debugging).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path


def tidy(run_dir: Path, remove: Iterable[str], mode: str = "user") -> int:
    """Delete the files and folders matching the ``remove`` globs in ``run_dir``; bytes freed."""
    if mode == "all" or not Path(run_dir).is_dir():
        return 0
    freed = 0
    for pattern in remove:
        for path in Path(run_dir).glob(pattern):
            if path.is_dir() and not path.is_symlink():
                freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
    return freed
