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

# True when the answering dockerd runs containers through the wrapper.
dockerd_has_wrapper() {
  local info
  info=$(DOCKER_HOST="unix://$DOCKER_SOCK" docker info --format '{"default":{{json .DefaultRuntime}},"runtimes":{{json .Runtimes}}}' 2>/dev/null) || return 1
  jq -e --arg n "$RUNC_RUNTIME" --arg p "$RUNC_WRAPPER" '.default == $n and .runtimes[$n].path == $p' <<<"$info" >/dev/null
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
  local i; for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && die "dockerd ($pid) did not stop within 30s"
  rm -f "$RUN_DIR/dockerd.pid"
}

# --- images ------------------------------------------------------------------------

# image_current REF KEY: the local image REF was made from inputs hashed to KEY.
image_current() {
  [ "$(docker image inspect --format '{{index .Config.Labels "testbed.key"}}' "$1" 2>/dev/null)" = "$2" ]
}

# in_registry REF: registry A has the tag with the same image ID as the local one.
in_registry() {
  local ref=$1 repo tag
  repo=${ref#"$REGISTRY_A"/}; tag=${repo##*:}; repo=${repo%:*}
  local want; want=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null) || return 1
  local cfg
  cfg=$(curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_A/v2/$repo/manifests/$tag" | jq -r '.config.digest // empty') || return 1
  [ "$cfg" = "$want" ]
}

# import_rootfs DIR REF KEY CHANGE...: a local image from a root file system.
# The tar is cached under IMAGE_CACHE by KEY, so a fresh dockerd imports it
# again without assembling DIR.
import_rootfs() {
  local dir=$1 ref=$2 key=$3; shift 3
  local tar="$IMAGE_CACHE/$(basename "${ref%%:*}")-$key.tar"
  if [ ! -s "$tar" ]; then
    mkdir -p "$IMAGE_CACHE"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
  fi
  local changes=() c
  for c in "$@" "LABEL testbed.key=$key"; do changes+=(--change "$c"); done
  docker import "${changes[@]}" "$tar" "$ref" >/dev/null
}

# push_image REF: pushes to registry A unless it already has this image.
push_image() {
  in_registry "$1" && return 0
  log "pushing $1"
  docker push "$1" >"$LOG_DIR/docker-push.log" 2>&1 || { tail -5 "$LOG_DIR/docker-push.log" >&2; die "docker push $1 failed"; }
}

# A busybox image made by `docker import`, for checking that containers
# (privileged ones too) start.
ensure_busybox_image() {
  ensure_busybox
  local bb="$STATE_DIR/busybox/amd64/busybox" key
  key=$(cat "$bb" | sha256sum | cut -c1-16)
  image_current "$BUSYBOX_IMAGE" "$key" && return 0
  log "importing $BUSYBOX_IMAGE"
  local root; root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  local t; for t in sh true cat ls uname grep mount; do ln -s busybox "$root/bin/$t"; done
  import_rootfs "$root" "$BUSYBOX_IMAGE" "$key" 'ENV PATH=/bin' 'CMD ["sh"]'
  rm -rf "$root"
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
ensure_buildkit_image() {
  local bk="$CACHE_DIR/tools/buildkit/$BUILDKIT_VERSION"
  [ -x "$bk/buildkitd" ] && [ -x "$bk/buildctl" ] || die "buildkitd/buildctl $BUILDKIT_VERSION are not built (testbed/build-tools.sh buildkit)"
  local runc=/usr/sbin/runc libs
  libs=$(ldd "$runc" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
  local key
  # shellcheck disable=SC2086
  key=$( { declare -f ensure_buildkit_image; cat "$bk/buildkitd" "$bk/buildctl" "$runc" $libs; } | sha256sum | cut -c1-16)
  if ! image_current "$BUILDKIT_IMAGE" "$key"; then
    log "building $BUILDKIT_IMAGE"
    local root; root=$(mktemp -d)
    mkdir -p "$root/usr/bin" "$root/etc/buildkit" "$root/var/lib/buildkit" "$root/tmp" "$root/run"
    chmod 1777 "$root/tmp"
    cp "$bk/buildkitd" "$bk/buildctl" "$runc" "$root/usr/bin/"
    local l; for l in $libs; do cp -L --parents "$l" "$root"; done
    import_rootfs "$root" "$BUILDKIT_IMAGE" "$key" \
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'VOLUME /var/lib/buildkit' 'ENTRYPOINT ["buildkitd"]'
    rm -rf "$root"
  fi
  push_image "$BUILDKIT_IMAGE"
}

# The binfmt image for the action's qemu-image input: testbed/binfmt (same
# command line as the binfmt image users pull) with Debian's qemu-user-static
# interpreters as /usr/bin/qemu-NAME and their binfmts definitions.
ensure_binfmt_image() {
  local src="$TESTBED_DIR/binfmt" q files=()
  for q in "${BINFMT_QEMU[@]}"; do files+=("/usr/bin/qemu-$q-static" "/usr/share/binfmts/qemu-$q"); done
  local key
  key=$( { declare -f ensure_binfmt_image; cat "$src/main.go" "$src/go.mod" "${files[@]}"; } | sha256sum | cut -c1-16)
  if ! image_current "$BINFMT_IMAGE" "$key"; then
    log "building $BINFMT_IMAGE"
    local root; root=$(mktemp -d)
    mkdir -p "$root/usr/bin" "$root/usr/share/binfmts" "$root/proc" "$root/tmp"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$root/usr/bin/binfmt" .)
    for q in "${BINFMT_QEMU[@]}"; do
      cp "/usr/bin/qemu-$q-static" "$root/usr/bin/qemu-$q"
      cp "/usr/share/binfmts/qemu-$q" "$root/usr/share/binfmts/"
    done
    import_rootfs "$root" "$BINFMT_IMAGE" "$key" 'ENTRYPOINT ["/usr/bin/binfmt"]'
    rm -rf "$root"
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
  local n
  for n in "${NODE_NAMES[@]}"; do
    local dir="$STATE_DIR/buildkitd-$n" sock; sock=$(node_sock "$n")
    mkdir -p "$dir"
    local pf=() p; IFS=, read -ra p <<<"$(node_platforms "$n")"
    local x; for x in "${p[@]}"; do pf+=(--oci-worker-platform "$x"); done
    # --debug logs each solve step, so a test can tell which daemon built what.
    start_configured "buildkitd-$n" "$REGISTRIES_TOML" "$TOOLS_BIN/buildkitd" --debug \
      --config "$REGISTRIES_TOML" --root "$dir/root" --addr "unix://$sock" --oci-worker-net host \
      --containerd-worker=false "${pf[@]}"
  done
  for n in "${NODE_NAMES[@]}"; do
    wait_for "buildkitd-$n" 60 "$TOOLS_BIN/buildctl" --addr "unix://$(node_sock "$n")" debug workers
    pid_alive "buildkitd-$n" || die "buildkitd-$n exited: $(tail -3 "$LOG_DIR/buildkitd-$n.log")"
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
