#!/usr/bin/env bash
# Samples of every FHIR resource type yilian serves, from a generated county.
#
#   scripts/fhir-samples.sh [OUT_DIR]        (default target/fhir-samples)
#
# Builds the CLI (debug; YILIAN_BIN=path uses that binary instead), runs
# `yilian demo` on a small generated county (FHIR_SAMPLES_RESIDENTS, default
# 2000, seed 11) in a temporary SQLite file on a free port, waits for
# /healthz, and runs scripts/fhir_samples.py against it: a search and reads
# for every type of /fhir/metadata, as the demo user each type needs, into
# OUT_DIR (one JSON file per resource and per searchset Bundle, plus TYPES,
# the metadata's types). The server and the temporary files are removed on
# exit. Then: scripts/fhir-validate.sh --require "$(cat OUT_DIR/TYPES)" OUT_DIR
# (`make fhir-validate` runs both).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${1:-target/fhir-samples}"
RESIDENTS="${FHIR_SAMPLES_RESIDENTS:-2000}"
PASSWORD=yilian-demo
mkdir -p "$OUT"
rm -f "$OUT/TYPES"  # so a failure before the samples leaves none to validate

BIN="${YILIAN_BIN:-}"
if [ -z "$BIN" ]; then
    BIN=target/debug/yilian
    if ! cargo build -q -p yilian-cli; then
        # Others may be mid-edit in the workspace: a binary from an earlier
        # build still samples what the server emitted then.
        [ -x "$BIN" ] || { echo "fhir-samples: cargo build -p yilian-cli failed" >&2; exit 1; }
        echo "fhir-samples: WARNING: the build failed; using the existing $BIN" >&2
    fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/yilian-fhir-samples.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
echo "fhir-samples: generating $RESIDENTS residents and serving at $base"
YILIAN_LOG=warn "$BIN" --db "sqlite://$tmp/county.db" demo --residents "$RESIDENTS" --seed 11 \
    --addr "127.0.0.1:$port" --demo-password "$PASSWORD" >"$tmp/server.log" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 600); do
    if curl -sf "$base/healthz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
if [ "$up" != 1 ]; then
    echo "fhir-samples: the server did not come up; its log:" >&2
    tail -40 "$tmp/server.log" >&2
    exit 1
fi

rc=0
python3 scripts/fhir_samples.py --base "$base" --password "$PASSWORD" --out "$OUT" || rc=$?
if [ "$rc" != 0 ] && grep -q ERROR "$tmp/server.log"; then
    echo "fhir-samples: server errors logged:" >&2
    grep ERROR "$tmp/server.log" | tail -10 >&2
fi
exit "$rc"
