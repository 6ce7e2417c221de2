#!/usr/bin/env bash
# Bring up the local Docker engine (with its built-in BuildKit) that the e2e tests use,
# and make sure the local base image `buildrace-base:latest` exists.
#
# Idempotent; run as root: `bash scripts/engine.sh`. See docs/engine.md.
# - installs docker.io, busybox-static and docker-compose from Debian if missing;
# - starts dockerd in the background (there is no systemd) if `docker info` does not
#   answer, trying dockerd's default storage driver first and then vfs;
# - imports a busybox root filesystem as `buildrace-base:latest` (nothing is ever pulled:
#   no registry is reachable);
# - verifies a BuildKit build with a cache mount and prints one summary line on stdout.
#
# Environment knobs (all optional):
#   BUILDRACE_DOCKERD_LOG      dockerd log file        (default /var/log/buildrace-dockerd.log)
#   BUILDRACE_STORAGE_DRIVER   force a storage driver  (default: dockerd's choice, then vfs)
#   BUILDRACE_ENGINE_TIMEOUT   seconds to wait for dockerd to answer (default 60)
set -euo pipefail

DOCKER=/usr/bin/docker # Debian's 20.10 client; /usr/local/bin/docker is a newer client
BASE_IMAGE=buildrace-base:latest
# Bump when the rootfs layout below changes: an older image is then re-imported.
BASE_VERSION=1
LOG=${BUILDRACE_DOCKERD_LOG:-/var/log/buildrace-dockerd.log}
TIMEOUT=${BUILDRACE_ENGINE_TIMEOUT:-60}
PIDFILE=/var/run/buildrace-dockerd.pid

say() { printf 'engine.sh: %s\n' "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts dockerd, imports images)"

# ---------------------------------------------------------------- packages
need_install=0
for c in "$DOCKER" dockerd docker-compose busybox; do
  if ! command -v "$c" >/dev/null 2>&1; then
    say "missing: $c"
    need_install=1
  fi
done
if [ "$need_install" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  say "installing docker.io busybox-static docker-compose (apt-get)"
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q docker.io busybox-static docker-compose || die "apt-get install failed"
fi
[ -x "$DOCKER" ] || die "$DOCKER not found after install"
command -v dockerd >/dev/null 2>&1 || die "dockerd not found after install"
BUSYBOX=$(command -v busybox) || die "busybox not found after install"

# ---------------------------------------------------------------- daemon
engine_up() { timeout 10 "$DOCKER" info >/dev/null 2>&1; }

STARTED_PID=""
start_dockerd() { # $1: storage driver ("-" = dockerd's choice), $2: "bridge" or "nobridge"
  local driver=$1 net=$2
  # No NAT or firewall rules: builds here need no network (tests build with --network=none).
  local args=(--iptables=false --ip-masq=false --pidfile "$PIDFILE")
  [ "$net" = nobridge ] && args+=(--bridge=none)
  if [ "$driver" != - ]; then
    args+=(--storage-driver="$driver")
    # BuildKit's state under a data root is tied to the driver that created it
    # (switching drivers on one data root breaks builds): vfs gets its own data root.
    [ "$driver" = vfs ] && args+=(--data-root=/var/lib/docker-vfs)
  fi
  say "starting dockerd ${args[*]} (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  rm -f "$PIDFILE"
  echo "=== $(date -u +%FT%TZ) engine.sh: dockerd ${args[*]}" >>"$LOG"
  nohup dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
  STARTED_PID=$!
  local waited=0
  while [ "$waited" -lt "$TIMEOUT" ]; do
    if engine_up; then
      say "dockerd answers after ${waited}s (pid $STARTED_PID)"
      return 0
    fi
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then
      say "dockerd (pid $STARTED_PID) exited during startup"
      STARTED_PID=""
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "dockerd did not answer within ${TIMEOUT}s"
  return 1
}

stop_started_dockerd() {
  [ -n "$STARTED_PID" ] || return 0
  say "stopping dockerd pid $STARTED_PID"
  kill "$STARTED_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 30); do
    kill -0 "$STARTED_PID" 2>/dev/null || break
    sleep 1
  done
  kill -9 "$STARTED_PID" 2>/dev/null || true
  STARTED_PID=""
  rm -f "$PIDFILE"
}

log_tail() {
  say "last lines of $LOG:"
  grep -v 'module=grpc' "$LOG" | tail -n 25 >&2 || true
}

# ---------------------------------------------------------------- base image
base_ok() {
  [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "buildrace.base.version"}}' "$BASE_IMAGE" 2>/dev/null)" = "$BASE_VERSION" ]
}

import_base() {
  local tmp rootfs applet
  tmp=$(mktemp -d /tmp/buildrace-rootfs.XXXXXX)
  rootfs=$tmp/rootfs
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var/tmp,proc,sys,dev}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  cp "$BUSYBOX" "$rootfs/bin/busybox"
  # What `busybox --install -s /bin` does inside the rootfs, with relative links.
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] && continue
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  echo buildrace-base >"$rootfs/etc/hostname"
  # A file that probe Dockerfiles can always `COPY --from=<stage>` (tests/e2e/probe.ts).
  echo "buildrace probe base v$BASE_VERSION" >"$rootfs/etc/buildrace-probe"
  tar -C "$rootfs" --numeric-owner -cf "$tmp/rootfs.tar" .
  "$DOCKER" rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    --change "LABEL buildrace.base.version=$BASE_VERSION" \
    "$tmp/rootfs.tar" "$BASE_IMAGE" >/dev/null
  rm -rf "$tmp"
}

ensure_base() {
  base_ok && return 0
  say "importing busybox rootfs as $BASE_IMAGE"
  import_base
  base_ok || {
    say "import of $BASE_IMAGE failed"
    return 1
  }
}

# ---------------------------------------------------------------- verify
VERIFY_LOG=""
verify_build() { # a BuildKit build with a cache mount, the way tests/e2e builds
  local dir tag rc=0
  dir=$(mktemp -d /tmp/buildrace-verify.XXXXXX)
  # A fresh cache id and command text per run: never a layer-cache hit.
  tag="$(date +%s%N)-$$"
  printf '%s\n' "FROM buildrace-base" \
    "RUN --mount=type=cache,id=buildrace-verify-$tag,target=/c echo ok-$tag > /c/ok && cat /c/ok" \
    >"$dir/Dockerfile"
  VERIFY_LOG=$(cd "$dir" && DOCKER_BUILDKIT=1 timeout 120 "$DOCKER" build --progress=plain --network=none . 2>&1) || rc=$?
  rm -rf "$dir"
  [ "$rc" = 0 ] && grep -q "ok-$tag" <<<"$VERIFY_LOG"
}

engine_works() { ensure_base && verify_build; }

T0=$(date +%s)
if engine_up; then
  say "engine already answering"
  engine_works || {
    printf '%s\n' "$VERIFY_LOG" | tail -n 30 >&2
    die "the running engine cannot build (it was not started by this script: fix or stop it)"
  }
else
  # A stale pid file from a killed daemon makes dockerd refuse to start.
  for f in "$PIDFILE" /var/run/docker.pid; do
    if [ -f "$f" ] && ! kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null; then rm -f "$f"; fi
  done
  if [ -n "${BUILDRACE_STORAGE_DRIVER:-}" ]; then
    attempts=("$BUILDRACE_STORAGE_DRIVER bridge" "$BUILDRACE_STORAGE_DRIVER nobridge")
  else
    # dockerd's default driver (overlay2 where it works), then vfs, which works anywhere;
    # the default bridge first, then none (builds use --network=none either way).
    attempts=("- bridge" "- nobridge" "vfs bridge" "vfs nobridge")
  fi
  ok=0
  for a in "${attempts[@]}"; do
    read -r drv net <<<"$a"
    if start_dockerd "$drv" "$net"; then
      if engine_works; then
        ok=1
        break
      fi
      say "engine started (driver $drv, $net) but cannot build:"
      printf '%s\n' "$VERIFY_LOG" | tail -n 15 >&2
    else
      log_tail
    fi
    stop_started_dockerd
  done
  [ "$ok" = 1 ] || die "could not get a working engine (see $LOG)"
fi
T_ENGINE=$(($(date +%s) - T0))

# ---------------------------------------------------------------- summary
version=$("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo "?")
driver=$("$DOCKER" info -f '{{.Driver}}' 2>/dev/null || echo "?")
runc_version=$("$DOCKER" version -f '{{range .Server.Components}}{{if eq .Name "runc"}}{{.Version}}{{end}}{{end}}' 2>/dev/null || echo "?")
buildkit=no
grep -q '^#[0-9]* \[internal\] load build definition' <<<"$VERIFY_LOG" && buildkit=yes
image_id=$("$DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE")
echo "engine: docker $version (storage $driver, runc $runc_version, ready in ${T_ENGINE}s) buildkit=$buildkit base=$BASE_IMAGE $image_id"
