#!/usr/bin/env bash
# Debian packages the test suite needs: CP2K (real open DFT), a one-node SLURM with munge for qlaunch tests,
# podman + runc + debootstrap to build and run the worker image (tests/test_docker_image.py), and headless
# chromium to render the campaign report to PNG (scripts/report_screenshot.sh, tests/analysis/test_report.py),
# g++ to build DeePMD-kit's PyTorch backend (scripts/install_deepmd_pt.sh, run by scripts/install.sh test).
# Idempotent: skips what is installed. Needs root (as CI and the dev machines run).
set -euo pipefail
pkgs=(cp2k slurmctld slurmd slurm-client munge podman runc debootstrap chromium g++)
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
# podman here: runc (crun refuses "cgroups in hybrid mode"), and no default ulimits (setting RLIMIT_NOFILE/
# NPROC in a container is refused). A drop-in, so an existing containers.conf is left as it is.
conf=/etc/containers/containers.conf.d/50-seiflow.conf
want=$'# written by seiflow scripts/install-system.sh\n[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" > "$conf"
fi
