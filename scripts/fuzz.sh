#!/bin/sh
# Runs every cargo-fuzz target under fuzz/ for SECS seconds each (default 600), one after
# another, with AddressSanitizer and debug assertions. Installs cargo-fuzz when missing; the
# stable toolchain is enough (RUSTC_BOOTSTRAP=1 lets it take the sanitizer flags).
#
#   scripts/fuzz.sh [SECS]
#
# The seeds in fuzz/corpus/<target>/ are read, never written: what the fuzzer finds goes to
# fuzz/work/<target>/ (not in git). A crash is saved under fuzz/artifacts/<target>/; the other
# targets still run and the script exits 1. To keep a crash as a regression (replayed by
# `cargo test --features internals --test fuzz_corpus`): `cargo fuzz tmin TARGET ARTIFACT` in fuzz/, then copy the
# minimised input to fuzz/regressions/<target>/.
set -eu
secs=${1:-600}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECS]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../fuzz"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1

failed=
for t in $(cargo fuzz list); do
  mkdir -p "work/$t"
  echo "== $t: ${secs}s" >&2
  rm -f "work/$t.status"
  {
    rc=0
    cargo fuzz run --debug-assertions "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 || rc=$?
    echo "$rc" >"work/$t.status"
  } 2>&1 | tee "work/$t.log"
  [ "$(cat "work/$t.status")" = 0 ] || failed="$failed $t"
done
if [ -n "$failed" ]; then
  echo "fuzz: crashes in:$failed (see fuzz/artifacts/)" >&2
  exit 1
fi
