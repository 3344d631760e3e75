package conntrack

// The exported dump callback lives in a file of its own: a file with //export may only
// declare, never define, C functions in its preamble.

/*
#include "shim.h"
*/
import "C"

import "runtime/cgo"

// gctDumpEntry is called by shim.c's trampoline for each entry of a dump, with the
// cgo.Handle of the dump's state as user data.
//
//export gctDumpEntry
func gctDumpEntry(e *C.ct_entry, user C.uintptr_t) C.int32_t {
	return cgo.Handle(user).Value().(*dumpState).deliver(e)
}
