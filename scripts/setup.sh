#!/usr/bin/env bash
# Sets up a fresh checkout: Debian Python packages where missing, npm dependencies, TypeScript build.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "modelfleet needs Node.js >= 20 (found $(node --version))" >&2; exit 1; fi

# Python modules the servers use, with the Debian package that provides each; `--dev` adds what only the tests and
# benchmarks need (torch alone pulls several hundred MB, which a user serving a model should not wait for).
modules=(sklearn:python3-sklearn xgboost:python3-xgboost joblib:python3-joblib pandas:python3-pandas yaml:python3-yaml)
pip_names=(scikit-learn xgboost joblib pandas pyyaml)
if [ "${1:-}" = "--dev" ]; then
  modules+=(onnx:python3-onnx torch:python3-torch grpc:python3-grpcio grpc_tools:python3-grpc-tools scipy:python3-scipy)
  pip_names+=(onnx torch grpcio grpcio-tools scipy)
fi
py=${PYTHON_BIN:-/usr/bin/python3}
missing_pkgs=()
# One interpreter start for all checks, and find_spec rather than import (importing torch alone takes seconds).
missing_mods=$("$py" -c 'import importlib.util, sys; print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))' "${modules[@]%%:*}" 2>/dev/null || echo "${modules[*]%%:*}")
for m in "${modules[@]}"; do
  mod=${m%%:*}; pkg=${m#*:}
  if [[ " $missing_mods " == *" $mod "* ]]; then missing_pkgs+=("$pkg"); fi
done
if ! command -v wrk >/dev/null 2>&1; then missing_pkgs+=(wrk); fi
if ! command -v h2load >/dev/null 2>&1; then missing_pkgs+=(nghttp2-client); fi
# The client's TLS test makes a throw-away certificate with the openssl command.
if [ "${1:-}" = "--dev" ] && ! command -v openssl >/dev/null 2>&1; then missing_pkgs+=(openssl); fi
# The metrics tests scrape real servers with a real Prometheus.
if [ "${1:-}" = "--dev" ] && ! command -v prometheus >/dev/null 2>&1; then missing_pkgs+=(prometheus); fi
# The container suite builds and runs the images with podman (runc, not crun, and a base image made by debootstrap
# when no registry is reachable: deploy/scripts/podman-env.sh and base-image.sh).
if [ "${1:-}" = "--dev" ]; then
  for tool in podman:podman runc:runc debootstrap:debootstrap newuidmap:uidmap fuse-overlayfs:fuse-overlayfs slirp4netns:slirp4netns; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then missing_pkgs+=("${tool#*:}"); fi
  done
fi
# perf_analyzer (the bench and its test build it from bench/vendor/perf_analyzer) compiles against these.
if [ "${1:-}" = "--dev" ] && command -v dpkg-query >/dev/null 2>&1; then
  pa_pkgs=(cmake make g++ pkg-config protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libcurl4-openssl-dev rapidjson-dev libb64-dev zlib1g-dev)
  # One dpkg-query for all of them: it lists the installed ones.
  installed=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${pa_pkgs[@]}" 2>/dev/null | awk '$1 == "ii" { printf "%s ", $2 }' || true) "
  for p in "${pa_pkgs[@]}"; do [[ "$installed" == *" ${p} "* ]] || missing_pkgs+=("$p"); done
fi
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    say "installing Debian packages with sudo: ${missing_pkgs[*]}"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
  else
    say "no apt-get: trying pip for the Python packages (${missing_pkgs[*]})"
    python3 -m pip install --user "${pip_names[@]}" || \
      say "WARNING: could not install Python packages; the Python engine will report what is missing"
  fi
fi

# onnxruntime-node's postinstall would otherwise download CUDA files, which fails offline.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm install --no-audit --no-fund --loglevel=error
fi

say "building TypeScript"
npx tsc -b
# Workspace bins point into dist/, which exists only after the first build: link them now.
if [ ! -e node_modules/.bin/modelfleet ] || [ ! -e node_modules/.bin/storage-init ]; then npm install --no-audit --no-fund --loglevel=error --offline >/dev/null 2>&1 || npm rebuild --loglevel=error >/dev/null; fi
say "ready"
