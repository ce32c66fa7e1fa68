# A real multi-arch debian:bookworm base and a Go toolchain image built on it,
# both in registry A. Sourced by up.sh after lib/services.sh.
#
# Root file systems come from Debian's mmdebstrap (minbase), one per
# architecture (foreign ones run under QEMU, about 2 minutes each). Each is
# cached as a tar under $CACHE_DIR/debian/rootfs/<key>/, the key a hash of
# everything that goes into it; the OCI layout made from them (written by
# make_oci_image, gzip -n, fixed timestamps) is cached too, so its index
# digest is known before anything is pushed: a warm run compares it with the
# registry's and pushes nothing.
# shellcheck shell=bash

DEBIAN_SUITE=bookworm
DEBIAN_REPO="$REGISTRY_A/library/debian"
DEBIAN_REF="$DEBIAN_REPO:$DEBIAN_SUITE"
GOLANG_REF="$REGISTRY_A/library/golang:$DEBIAN_SUITE"
# dpkg architecture -> OCI platform
DEBIAN_ARCHES=(amd64 arm64 armhf)
deb_platform() { case $1 in amd64) echo linux/amd64 ;; arm64) echo linux/arm64 ;; armhf) echo linux/arm/v7 ;; esac; }
# Fixed image timestamps (2026-01-01) keep configs and digests reproducible.
DEBIAN_EPOCH=1767225600

# The archive apt uses on this machine: the first Debian and Debian-security
# URIs of the host's sources (deb822 or one-line), unless overridden.
host_debian_uri() { # PATTERN
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
  done
}
debian_sources() {
  local mirror=${TESTBED_DEBIAN_MIRROR:-} security=${TESTBED_DEBIAN_SECURITY_MIRROR:-}
  [ -n "$mirror" ] || mirror=$(host_debian_uri | grep -E '/debian/?$' | head -1)
  [ -n "$security" ] || security=$(host_debian_uri | grep -E '/debian-security/?$' | head -1)
  [ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources*: set TESTBED_DEBIAN_MIRROR"
  printf '%s\n' "deb ${mirror%/} $DEBIAN_SUITE main" "deb ${mirror%/} $DEBIAN_SUITE-updates main"
  [ -n "$security" ] && printf '%s\n' "deb ${security%/} $DEBIAN_SUITE-security main"
  return 0
}

debian_rootfs_key() {
  { echo "mmdebstrap $(dpkg-query -W -f='${Version}' mmdebstrap 2>/dev/null)"
    echo "$DEBIAN_SUITE minbase skip=output/dev"; debian_sources; } | sha256sum | cut -c1-16
}

# ensure_debian_rootfs ARCH -> path of the cached tar (mmdebstrap picks the
# output format from the name, so the temporary file ends in .tar too).
ensure_debian_rootfs() {
  local arch=$1 dir; dir="$CACHE_DIR/debian/rootfs/$(debian_rootfs_key)"
  local tar="$dir/$arch.tar"
  if [ ! -s "$tar" ]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed"
    mkdir -p "$dir"
    local t=$SECONDS srcs=(); mapfile -t srcs < <(debian_sources)
    log "mmdebstrap $DEBIAN_SUITE for $arch (log: $LOG_DIR/mmdebstrap-$arch.log)"
    # One retry: a foreign root file system is built under QEMU, and a binfmt
    # handler re-registered meanwhile (a test of the QEMU setup does that)
    # fails the exec calls of that moment with "Exec format error".
    local try
    for try in 1 2; do
      SOURCE_DATE_EPOCH=$DEBIAN_EPOCH mmdebstrap --variant=minbase --arch="$arch" --skip=output/dev \
        --aptopt='Acquire::Retries "3"' "$DEBIAN_SUITE" "$dir/$arch.tmp.tar" "${srcs[@]}" \
        >"$LOG_DIR/mmdebstrap-$arch.log" 2>&1 && break
      rm -rf "$dir/$arch.tmp.tar"
      [ "$try" = 2 ] && { tail -5 "$LOG_DIR/mmdebstrap-$arch.log" >&2; die "mmdebstrap for $arch failed"; }
      log "mmdebstrap for $arch failed ($(grep -m1 -E '^E:|rror' "$LOG_DIR/mmdebstrap-$arch.log")); retrying"
    done
    mv "$dir/$arch.tmp.tar" "$tar"
    log "mmdebstrap $arch took $((SECONDS - t))s"
  fi
  printf '%s' "$tar"
}

# make_oci_layout DIR TAG PLATFORM=TAR... : writes an OCI layout holding one
# image index (tagged TAG) with a single-layer image per platform, made from
# each root file system tar. Everything is byte-for-byte reproducible.
make_oci_layout() {
  local dir=$1 tag=$2; shift 2
  rm -rf "$dir"; mkdir -p "$dir/blobs/sha256"
  local created; created=$(date -u -d "@$DEBIAN_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  local manifests=() pt platform tar
  for pt in "$@"; do
    platform=${pt%%=*} tar=${pt#*=}
    local os=${platform%%/*} rest=${platform#*/} arch variant=
    arch=${rest%%/*}; [ "$rest" != "$arch" ] && variant=${rest#*/}
    local diff_id; diff_id=sha256:$(sha256sum "$tar" | cut -d' ' -f1)
    gzip -n -c "$tar" >"$dir/blobs/layer.tmp"
    local layer; layer=$(sha256sum "$dir/blobs/layer.tmp" | cut -d' ' -f1)
    local lsize; lsize=$(stat -c %s "$dir/blobs/layer.tmp")
    mv "$dir/blobs/layer.tmp" "$dir/blobs/sha256/$layer"
    local config; config=$(jq -cnS --arg os "$os" --arg arch "$arch" --arg variant "$variant" \
      --arg diff "$diff_id" --arg created "$created" --arg suite "$DEBIAN_SUITE" '{
        architecture: $arch, os: $os, created: $created,
        config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"]},
        rootfs: {type: "layers", diff_ids: [$diff]},
        history: [{created: $created, created_by: ("mmdebstrap --variant=minbase " + $suite)}]
      } + (if $variant == "" then {} else {variant: $variant} end)')
    local cdigest; cdigest=$(put_blob "$dir" "$config")
    local manifest; manifest=$(jq -cnS --arg c "sha256:$cdigest" --argjson cs "${#config}" \
      --arg l "sha256:$layer" --argjson ls "$lsize" '{
        schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
        layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]
      }')
    local mdigest; mdigest=$(put_blob "$dir" "$manifest")
    manifests+=("$(jq -cnS --arg d "sha256:$mdigest" --argjson s "${#manifest}" --arg os "$os" \
      --arg arch "$arch" --arg variant "$variant" '{
        mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
        platform: ({architecture: $arch, os: $os} + (if $variant == "" then {} else {variant: $variant} end))
      }')")
  done
  local index; index=$(printf '%s\n' "${manifests[@]}" | jq -cS -s '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}')
  local idigest; idigest=$(put_blob "$dir" "$index")
  jq -cnS --arg d "sha256:$idigest" --argjson s "${#index}" --arg tag "$tag" '{
    schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": $tag}}]}' >"$dir/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}

put_blob() { # DIR CONTENT -> hex digest (content is ASCII JSON: ${#x} is its size)
  local d; d=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)
  printf '%s' "$2" >"$1/blobs/sha256/$d"
  printf '%s' "$d"
}

# The digest of the image index an OCI layout's index.json points at.
layout_digest() { jq -r '.manifests[0].digest' "$1/index.json"; }

# push_layout DIR TAG REF: copies the layout's image index (by digest) to REF
# unless REF already has that digest.
push_layout() {
  local dir=$1 tag=$2 ref=$3 want; want=$(layout_digest "$dir")
  [ "$(regctl manifest head "$ref" 2>/dev/null)" = "$want" ] && return 0
  log "pushing $ref ($want)"
  regctl image copy "ocidir://$dir@$want" "$ref" >"$LOG_DIR/push-$(basename "$dir").log" 2>&1 ||
    { tail -5 "$LOG_DIR/push-$(basename "$dir").log" >&2; die "pushing $ref failed"; }
  [ "$(regctl manifest head "$ref")" = "$want" ] || die "$ref does not have the digest $want after the push"
}

DEBIAN_TOOLS=(mmdebstrap arch-test)
ensure_debian_tools() {
  local missing=() p
  for p in "${DEBIAN_TOOLS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt-install-debian.log" 2>&1 ||
    { tail -20 "$LOG_DIR/apt-install-debian.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

# The debian base: three root file systems, one OCI layout, one push.
ensure_debian_base() {
  local key; key=$( { debian_rootfs_key; declare -f make_oci_layout put_blob; } | sha256sum | cut -c1-16)
  local layout="$CACHE_DIR/debian/oci/debian-$key"
  if [ ! -s "$layout/index.json" ]; then
    ensure_debian_tools
    # The root file systems at once: the foreign ones run under QEMU, one
    # core each, for minutes (in turn they were about half the cold test bed's
    # image time). Each is cached on its own, so the second loop only reads paths.
    local a pts=() pids=()
    for a in "${DEBIAN_ARCHES[@]}"; do (ensure_debian_rootfs "$a" >/dev/null) & pids+=($!); done
    for a in "${pids[@]}"; do wait "$a" || die "a Debian root file system could not be made (see $LOG_DIR/mmdebstrap-*.log)"; done
    for a in "${DEBIAN_ARCHES[@]}"; do pts+=("$(deb_platform "$a")=$(ensure_debian_rootfs "$a")"); done
    log "making the OCI layout of $DEBIAN_REF"
    local tmp; tmp=$(mktemp -d "$layout.XXXXXX")
    make_oci_layout "$tmp" "$DEBIAN_SUITE" "${pts[@]}"
    rm -rf "$layout"; mv "$tmp" "$layout"
  fi
  push_layout "$layout" "$DEBIAN_SUITE" "$DEBIAN_REF"
  DEBIAN_DIGEST=$(layout_digest "$layout")
}

# The Go toolchain image: testbed/golang/Dockerfile built by the test bed's
# buildkitd for every platform of the base, FROM the base by digest. The OCI
# layout buildkitd exports is the cache entry (keyed by the Dockerfile and the
# base's digest), so a fresh registry gets it back without a rebuild.
ensure_golang_image() {
  local df="$TESTBED_DIR/golang/Dockerfile" platforms=() a
  for a in "${DEBIAN_ARCHES[@]}"; do platforms+=("$(deb_platform "$a")"); done
  local plist; plist=$(IFS=,; echo "${platforms[*]}")
  local key; key=$( { cat "$df"; echo "$DEBIAN_DIGEST $plist"; } | sha256sum | cut -c1-16)
  local layout="$CACHE_DIR/debian/oci/golang-$key"
  if [ ! -s "$layout/index.json" ]; then
    local t=$SECONDS
    log "building $GOLANG_REF for $plist (log: $LOG_DIR/golang-image.log)"
    local tmp; tmp=$(mktemp -d "$layout.XXXXXX")
    buildctl --addr "unix://$BUILDKIT_SOCK" build --frontend dockerfile.v0 \
      --local context="$TESTBED_DIR/golang" --local dockerfile="$TESTBED_DIR/golang" \
      --opt platform="$plist" --opt build-arg:BASE="$DEBIAN_REF@$DEBIAN_DIGEST" \
      --output "type=oci,dest=$tmp,tar=false,name=$GOLANG_REF" >"$LOG_DIR/golang-image.log" 2>&1 ||
      { tail -15 "$LOG_DIR/golang-image.log" >&2; rm -rf "$tmp"; die "building $GOLANG_REF failed"; }
    rm -rf "$layout"; mv "$tmp" "$layout"
    log "$GOLANG_REF took $((SECONDS - t))s"
  fi
  push_layout "$layout" "$DEBIAN_SUITE" "$GOLANG_REF"
  GOLANG_DIGEST=$(layout_digest "$layout")
}

# Serialised: two test-bed runs at once (several checkouts, one cache) wait
# for each other instead of building the same thing twice.
ensure_debian_images() {
  mkdir -p "$CACHE_DIR/debian/oci"
  exec 9>"$CACHE_DIR/debian/.lock"
  flock 9
  ensure_debian_base
  ensure_golang_image
  flock -u 9; exec 9>&-
}
