#!/bin/sh
# The kernel-facing suites, run inside a guest by tests/kernels/test.sh: the binaries were
# built on the host (the guest's root is read-only). PART says which, so that guests of one
# kernel can share the work: "c" (the C suites), "rust" (the Rust kernel and filter-set
# tests, then the table-full test), "bindings" (the Rust event tests, the Python and Go subsets) or "all".
# Each step prints "kernels: ok|FAIL RELEASE STEP (SECONDS)"; the status is 1 when any
# step failed.
#   suites.sh PART BUILD RUST_KERNEL_TEST_BIN RUST_EVENTS_TEST_BIN RUST_FILTERSETS_TEST_BIN GO_TEST_BIN
set -u
part=$1 build=$2 rust_bin=$3 events_bin=$4 sets_bin=$5 go_bin=$6
release=$(uname -r)
echo "guest kernel: $release ($part)"
rc=0
step() {
    name=$1
    shift
    echo "== $release: $name"
    t0=$(date +%s)
    if "$@"; then
        echo "kernels: ok   $release $name ($(($(date +%s) - t0)) s)"
    else
        echo "kernels: FAIL $release $name ($(($(date +%s) - t0)) s)"
        rc=1
    fi
}
want() { [ "$part" = all ] || [ "$part" = "$1" ]; }

if want c; then
    for t in test_core test_events test_misuse test_threads test_filtersets; do
        step "c/$t" "./$build/$t"
    done
fi
if want bindings; then
    step rust/events "$events_bin" --test-threads=2
    # The bindings' tests of kernel semantics: the Neutron scenario, filters, the delete and
    # flush paths (the whole suites run on the host kernel; process starts are slow here).
    step python env PYTHONDONTWRITEBYTECODE=1 CONNTRACK_LIBRARY="$build/lib/libconntrack.so.0" \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider bindings/python/tests \
        -k '(test_neutron_scenario and zone10 and in_process) or test_filters or test_delete_by_id_matching_flush or test_new_update_destroy'
    step go sh -c "cd bindings/go && CONNTRACK_GO_REQUIRE_KERNEL=1 '$PWD/$go_bin' \
        -test.run 'TestNeutronIPv4Zone\$|TestNeutronIPv6Zone\$|TestFilters|TestGetUpdateDeleteFlush|TestDeleteMatchingAny|TestNATFilters'"
fi
if want rust; then
    # Tests of scale (tens of thousands of entries, many threads or processes), not of kernel
    # semantics, run on the host kernel only: under emulation they take minutes each.
    step rust/kernel "$rust_bin" --test-threads=2 --skip hundred_thousand --skip batch_of_a_thousand \
        --skip small_receive_buffer --skip many_entries --skip many_threads --skip a_dump_while_another
    step rust/filtersets "$sets_bin" --test-threads=2
    # Last, as it lowers the one table limit every namespace shares (the guest's): a batch of
    # creates that fills the table.
    full_table() {
        echo 300 >/proc/sys/net/netfilter/nf_conntrack_max &&
            "$rust_bin" --ignored --exact a_full_table_during_a_batch_of_creates
    }
    step rust/full-table full_table
fi
exit $rc
