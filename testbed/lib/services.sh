# Functions that install and start the test bed's parts. Sourced by up.sh,
# down.sh and status.sh after lib/common.sh; every function is idempotent.
# shellcheck shell=bash

RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/logs"
mkdir -p "$RUN_DIR" "$LOG_DIR"

REGISTRY_A=127.0.0.1:5000
REGISTRY_B=127.0.0.1:5001
# A unix socket path must stay under 108 bytes; a deep checkout gets one in /run.
BUILDKIT_SOCK="$RUN_DIR/buildkitd.sock"
if [ ${#BUILDKIT_SOCK} -gt 100 ]; then
  BUILDKIT_SOCK="/run/multiarch-testbed-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)/buildkitd.sock"
  mkdir -p "$(dirname "$BUILDKIT_SOCK")"
fi
TRIVY_DB_REPO="$REGISTRY_A/aquasecurity/trivy-db"
# Ports reserved for testbed/faultproxy.mjs, plain http in buildkitd: 5100 is
# the usual one in front of A, 5101 in front of B, 5102-5109 for tests.
FAULTPROXY_PORTS=(5100 5101 5102 5103 5104 5105 5106 5107 5108 5109)
# actionlint runs Debian's shellcheck on the workflows' run: scripts.
PACKAGES=(docker.io containerd runc qemu-user-static binfmt-support docker-registry skopeo jq
  apache2-utils iproute2 xz-utils shellcheck)
FOREIGN_ARCHES=(arm64 armhf)

# --- packages -----------------------------------------------------------------

ensure_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt-install.log" 2>&1 ||
    { tail -20 "$LOG_DIR/apt-install.log" >&2; die "apt-get install failed"; }
}

APT_UPDATED=
apt_update() {
  [ -n "$APT_UPDATED" ] && return 0
  local a; for a in "${FOREIGN_ARCHES[@]}"; do
    dpkg --print-foreign-architectures | grep -qx "$a" || dpkg --add-architecture "$a"
  done
  # Foreign-architecture indexes of other sources may fail; that is harmless.
  apt-get update >"$LOG_DIR/apt-update.log" 2>&1 || log "apt-get update reported errors (see $LOG_DIR/apt-update.log)"
  APT_UPDATED=1
}

# --- binfmt / QEMU -------------------------------------------------------------

BINFMT_DIR=/proc/sys/fs/binfmt_misc
ensure_binfmt() {
  if [ ! -e "$BINFMT_DIR/register" ]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT_DIR" || die "cannot mount binfmt_misc"
  fi
  local h
  for h in qemu-aarch64 qemu-arm; do
    if ! grep -qs '^enabled' "$BINFMT_DIR/$h"; then
      update-binfmts --enable "$h" || die "update-binfmts --enable $h failed"
    fi
    grep -q '^flags: .*F' "$BINFMT_DIR/$h" || die "$h is registered without the F flag: $(grep flags "$BINFMT_DIR/$h")"
  done
}

# --- processes -------------------------------------------------------------------

pid_alive() { local f="$RUN_DIR/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# start_service NAME CMD... : starts CMD in the background unless NAME runs.
start_service() {
  local name=$1; shift
  pid_alive "$name" && return 0
  log "starting $name"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

stop_service() {
  local name=$1 f="$RUN_DIR/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name ($pid)"
    kill "$pid" 2>/dev/null || true
    local i; for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# wait_for DESCRIPTION SECONDS CMD...
wait_for() {
  local what=$1 secs=$2; shift 2
  local i; for i in $(seq 1 $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not come up within ${secs}s"
}

# --- dockerd ---------------------------------------------------------------------

DOCKER_SOCK=/var/run/docker.sock
docker_up() { DOCKER_HOST="unix://$DOCKER_SOCK" docker info; }
# dockerd runs containers through the test bed's runc wrapper (lib/builders.sh);
# one that answers without it is restarted once with it.
ensure_dockerd() {
  install_runc_wrapper
  dockerd_has_wrapper && return 0
  if docker_up >/dev/null 2>&1; then stop_dockerd_without_wrapper; fi
  local args; mapfile -t args < <(dockerd_args)
  start_service dockerd dockerd "${args[@]}"
  wait_for dockerd 60 docker_up
}

# --- registries ------------------------------------------------------------------

registry_config() { # NAME ADDR [HTPASSWD]
  local dir="$STATE_DIR/$1"
  mkdir -p "$dir/storage"
  {
    echo "version: 0.1"
    echo "log: {level: info, accesslog: {disabled: false}}"
    echo "storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}"
    echo "http: {addr: $2, secret: testbed-$1}"
    [ -n "${3:-}" ] && echo "auth: {htpasswd: {realm: testbed, path: $3}}"
  } >"$dir/config.yml"
  printf '%s' "$dir/config.yml"
}

registry_up() { curl -s -o /dev/null -w '%{http_code}' "http://$1/v2/" | grep -qE '^(200|401)$'; }

ensure_registries() {
  local b="$STATE_DIR/registry-b"
  mkdir -p "$b"
  if [ ! -s "$b/password" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$b/password"
    chmod 600 "$b/password"
  fi
  [ -s "$b/htpasswd" ] || htpasswd -Bbc "$b/htpasswd" testbed "$(cat "$b/password")" 2>/dev/null
  start_service registry-a docker-registry serve "$(registry_config registry-a $REGISTRY_A)"
  start_service registry-b docker-registry serve "$(registry_config registry-b $REGISTRY_B "$b/htpasswd")"
  wait_for "registry A" 30 registry_up $REGISTRY_A
  wait_for "registry B" 30 registry_up $REGISTRY_B
  # A registry of another checkout on the same port would answer too: make
  # sure the ones answering are ours.
  local r; for r in registry-a registry-b; do
    pid_alive "$r" || die "$r exited (port taken by another process?): $(tail -3 "$LOG_DIR/$r.log")"
  done
}

# --- buildkitd -------------------------------------------------------------------

ensure_buildkitd() {
  local dir="$STATE_DIR/buildkitd"
  mkdir -p "$dir"
  local config p
  config=$(
    printf '[worker.oci]\n  enabled = true\n[worker.containerd]\n  enabled = false\n'
    for p in "$REGISTRY_A" "$REGISTRY_B" "${FAULTPROXY_PORTS[@]/#/127.0.0.1:}"; do
      printf '[registry."%s"]\n  http = true\n' "$p"
    done
  )
  # A buildkitd started with another config is restarted once with this one.
  if [ "$(cat "$dir/buildkitd.toml" 2>/dev/null)" != "$config" ]; then
    if pid_alive buildkitd; then log "buildkitd.toml changed: restarting buildkitd"; stop_service buildkitd; fi
    printf '%s\n' "$config" >"$dir/buildkitd.toml"
  fi
  # The build cache outlives a checkout: buildkitd keeps its root in the
  # cache dir (a fresh clone then reuses every layer an earlier clone built,
  # the go-cross example's compile among them). One buildkitd at a time owns
  # it, through a lock its own process holds (free again once it exits); a
  # second test bed running meanwhile gets a root of its own.
  if ! pid_alive buildkitd; then
    local root="$dir/root" shared="$CACHE_DIR/buildkitd-root"
    mkdir -p "$CACHE_DIR"
    if (exec 8>>"$shared.lock" && flock -n 8); then root=$shared; fi
    log "buildkitd root: $root"
    # shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
    start_service buildkitd bash -c 'exec 8>>"$0"; flock -n 8 || exit 75; exec "$@"' "$root.lock" \
      "$TOOLS_BIN/buildkitd" --config "$dir/buildkitd.toml" --root "$root" --addr "unix://$BUILDKIT_SOCK" --oci-worker-net host
  fi
  wait_for buildkitd 60 "$TOOLS_BIN/buildctl" --addr "unix://$BUILDKIT_SOCK" debug workers
  pid_alive buildkitd || die "buildkitd exited: $(tail -3 "$LOG_DIR/buildkitd.log")"
}

# --- vulnerability DB ------------------------------------------------------------

# Builds testbed/dbgen (cached by a hash of its sources), turns the YAML fixture
# into trivy.db + metadata.json, and pushes it to registry A as the OCI artifact
# trivy downloads. Pushes only when the artifact's digest changed.
ensure_trivy_db() {
  local src="$TESTBED_DIR/dbgen" hash
  hash=$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)
  local dbgen="$CACHE_DIR/tools/dbgen/$hash/dbgen"
  if [ ! -x "$dbgen" ]; then
    log "building dbgen"
    (cd "$src" && go build -trimpath -o "$dbgen.tmp" . && mv "$dbgen.tmp" "$dbgen")
  fi
  local out="$STATE_DIR/trivy-db"
  rm -rf "$out"; mkdir -p "$out"
  "$dbgen" -out "$out/db" "$TESTBED_DIR/fixtures/vuln-db.yaml"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$out/db" -cf - trivy.db metadata.json |
    gzip -n >"$out/db.tar.gz"
  # Registry B answers 401 to the ping; the setting is stored all the same.
  regctl registry set "$REGISTRY_A" --tls disabled >/dev/null 2>&1 || true
  regctl registry set "$REGISTRY_B" --tls disabled >/dev/null 2>&1 || true
  local want; want=sha256:$(sha256sum "$out/db.tar.gz" | cut -d' ' -f1)
  if regctl manifest get "$TRIVY_DB_REPO:2" --format '{{json .}}' 2>/dev/null | grep -q "$want"; then
    return 0
  fi
  log "pushing the vulnerability DB to $TRIVY_DB_REPO:2"
  (cd "$out" && regctl artifact put \
    --config-type application/vnd.aquasec.trivy.config.v1+json \
    --file db.tar.gz --file-media-type application/vnd.aquasec.trivy.db.layer.v1.tar+gzip \
    --file-title "$TRIVY_DB_REPO:2" >/dev/null)
}

# --- test image contexts ---------------------------------------------------------

# busybox-static for each architecture, from Debian, cached as debs.
BUSYBOX_ARCHES=(amd64 arm64 armhf)
busybox_platform_dir() { case $1 in amd64) echo amd64 ;; arm64) echo arm64 ;; armhf) echo armv7 ;; esac; }

ensure_busybox() {
  local debs="$CACHE_DIR/debs" a need=()
  mkdir -p "$debs"
  for a in "${BUSYBOX_ARCHES[@]}"; do
    compgen -G "$debs/busybox-static_*_$a.deb" >/dev/null || need+=("busybox-static:$a")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt_update
    (cd "$debs" && apt-get download "${need[@]}" >"$LOG_DIR/apt-download.log" 2>&1) ||
      { tail -5 "$LOG_DIR/apt-download.log" >&2; die "apt-get download ${need[*]} failed"; }
  fi
  for a in "${BUSYBOX_ARCHES[@]}"; do
    local dest; dest="$STATE_DIR/busybox/$(busybox_platform_dir "$a")"
    [ -x "$dest/busybox" ] && continue
    local tmp; tmp=$(mktemp -d)
    dpkg-deb -x "$(compgen -G "$debs/busybox-static_*_$a.deb" | head -1)" "$tmp"
    mkdir -p "$dest"; cp "$tmp/bin/busybox" "$dest/busybox"; rm -rf "$tmp"
  done
}

# Copies a committed context (testbed/images/NAME or examples/NAME) to
# .testbed/contexts/NAME with the busybox binaries added under busybox/.
make_context() { # SRC_DIR NAME
  local dest="$STATE_DIR/contexts/$2"
  rm -rf "$dest"; mkdir -p "$dest"
  cp -a "$1/." "$dest/"
  cp -a "$STATE_DIR/busybox" "$dest/busybox"
}

ensure_contexts() {
  ensure_busybox
  local d; for d in "$TESTBED_DIR"/images/*/; do make_context "$d" "$(basename "$d")"; done
}

# --- env and status --------------------------------------------------------------

write_env() {
  cat >"$STATE_DIR/env" <<ENV
export TESTBED_REGISTRY=$REGISTRY_A
export TESTBED_AUTH_REGISTRY=$REGISTRY_B
export TESTBED_AUTH_USER=testbed
export TESTBED_AUTH_PASSWORD=$(cat "$STATE_DIR/registry-b/password")
export TESTBED_BUILDKIT_ENDPOINT=unix://$BUILDKIT_SOCK
export TESTBED_TRIVY_DB_REPOSITORY=$TRIVY_DB_REPO
export TESTBED_TRIVY_JAVA_DB_REPOSITORY=$TRIVY_JAVA_DB_REPO
export TESTBED_DEBIAN_IMAGE=$DEBIAN_REF
export TESTBED_GOLANG_IMAGE=$GOLANG_REF
export TESTBED_CONTEXTS=$STATE_DIR/contexts
export TESTBED_STATE_DIR=$STATE_DIR
export TESTBED_LOG_DIR=$LOG_DIR
$(write_builders_env)
export TESTBED_FAULTPROXY=$TESTBED_DIR/faultproxy.mjs
export TESTBED_FAULTPROXY_PORTS="${FAULTPROXY_PORTS[*]}"
export PATH=$TOOLS_BIN:\$PATH
ENV
}

status() {
  local s
  for s in dockerd registry-a registry-b buildkitd; do
    if pid_alive "$s"; then log "  $s: running (pid $(cat "$RUN_DIR/$s.pid"))"
    elif [ "$s" = dockerd ] && docker_up >/dev/null 2>&1; then log "  dockerd: running (not started by the test bed)"
    else log "  $s: not running"; fi
  done
  log "  registry A: http://$REGISTRY_A (no auth), registry B: http://$REGISTRY_B (htpasswd)"
  log "  buildkitd: unix://$BUILDKIT_SOCK; trivy DB: $TRIVY_DB_REPO:2"
  log "  fault proxy: node testbed/faultproxy.mjs --upstream $REGISTRY_A --listen 127.0.0.1:PORT (ports ${FAULTPROXY_PORTS[0]}-${FAULTPROXY_PORTS[-1]} are plain http in buildkitd)"
  builders_status
  log "  env: $STATE_DIR/env"
}

# shellcheck source=builders.sh
source "$TESTBED_DIR/lib/builders.sh"
# shellcheck source=debian.sh
source "$TESTBED_DIR/lib/debian.sh"
# shellcheck source=javadb.sh
source "$TESTBED_DIR/lib/javadb.sh"
