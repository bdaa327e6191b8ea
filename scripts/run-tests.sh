#!/usr/bin/env bash
# Runs han_crypto's test layers and ends with one summary line,
#   total: N passed, M failed
# summing every cargo test result and every pg_regress test.
#
#   run-tests.sh all | core | pg | regress | integration
#
# Layers:
#   core         pure Rust: unit, published vectors, property tests (no PostgreSQL)
#   pg           #[pg_test]s inside a real backend (cargo pgrx test)
#   regress      pg_regress golden SQL files against a throw-away cluster
#   node         node-postgres (the platform's stack) against a throw-away cluster
#   integration  real client (rust-postgres): several roles, connections, restarts, log greps
set -uo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_PGDATA=${PGRX_PGDATA:-/tmp/han_crypto-pgrx}
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

layer_core() { run core cargo test -p han_crypto_core; }

layer_pg() {
    local runas=()
    if [ "$(id -u)" = 0 ]; then
        install -d -o postgres -g postgres "$PGRX_PGDATA"
        runas=(--runas postgres --pgdata "$PGRX_PGDATA")
    fi
    run pg cargo pgrx test pg15 "${runas[@]}"
}

layer_regress() {
    echo "==> regress"
    cargo pgrx install --pg-config "$PG_CONFIG" >"$LOGS/regress-install.log" 2>&1 \
        || { tail -n 30 "$LOGS/regress-install.log"; status=1; failed=$((failed + 1)); return; }
    local dir=/tmp/han_crypto-regress port=55433 out=target/regress
    scripts/pgcluster.sh stop "$dir"
    # A fixed, public test key: the regression output must not depend on a generated one.
    HAN_CRYPTO_ROOT_KEY=$(printf '0%.0s' {1..63}; echo 1) scripts/pgcluster.sh start "$dir" "$port" "log_statement = 'all'" \
        "session_preload_libraries = 'han_crypto'"
    rm -rf "$out"; mkdir -p "$out"
    local tests
    tests=$(cd tests/pg_regress/sql && ls ./*.sql | sed 's|^\./||; s/\.sql$//')
    "$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
        --host="$dir" --port="$port" --user=postgres --dbname=han_crypto_regress \
        --inputdir=tests/pg_regress --outputdir="$out" \
        $tests 2>&1 | tee "$LOGS/regress.log"
    local rc=${PIPESTATUS[0]}
    local total nfail
    total=$(echo "$tests" | wc -w)
    nfail=$(grep -cE '^(not ok|test .* \.\.\. FAILED| .* \.\.\. FAILED)' "$LOGS/regress.log" || true)
    if [ "$rc" != 0 ]; then
        status=1
        [ "$nfail" -gt 0 ] || nfail=$total
        [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
    fi
    passed=$((passed + total - nfail)); failed=$((failed + nfail))
    scripts/pgcluster.sh stop "$dir"
}

layer_node() {
    echo "==> node"
    cargo pgrx install --pg-config "$PG_CONFIG" >"$LOGS/node-install.log" 2>&1 \
        || { tail -n 30 "$LOGS/node-install.log"; status=1; failed=$((failed + 1)); return; }
    (cd tests/node && npm install --no-audit --no-fund --silent) >"$LOGS/node-npm.log" 2>&1 \
        || { tail -n 30 "$LOGS/node-npm.log"; status=1; failed=$((failed + 1)); return; }
    local dir=/tmp/han_crypto-node port=55434
    scripts/pgcluster.sh stop "$dir"
    HAN_CRYPTO_ROOT_KEY=$(printf 'c%.0s' {1..64}) scripts/pgcluster.sh start "$dir" "$port"
    (cd tests/node && PGHOST="$dir" PGPORT="$port" node --test) 2>&1 | tee "$LOGS/node.log"
    local rc=${PIPESTATUS[0]} p f
    p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$LOGS/node.log"); f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$LOGS/node.log")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" != 0 ]; then status=1; [ "${f:-0}" -gt 0 ] || failed=$((failed + 1)); fi
    scripts/pgcluster.sh stop "$dir"
}

layer_integration() {
    cargo pgrx install --pg-config "$PG_CONFIG" >"$LOGS/integration-install.log" 2>&1 \
        || { tail -n 30 "$LOGS/integration-install.log"; status=1; failed=$((failed + 1)); return; }
    run integration cargo test -p han_crypto_tests --no-fail-fast
}

case "${1:-all}" in
    core) layer_core ;;
    pg) layer_pg ;;
    regress) layer_regress ;;
    node) layer_node ;;
    integration) layer_integration ;;
    all) layer_core; layer_pg; layer_regress; layer_node; layer_integration ;;
    *) echo "usage: $0 all|core|pg|regress|node|integration" >&2; exit 2 ;;
esac

echo "total: $passed passed, $failed failed"
exit $status
