# yilian — entry points. `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
CARGO ?= cargo
YILIAN := ./target/release/yilian
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
E2E_PORT ?= 18080
E2E_DB := /tmp/yilian-e2e-$(shell id -u).db

.PHONY: all assets build demo test test-pg lint e2e bench clean

all: build

## Front-end assets from npm (htmx, the GB/T 2260 table) into web/dist.
assets: web/dist/htmx.min.js

web/dist/htmx.min.js: web/package.json web/package-lock.json web/build.mjs web/src/app.css
	cd web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

build: assets
	$(CARGO) build --release -p yilian-cli

## Generate the demo county (100,000 residents) into yilian.db and serve it at http://127.0.0.1:8080.
demo: build
	$(YILIAN) demo

## The full test suite: unit, store contract and API tests (SQLite; PostgreSQL too when YILIAN_TEST_PG is set),
## and the benchmark results table's scripts.
test: assets
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc
	python3 -m unittest discover -s scripts -p 'test_*.py'

## The PostgreSQL leg: the contract and API suites against $(PG_URL).
test-pg: assets
	YILIAN_TEST_PG=$(PG_URL) $(CARGO) test -p yilian-store -p yilian-server --no-fail-fast -- postgres

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Browser smoke test: a generated county served on :$(E2E_PORT), driven by Debian's Chromium.
e2e: build
	rm -f $(E2E_DB) $(E2E_DB)-wal $(E2E_DB)-shm
	$(YILIAN) --db sqlite://$(E2E_DB) generate --residents 3000 --seed 11 --demo-password yilian-demo
	@set -e; $(YILIAN) --db sqlite://$(E2E_DB) serve --addr 127.0.0.1:$(E2E_PORT) & pid=$$!; \
	trap "kill $$pid 2>/dev/null || true" EXIT; \
	for i in $$(seq 1 50); do curl -sf http://127.0.0.1:$(E2E_PORT)/healthz >/dev/null && break; sleep 0.2; done; \
	rc=0; BASE_URL=http://127.0.0.1:$(E2E_PORT) E2E_PASSWORD=yilian-demo node e2e/smoke.mjs || rc=$$?; \
	if [ $$rc = 3 ]; then \
		echo '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'; \
		echo '!!! SKIPPED the browser journeys: Chromium could not start (its log is above)'; \
		echo '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'; \
	else exit $$rc; fi

## Outside FHIR validation (issue 10): a search and reads of every resource type /fhir/metadata
## lists, from a generated county, validated with PyPI fhir.resources 6.5 (FHIR 4.3.0 models) and
## 6.1.0 (R4 4.0.1 models), each in its own venv under target/. Samples are validated even when
## some request failed, so one run reports both.
FHIR_SAMPLES := target/fhir-samples
.PHONY: fhir-validate
fhir-validate:
	@rc=0; bash scripts/fhir-samples.sh $(FHIR_SAMPLES) || rc=1; \
	test -s $(FHIR_SAMPLES)/TYPES || { echo "fhir-validate: no samples (see above)"; exit 1; }; \
	types="$$(cat $(FHIR_SAMPLES)/TYPES)"; \
	bash scripts/fhir-validate.sh --require "$$types" $(FHIR_SAMPLES) || rc=1; \
	FHIR_RESOURCES_VERSION=6.1.0 bash scripts/fhir-validate.sh --require "$$types" $(FHIR_SAMPLES) || rc=1; \
	exit $$rc

## Benchmarks (see docs/BENCHMARKS.md).
## The whole benchmark set (issue 9): the tools it drives come from Debian and the peers from
## PyPI and crates.io (installed by the scripts); writes bench-results/results.{md,json}.
bench: build
	@missing=""; for t in wrk sqlite3 /usr/bin/time; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "installing wrk sqlite3 time (Debian)"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get install -y wrk sqlite3 time || { $$sudo apt-get update && $$sudo apt-get install -y wrk sqlite3 time; }; fi
	bash scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf web/dist web/node_modules e2e/artifacts
