#!/usr/bin/env bash
# Build the worker image with podman on a machine that reaches no container registry (only Debian's mirror
# and pip's indexes): a Debian bookworm base made with debootstrap, and, when a seiflow venv is at hand,
# pip wheels taken from it so the build installs the same releases offline.
#   bash docker/podman-build.sh [TAG]            # default TAG localhost/seiflow-worker:latest; run from anywhere
# Environment (all optional):
#   SEIFLOW_IMAGE_CACHE  folder for the base's root file system tarball and the wheels (~/.cache/seiflow/image)
#   BASE_IMAGE           base image; localhost/debian-min:bookworm (the default) is made when missing
#   DEBIAN_MIRROR        mirror for debootstrap (default: the Debian mirror in this machine's apt sources)
#   WHEELS_FROM          a venv whose installed releases become the build's wheels, fetched by its own pip
#                        with its own settings (default: the repository's .venv if it exists; "none": off)
#   WITH_CP2K            1: also install Debian's CP2K in the image
# Needs root (debootstrap), podman, and debootstrap when the base is missing; scripts/install-system.sh
# installs them. Prints the time of each phase on stderr.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-localhost/seiflow-worker:latest}
cache=${SEIFLOW_IMAGE_CACHE:-$HOME/.cache/seiflow/image}
base=${BASE_IMAGE:-localhost/debian-min:bookworm}
wheels_from=${WHEELS_FROM:-$repo/.venv}
mkdir -p "$cache"
podman=(podman)
command -v runc >/dev/null && podman+=(--runtime runc)  # crun fails on hybrid cgroups
t0=$(date +%s)
say() { echo "podman-build: $*" >&2; }

debian_mirror() {
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list | grep -v security | grep -oE 'https?://[^ ]*/debian/?' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# 1. the base image
if ! "${podman[@]}" image exists "$base"; then
  [ "$base" = localhost/debian-min:bookworm ] || { say "base image $base is missing"; exit 1; }
  tarball=$cache/debian-bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
    debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-$(debian_mirror)}" >"$cache/debootstrap.log" 2>&1 \
      || { tail -n 20 "$cache/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
    tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  "${podman[@]}" import -q "$tarball" "$base" >/dev/null
fi
t1=$(date +%s)
say "base $base ready in $((t1 - t0)) s"

# 2. the wheels: the releases installed in WHEELS_FROM, fetched with that venv's pip settings (its indexes,
# find-links, certificates), so the image gets what was tested; refreshed when that list changes
args=(--build-arg "BASE_IMAGE=$base" --build-arg "WITH_CP2K=${WITH_CP2K:-0}")
if [ "$wheels_from" != none ] && [ -x "$wheels_from/bin/python" ]; then
  wheels=$cache/wheels
  mkdir -p "$wheels"
  req=$cache/requirements.txt
  "$wheels_from/bin/python" -m pip freeze --exclude-editable | grep -viE '^seiflow([=@ ]|$)' >"$req.new"
  if ! cmp -s "$req.new" "$wheels/.requirements.txt"; then
    "$wheels_from/bin/python" -m pip wheel -q --no-deps -w "$wheels" -r "$req.new" "setuptools>=77" wheel \
      2> >(grep -v "^WARNING: Location" >&2)
    cp "$req.new" "$wheels/.requirements.txt"
  fi
  args+=(--volume "$wheels:/run/wheels:ro" --build-arg PIP_FIND_LINKS=/run/wheels --build-arg PIP_NO_INDEX=1
         --build-arg TORCH_INDEX_URL=)
elif [ -f /etc/ssl/certs/ca-certificates.crt ]; then  # online: pip trusts this machine's CA bundle
  args+=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt)
fi
t2=$(date +%s)
say "wheels ready in $((t2 - t1)) s"

# 3. the image (the tag's previous image is removed when the build replaces it: each holds ~3.6 GB)
cd "$repo"
old_id=$("${podman[@]}" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
"${podman[@]}" build --network host -f docker/Dockerfile.worker --ignorefile docker/Dockerfile.worker.dockerignore \
  "${args[@]}" -t "$tag" .
new_id=$("${podman[@]}" image inspect --format '{{.Id}}' "$tag")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  "${podman[@]}" rmi "$old_id" >/dev/null 2>&1 || true  # kept while a container uses it
fi
t3=$(date +%s)
say "image $tag built in $((t3 - t2)) s ($((t3 - t0)) s in all)"
