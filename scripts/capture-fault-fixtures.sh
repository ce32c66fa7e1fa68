#!/usr/bin/env bash
# Captures the error texts of trivy (remote image scan) and buildx (push) when
# a registry fails, through testbed/faultproxy.mjs at rate 1 on one request
# kind, into __tests__/fixtures/faults/ (the classifiers' unit tests read them).
#   source .testbed/env && bash scripts/capture-fault-fixtures.sh
set -u
cd "$(dirname "$0")/.."
OUT=__tests__/fixtures/faults
PROXY=${TESTBED_FAULTPROXY:-testbed/faultproxy.mjs}
mkdir -p "$OUT"
tmp=$(mktemp -d)
builder=capture-$$
docker buildx create --name "$builder" --driver remote "$TESTBED_BUILDKIT_ENDPOINT" >/dev/null
trap 'docker buildx rm "$builder" >/dev/null 2>&1; kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

# proxy PORT KINDS FAULTS -> starts a proxy in front of registry A on PORT
proxy() {
  node "$PROXY" --upstream "$TESTBED_REGISTRY" --listen "127.0.0.1:$1" --rate 1 --kinds "$2" --faults "$3" \
    --max-seconds 300 --stall-seconds 5 --log "$tmp/proxy-$1.jsonl" >"$tmp/port-$1" &
  for _ in $(seq 50); do [ -s "$tmp/port-$1" ] && return; sleep 0.1; done
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# A pushed image to scan (straight to A, no faults).
repo=capture/app-$$
docker buildx build --builder "$builder" --platform linux/arm64 --provenance false \
  --output "type=image,name=$TESTBED_REGISTRY/$repo,push-by-digest=true,name-canonical=true,push=true" \
  --metadata-file "$tmp/meta.json" "$TESTBED_CONTEXTS/vulnapp" >/dev/null 2>&1
index=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])) ["containerimage.digest"])' "$tmp/meta.json")

# No DB yet: an error a retry cannot fix.
trivy image --image-src remote --platform linux/arm64 --cache-dir "$tmp/cache" --skip-db-update --skip-version-check --quiet \
  "$TESTBED_REGISTRY/$repo@$index" >/dev/null 2>"$OUT/trivy-db-missing.txt"; echo "trivy-db-missing: exit $?"
trivy image --download-db-only --db-repository "$TESTBED_TRIVY_DB_REPOSITORY" --cache-dir "$tmp/cache" --skip-version-check --no-progress >/dev/null 2>&1
n=0
for case in "blob-get 500 trivy-blob-get-500" "manifest-get 503 trivy-manifest-get-503" "blob-get reset-before-head trivy-blob-get-reset" "manifest-get 429 trivy-manifest-get-429"; do
  set -- $case; n=$((n + 1)); port=$((5101 + n))
  proxy "$port" "$1" "$2"; pid=$!
  trivy image --image-src remote --platform linux/arm64 --format json --output "$tmp/r.json" --cache-dir "$tmp/cache" \
    --skip-db-update --skip-java-db-update --skip-version-check --disable-telemetry --offline-scan --quiet --exit-code 0 \
    --scanners vuln "127.0.0.1:$port/$repo@$index" >/dev/null 2>"$OUT/$3.txt"
  echo "$3: exit $?"
  stop "$pid"
done
# The DB download: a 502 on the DB's blob, and a 503 on every request (trivy
# nests the cause under FATAL).
for case in "blob-get 502 trivy-db-download-blob-502" "all 503 trivy-db-download-503"; do
  set -- $case; n=$((n + 1)); port=$((5101 + n))
  proxy "$port" "$1" "$2"; pid=$!
  trivy image --download-db-only --db-repository "${TESTBED_TRIVY_DB_REPOSITORY/$TESTBED_REGISTRY/127.0.0.1:$port}" --cache-dir "$tmp/db-$n" \
    --skip-version-check --no-progress >/dev/null 2>"$OUT/$3.txt"
  echo "$3: exit $?"
  stop "$pid"
done
# The manifest list's dry run: a 502 on a manifest GET, and a reset HEAD (buildx says "not found").
for case in "manifest-get 502 imagetools-dry-run-get-502" "manifest-head reset-before-head imagetools-dry-run-not-found"; do
  set -- $case; n=$((n + 1)); port=$((5101 + n))
  proxy "$port" "$1" "$2"; pid=$!
  docker buildx imagetools create --builder "$builder" --dry-run "127.0.0.1:$port/$repo@$index" >/dev/null 2>"$OUT/$3.txt"
  echo "$3: exit $?"
  stop "$pid"
done
# An input error (not retried): a reference that does not parse.
trivy image --image-src remote --platform linux/arm64 --cache-dir "$tmp/cache" --skip-db-update --quiet "$TESTBED_REGISTRY/UPPER/Case@sha256:zz" \
  >/dev/null 2>"$OUT/trivy-bad-reference.txt"; echo "trivy-bad-reference: exit $?"

for case in "manifest-put 500 buildx-manifest-put-500" "upload-put reset-before-head buildx-upload-put-reset" "upload-post 502 buildx-upload-post-502"; do
  set -- $case; n=$((n + 1)); port=$((5101 + n))
  proxy "$port" "$1" "$2"; pid=$!
  docker buildx build --builder "$builder" --platform linux/arm64 --provenance false --progress plain --build-arg "CAPTURE=$3-$$" \
    --output "type=image,name=127.0.0.1:$port/$repo-$n,push-by-digest=true,name-canonical=true,push=true" \
    "$TESTBED_CONTEXTS/vulnapp" >/dev/null 2>"$OUT/$3.txt"
  echo "$3: exit $?"
  stop "$pid"
done
# A failing RUN step (never retried).
docker buildx build --builder "$builder" --platform linux/arm64 --provenance false --progress plain --build-arg FAIL_ARCH=aarch64 \
  --output "type=image,name=$TESTBED_REGISTRY/$repo-run,push-by-digest=true,name-canonical=true,push=true" \
  "$TESTBED_CONTEXTS/vulnapp" >/dev/null 2>"$OUT/buildx-run-step-failed.txt"
echo "buildx-run-step-failed: exit $?"
# Strip per-run noise that would make fixtures differ between captures.
sed -i -E "s#$tmp#/tmp/capture#g" "$OUT"/*.txt
