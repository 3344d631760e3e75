#!/bin/sh
# Runs the kernel-facing suites (C and Rust integration) once more under Debian 12's 6.1
# kernel in a QEMU guest (../shared/oldkernel/run.sh), where the kernel ignores zone
# filters in dumps and a zone-only flush empties every zone. The kernel version is pinned.
set -eu
build=$1
runner=${CT_OLDKERNEL_RUNNER:-../shared/oldkernel/run.sh}
version=${CT_OLDKERNEL_VERSION:-6.1.0-56}
if [ ! -x "$runner" ]; then
    echo "oldkernel: $runner not found"
    echo "oldkernel: 0 passed, 1 failed"
    exit 1
fi
bins=$(cargo test --test kernel --test events --test filtersets --no-run 2>&1 | sed -n 's/.*(\(target\/[^)]*\/\(kernel\|events\|filtersets\)-[0-9a-f]*\)).*/\1/p')
rust_bin=$(echo "$bins" | grep '/kernel-' | tail -n1)
events_bin=$(echo "$bins" | grep '/events-' | tail -n1)
sets_bin=$(echo "$bins" | grep '/filtersets-' | tail -n1)
[ -n "$rust_bin" ] && [ -n "$events_bin" ] && [ -n "$sets_bin" ] || { echo "oldkernel: Rust kernel test binaries not found"; exit 1; }
# The Go binding's kernel tests, built here (the guest's root is read-only): the Neutron
# scenario, filters and the delete/flush paths. Go comes with the Go suite's installer.
if ! command -v go >/dev/null 2>&1; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go >/dev/null
fi
(cd bindings/go && GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOSUMDB=off CGO_ENABLED=1 \
    GOCACHE=${GOCACHE:-/tmp/libconntrack-go/cache} GOPATH=${GOPATH:-/tmp/libconntrack-go/path} \
    go test -c -o "../../$build/go-conntrack.test" .)
"$runner" --kernel-version "$version" --mem 2048 --sysctl net.netfilter.nf_conntrack_max=1048576 -- sh -c "
    uname -r
    case \$(uname -r) in 6.1.*) ;; *) echo 'not the 6.1 kernel'; exit 1;; esac
    rc=0
    ./$build/test_core || rc=1
    ./$build/test_events || rc=1
    ./$build/test_misuse || rc=1
    ./$build/test_threads || rc=1
    # Tests of scale (tens of thousands of entries), not of kernel semantics, run on the host
    # kernel only: under emulation they would take minutes.
    ./$rust_bin --test-threads=2 --skip hundred_thousand --skip batch_of_a_thousand \
        --skip small_receive_buffer --skip many_entries --skip many_threads \
        --skip a_dump_while_another || rc=1
    ./$events_bin --test-threads=2 || rc=1
    ./$build/test_filtersets || rc=1
    ./$sets_bin --test-threads=2 || rc=1
    # The bindings' tests of kernel semantics: the Neutron scenario, filters, delete and flush
    # paths (the whole suites run on the host kernel; processes start slowly under emulation).
    PYTHONDONTWRITEBYTECODE=1 CONNTRACK_LIBRARY=$build/lib/libconntrack.so.0 /usr/bin/python3 -m pytest -q \
        -p no:cacheprovider bindings/python/tests \
        -k '(test_neutron_scenario and zone10 and in_process) or test_filters or test_delete_by_id_matching_flush or test_new_update_destroy' || rc=1
    (cd bindings/go && CONNTRACK_GO_REQUIRE_KERNEL=1 ../../$build/go-conntrack.test -test.run 'TestNeutronIPv4Zone$|TestNeutronIPv6Zone$|TestFilters|TestGetUpdateDeleteFlush|TestDeleteMatchingAny|TestNATFilters') || rc=1
    # Last, as it lowers the one table limit every namespace shares (the guest's, never the
    # host's): a batch of creates that fills the table.
    echo 300 > /proc/sys/net/netfilter/nf_conntrack_max
    ./$rust_bin --ignored --exact a_full_table_during_a_batch_of_creates || rc=1
    exit \$rc
"
