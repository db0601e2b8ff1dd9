#!/usr/bin/env bash
# Configures and builds kroute into build/ (binaries in build/bin). Extra arguments go to CMake's
# configure step, e.g. -DKROUTE_SANITIZE=ON.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${KROUTE_BUILD_DIR:-$repo/build}
cmake -S "$repo" -B "$build" -G Ninja -Wno-dev "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
