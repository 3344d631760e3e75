#!/usr/bin/env bash
# Builds the comparison programs of bench/anchors into OUTDIR, first installing with apt-get
# (Debian 12) what they need and the machine lacks.
#   build.sh OUTDIR [go]    with "go", also the vishvananda/netlink program (GOPATH mode:
#                           Debian's Go packages, nothing downloaded)
set -euo pipefail
out=${1:?usage: build.sh OUTDIR [go]}
with_go=${2:-}
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -e /usr/include/libnetfilter_conntrack/libnetfilter_conntrack.h ] || need+=(libnetfilter-conntrack-dev)
[ -e /usr/include/libnfnetlink/libnfnetlink.h ] || need+=(libnfnetlink-dev)
[ -e /usr/include/libmnl/libmnl.h ] || need+=(libmnl-dev)
if [ "$with_go" = go ]; then
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/vishvananda/netlink ] || need+=(golang-github-vishvananda-netlink-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run on the machine holds the lock for a while: wait for it.
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

cflags=(-std=c11 -O2 -g -Wall -Wextra -Wpedantic -Werror)
cc "${cflags[@]}" -o "$out/nfct-bench" "$src/nfct-bench.c" -lnetfilter_conntrack -lnfnetlink
cc "${cflags[@]}" -o "$out/raw-dump" "$src/raw-dump.c" -lmnl
cc "${cflags[@]}" -o "$out/raw-batch" "$src/raw-batch.c" -lmnl
if [ "$with_go" = go ]; then
  # GOPATH mode over Debian's packaged sources; the cache stays in the build directory.
  GO111MODULE=off GOFLAGS= GOPATH="$(readlink -f "$out")/gopath:/usr/share/gocode" \
    GOCACHE="$(readlink -f "$out")/go-cache" go build -o "$out/vish-bench" "$src/vish-bench.go"
fi
