#!/bin/sh
# Runs each C test program three ways: plain, with AddressSanitizer and
# UndefinedBehaviorSanitizer (which also catch leaks of Rust allocations: Rust uses malloc),
# and under valgrind on the plain build. Prints "N passed, N failed" at the end.
set -u
build=$1
shift
passed=0
failed=0
run() {
    name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}
for t in "$@"; do
    run "$t" "$build/$t"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run "$t (asan+ubsan)" "$build/$t-asan"
    run "$t (valgrind)" valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --trace-children=no "$build/$t"
done
echo "c-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
