#!/usr/bin/env bash
# Brings the test bed up, idempotently: Debian packages, binfmt/QEMU, dockerd,
# pinned Go tools, buildkitd, two registries, the vulnerability DB and the test
# image contexts; then writes .testbed/env. A second run rebuilds nothing.
source "$(dirname "$0")/lib/common.sh"
source "$TESTBED_DIR/lib/services.sh"

t0=$(date +%s)
step() { log "$* (+$(( $(date +%s) - t0 ))s)"; }

step "packages";          ensure_packages
step "binfmt";            ensure_binfmt
step "dockerd";           ensure_dockerd
step "tools";             bash "$TESTBED_DIR/build-tools.sh" all
export PATH="$TOOLS_BIN:$PATH"
step "registries";        ensure_registries
step "buildkitd";         ensure_buildkitd
step "builder images";    ensure_images
step "buildkitd nodes";   ensure_buildkit_nodes
step "vulnerability db";  ensure_trivy_db
step "debian images";     ensure_debian_images
step "test images";       ensure_contexts
step "java db";           ensure_java
write_env
step "up"
status
