#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test with CTest.
# GPU tests report themselves as skipped on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh "$@"
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900
