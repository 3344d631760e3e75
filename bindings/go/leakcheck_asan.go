//go:build asan

package conntrack

// With `go test -asan`, TestMain asks LeakSanitizer for C memory (the C library's and this
// package's) still allocated and unreachable once every test has run: Go exits without
// running the sanitizer's exit-time check.

/*
#include <sanitizer/lsan_interface.h>
static int gct_leak_check(void) { return __lsan_do_recoverable_leak_check(); }
*/
import "C"

func leakCheck() bool { return C.gct_leak_check() != 0 }
