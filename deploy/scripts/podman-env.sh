#!/usr/bin/env bash
# Private podman settings for machines like the one modelfleet is developed on (see README "Deploy"): runc rather than
# crun (crun refuses hybrid cgroup v1/v2 hosts), explicit ulimits no higher than the host's hard limits (the sandbox
# cannot raise them), and a store outside the repository. Nothing under /etc is touched.
# Source it: `. deploy/scripts/podman-env.sh`; then podman (and `docker` via DOCKER_HOST, see podman-socket) works.
MODELFLEET_PODMAN_DIR=${MODELFLEET_PODMAN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/modelfleet/podman}
mkdir -p "$MODELFLEET_PODMAN_DIR"
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576; [ "$nproc" = unlimited ] && nproc=1048576
[ "$nofile" -gt 4096 ] && nofile=4096; [ "$nproc" -gt 4096 ] && nproc=4096
cat > "$MODELFLEET_PODMAN_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
cat > "$MODELFLEET_PODMAN_DIR/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$MODELFLEET_PODMAN_DIR/run"
graphroot = "$MODELFLEET_PODMAN_DIR/root"
CONF
export MODELFLEET_PODMAN_DIR CONTAINERS_CONF="$MODELFLEET_PODMAN_DIR/containers.conf" CONTAINERS_STORAGE_CONF="$MODELFLEET_PODMAN_DIR/storage.conf"
