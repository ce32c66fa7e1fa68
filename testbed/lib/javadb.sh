# The test bed's trivy Java DB and the Java image context. Sourced by up.sh
# after lib/services.sh; ensure_java runs after ensure_contexts (it writes the
# JARs into .testbed/contexts/javaapp).
#
# trivy v0.74.0 (pkg/javadb) downloads its Java DB from --java-db-repository:
# an OCI artifact with one layer of media type
# application/vnd.aquasec.trivy.javadb.layer.v1.tar+gzip whose
# org.opencontainers.image.title names the file (a .tar.gz, unpacked into
# <cache-dir>/java-db/). The tar holds trivy-java.db (SQLite: tables artifacts
# and indices, schema 1 of github.com/aquasecurity/trivy-java-db) and
# metadata.json ({"Version":1,"NextUpdate":...,"UpdatedAt":...,"DownloadedAt":...}).
# shellcheck shell=bash

TRIVY_JAVA_DB_REPO="$REGISTRY_A/aquasecurity/trivy-java-db"
# Which greeter version each platform of the Java image carries (the
# directory names are ${TARGETARCH}${TARGETVARIANT}).
JAVA_APP_JARS=(amd64=1.1 arm64=1.0 armv7=1.1)

ensure_java() {
  local src="$TESTBED_DIR/javadbgen" hash
  hash=$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)
  local gen="$CACHE_DIR/tools/javadbgen/$hash/javadbgen"
  if [ ! -x "$gen" ]; then
    log "building javadbgen"
    mkdir -p "$(dirname "$gen")"
    (cd "$src" && go build -trimpath -o "$gen.tmp" . && mv "$gen.tmp" "$gen")
  fi
  local out="$STATE_DIR/trivy-java-db"
  rm -rf "$out"; mkdir -p "$out"
  "$gen" -db "$out/db" -jars "$out/jars" "$TESTBED_DIR/fixtures/java-db.yaml"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$out/db" -cf - metadata.json trivy-java.db |
    gzip -n >"$out/javadb.tar.gz"

  local ctx="$STATE_DIR/contexts/javaapp" pv
  [ -d "$ctx" ] || die "no context $ctx: ensure_contexts must run first"
  for pv in "${JAVA_APP_JARS[@]}"; do
    mkdir -p "$ctx/jars/${pv%%=*}"
    cp "$out/jars/greeter-${pv#*=}.jar" "$ctx/jars/${pv%%=*}/greeter.jar"
  done

  local want; want=sha256:$(sha256sum "$out/javadb.tar.gz" | cut -d' ' -f1)
  if regctl manifest get "$TRIVY_JAVA_DB_REPO:1" --format '{{json .}}' 2>/dev/null | grep -q "$want"; then
    return 0
  fi
  log "pushing the Java DB to $TRIVY_JAVA_DB_REPO:1"
  (cd "$out" && regctl artifact put \
    --config-type application/vnd.aquasec.trivy.config.v1+json \
    --file javadb.tar.gz --file-media-type application/vnd.aquasec.trivy.javadb.layer.v1.tar+gzip \
    --file-title "$TRIVY_JAVA_DB_REPO:1" >/dev/null)
}
