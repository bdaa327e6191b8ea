#!/usr/bin/env bash
# Runs han_crypto's test layers and ends with one summary line,
#   total: N passed, M failed
# summing every cargo test result and every pg_regress test.
#
#   run-tests.sh all | core | pg | regress | node | integration | versions | package | cross-version
#
# On the PostgreSQL major version $PG (default 15; $PG_CONFIG is its
# pg_config). `all` runs every layer on $PG, then the in-backend and
# pg_regress suites on each version in $PG_ALSO (the Makefile sets 16 17 18
# when PG is 15), the package test on $PG and $PG_ALSO, and the
# cross-version dump/restore from 15 into each newer version.
#
# Layers:
#   core         pure Rust: unit, published vectors, property tests (no PostgreSQL)
#   pg           #[pg_test]s inside a real backend (cargo pgrx test)
#   regress      pg_regress golden SQL files against a throw-away cluster
#   node         node-postgres (the platform's stack) against a throw-away cluster
#   integration  real client (rust-postgres): several roles, connections, restarts, log greps
#   versions     pg and regress on each version in $PG_ALSO
#   package      release packages (scripts/package.sh) installed into clean trees, then
#                regress; deploy/Dockerfile linted and replayed (scripts/check-deploy.sh)
#   cross-version  pg_dump of a 15 cluster restored into each newer version tested here
set -uo pipefail
cd "$(dirname "$0")/.."

PG=${PG:-15}
export PG_CONFIG=${PG_CONFIG:-$(scripts/pg-trees.sh pg_config "$PG")}
PG_ALSO=${PG_ALSO:-}
PGRX_PGDATA=${PGRX_PGDATA:-/tmp/han_crypto-pgrx}
if [ "$("$PG_CONFIG" --version | sed -nE 's/^PostgreSQL ([0-9]+).*/\1/p')" != "$PG" ]; then
    echo "run-tests: PG=$PG but PG_CONFIG=$PG_CONFIG is $("$PG_CONFIG" --version)" >&2
    exit 2
fi
LOGS=target/test-logs
mkdir -p "$LOGS"
passed=0; failed=0; status=0

add_cargo_counts() {
    local p f
    read -r p f < <(grep -E '^test result:' "$1" \
        | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/' \
        | awk '{p += $1; f += $2} END {print p + 0, f + 0}')
    passed=$((passed + p)); failed=$((failed + f))
}

run() {   # run NAME CMD...: tee output to a log, count, remember failure
    local name=$1; shift
    echo "==> $name"
    "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    add_cargo_counts "$LOGS/$name.log"
    if [ "$rc" != 0 ]; then
        echo "==> $name FAILED (exit $rc)"; status=1
        # A layer that died before reporting still counts as a failure.
        grep -qE '^test result: .* [1-9][0-9]* failed' "$LOGS/$name.log" || failed=$((failed + 1))
    fi
}

check() {   # check NAME CMD...: one pass or one failure
    local name=$1; shift
    echo "==> $name"
    if "$@" 2>&1 | tee "$LOGS/$name.log"; [ "${PIPESTATUS[0]}" = 0 ]; then
        passed=$((passed + 1))
    else
        echo "==> $name FAILED"; status=1; failed=$((failed + 1))
    fi
}

layer_core() {
    run core cargo test -p han_crypto_core
    run cli cargo test -p han_crypto_cli
}

# on_version MAJOR CMD...: CMD with PG and PG_CONFIG set to MAJOR's.
on_version() {
    local PG=$1
    local -x PG_CONFIG
    PG_CONFIG=$(scripts/pg-trees.sh pg_config "$1")
    shift
    "$@"
}

# Log and layer names carry the version when it is not the default.
tag() { if [ "$PG" = 15 ]; then echo "$1"; else echo "$1-pg$PG"; fi; }

layer_pg() {
    local runas=() pgdata=$PGRX_PGDATA
    [ "$PG" = 15 ] || pgdata="$PGRX_PGDATA-$PG"
    if [ "$(id -u)" = 0 ]; then
        install -d -o postgres -g postgres "$pgdata"
        runas=(--runas postgres --pgdata "$pgdata")
    fi
    run "$(tag pg)" cargo pgrx test "pg$PG" "${runas[@]}"
}

install_ext() {   # install_ext NAME: the debug build into $PG_CONFIG's server
    cargo pgrx install --pg-config "$PG_CONFIG" >"$LOGS/$1-install.log" 2>&1 \
        || { tail -n 30 "$LOGS/$1-install.log"; status=1; failed=$((failed + 1)); return 1; }
}

layer_regress() {
    local name
    name=$(tag regress)
    echo "==> $name"
    install_ext "$name" || return
    run_regress "$name"
}

# run_regress NAME: the pg_regress suite against the han_crypto that is
# installed in $PG_CONFIG's server.
run_regress() {
    local name=$1
    local dir=/tmp/han_crypto-regress port=55433 out=target/$name
    scripts/pgcluster.sh stop "$dir"
    # A fixed, public test key: the regression output must not depend on a generated one.
    HAN_CRYPTO_ROOT_KEY=$(printf '0%.0s' {1..63}; echo 1) scripts/pgcluster.sh start "$dir" "$port" "log_statement = 'all'" \
        "session_preload_libraries = 'han_crypto'"
    rm -rf "$out"; mkdir -p "$out"
    local tests
    tests=$(cd tests/pg_regress/sql && ls ./*.sql | sed 's|^\./||; s/\.sql$//')
    "$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
        --bindir="$("$PG_CONFIG" --bindir)" \
        --host="$dir" --port="$port" --user=postgres --dbname=han_crypto_regress \
        --inputdir=tests/pg_regress --outputdir="$out" \
        $tests 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    local total nfail
    total=$(echo "$tests" | wc -w)
    nfail=$(grep -cE '^(not ok|test .* \.\.\. FAILED| .* \.\.\. FAILED)' "$LOGS/$name.log" || true)
    if [ "$rc" != 0 ]; then
        status=1
        [ "$nfail" -gt 0 ] || nfail=$total
        [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
    fi
    passed=$((passed + total - nfail)); failed=$((failed + nfail))
    scripts/pgcluster.sh stop "$dir"
}

layer_node() {
    echo "==> $(tag node)"
    install_ext "$(tag node)" || return
    (cd tests/node && npm install --no-audit --no-fund --silent) >"$LOGS/node-npm.log" 2>&1 \
        || { tail -n 30 "$LOGS/node-npm.log"; status=1; failed=$((failed + 1)); return; }
    local dir=/tmp/han_crypto-node port=55434
    scripts/pgcluster.sh stop "$dir"
    HAN_CRYPTO_ROOT_KEY=$(printf 'c%.0s' {1..64}) scripts/pgcluster.sh start "$dir" "$port"
    (cd tests/node && PGHOST="$dir" PGPORT="$port" node --test) 2>&1 | tee "$LOGS/$(tag node).log"
    local rc=${PIPESTATUS[0]} p f
    p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$LOGS/$(tag node).log"); f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$LOGS/$(tag node).log")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" != 0 ]; then status=1; [ "${f:-0}" -gt 0 ] || failed=$((failed + 1)); fi
    scripts/pgcluster.sh stop "$dir"
}

layer_integration() {
    install_ext "$(tag integration)" || return
    run "$(tag integration)" cargo test -p han_crypto_tests --no-fail-fast
}

layer_versions() {
    local v
    for v in $PG_ALSO; do
        on_version "$v" layer_pg
        on_version "$v" layer_regress
    done
}

# install.sh of package DIR (built for MAJOR) refuses, with its message and
# without writing anything, servers of another major version and
# pre-releases of its own (a stub pg_config reporting each).
refuses_other_servers() {
    local pkg=$1 major=$2 stub reported out
    stub=$(mktemp -d)
    for reported in "PostgreSQL $((major + 1)).1" "PostgreSQL $((major - 1)).9 (Debian)" \
                    "PostgreSQL ${major}beta1" "PostgreSQL ${major}rc1" "PostgreSQL $((major + 1))devel"; do
        printf '#!/bin/sh\ncase "$1" in --version) echo "%s";; --pkglibdir) echo "%s/lib";; --sharedir) echo "%s/share";; esac\n' \
            "$reported" "$stub" "$stub" >"$stub/pg_config"
        chmod +x "$stub/pg_config"
        if out=$(PG_CONFIG=$stub/pg_config "$pkg/install.sh" 2>&1); then
            echo "install.sh accepted a server reporting \"$reported\""; return 1
        fi
        echo "$out" | grep -qE "^install.sh: .*(built for PostgreSQL $major|not a PostgreSQL release)" \
            || { echo "install.sh refused \"$reported\" without saying why: $out"; return 1; }
        [ ! -e "$stub/lib" ] && [ ! -e "$stub/share" ] \
            || { echo "install.sh wrote files for \"$reported\""; return 1; }
    done
    rm -rf "$stub"
}

# The release package of each version, installed with its own install.sh
# into a clean tree of that version (not the build tree), then pg_regress.
layer_package() {
    local versions v
    versions=$(echo "$PG" $PG_ALSO | tr ' ' '\n' | sort -un | tr '\n' ' ')
    echo "==> package build ($versions)"
    # shellcheck disable=SC2086
    scripts/package.sh build $versions 2>&1 | tee "$LOGS/package-build.log"
    if [ "${PIPESTATUS[0]}" != 0 ]; then status=1; failed=$((failed + 1)); return; fi
    (cd target/package && sha256sum --check --quiet SHA256SUMS) \
        || { echo "==> package checksums FAILED"; status=1; failed=$((failed + 1)); return; }
    check "deploy-lint" scripts/check-deploy.sh lint
    for v in $versions; do
        local tree=/tmp/han_crypto-package-tree-$v pgc tarball
        echo "==> package-pg$v: clean tree $tree"
        pgc=$(scripts/package.sh fresh "$v" "$tree" | tail -n 1) \
            || { status=1; failed=$((failed + 1)); continue; }
        tarball=$(ls target/package/han_crypto-*-pg"$v"-*.tar.gz)
        rm -rf "$tree.pkg" && mkdir -p "$tree.pkg" && tar -xzf "$tarball" -C "$tree.pkg"
        if ! PG_CONFIG=$pgc "$tree.pkg"/*/install.sh; then
            status=1; failed=$((failed + 1)); continue
        fi
        check "package-pg$v-refuses-other-servers" refuses_other_servers "$tree.pkg"/* "$v"
        local PG=$v
        PG_CONFIG=$pgc run_regress "package-pg$v"
        rm -rf "$tree" "$tree.pkg"
        check "deploy-replay-pg$v" scripts/check-deploy.sh replay "$v"
    done
}

# pg_dump of a 15 cluster restored into each newer version tested here.
layer_cross_version() {
    local v
    on_version 15 install_ext cross-version-pg15 || return
    for v in $(echo "$PG" $PG_ALSO | tr ' ' '\n' | sort -un); do
        [ "$v" -gt 15 ] || continue
        on_version "$v" install_ext "cross-version-pg$v" || continue
        HAN_CRYPTO_FROM_PG_CONFIG=$(scripts/pg-trees.sh pg_config 15) \
            HAN_CRYPTO_TO_PG_CONFIG=$(scripts/pg-trees.sh pg_config "$v") \
            run "cross-version-15-to-$v" cargo test -p han_crypto_tests --test cross_version -- --ignored
    done
}

# The layers that use other versions fetch and register what they need
# (setup skips what is present; `make install test` ran it without them).
case "${1:-all}" in
    all|versions|package|cross-version)
        PGRX_VERSION=${PGRX_VERSION:-$(sed -nE 's/^pgrx = "=?([^"]+)"/\1/p' Cargo.toml)} PG=$PG PG_ALSO=$PG_ALSO \
            scripts/setup.sh || exit 1 ;;
esac

case "${1:-all}" in
    core) layer_core ;;
    pg) layer_pg ;;
    regress) layer_regress ;;
    node) layer_node ;;
    integration) layer_integration ;;
    versions) layer_versions ;;
    package) layer_package ;;
    cross-version) layer_cross_version ;;
    all)
        layer_core; layer_pg; layer_regress; layer_node; layer_integration
        layer_versions; layer_package; layer_cross_version
        ;;
    *) echo "usage: $0 all|core|pg|regress|node|integration|versions|package|cross-version" >&2; exit 2 ;;
esac

echo "total: $passed passed, $failed failed"
exit $status
