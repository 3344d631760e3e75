#!/bin/sh
# Runs the kernel-facing suites (tests/kernels/suites.sh) under each pinned kernel in QEMU
# guests (tests/kernels/run.sh). 6.1 (Debian 12) lacks zone filtering and filtered flush, so
# the library's fallbacks run for real; 5.10 (Debian 11) also lacks status filtering of dumps,
# reply-tuple filters and the nf_conntrack_events autodetect mode. Prints each guest's output, then
# "kernels: N passed, N failed" counting the steps of every guest (a guest that did not
# report counts as a failure).
#   tests/kernels/test.sh BUILD
# CT_KERNELS overrides the list of kernels (e.g. CT_KERNELS=5.10.0-32), CT_KERNELS_JOBS the
# number of guests at a time (2).
set -eu
build=${1:-build}
kernels=${CT_KERNELS:-6.1.0-56 5.10.0-32}
here=$(dirname "$0")

# The Rust test binaries, built here like the rest: the guest's root is read-only.
bins=$(cargo test --test kernel --test events --test filtersets --no-run 2>&1 |
    sed -n 's/.*(\(target\/[^)]*\/\(kernel\|events\|filtersets\)-[0-9a-f]*\)).*/\1/p')
rust_bin=$(echo "$bins" | grep '/kernel-' | tail -n1)
events_bin=$(echo "$bins" | grep '/events-' | tail -n1)
sets_bin=$(echo "$bins" | grep '/filtersets-' | tail -n1)
[ -n "$rust_bin" ] && [ -n "$events_bin" ] && [ -n "$sets_bin" ] ||
    { echo "kernels: Rust kernel test binaries not found"; exit 1; }
for t in test_core test_events test_misuse test_threads test_filtersets; do
    [ -x "$build/$t" ] || { echo "kernels: $build/$t missing (make c-tests)"; exit 1; }
done

# What the guest runs from the host's root: pytest, the conntrack tool, ip, sysctl; and Go,
# to build the Go binding's tests.
need=""
/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || need="$need python3-pytest"
command -v go >/dev/null 2>&1 || need="$need golang-go"
command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v sysctl >/dev/null 2>&1 || need="$need procps"
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
# Six guests, one CPU each: the C suites, the Rust kernel tests and the rest, per kernel.
# Two run at a time (the machine's CPUs), a free slot taking the next, the longest first (as
# measured: the C suites, then 5.10's parts, then 6.1's).
sorted=$(printf '%s\n' $kernels | sort -V)
jobs=$(for k in $sorted; do echo "$k c"; done; for k in $sorted; do echo "$k rust"; echo "$k bindings"; done)
echo "$jobs" >"$logs/queue"
worker() {
    while :; do
        job=$(flock "$logs/lock" sh -c 'head -n1 "$1"; sed -i 1d "$1"' - "$logs/queue")
        [ -n "$job" ] || return 0
        set -- $job
        t0=$(date +%s) rc=0
        "$here/run.sh" --kernel "$1" --mem 2048 --smp 1 --sysctl net.netfilter.nf_conntrack_max=1048576 \
            -- sh "$here/suites.sh" "$2" "$build" "$rust_bin" "$events_bin" "$sets_bin" "$go_bin" >"$logs/$1-$2.log" 2>&1 || rc=$?
        echo "$rc $(($(date +%s) - t0))" >"$logs/$1-$2.rc"
        # Each guest's output as soon as it ends, whole (never mixed with the other's).
        flock "$logs/lock" sh -c 'echo "==== kernel $1, $2: guest ran $3 s, status $4"; cat "$5"' - \
            "$1" "$2" "$(($(date +%s) - t0))" "$rc" "$logs/$1-$2.log"
    done
}
start=$(date +%s)
echo "kernels: running the suites under $kernels, in $(echo "$jobs" | wc -l) QEMU guests, ${CT_KERNELS_JOBS:-2} at a time (each one's output when it ends)"
pids=""
for _ in $(seq 1 "${CT_KERNELS_JOBS:-2}"); do
    worker &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
passed=0
failed=0
for k in $kernels; do
    for part in c rust bindings; do
        log=$logs/$k-$part.log
        rc=125
        [ -f "$logs/$k-$part.rc" ] && read -r rc _ <"$logs/$k-$part.rc"
        [ -f "$log" ] || : >"$log"
        p=$(grep -c '^kernels: ok ' "$log" || true)
        f=$(grep -c '^kernels: FAIL ' "$log" || true)
        if ! grep -q "^guest kernel: ${k}-" "$log"; then
            echo "kernels: FAIL $k ($part) did not boot or is not the kernel asked for (status $rc)"
            f=$((f + 1))
        elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
            echo "kernels: FAIL $k ($part): the guest ended with status $rc"
            f=$((f + 1))
        fi
        passed=$((passed + p))
        failed=$((failed + f))
    done
done
echo "kernels: guests took $(($(date +%s) - start)) s in all"
echo "kernels: $passed passed, $failed failed"
[ "$failed" = 0 ]
