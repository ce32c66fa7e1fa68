#!/usr/bin/env bash
# Builds the pinned Go tools (buildx, buildkitd, buildctl, trivy, act, regctl,
# actionlint) from the Go module proxy into $CACHE_DIR/tools/<name>/<version>/,
# then links them into $TOOLS_BIN. A tool whose cache entry exists is not rebuilt.
source "$(dirname "$0")/lib/common.sh"

tool_dir() { printf '%s/tools/%s/%s' "$CACHE_DIR" "$1" "$2"; }

# have NAME VERSION BINARY...: true when every binary is cached.
have() {
  local dir; dir=$(tool_dir "$1" "$2"); shift 2
  local b; for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

# go_install NAME VERSION PACKAGE [go build flags...]
go_install() {
  local name=$1 version=$2 pkg=$3; shift 3
  local dir; dir=$(tool_dir "$name" "$version")
  local bin=${pkg##*/}
  if have "$name" "$version" "$bin"; then return 0; fi
  log "building $name $version ($pkg)"
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" go install -trimpath "$@" "$pkg@$version"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

build_buildx() {
  local v=$BUILDX_VERSION
  go_install buildx "$v" github.com/docker/buildx/cmd/buildx \
    -ldflags "-s -w -X github.com/docker/buildx/version.Version=$v -X github.com/docker/buildx/version.Revision=$BUILDX_REVISION -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
}

# buildkit's go.mod has exclude directives, which `go install pkg@version`
# refuses, so build from a scratch module that requires it and repeats them.
build_buildkit() {
  local v=$BUILDKIT_VERSION dir; dir=$(tool_dir buildkit "$v")
  have buildkit "$v" buildkitd buildctl && return 0
  log "building buildkitd and buildctl $v"
  local mod="$CACHE_DIR/src/buildkit-$v"
  rm -rf "$mod"; mkdir -p "$mod"
  (
    cd "$mod"
    go mod init testbed/buildkit >/dev/null 2>&1
    # Repeat buildkit's own exclude lines so version selection matches it.
    go mod download -json "github.com/moby/buildkit@$v" >/dev/null
    local gomod; gomod=$(go mod download -json "github.com/moby/buildkit@$v" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
    # Single-line `exclude m v` and block `exclude ( ... )` forms; comments dropped.
    sed -e 's,//.*,,' "$gomod" | awk '
      /^exclude \(/ { inblock = 1; next }
      inblock && /^\)/ { inblock = 0; next }
      inblock && NF == 2 { print $1 "@" $2; next }
      /^exclude [^(]/ && NF == 3 { print $2 "@" $3 }' |
      while read -r mv; do go mod edit -exclude="$mv"; done
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
GO
    go get "github.com/moby/buildkit/cmd/buildkitd@$v" "github.com/moby/buildkit/cmd/buildctl@$v" >/dev/null
    mkdir -p "$dir.tmp"
    local ld="-s -w -X github.com/moby/buildkit/version.Version=$v -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
    go build -mod=mod -trimpath -tags 'osusergo netgo static_build seccomp' -ldflags "$ld" -o "$dir.tmp/buildkitd" github.com/moby/buildkit/cmd/buildkitd
    go build -mod=mod -trimpath -ldflags "$ld" -o "$dir.tmp/buildctl" github.com/moby/buildkit/cmd/buildctl
  )
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

# The proxy refuses trivy's version list, which `go install pkg@version` reads
# for its deprecation check; a scratch module requiring the exact version
# builds the same binary without that look-up.
build_trivy() {
  local v=$TRIVY_VERSION dir; dir=$(tool_dir trivy "$v")
  have trivy "$v" trivy && return 0
  log "building trivy $v"
  local mod="$CACHE_DIR/src/trivy-$v"
  rm -rf "$mod"; mkdir -p "$mod"
  (
    cd "$mod"
    go mod init testbed/trivy >/dev/null 2>&1
    go mod edit -require="github.com/aquasecurity/trivy@$v"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/aquasecurity/trivy/cmd/trivy"\n' > tools.go
    GOEXPERIMENT=jsonv2 go mod tidy
    mkdir -p "$dir.tmp"
    GOEXPERIMENT=jsonv2 go build -mod=mod -trimpath \
      -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${v#v}" \
      -o "$dir.tmp/trivy" github.com/aquasecurity/trivy/cmd/trivy
  )
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}
build_act() {
  go_install act "$ACT_VERSION" github.com/nektos/act \
    -ldflags "-s -w -X main.version=${ACT_VERSION#v}"
}
build_regctl() {
  go_install regctl "$REGCTL_VERSION" github.com/regclient/regclient/cmd/regctl -ldflags "-s -w"
}
build_actionlint() {
  go_install actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint -ldflags "-s -w"
}

link() { # link NAME VERSION BINARY [LINKNAME]
  ln -sf "$(tool_dir "$1" "$2")/$3" "$TOOLS_BIN/${4:-$3}"
}

main() {
  local only=${1:-all}
  case $only in
    all) build_buildx; build_buildkit; build_regctl; build_act; build_trivy; build_actionlint ;;
    actionlint) build_actionlint; link actionlint "$ACTIONLINT_VERSION" actionlint; return 0 ;;
    *) "build_$only" ;;
  esac
  link buildx "$BUILDX_VERSION" buildx
  link buildkit "$BUILDKIT_VERSION" buildkitd
  link buildkit "$BUILDKIT_VERSION" buildctl
  [ "$only" = all ] || return 0
  link trivy "$TRIVY_VERSION" trivy
  link act "$ACT_VERSION" act
  link regctl "$REGCTL_VERSION" regctl
  link actionlint "$ACTIONLINT_VERSION" actionlint
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$(tool_dir buildx "$BUILDX_VERSION")/buildx" "$HOME/.docker/cli-plugins/docker-buildx"
}
main "$@"
