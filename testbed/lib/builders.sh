# Builder-side parts of the test bed, sourced by lib/services.sh: the runc
# wrapper dockerd runs containers through (so `docker run --privileged`
# works in this sandbox), locally built buildkit and binfmt images, and two
# extra buildkitd daemons that make a multi-node builder. Every function is
# idempotent; images are cached by a hash of their inputs.
# shellcheck shell=bash

RUNC_RUNTIME=testbed-runc
RUNC_WRAPPER="$CACHE_DIR/runtime/runc-wrapper"
IMAGE_CACHE="$CACHE_DIR/images"

# buildx v0.36.1's docker-container driver always asks dockerd to pull the
# builder image first and falls back to a local image of that name only when
# the pull fails (driver/docker-container/driver.go, create()). With the
# default name (moby/buildkit:buildx-stable-1) every builder creation would
# try docker.io, which is unreachable here: slow or hanging on DNS, and a
# network call off loopback. So the image is pushed to registry A and named
# with `driver-opts: image=...`; dockerd pulls it from loopback over http
# (127.0.0.0/8 is an insecure registry by default) and the pull succeeds.
# The default name is deliberately not tagged locally: a test that forgets
# image= fails plainly instead of quietly trying docker.io.
BUILDKIT_IMAGE="$REGISTRY_A/moby/buildkit:testbed"
BINFMT_IMAGE="$REGISTRY_A/testbed/binfmt:testbed"
BUSYBOX_IMAGE=testbed/busybox:latest
# Interpreters the binfmt image carries (QEMU names; Debian qemu-user-static).
BINFMT_QEMU=(aarch64 arm riscv64 ppc64le s390x)

# Two more buildkitd daemons for a multi-node builder: one whose worker
# platforms are amd64 only, one that serves arm64 and arm/v7.
NODE_NAMES=(amd arm)
node_platforms() { case $1 in amd) echo linux/amd64 ;; arm) echo linux/arm64,linux/arm/v7 ;; esac; }
node_sock() {
  local s="$RUN_DIR/buildkitd-$1.sock"
  [ ${#s} -gt 100 ] && s="$(dirname "$BUILDKIT_SOCK")/buildkitd-$1.sock"
  printf '%s' "$s"
}

# --- runc wrapper and dockerd ------------------------------------------------------

install_runc_wrapper() {
  mkdir -p "$(dirname "$RUNC_WRAPPER")"
  cmp -s "$TESTBED_DIR/runtime/runc-wrapper" "$RUNC_WRAPPER" && return 0
  install -m 0755 "$TESTBED_DIR/runtime/runc-wrapper" "$RUNC_WRAPPER.tmp"
  mv "$RUNC_WRAPPER.tmp" "$RUNC_WRAPPER"
}

dockerd_args() {
  printf '%s\n' --host "unix://$DOCKER_SOCK" --bridge=none --iptables=false --ip6tables=false \
    --add-runtime "$RUNC_RUNTIME=$RUNC_WRAPPER" --default-runtime "$RUNC_RUNTIME"
}

# GET from the Docker engine API: 10 ms, where the docker CLI takes 100-300.
docker_api() { curl -sf --unix-socket "$DOCKER_SOCK" "http://docker/v1.41$1"; }

# True when the answering dockerd runs containers through the wrapper. (The
# JSON is matched as text in this file: each jq start costs a warm run ~50 ms.)
dockerd_has_wrapper() {
  local info; info=$(docker_api /info) || return 1
  [[ $info == *"\"DefaultRuntime\":\"$RUNC_RUNTIME\""* && $info == *"\"$RUNC_RUNTIME\":{\"path\":\"$RUNC_WRAPPER\""* ]]
}

# The pid of whatever serves the docker socket: ours by pid file, else found
# by the socket's owner.
dockerd_pid() {
  if pid_alive dockerd; then cat "$RUN_DIR/dockerd.pid"; return 0; fi
  ss -Hxlp 2>/dev/null | grep -F " $DOCKER_SOCK " | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}

# Stops a dockerd that lacks the wrapper so ensure_dockerd starts one with it.
# Its running containers stop with it (only the first time, when the
# configuration changes).
stop_dockerd_without_wrapper() {
  local pid; pid=$(dockerd_pid)
  [ -n "$pid" ] || die "dockerd answers on $DOCKER_SOCK without the $RUNC_RUNTIME runtime, and its process cannot be found"
  log "restarting dockerd ($pid) with the $RUNC_RUNTIME runtime"
  kill "$pid"
  local _; for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && die "dockerd ($pid) did not stop within 30s"
  rm -f "$RUN_DIR/dockerd.pid"
}

# --- images ------------------------------------------------------------------------

# image_current REF KEY: the local image REF was made from inputs hashed to KEY.
image_current() {
  [[ $(docker_api "/images/$1/json") =~ \"testbed\.key\":\"([^\"]*)\" ]] && [ "${BASH_REMATCH[1]}" = "$2" ]
}

# in_registry REF: registry A has the tag with the same image ID as the local one.
in_registry() {
  local ref=$1 repo tag
  repo=${ref#"$REGISTRY_A"/}; tag=${repo##*:}; repo=${repo%:*}
  [[ $(docker_api "/images/$ref/json") =~ \"Id\":\"(sha256:[0-9a-f]+)\" ]] || return 1
  local want=${BASH_REMATCH[1]} m
  m=$(curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REGISTRY_A/v2/$repo/manifests/$tag") || return 1
  [[ $m =~ \"config\"[^}]*\"digest\":[[:space:]]*\"(sha256:[0-9a-f]+)\" ]] && [ "${BASH_REMATCH[1]}" = "$want" ]
}

# import_rootfs REF KEY FILL CHANGE...: a local image from a root file system
# that the function FILL writes into the directory it is given. Its tar is
# cached under IMAGE_CACHE by KEY, so a dockerd that lost the image imports
# it again without FILL running.
import_rootfs() {
  local ref=$1 key=$2 fill=$3; shift 3
  local name; name=$(basename "${ref%:*}")
  local tar="$IMAGE_CACHE/$name-$key.tar"
  if [ ! -s "$tar" ]; then
    local root; root=$(mktemp -d)
    "$fill" "$root"
    mkdir -p "$IMAGE_CACHE"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$tar.tmp" .
    rm -rf "$root"
    mv "$tar.tmp" "$tar"
    find "$IMAGE_CACHE" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$key.tar" -delete
  fi
  local changes=() c
  for c in "$@" "LABEL testbed.key=$key"; do changes+=(--change "$c"); done
  local old; old=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  docker import "${changes[@]}" "$tar" "$ref" >/dev/null
  # The image this one replaces, unless something still uses it.
  [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
}

# push_image REF: pushes to registry A unless it already has this image.
push_image() {
  in_registry "$1" && return 0
  log "pushing $1"
  docker push "$1" >"$LOG_DIR/docker-push.log" 2>&1 || { tail -5 "$LOG_DIR/docker-push.log" >&2; die "docker push $1 failed"; }
}

# A busybox image made by `docker import`, for checking that containers
# (privileged ones too) start.
busybox_rootfs() {
  mkdir -p "$1/bin" "$1/tmp"
  cp "$STATE_DIR/busybox/amd64/busybox" "$1/bin/busybox"
  local t; for t in sh true cat echo ls sleep uname grep mount; do ln -s busybox "$1/bin/$t"; done
}
ensure_busybox_image() {
  ensure_busybox
  local key; key=$( { declare -f busybox_rootfs; cat "$STATE_DIR/busybox/amd64/busybox"; } | sha256sum | cut -c1-16)
  image_current "$BUSYBOX_IMAGE" "$key" && return 0
  log "importing $BUSYBOX_IMAGE"
  import_rootfs "$BUSYBOX_IMAGE" "$key" busybox_rootfs 'ENV PATH=/bin' 'CMD ["sh"]'
}

# Privileged containers must start: the reason for the wrapper. Checked once
# per dockerd process.
check_privileged() {
  local pid; pid=$(dockerd_pid)
  [ -n "$pid" ] && [ "$(cat "$RUN_DIR/privileged-ok" 2>/dev/null)" = "$pid" ] && return 0
  docker run --privileged --rm --network none "$BUSYBOX_IMAGE" true >"$LOG_DIR/privileged-check.log" 2>&1 ||
    die "a privileged container does not start: $(tail -2 "$LOG_DIR/privileged-check.log")"
  echo "$pid" >"$RUN_DIR/privileged-ok"
}

# The buildkit image for buildx's docker-container driver: buildkitd and
# buildctl of the pinned build, and Debian's runc with the libraries ldd
# lists (it is dynamically linked), entrypoint buildkitd.
BUILDKIT_TOOLS="$CACHE_DIR/tools/buildkit/$BUILDKIT_VERSION"
RUNC=/usr/sbin/runc
runc_libs() { ldd "$RUNC" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u; }
buildkit_rootfs() {
  mkdir -p "$1/usr/bin" "$1/etc/buildkit" "$1/var/lib/buildkit" "$1/tmp" "$1/run"
  chmod 1777 "$1/tmp"
  cp "$BUILDKIT_TOOLS/buildkitd" "$BUILDKIT_TOOLS/buildctl" "$RUNC" "$1/usr/bin/"
  local l; for l in $(runc_libs); do cp -L --parents "$l" "$1"; done
}
ensure_buildkit_image() {
  { [ -x "$BUILDKIT_TOOLS/buildkitd" ] && [ -x "$BUILDKIT_TOOLS/buildctl" ]; } ||
    die "buildkitd/buildctl $BUILDKIT_VERSION are not built (testbed/build-tools.sh buildkit)"
  # Keyed by the build's version and files' size and time (hashing 100 MB
  # of binaries would cost a warm run 0.3 s) and the Debian packages' versions.
  local key
  key=$( {
    declare -f buildkit_rootfs; echo "$BUILDKIT_VERSION"
    stat -c '%n %s %Y' "$BUILDKIT_TOOLS/buildkitd" "$BUILDKIT_TOOLS/buildctl"
    dpkg-query -W runc libseccomp2 libc6
  } | sha256sum | cut -c1-16)
  if ! image_current "$BUILDKIT_IMAGE" "$key"; then
    log "building $BUILDKIT_IMAGE"
    import_rootfs "$BUILDKIT_IMAGE" "$key" buildkit_rootfs \
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'VOLUME /var/lib/buildkit' 'ENTRYPOINT ["buildkitd"]'
  fi
  push_image "$BUILDKIT_IMAGE"
}

# The binfmt image for the action's qemu-image input: testbed/binfmt (same
# command line as the binfmt image users pull) with Debian's qemu-user-static
# interpreters as /usr/bin/qemu-NAME and their binfmts definitions.
binfmt_rootfs() {
  mkdir -p "$1/usr/bin" "$1/usr/share/binfmts" "$1/proc" "$1/tmp"
  (cd "$TESTBED_DIR/binfmt" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$1/usr/bin/binfmt" .)
  local q; for q in "${BINFMT_QEMU[@]}"; do
    cp "/usr/bin/qemu-$q-static" "$1/usr/bin/qemu-$q"
    cp "/usr/share/binfmts/qemu-$q" "$1/usr/share/binfmts/"
  done
}
ensure_binfmt_image() {
  local src="$TESTBED_DIR/binfmt" key
  key=$( { declare -f binfmt_rootfs; cat "$src/main.go" "$src/go.mod"; dpkg-query -W qemu-user-static; } | sha256sum | cut -c1-16)
  if ! image_current "$BINFMT_IMAGE" "$key"; then
    log "building $BINFMT_IMAGE"
    import_rootfs "$BINFMT_IMAGE" "$key" binfmt_rootfs 'ENTRYPOINT ["/usr/bin/binfmt"]'
  fi
  push_image "$BINFMT_IMAGE"
}

ensure_images() {
  ensure_busybox_image
  check_privileged
  ensure_buildkit_image
  ensure_binfmt_image
}

# --- multi-node buildkitd daemons --------------------------------------------------

# start_configured NAME CONFIG CMD...: like start_service, but restarts NAME
# when it runs with another command line or CONFIG file content.
start_configured() {
  local name=$1 config=$2; shift 2
  local want; want=$( { printf '%s\n' "$@"; cat "$config"; } | sha256sum | cut -c1-16)
  if pid_alive "$name" && [ "$(cat "$RUN_DIR/$name.args" 2>/dev/null)" != "$want" ]; then
    log "restarting $name: its configuration changed"
    stop_service "$name"
  fi
  start_service "$name" "$@"
  echo "$want" >"$RUN_DIR/$name.args"
}

# A buildkitd.toml with the registries buildkitd reaches over plain http (the
# same list as the main buildkitd's): for these daemons, and for a
# docker-container builder's --buildkitd-config.
REGISTRIES_TOML="$STATE_DIR/buildkitd-registries.toml"
ensure_registries_toml() {
  local regs=("$REGISTRY_A" "$REGISTRY_B") r
  [ -n "${FAULTPROXY_PORTS+x}" ] && regs+=("${FAULTPROXY_PORTS[@]/#/127.0.0.1:}")
  for r in "${regs[@]}"; do printf '[registry."%s"]\n  http = true\n' "$r"; done >"$REGISTRIES_TOML.tmp"
  if cmp -s "$REGISTRIES_TOML.tmp" "$REGISTRIES_TOML"; then rm "$REGISTRIES_TOML.tmp"; else mv "$REGISTRIES_TOML.tmp" "$REGISTRIES_TOML"; fi
}

ensure_buildkit_nodes() {
  ensure_registries_toml
  local n started=()
  for n in "${NODE_NAMES[@]}"; do
    local dir="$STATE_DIR/buildkitd-$n" sock; sock=$(node_sock "$n")
    mkdir -p "$dir"
    local pf=() p; IFS=, read -ra p <<<"$(node_platforms "$n")"
    local x; for x in "${p[@]}"; do pf+=(--oci-worker-platform "$x"); done
    # buildkitd lists its --oci-worker-platform values first, then appends
    # the host's native platform and every platform its check binaries (run
    # from $TMPDIR) can execute, i.e. the host's QEMU handlers
    # (worker/base Platforms, util/archutil). A noexec TMPDIR makes those
    # checks fail, so a daemon lists what it was given plus linux/amd64 (the
    # native one, always added) as a host without QEMU would. Its RUN steps
    # for foreign platforms still run through the host's binfmt handlers.
    mountpoint -q "$dir/tmp" || { mkdir -p "$dir/tmp"; mount -t tmpfs -o noexec,nosuid,nodev,size=64m tmpfs "$dir/tmp"; }
    # --debug logs each solve step, so a test can tell which daemon built what.
    local was; was=$(cat "$RUN_DIR/buildkitd-$n.pid" 2>/dev/null || true)
    start_configured "buildkitd-$n" "$REGISTRIES_TOML" env TMPDIR="$dir/tmp" "$TOOLS_BIN/buildkitd" --debug \
      --config "$REGISTRIES_TOML" --root "$dir/root" --addr "unix://$sock" --oci-worker-net host \
      --containerd-worker=false "${pf[@]}"
    [ "$(cat "$RUN_DIR/buildkitd-$n.pid")" = "$was" ] || started+=("$n")
  done
  # Only a daemon started now needs waiting for.
  for n in "${started[@]}"; do
    wait_for "buildkitd-$n" 60 "$TOOLS_BIN/buildctl" --addr "unix://$(node_sock "$n")" debug workers
    pid_alive "buildkitd-$n" || die "buildkitd-$n exited: $(tail -3 "$LOG_DIR/buildkitd-$n.log")"
  done
}

stop_buildkit_nodes() {
  local n
  for n in "${NODE_NAMES[@]}"; do
    stop_service "buildkitd-$n"
    if mountpoint -q "$STATE_DIR/buildkitd-$n/tmp"; then umount "$STATE_DIR/buildkitd-$n/tmp"; fi
  done
}

# The value of the action's `nodes` input that reaches the two daemons.
buildkit_nodes_value() {
  local n out=''
  for n in "${NODE_NAMES[@]}"; do out+="$(node_platforms "$n")=unix://$(node_sock "$n")"$'\n'; done
  printf '%s' "${out%$'\n'}"
}

write_builders_env() {
  cat <<ENV
export TESTBED_BUILDKIT_IMAGE=$BUILDKIT_IMAGE
export TESTBED_BINFMT_IMAGE=$BINFMT_IMAGE
export TESTBED_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
export TESTBED_BUILDKITD_CONFIG=$REGISTRIES_TOML
export TESTBED_BUILDKIT_NODES='$(buildkit_nodes_value)'
ENV
}

builders_status() {
  local n
  for n in "${NODE_NAMES[@]}"; do
    if pid_alive "buildkitd-$n"; then log "  buildkitd-$n: running (pid $(cat "$RUN_DIR/buildkitd-$n.pid")), $(node_platforms "$n") on unix://$(node_sock "$n")"
    else log "  buildkitd-$n: not running"; fi
  done
  log "  dockerd runtime: $(dockerd_has_wrapper && echo "$RUNC_RUNTIME (default)" || echo "no $RUNC_RUNTIME")"
  log "  images: $BUILDKIT_IMAGE (buildkit), $BINFMT_IMAGE (binfmt), $BUSYBOX_IMAGE"
}
