#!/usr/bin/env bash
# Debian packages the test suite needs: CP2K (real open DFT), and a one-node SLURM with munge for qlaunch tests.
# Idempotent: skips what is installed. Needs root (as CI and the dev machines run).
set -euo pipefail
pkgs=(cp2k slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
