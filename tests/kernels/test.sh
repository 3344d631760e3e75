#!/bin/sh
# Runs the kernel-facing suites (tests/kernels/suites.sh) under each pinned kernel in a QEMU
# guest (tests/kernels/run.sh), the guests at the same time, one CPU each. 6.1 (Debian 12)
# lacks zone filtering and filtered flush, so the library's fallbacks run for real; 5.10
# (Debian 11) also lacks status filtering of dumps, reply-tuple filters and the
# nf_conntrack_events autodetect mode. Prints each guest's output, then
# "kernels: N passed, N failed" counting the steps of every guest.
#   tests/kernels/test.sh BUILD
# CT_KERNELS overrides the list of kernels (e.g. CT_KERNELS=5.10.0-32), CT_KERNELS_SMP the
# guests' CPUs.
set -eu
build=${1:-build}
kernels=${CT_KERNELS:-6.1.0-56 5.10.0-32}
here=$(dirname "$0")

# The Rust test binaries, built here like the rest: the guest's root is read-only.
bins=$(cargo test --test kernel --test events --no-run 2>&1 | sed -n 's/.*(\(target\/[^)]*\/\(kernel\|events\)-[0-9a-f]*\)).*/\1/p')
rust_bin=$(echo "$bins" | grep '/kernel-' | tail -n1)
events_bin=$(echo "$bins" | grep '/events-' | tail -n1)
[ -n "$rust_bin" ] && [ -n "$events_bin" ] || { echo "kernels: Rust kernel test binaries not found"; exit 1; }
for t in test_core test_events test_misuse test_threads; do
    [ -x "$build/$t" ] || { echo "kernels: $build/$t missing (make c-tests)"; exit 1; }
done

# What the guest runs from the host's root: pytest, the conntrack tool, ip; and Go to build
# the Go binding's tests.
need=""
/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || need="$need python3-pytest"
command -v go >/dev/null 2>&1 || need="$need golang-go"
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
    # shellcheck disable=SC2086
    apt-get -q -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $need >/dev/null
fi
go_bin=$build/go-conntrack.test
(cd bindings/go && GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOSUMDB=off CGO_ENABLED=1 \
    GOCACHE=${GOCACHE:-/tmp/libconntrack-go/cache} GOPATH=${GOPATH:-/tmp/libconntrack-go/path} \
    go test -c -o "../../$go_bin" .)

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# Fetch and unpack first, one kernel after the other (they share apt and the cache).
for k in $kernels; do
    "$here/run.sh" --kernel "$k" --prepare
done
pids=""
for k in $kernels; do
    (
        rc=0 t0=$(date +%s)
        "$here/run.sh" --kernel "$k" --mem 2048 --smp "${CT_KERNELS_SMP:-1}" --sysctl net.netfilter.nf_conntrack_max=1048576 \
            -- sh "$here/suites.sh" "$build" "$rust_bin" "$events_bin" "$go_bin" >"$logs/$k.log" 2>&1 || rc=$?
        echo "$rc $(($(date +%s) - t0))" >"$logs/$k.rc"
    ) &
    pids="$pids $!"
done
echo "kernels: running the suites under $kernels (QEMU guests, output below when they end)"
# shellcheck disable=SC2086
wait $pids
passed=0
failed=0
for k in $kernels; do
    read -r rc secs <"$logs/$k.rc"
    echo "==== kernel $k: guest ran ${secs} s, status $rc"
    cat "$logs/$k.log"
    p=$(grep -c '^kernels: ok ' "$logs/$k.log" || true)
    f=$(grep -c '^kernels: FAIL ' "$logs/$k.log" || true)
    if ! grep -q "^guest kernel: ${k}-" "$logs/$k.log"; then
        echo "kernels: FAIL $k did not boot or is not the kernel asked for (status $rc)"
        f=$((f + 1))
    elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "kernels: FAIL $k: the guest ended with status $rc"
        f=$((f + 1))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "kernels: $passed passed, $failed failed"
[ "$failed" = 0 ]
