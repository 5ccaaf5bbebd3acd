#!/usr/bin/env bash
# Optional: the PyTorch reference (Debian's python3-torch) that the twin test and the benchmarks
# compare against, with OpenBLAS as its BLAS (Debian's default reference BLAS is ~10x slower and
# would make the comparison meaningless). Safe to re-run.
set -euo pipefail
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for p in python3-torch libopenblas0-pthread; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import torch; print("reference: torch", torch.__version__)'
