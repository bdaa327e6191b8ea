#!/bin/sh
# Installs this han_crypto package into the PostgreSQL server that
# $PG_CONFIG (default: pg_config on PATH) belongs to. Refuses a server of
# another major version: an extension built for one major version must not
# be loaded by another.
#
#   [PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config] ./install.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null 2>&1 || { echo "install.sh: $PG_CONFIG not found; set PG_CONFIG" >&2; exit 1; }
want=$(cat "$here/PG_MAJOR")
server=$("$PG_CONFIG" --version)
# A release (PostgreSQL 17.11, possibly with a vendor suffix), never a beta,
# rc or devel build, whose structures may differ from the release's.
have=$(echo "$server" | sed -nE 's/^PostgreSQL ([0-9]+)\.[0-9]+( .*)?$/\1/p')
if [ -z "$have" ]; then
    echo "install.sh: $PG_CONFIG reports \"$server\", not a PostgreSQL release; this package is for PostgreSQL $want" >&2
    exit 1
fi
if [ "$have" != "$want" ]; then
    echo "install.sh: this package is built for PostgreSQL $want, but $PG_CONFIG is PostgreSQL $have" >&2
    exit 1
fi
arch=$(cat "$here/ARCH")
if [ "$(uname -m)" != "$arch" ]; then
    echo "install.sh: this package is built for $arch, but this machine is $(uname -m)" >&2
    exit 1
fi
libdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension
install -d "$libdir" "$extdir"
install -m 0755 "$here/lib/han_crypto.so" "$libdir/han_crypto.so"
for f in "$here"/extension/*; do install -m 0644 "$f" "$extdir/"; done
echo "han_crypto installed for PostgreSQL $have: $libdir/han_crypto.so, $extdir/han_crypto.control"
