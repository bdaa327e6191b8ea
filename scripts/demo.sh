#!/usr/bin/env bash
# `make demo`: a throw-away cluster with no configuration, han_crypto
# installed, and examples/demo.sql run against it. The cluster stays up so
# you can explore with psql; `make demo-stop` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/han_crypto-demo}; port=${2:-54329}

scripts/pgcluster.sh stop "$dir"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_CONFIG
echo "Starting a throw-away $("$PG_CONFIG" --version) cluster in $dir (port $port)..."
scripts/pgcluster.sh start "$dir" "$port"
psql=("$("$PG_CONFIG" --bindir)/psql" -X -h "$dir" -p "$port" -U postgres)
"${psql[@]}" -q -c "CREATE DATABASE han_crypto_demo" postgres
"${psql[@]}" -f examples/demo.sql han_crypto_demo

cat <<MSG

The demo cluster is still running. Explore it with:

    $("$PG_CONFIG" --bindir)/psql -h $dir -p $port -U postgres han_crypto_demo

Its root key was generated in $dir/data/han_crypto_root.key (see the NOTICE
above). Stop and remove everything with:

    make demo-stop
MSG
