# Shared settings for the test-bed scripts. Sourced, never executed.
# shellcheck shell=bash
set -euo pipefail

TESTBED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$TESTBED_DIR/.." && pwd)"
# State that lives as long as the clone: pid files, logs, registry storage, env.
STATE_DIR="${TESTBED_STATE_DIR:-$REPO_ROOT/.testbed}"
# Caches that outlive a clone: built tools, Go module and build caches.
CACHE_DIR="${TESTBED_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/multiarch-testbed}"
TOOLS_BIN="$STATE_DIR/bin"

# shellcheck source=../versions.env
source "$TESTBED_DIR/versions.env"

export GOTOOLCHAIN=local
export CGO_ENABLED=0

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$STATE_DIR" "$CACHE_DIR" "$TOOLS_BIN"
