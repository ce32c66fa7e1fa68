#!/usr/bin/env bash
# Stops what up.sh started (by pid files). Caches and registry storage stay.
source "$(dirname "$0")/lib/common.sh"
source "$TESTBED_DIR/lib/services.sh"
stop_buildkit_nodes
for svc in buildkitd registry-b registry-a dockerd; do stop_service "$svc"; done
