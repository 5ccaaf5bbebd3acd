#!/usr/bin/env bash
# Installs what lory.cpp needs to build and test on Debian/Ubuntu. Safe to re-run: it only calls
# apt-get when a package is missing. CUDA is optional and is found under /usr/local/cuda.
set -euo pipefail
packages=(build-essential cmake libeigen3-dev nlohmann-json3-dev catch2 python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: dependencies present"
