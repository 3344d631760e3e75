#!/bin/sh
# Installs what building and testing need on Debian 12, only when something is missing:
# the conntrack tool (the tests' oracle), a C compiler, valgrind, iproute2, capsh, nftables.
set -e
need=""
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v capsh >/dev/null 2>&1 || need="$need libcap2-bin"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need
fi
# ctnetlink must be loaded for the netlink requests (conntrack -L would load it too).
modprobe nf_conntrack_netlink 2>/dev/null || true
