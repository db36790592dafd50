#!/usr/bin/env bash
# Installs every Debian 12 package that tvm-tune's build, tests and benchmarks need. Idempotent:
# runs `apt-get update` and `apt-get install` only when a package is missing. Needs root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  llvm-19-dev clang-19 lld-19 libclang-rt-19-dev   # code generation, fuzzing (libFuzzer), lld
  libomp-19-dev                                    # OpenMP for the clang-19 fuzz build
  clang-format-19                                  # the format check's pinned version
  libxgboost-dev                                   # cost model
  libhwloc-dev hwloc                               # topology and thread pinning
  libcmocka-dev                                    # tests
  libjansson-dev libsqlite3-dev sqlite3            # logs and the tuning database
  libdlpack-dev                                    # DLTensor
  python3 python3-numpy                            # the Python binding's tests
  libopenblas-dev libblis-dev libdnnl-dev          # peers the benchmarks compare against
  gnuplot-nox                                      # benchmark plots
  libsodium-dev                                    # RPC: authentication and encryption
  postgresql libpq-dev                             # farms: the shared database (libpq)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross      # RPC: the aarch64 server (cross compiler, libc)
  qemu-user-static                                 # RPC: runs that server here
  libsodium-dev:arm64 libgomp1:arm64               # RPC: arm64 multiarch libraries it links
)

# The arm64 packages above need the arm64 architecture (Debian multiarch); adding it is
# idempotent, and a new architecture needs an `apt-get update` before its packages install.
add_arm64=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  add_arm64=1
fi

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" for an installed package.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ] && [ "$add_arm64" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo "$0" "$@"
  fi
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi

if [ "$add_arm64" -eq 1 ]; then
  echo "install-deps: adding the arm64 architecture (dpkg --add-architecture arm64)"
  dpkg --add-architecture arm64
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
