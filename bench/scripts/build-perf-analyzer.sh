#!/usr/bin/env bash
# Builds NVIDIA perf_analyzer (Triton HTTP + gRPC only) from bench/vendor/perf_analyzer with no network but Debian's
# apt, and prints the binary's path on stdout (progress goes to stderr). The build is cached under
# ${PERF_ANALYZER_CACHE:-~/.cache/modelfleet/perf_analyzer}/<hash of the tarball and CMakeLists>/perf_analyzer, so
# later calls print the path at once. Takes ~5 CPU-minutes (10-20 minutes on a busy 2-core machine); `--check` only reports
# whether the cached binary exists (exit 1 if not) without building.
set -euo pipefail
here=$(cd "$(dirname "$0")/../vendor/perf_analyzer" && pwd)
say() { printf '[perf_analyzer] %s\n' "$*" >&2; }

hash=$(cat "$here/perf_analyzer-src.tar.gz" "$here/CMakeLists.txt" | sha256sum | cut -c1-16)
cache=${PERF_ANALYZER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelfleet/perf_analyzer}/$hash
bin=$cache/perf_analyzer
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--check" ]; then say "not built yet ($bin)"; exit 1; fi

# Debian's dev packages stand in for what upstream's CMake fetches from GitHub.
pkgs=(cmake make g++ pkg-config protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libcurl4-openssl-dev rapidjson-dev libb64-dev zlib1g-dev)
installed=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${pkgs[@]}" 2>/dev/null | awk '$1 == "ii" { printf "%s ", $2 }' || true) "
missing=()
for p in "${pkgs[@]}"; do [[ "$installed" == *" ${p} "* ]] || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  command -v apt-get >/dev/null || { say "needs apt-get to install: ${missing[*]}"; exit 1; }
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi

mkdir -p "$cache"
# One build at a time (a test and the bench may ask together): the second waits, then finds the binary.
exec 9>"$cache/.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$here/perf_analyzer-src.tar.gz" -C "$work"
mkdir "$work/build"
start=$(date +%s)
say "building in $work (make -j${PERF_ANALYZER_JOBS:-2}; a few minutes)"
cmake -S "$here" -B "$work/build" -DSRC="$work" -DCMAKE_BUILD_TYPE=Release >"$work/build.log" 2>&1 \
  && nice make -C "$work/build" -j"${PERF_ANALYZER_JOBS:-2}" perf_analyzer >>"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log" >&2; say "build failed"; exit 1; }
mv "$work/build/perf_analyzer" "$bin.tmp" && mv "$bin.tmp" "$bin"
say "built in $(( $(date +%s) - start )) s"
echo "$bin"
