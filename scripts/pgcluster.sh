#!/usr/bin/env bash
# Throw-away PostgreSQL clusters for the demo, pg_regress, integration
# tests and benchmarks. The server is the one $PG_CONFIG belongs to
# (default Debian's 15; scripts/pg-trees.sh knows the others); a cluster
# remembers it, so stop and restart use the binaries it was started with.
#
#   pgcluster.sh start DIR PORT [GUC=VALUE ...]   initdb (if needed) and start
#   pgcluster.sh stop DIR                          stop and delete DIR
#
# PG_ADDRESS_SPACE_KB, when set, starts the server under `ulimit -v` with it
# (a server whose allocations can fail, as under vm.overcommit_memory = 2).
#   pgcluster.sh restart DIR                       restart with the current environment
#   pgcluster.sh standby DIR PORT PRIMARY_DIR PRIMARY_PORT
#                                                  a streaming hot standby of a running
#                                                  cluster (pg_basebackup -R), started
#
# The server never runs as root (initdb refuses to): as root, every server
# command runs as the `postgres` user. The server inherits this script's
# environment, so HAN_CRYPTO_ROOT_KEY reaches it the way a platform passes
# secrets; it is never put on a command line. Authentication is `trust` on
# the cluster's own socket directory and 127.0.0.1 only: a test fixture.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

as_server_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart DIR [PORT [GUC=VALUE ...]]" >&2; exit 2; }

# A running cluster is stopped and restarted with the binaries it was
# started with; a new one gets $PG_CONFIG's.
if [ "$cmd" != start ] && [ -f "$dir/pgbin" ]; then PGBIN=$(cat "$dir/pgbin"); else PGBIN=$("$PG_CONFIG" --bindir 2>/dev/null || true); fi

case "$cmd" in
start)
    port=${3:?port required}; shift 3
    if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres -m 0700 "$dir"; else mkdir -p -m 0700 "$dir"; fi
    [ -x "$PGBIN/postgres" ] || { echo "pgcluster: no server in ${PGBIN:-?} (PG_CONFIG=$PG_CONFIG)" >&2; exit 1; }
    major=$("$PGBIN/postgres" --version | sed -nE 's/^postgres \(PostgreSQL\) ([0-9]+).*/\1/p')
    if [ -f "$dir/data/PG_VERSION" ] && [ "$(cat "$dir/data/PG_VERSION")" != "$major" ]; then
        echo "pgcluster: $dir holds a PostgreSQL $(cat "$dir/data/PG_VERSION") cluster, not $major; stop it first" >&2
        exit 1
    fi
    echo "$PGBIN" >"$dir/pgbin"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_server_user "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        {
            echo "port = $port"
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$dir'"
            echo "fsync = off"            # throw-away cluster: durability not needed
            echo "max_connections = 60"
            for guc in "$@"; do echo "$guc"; done
        } | as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    ( if [ -n "${PG_ADDRESS_SPACE_KB:-}" ]; then ulimit -v "$PG_ADDRESS_SPACE_KB"; fi
      as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ) \
        || { tail -n 30 "$dir/server.log" >&2; exit 1; }
    ;;
standby)
    port=${3:?port required}; primary=${4:?primary dir required}; primary_port=${5:?primary port required}
    if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres -m 0700 "$dir"; else mkdir -p -m 0700 "$dir"; fi
    PGBIN=$(cat "$primary/pgbin" 2>/dev/null || echo "$PGBIN")
    echo "$PGBIN" >"$dir/pgbin"
    as_server_user "$PGBIN/pg_basebackup" -h "$primary" -p "$primary_port" -U postgres -D "$dir/data" -R -X stream --checkpoint=fast \
        >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
    {
        echo "port = $port"
        echo "unix_socket_directories = '$dir'"
        echo "hot_standby = on"
    } | as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null
    as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { tail -n 30 "$dir/server.log" >&2; exit 1; }
    ;;
restart)
    as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m fast restart >/dev/null \
        || { tail -n 30 "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ] && [ -n "$PGBIN" ]; then
        as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "unknown command: $cmd" >&2; exit 2 ;;
esac
