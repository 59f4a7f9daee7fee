#!/usr/bin/env bash
# The whole test suite on a fresh machine: install test dependencies, start the services tests need
# (a one-node SLURM on loopback; each test run starts its own embedded MongoDB-protocol server), run pytest.
#   bash scripts/test.sh                 # everything (CI runs exactly this)
#   bash scripts/test.sh -m "not slow"   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system.sh
bash scripts/install.sh test
eval "$(bash scripts/slurm.sh start)"
export OMP_NUM_THREADS=1 DP_INTRA_OP_PARALLELISM_THREADS=1 DP_INTER_OP_PARALLELISM_THREADS=1
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/ruff check seiflow tests bench
.venv/bin/lint-imports    # the layers contract in pyproject.toml: imports point down the pipeline
# two xdist workers on the 2 cores: campaign runs in one group, each other module a group (tests/conftest.py)
.venv/bin/python -m pytest -q --durations=30 -n 2 "$@"
