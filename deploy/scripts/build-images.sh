#!/usr/bin/env bash
# Builds every modelfleet image from deploy/docker/Dockerfile, tagged <prefix><name>:<package version> and :latest.
# usage: deploy/scripts/build-images.sh [image ...]   (default: all seven)
# env:   ENGINE=docker|podman (default: whichever exists, podman with the private settings of podman-env.sh)
#        BASE_IMAGE (default node:22-bookworm-slim), RUNTIME_IMAGE (default debian:bookworm-slim); with no registry,
#        LOCAL_BASE=1 makes and uses the local stand-ins of deploy/scripts/base-image.sh
#        IMAGE_PREFIX (default modelfleet/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
images=("$@")
[ ${#images[@]} -eq 0 ] && images=(xgboostserver storage-init tensorflowserver sklearnserver mlflowserver python detector)
engine=${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || (command -v docker >/dev/null 2>&1 && echo docker) || true)}
if [ -z "$engine" ]; then echo "build-images: neither podman nor docker is installed" >&2; exit 1; fi
if [ "$engine" = podman ]; then . "$root/deploy/scripts/podman-env.sh"; fi
if [ "${LOCAL_BASE:-}" = 1 ]; then
  read -r BASE_IMAGE RUNTIME_IMAGE < <("$root/deploy/scripts/base-image.sh")
fi
# Behind a TLS-intercepting proxy npm needs its CA: hand the host's bundle to the build as a secret (not a layer).
ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
secret=(); [ -f "$ca" ] && secret=(--secret "id=cacerts,src=$ca")
prefix=${IMAGE_PREFIX:-modelfleet/}
revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
# Package each image ships, whose version is the image's tag.
declare -A pkg=([sklearnserver]=servers/sklearn [xgboostserver]=servers/xgboost [tensorflowserver]=servers/tensorflow
                [mlflowserver]=servers/mlflow [python]=shared [storage-init]=storage-init
                [detector]=shared)
for name in "${images[@]}"; do
  [ -n "${pkg[$name]:-}" ] || { echo "build-images: unknown image $name (one of ${!pkg[*]})" >&2; exit 2; }
  version=$(node -p "require('$root/${pkg[$name]}/package.json').version")
  start=$(date +%s)
  "$engine" build -f "$root/deploy/docker/Dockerfile" --target "$name" "${secret[@]}" \
    ${BASE_IMAGE:+--build-arg BASE_IMAGE="$BASE_IMAGE"} ${RUNTIME_IMAGE:+--build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE"} --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -t "$prefix$name:$version" -t "$prefix$name:latest" "$root" >&2
  echo "$prefix$name:$version built in $(( $(date +%s) - start )) s" >&2
done
