package conntrack

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime/cgo"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// EventType is the kind of an event; an OR of them says what a listener subscribes to.
type EventType uint32

// The event types (CT_EVENT_*).
const (
	EventNew     EventType = C.CT_EVENT_NEW     // a new entry
	EventUpdate  EventType = C.CT_EVENT_UPDATE  // an entry changed (state, mark, timeout set by a tool, ...)
	EventDestroy EventType = C.CT_EVENT_DESTROY // an entry went
	EventAll     EventType = C.CT_EVENT_ALL     // every type
)

// String gives "new", "update", "destroy", or for an OR of them "new|destroy".
func (t EventType) String() string {
	var parts []string
	for _, k := range []struct {
		t    EventType
		name string
	}{{EventNew, "new"}, {EventUpdate, "update"}, {EventDestroy, "destroy"}} {
		if t&k.t != 0 {
			parts = append(parts, k.name)
			t &^= k.t
		}
	}
	if t != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(t)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Event is one conntrack event: its type and a copy of the entry as the kernel reported it.
type Event struct {
	Type  EventType // EventNew, EventUpdate or EventDestroy (0 on an overrun marker)
	Entry Entry     // the entry (a destroy carries the final counters when accounting is on)

	// Overrun is set only on the marker Run sends where the kernel reported dropped events
	// (Type and Entry are then zero); the stream goes on after it.
	// Overruns is then the listener's overrun count so far, this one included.
	Overrun  bool
	Overruns uint64
}

// Events is a subscription to conntrack events in one network namespace (a ct_events).
//
// Read events with Receive, in your own poll loop on Fd (then Receive(0)), or let Run send
// them to a channel. Loss is never silent: when the kernel's queue for the listener is
// full it drops events, and the next Receive returns the events it read before the loss
// was reported together with an error matching ErrOverrun (Run sends an Event with Overrun
// set); Overruns counts them and the listener goes on. List the table again to
// resynchronise. The kernel reports a loss ahead of the events still queued from before
// it: those follow the report.
//
// With net.netfilter.nf_conntrack_events = 2 (the default of a new namespace on some
// kernels) entries created before the first listener subscribed report no events at all:
// list the table after subscribing to learn about them. Kernels without that mode (5.10)
// refuse 2 and keep 1: every entry reports there, so a listener also hears the destroy of
// entries created before it subscribed.
//
// Like a Conn, an Events is used by one goroutine at a time: a call while another is
// running on it (or while Run owns it) fails with ErrBusy. Close it when done.
type Events struct {
	ev       *C.ct_events
	fd       int
	busy     int32  // atomic: 1 while a method (or Run) uses ev and pending
	overruns uint64 // atomic: ct_events_overruns after the last receive
	// Events read from the kernel but not handed out yet (Run stopped before sending
	// them), each error after the events received before it.
	pending []queued
}

type queued struct {
	ev       Event
	err      error // non-nil: the error that ended the receive (ErrOverrun: the gap)
	overruns uint64
}

// receiveState is what a running receive's C callback finds through its cgo.Handle.
type receiveState struct {
	events []Event
}

// OpenEvents subscribes, in the caller's network namespace, to the event types in types (an
// OR of EventNew, EventUpdate and EventDestroy, or EventAll).
func OpenEvents(types EventType) (*Events, error) {
	return openEvents("open events", nil, types)
}

// OpenEventsNetns subscribes inside the network namespace netns (a name under /run/netns or
// a path such as /proc/PID/ns/net); the calling thread never changes namespace. Errors
// match ErrNetns when the namespace cannot be opened or entered.
func OpenEventsNetns(netns string, types EventType) (*Events, error) {
	if strings.IndexByte(netns, 0) >= 0 {
		return nil, invalid("open events", "network namespace name holds a NUL byte")
	}
	cs := C.CString(netns)
	defer C.free(unsafe.Pointer(cs))
	return openEvents("open events "+netns, cs, types)
}

func openEvents(op string, netns *C.char, types EventType) (*Events, error) {
	if viewLayoutErr != nil {
		return nil, viewLayoutErr
	}
	var ev *C.ct_events
	err := threadCall(op, func() C.ct_status {
		if netns != nil {
			return C.ct_events_open_netns(netns, C.uint32_t(types), &ev)
		}
		return C.ct_events_open(C.uint32_t(types), &ev)
	})
	if err != nil {
		return nil, err
	}
	return &Events{ev: ev, fd: int(C.ct_events_fd(ev))}, nil
}

func (e *Events) acquire(op string) (*C.ct_events, error) {
	if e == nil {
		return nil, fmt.Errorf("conntrack %s: %w", op, ErrClosed)
	}
	if !atomic.CompareAndSwapInt32(&e.busy, 0, 1) {
		return nil, &Error{Op: op, Code: CodeBusy, Message: "the Events listener is in use by another goroutine or by its Run"}
	}
	if e.ev == nil {
		atomic.StoreInt32(&e.busy, 0)
		return nil, fmt.Errorf("conntrack %s: %w", op, ErrClosed)
	}
	return e.ev, nil
}

func (e *Events) release() { atomic.StoreInt32(&e.busy, 0) }

// Close unsubscribes and frees the listener; events not handed out yet are discarded.
// Closing a closed Events does nothing; closing it while another call or Run uses it fails
// with ErrBusy (cancel Run's context first).
func (e *Events) Close() error {
	if e == nil {
		return nil
	}
	if !atomic.CompareAndSwapInt32(&e.busy, 0, 1) {
		return &Error{Op: "close events", Code: CodeBusy, Message: "the Events listener is in use by another goroutine or by its Run"}
	}
	defer e.release()
	if e.ev != nil {
		C.ct_events_close(e.ev)
		e.ev = nil
		e.pending = nil
	}
	return nil
}

// Fd is the listener's file descriptor for a poll or epoll loop: readable means events
// are queued (then call Receive(0)). It belongs to the listener and is valid until Close:
// do not read it or close it. Events Run read but did not send (it was stopped) do not
// make it readable; Receive returns them first.
func (e *Events) Fd() int {
	if e == nil {
		return -1
	}
	return e.fd
}

// SetFilter delivers only events whose entry matches f (nil: every event). The kernel
// drops the events whose family, zone, mark or protocol cannot match (they take no buffer
// space); the library checks every field of the rest (NoKernelFiltering leaves it all to
// the library).
func (e *Events) SetFilter(f *Filter) error {
	const op = "set events filter"
	ev, err := e.acquire(op)
	if err != nil {
		return err
	}
	defer e.release()
	fs, err := f.spec(op)
	if err != nil {
		return err
	}
	var detail C.gct_err
	if rc := C.gct_events_set_filter(ev, fs, &detail); rc != C.CT_OK {
		return newError(op, rc, &detail)
	}
	return nil
}

// SetReceiveBuffer sets the socket's receive buffer to about bytes (the kernel doubles it;
// without CAP_NET_ADMIN net.core.rmem_max caps it). The default, 64 MiB, holds a burst of
// about 100,000 events; a smaller buffer overruns sooner.
func (e *Events) SetReceiveBuffer(bytes int) error {
	const op = "set events receive buffer"
	if bytes < 0 {
		return invalid(op, "negative size")
	}
	ev, err := e.acquire(op)
	if err != nil {
		return err
	}
	defer e.release()
	if rc := C.ct_events_set_receive_buffer(ev, C.size_t(bytes)); rc != C.CT_OK {
		return eventsError(op, ev, rc)
	}
	return nil
}

// SetReliable turns reliable mode on or off (the default). With it the kernel keeps destroy
// events it could not deliver and retries them, and reports no overruns; new and update
// events are then dropped silently when the buffer is full. Errors match ErrUnsupported when
// the kernel lacks it.
func (e *Events) SetReliable(on bool) error {
	const op = "set events reliable"
	ev, err := e.acquire(op)
	if err != nil {
		return err
	}
	defer e.release()
	if rc := C.ct_events_set_reliable(ev, C.bool(on)); rc != C.CT_OK {
		return eventsError(op, ev, rc)
	}
	return nil
}

// Overruns is how many overruns (each: one or more events dropped by the kernel) the
// listener has reported since it was opened. Safe to call while Run is running.
func (e *Events) Overruns() uint64 {
	if e == nil {
		return 0
	}
	return atomic.LoadUint64(&e.overruns)
}

// timeoutMs converts a Receive timeout to milliseconds, rounding up; negative: -1.
func timeoutMs(d time.Duration) C.int32_t {
	const max = 1<<31 - 1
	switch {
	case d < 0:
		return -1
	case d >= max*time.Millisecond:
		return max
	}
	return C.int32_t((d + time.Millisecond - 1) / time.Millisecond)
}

// fill receives once (waiting up to timeoutMs, or until wakeFd is readable: then it returns
// true) and queues what came on e.pending, the error last.
func (e *Events) fill(op string, ev *C.ct_events, timeoutMs C.int32_t, wakeFd C.int) (woken bool) {
	st := &receiveState{}
	user := cgo.NewHandle(st)
	defer user.Delete()
	var delivered C.size_t
	var overruns C.uint64_t
	var wake C.int
	var detail C.gct_err
	rc := C.gct_events_receive(ev, timeoutMs, wakeFd, C.uintptr_t(user), &delivered, &overruns, &wake, &detail)
	atomic.StoreUint64(&e.overruns, uint64(overruns))
	for _, x := range st.events {
		e.pending = append(e.pending, queued{ev: x})
	}
	if rc != C.CT_OK {
		e.pending = append(e.pending, queued{err: newError(op, rc, &detail), overruns: uint64(overruns)})
	}
	return wake != 0
}

// pop removes the first pending item.
func (e *Events) pop() {
	e.pending[0] = queued{}
	e.pending = e.pending[1:]
	if len(e.pending) == 0 {
		e.pending = nil
	}
}

// Receive waits up to timeout (negative: until an event comes; 0: not at all) for events
// and returns every event queued; none (a nil slice) when the timeout passed without an
// event that matches the filter. Each Event holds copies only.
//
// When the kernel dropped events, Receive returns the events it read before the loss was
// reported with an error matching ErrOverrun; the next call goes on. Other errors also
// come with the events read before them.
func (e *Events) Receive(timeout time.Duration) ([]Event, error) {
	const op = "receive events"
	ev, err := e.acquire(op)
	if err != nil {
		return nil, err
	}
	defer e.release()
	if len(e.pending) == 0 {
		e.fill(op, ev, timeoutMs(timeout), -1)
	}
	var out []Event
	for len(e.pending) > 0 {
		q := e.pending[0]
		e.pop()
		if q.err != nil {
			return out, q.err
		}
		out = append(out, q.ev)
	}
	return out, nil
}

// Run sends every event to ch until ctx is done, and then returns ctx.Err(). Run owns the
// listener while it runs: other calls on it fail with ErrBusy, except Fd and Overruns.
//
// Where the kernel reported dropped events, Run sends an Event with Overrun set, in stream
// order, and goes on. Another error ends Run and is returned; the listener stays
// usable. A send blocks until ch takes the event or ctx is done, so a slow reader makes
// the kernel's queue fill and overrun rather than lose events silently. Run does not close
// ch. Events read but not sent when ctx ends are kept: the next Receive or Run hands them
// out first.
func (e *Events) Run(ctx context.Context, ch chan<- Event) error {
	const op = "run events"
	if ch == nil {
		return invalid(op, "nil channel")
	}
	ev, err := e.acquire(op)
	if err != nil {
		return err
	}
	defer e.release()

	wake, err := newCtxPipe(op, ctx)
	if err != nil {
		return err
	}
	defer wake.close()

	for {
		if len(e.pending) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.fill(op, ev, -1, C.int(wake.fd())) {
				return ctx.Err()
			}
			continue
		}
		q := e.pending[0]
		out := q.ev
		if q.err != nil {
			if !errors.Is(q.err, ErrOverrun) {
				e.pop()
				return q.err
			}
			out = Event{Overrun: true, Overruns: q.overruns}
		}
		select {
		case ch <- out:
			e.pop()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
