// Package conntrack lists, reads, creates, updates and deletes Linux connection tracking
// entries through the kernel's ctnetlink interface, in the caller's or any named network
// namespace. It wraps libconntrack (this repository's C library) with cgo.
//
// Open a Conn with Open or OpenNetns, then use Dump or List (with an optional Filter), Get,
// Create, Update, Delete, DeleteByID, DeleteMatching, Flush and FlushMatching, or queue
// many requests in a Batch. An Entry holds every field of the library's entry as a value:
// an optional field counts only when its bit is in Entry.Has (Tuple.Has for ports and ICMP
// fields), so a real 0 and "absent" are never confused. Set methods (SetZone, SetMark, ...)
// set a value and its bit, Get methods return a value and whether it is present; the rare
// fields (counters, timestamps, labels, secmark, helper) are read and written only through
// them. Filter keeps pointers for its optional fields (Ptr makes one).
//
// Count, Stats and StatsPerCPU read the table's size and statistics; Expectations,
// CreateExpectation, DeleteExpectation and FlushExpectations work on the expectation table.
//
// OpenEvents and OpenEventsNetns subscribe to new, update and destroy events: Receive
// returns them with a timeout, Run sends them to a channel until its context ends, and
// Fd serves a poll loop. Events the kernel dropped are reported (ErrOverrun, or an Event
// with Overrun set), never lost silently.
//
// Errors are *Error values carrying the library's status Code, the errno and the
// library's detail (with the kernel's extended-ack message when it sent one); errors.Is
// matches them against ErrNotFound, ErrExists, ErrPermission, ErrInvalidArgument,
// ErrNetns, ErrBusy and the other sentinels, and against the errno (syscall.ENOENT, ...).
// The detail is the one the library keeps on the object the call used (ct_handle_last_error,
// ct_events_last_error), read in the same C call where the shim builds C objects, or, for a
// call that makes an object, the thread's, read before the goroutine may leave its OS thread:
// so it is right even though a goroutine may move between OS threads.
//
// A Conn is used by one goroutine at a time; separate Conns are independent. Every C
// object the package makes is freed before the call that made it returns, except the
// socket of a Conn, which Close frees.
//
// By default the package links the library of this source tree (run `make lib`); build
// with the conntrack_pkgconfig tag to use an installed copy found by pkg-config.
package conntrack
