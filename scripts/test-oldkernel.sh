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
bins=$(cargo test --test kernel --test events --no-run 2>&1 | sed -n 's/.*(\(target\/[^)]*\/\(kernel\|events\)-[0-9a-f]*\)).*/\1/p')
rust_bin=$(echo "$bins" | grep '/kernel-' | tail -n1)
events_bin=$(echo "$bins" | grep '/events-' | tail -n1)
[ -n "$rust_bin" ] && [ -n "$events_bin" ] || { echo "oldkernel: Rust kernel test binaries not found"; exit 1; }
"$runner" --kernel-version "$version" --mem 2048 --sysctl net.netfilter.nf_conntrack_max=1048576 -- sh -c "
    uname -r
    case \$(uname -r) in 6.1.*) ;; *) echo 'not the 6.1 kernel'; exit 1;; esac
    rc=0
    ./$build/test_core || rc=1
    ./$build/test_events || rc=1
    # The 100,000-entry tests check scale, not kernel semantics: too slow under emulation.
    ./$rust_bin --test-threads=2 --skip hundred_thousand || rc=1
    ./$events_bin --test-threads=2 || rc=1
    exit \$rc
"
