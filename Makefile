# han_crypto — every target works on a fresh Debian 12 machine, as root or as
# a user with sudo: `make setup` (a dependency of the others) installs what
# is missing.

# The PostgreSQL major version to build, test and demo on: 15 (Debian's
# package, the default), 16, 17 or 18 (pinned trees that scripts/pg-trees.sh
# fetches). `make test` on 15 also runs the in-backend and pg_regress suites
# and the package test on every version in PG_ALSO.
PG           ?= 15
# From PG, not from the environment (a PG_CONFIG left exported would run
# half the layers on another version); `make PG_CONFIG=...` still wins.
PG_CONFIG    := $(shell scripts/pg-trees.sh pg_config $(PG))
PG_ALSO      ?= $(if $(filter 15,$(PG)),16 17 18)
PGRX_VERSION := $(shell sed -nE 's/^pgrx = "=?([^"]+)"/\1/p' Cargo.toml)
PGRX_PGDATA  ?= /tmp/han_crypto-pgrx
# initdb refuses root: hand the pgrx test server to `postgres`.
RUNAS        := $(if $(filter 0,$(shell id -u)),--runas postgres --pgdata $(PGRX_PGDATA))
DEMO_DIR     ?= /tmp/han_crypto-demo
DEMO_PORT    ?= 54329

export PG PG_CONFIG PG_ALSO PGRX_VERSION

.PHONY: setup build install install-release test test-core test-pg installcheck test-integration test-node \
        test-package package demo demo-stop bench fuzz lint schema clean redaction-report

setup:
	@scripts/setup.sh

# Only the test and package targets need the other versions' trees.
build install install-release demo bench schema redaction-report: PG_ALSO :=

build: setup
	cargo build -p han_crypto_core
	cargo pgrx package --pg-config "$(PG_CONFIG)"

install: setup
	cargo pgrx install --pg-config "$(PG_CONFIG)"

install-release: setup
	cargo pgrx install --release --pg-config "$(PG_CONFIG)"

# Every layer, then one closing line `total: N passed, M failed`.
test: setup
	@scripts/run-tests.sh all

test-core:
	@scripts/run-tests.sh core
test-pg: setup
	@scripts/run-tests.sh pg
installcheck: setup
	@scripts/run-tests.sh regress
test-integration: setup
	@scripts/run-tests.sh integration
test-node: setup
	@scripts/run-tests.sh node
test-package: setup
	@scripts/run-tests.sh package

# Release tarballs for $(PG) and $(PG_ALSO) in target/package/, with SHA256SUMS.
package: setup
	@scripts/package.sh build $(PG) $(PG_ALSO)

# The main job: a throw-away cluster with no configuration, the extension,
# and a guided tour. The cluster stays up for psql until `make demo-stop`.
demo: install-release
	@scripts/demo.sh $(DEMO_DIR) $(DEMO_PORT)

demo-stop:
	@scripts/pgcluster.sh stop $(DEMO_DIR)
	@echo "demo cluster stopped and removed"

bench: install-release
	cargo run --release -p han_crypto_tests --bin bench

# Recall, precision and F1 of the redactor on the public corpus, per type,
# and its scanning throughput (make redaction-report CORPUS=path/to.jsonl).
CORPUS ?= ../shared/corpus/corpus_public.jsonl
redaction-report: setup
	cargo run --release -q -p han_crypto_core --example redaction_report -- $(CORPUS)

# Coverage-guided fuzzing of the pure parsers (cargo-fuzz / libFuzzer).
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them. FUZZ_SECONDS per target (default 60).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := envelope envelope_json jwt sealed redact log_policy audit_event audit_export
fuzz:
	@cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
	cd crates/han_crypto_core && for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	@! grep -rnE '^pgrx|pgrx::|use pgrx' crates/han_crypto_core/src crates/han_crypto_core/Cargo.toml \
		|| (echo "han_crypto_core must not depend on pgrx" && false)

schema: setup
	cargo pgrx schema pg$(PG) --pg-config "$(PG_CONFIG)"

clean:
	cargo clean
	rm -rf tests/pg_regress/results tests/pg_regress/regression.*
