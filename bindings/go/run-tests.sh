#!/bin/sh
# The Go binding's checks: go vet; go test -race (unit tests, and the kernel tests, each in
# a network namespace of its own, with the conntrack tool as the oracle); go test -asan
# with a LeakSanitizer check of C memory at the end; and a build through pkg-config (the
# conntrack_pkgconfig tag). Run as root after `make lib`; it builds nothing Rust. Works
# offline: only the standard library and cgo are used.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

need=""
command -v go >/dev/null 2>&1 || need="$need golang-go"
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v capsh >/dev/null 2>&1 || need="$need libcap2-bin"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need
fi
if [ ! -e "$root/build/lib/libconntrack.so.0" ] || [ ! -e "$root/include/conntrack.h" ]; then
    echo "run-tests.sh: build/lib/libconntrack.so.0 is missing; run 'make lib' first" >&2
    exit 1
fi

# No module proxy, no network: the module has no dependencies.
export GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOSUMDB=off CGO_ENABLED=1
if [ -z "${HOME:-}" ] || [ ! -w "${HOME:-/nonexistent}" ]; then
    export GOCACHE="${GOCACHE:-/tmp/libconntrack-go/cache}" GOPATH="${GOPATH:-/tmp/libconntrack-go/path}"
fi
# Kernel tests fail instead of skipping when they cannot run (not root, a tool missing).
export CONNTRACK_GO_REQUIRE_KERNEL=1

cd "$here"
passed=0
failed=0
step() {
    name=$1
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   go/$name"
    else
        failed=$((failed + 1))
        echo "FAIL go/$name"
    fi
}

unformatted=$(gofmt -l .)
step gofmt test -z "$unformatted"
[ -z "$unformatted" ] || echo "not gofmt-ed: $unformatted"
step vet go vet ./...
step test-race go test -race -count=1 ./...
step test-asan go test -asan -count=1 ./...

# An installed copy through pkg-config: a conntrack.pc made from the tree's template,
# pointing at the tree's header and library (no rpath then: LD_LIBRARY_PATH finds it).
pc=$(mktemp -d)
trap 'rm -rf "$pc"' EXIT
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
sed -e "s|@PREFIX@|$root|; s|@LIBDIR@|$root/build/lib|; s|@INCDIR@|$root/include|; s|@VERSION@|$version|" \
    "$root/conntrack.pc.in" >"$pc/conntrack.pc"
step vet-pkgconfig env PKG_CONFIG_PATH="$pc" go vet -tags conntrack_pkgconfig ./...
step test-pkgconfig env PKG_CONFIG_PATH="$pc" LD_LIBRARY_PATH="$root/build/lib" \
    go test -tags conntrack_pkgconfig -count=1 -run 'TestRoundTrip|TestFormat$|TestErrors|TestNeutronIPv4Zone$' ./...

echo "go: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
