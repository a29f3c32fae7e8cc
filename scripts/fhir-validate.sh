#!/usr/bin/env bash
# Outside validation of FHIR JSON with PyPI fhir.resources 6.5 (pydantic<2),
# in its own virtual environment (target/fhir-venv, made once).
#
#   scripts/fhir-validate.sh [--emit] [--require Claim,ClaimResponse,...] [DIR ...]
#
# Validates every *.json (one resource or Bundle each) under the DIRs given
# and, always, crates/yilian-fhir/tests/data (the hand-written Synthea-style
# transaction bundle). --emit also dumps the resources the yilian-fhir
# mappers emit in their tests (YILIAN_FHIR_DUMP_DIR, tests/claims_measures.rs)
# to target/fhir-emitted and validates them. --require fails unless each
# listed resourceType was seen. See scripts/fhir_validate.py.
#
# fhir.resources 6.5 carries the FHIR 4.3.0 (R4B) models; 6.1.0 is the
# release with the R4 4.0.1 models: FHIR_RESOURCES_VERSION=6.1.0 uses it
# (in target/fhir-venv-6.1.0).
set -euo pipefail

cd "$(dirname "$0")/.."
VERSION="${FHIR_RESOURCES_VERSION:-6.5}"
if [ "$VERSION" = 6.5 ]; then VENV=target/fhir-venv; else VENV="target/fhir-venv-$VERSION"; fi
PY="$VENV/bin/python"

ready() {
    [ -x "$PY" ] && "$PY" -c '
import sys, fhir.resources, pydantic
assert fhir.resources.__version__.startswith(sys.argv[1]), fhir.resources.__version__
assert pydantic.VERSION.startswith("1."), pydantic.VERSION
' "$VERSION" 2>/dev/null
}

if ! ready; then
    mkdir -p target
    [ -x "$PY" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "fhir.resources==$VERSION" 'pydantic<2'
fi

emit=0
args=()
dirs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --emit) emit=1 ;;
        --require) args+=("--require" "$2"); shift ;;
        --require=*) args+=("$1") ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) dirs+=("$1") ;;
    esac
    shift
done

if [ "$emit" = 1 ]; then
    out=target/fhir-emitted
    rm -rf "$out"
    mkdir -p "$out"
    YILIAN_FHIR_DUMP_DIR="$PWD/$out" cargo test -q -p yilian-fhir --test claims_measures \
        dump_emitted_resources >/dev/null
    dirs+=("$out")
fi

exec "$PY" scripts/fhir_validate.py "${args[@]}" crates/yilian-fhir/tests/data "${dirs[@]}"
