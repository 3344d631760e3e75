package conntrack

// The exported callbacks live in a file of its own: a file with //export may only
// declare, never define, C functions in its preamble.

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// gctEventsDeliver is called by shim.c with the next n events of a receive, read into C
// memory that stays valid until it returns, and the cgo.Handle of the receive's state. The
// events are copied into Go values here; nothing of C memory is kept.
//
//export gctEventsDeliver
func gctEventsDeliver(evs *C.gct_event, n C.size_t, user C.uintptr_t) {
	st := cgo.Handle(user).Value().(*receiveState)
	chunk := unsafe.Slice(evs, int(n))
	for i := range chunk {
		st.events = append(st.events, Event{Type: EventType(chunk[i].kind), Entry: fromView(&chunk[i].entry)})
	}
}

// gctExpectDeliver is called by shim.c with the next n expectations of a dump, read into C
// memory that stays valid until it returns, and the cgo.Handle of the dump's result slice.
//
//export gctExpectDeliver
func gctExpectDeliver(xs *C.gct_xflat, n C.size_t, user C.uintptr_t) {
	out := cgo.Handle(user).Value().(*[]Expectation)
	chunk := unsafe.Slice(xs, int(n))
	for i := range chunk {
		*out = append(*out, expectFromFlat(&chunk[i]))
	}
}
