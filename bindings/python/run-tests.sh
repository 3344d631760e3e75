#!/bin/sh
# Runs the Python binding's tests (bindings/python/tests) with Debian's Python against the
# in-tree build (build/lib/libconntrack.so.0; `make lib` makes it). Root is needed: every
# kernel test makes a network namespace of its own and removes it after.
# Installs what is missing (Debian 12): pytest, the conntrack tool, iproute2, nftables,
# capsh. Exits non-zero when a test fails.
set -eu
cd "$(dirname "$0")/../.."
PYTHON=/usr/bin/python3
LIB=build/lib/libconntrack.so.0

need=""
"$PYTHON" -c 'import pytest' >/dev/null 2>&1 || need="$need python3-pytest"
# A fresh virtual environment for the install tests (pip install in a venv).
"$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v capsh >/dev/null 2>&1 || need="$need libcap2-bin"
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need
fi
# ctnetlink must be loaded for the netlink requests (the tool would load it too).
modprobe nf_conntrack_netlink 2>/dev/null || true

if [ ! -e "$LIB" ]; then
    echo "python: $LIB is missing; run 'make lib' first" >&2
    exit 1
fi

CONNTRACK_LIBRARY="$PWD/$LIB"
export CONNTRACK_LIBRARY
# -p no:cacheprovider: leave no .pytest_cache in the tree.
exec "$PYTHON" -m pytest -q -p no:cacheprovider bindings/python/tests "$@"
