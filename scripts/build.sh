#!/usr/bin/env bash
# Configures and builds lory.cpp into build/ (Release). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >build/configure.log 2>&1; then
  cat build/configure.log; exit 1
fi
grep -E "✓|✗" build/configure.log || true
cmake --build build -j "$(nproc)"
