package conntrack

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// ChangeKind says what happened to an entry of a Mirror.
type ChangeKind uint32

// The change kinds (CT_MIRROR_*).
const (
	MirrorNew     ChangeKind = C.CT_MIRROR_NEW     // an entry appeared in the mirror
	MirrorUpdate  ChangeKind = C.CT_MIRROR_UPDATE  // an entry of the mirror changed
	MirrorDestroy ChangeKind = C.CT_MIRROR_DESTROY // an entry left the mirror
)

// String gives "new", "update" or "destroy".
func (k ChangeKind) String() string {
	switch k {
	case MirrorNew:
		return "new"
	case MirrorUpdate:
		return "update"
	case MirrorDestroy:
		return "destroy"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint32(k))
}

// Change is one change of a Mirror. Applying every change to a copy of your own gives the
// mirror's content.
type Change struct {
	Kind   ChangeKind // MirrorNew, MirrorUpdate or MirrorDestroy
	Repair bool       // found by a repair (the first load included), not reported by an event
	Entry  Entry      // the entry as the mirror now holds it (a destroy: as it held it last)
}

// MirrorStats are a mirror's counters.
type MirrorStats struct {
	Events          uint64        // events received and applied
	Overruns        uint64        // times the kernel reported dropped events
	Repairs         uint64        // dumps compared with the mirror, the first load included
	RepairedEntries uint64        // changes the repairs found
	StaleTime       time.Duration // how long the mirror was known to be stale, summed
	LastRepair      time.Duration // how long the last repair took
	Stale           bool          // events were lost since the last clean repair
}

// Mirror is a live copy of one network namespace's conntrack table, or of the entries a
// filter matches (a ct_mirror): loaded by a dump, kept current from events, and repaired by
// the library with a new dump after the kernel dropped events.
//
// Drive it with Step, or let Run send every change to a channel; read it with Snapshot,
// Get, GetByID and Len, also while Run runs in another goroutine (every call on the mirror
// holds its lock for the duration of one C call; waits happen outside it).
//
// Events must exist for every entry: where net.netfilter.nf_conntrack_events is 2,
// entries made before the first listener report none (set it to 1, or call RequestRepair
// on a schedule). Close it when done.
type Mirror struct {
	mu sync.Mutex
	m  *C.ct_mirror
	fd int
	// A pipe whose write end Close closes: the hang-up ends every wait on fd. Its read end
	// is closed by Close, or by the last waiter when some were waiting.
	closed  [2]int
	waiters int
	// Changes stepped but not handed out yet (Run stopped before sending them).
	pending []Change
}

// OpenMirror opens a mirror of the network namespace netns (a name under /run/netns or a
// path such as /proc/PID/ns/net; "": the caller's) of the entries f matches (nil: all). It
// subscribes at once and loads with the first Step (or Run).
func OpenMirror(netns string, f *Filter) (*Mirror, error) {
	op := "open mirror"
	if viewLayoutErr != nil {
		return nil, viewLayoutErr
	}
	var cs *C.char
	if netns != "" {
		if strings.IndexByte(netns, 0) >= 0 {
			return nil, invalid(op, "network namespace name holds a NUL byte")
		}
		op += " " + netns
		cs = C.CString(netns)
		defer C.free(unsafe.Pointer(cs))
	}
	fs, err := f.spec(op)
	if err != nil {
		return nil, err
	}
	mr := &Mirror{}
	if err := pipe(op, &mr.closed); err != nil {
		return nil, err
	}
	var detail C.gct_err
	if rc := C.gct_mirror_open(cs, fs, &mr.m, &detail); rc != C.CT_OK {
		syscall.Close(mr.closed[0])
		syscall.Close(mr.closed[1])
		return nil, newError(op, rc, &detail)
	}
	mr.fd = int(C.ct_mirror_fd(mr.m))
	return mr, nil
}

// lock takes the mirror's lock; it fails with ErrClosed (and holds nothing) after Close.
func (mr *Mirror) lock(op string) error {
	if mr == nil {
		return fmt.Errorf("conntrack %s: %w", op, ErrClosed)
	}
	mr.mu.Lock()
	if mr.m == nil {
		mr.mu.Unlock()
		return fmt.Errorf("conntrack %s: %w", op, ErrClosed)
	}
	return nil
}

// Close closes the mirror and frees it; a Step or Run waiting on it returns ErrClosed.
// Closing a closed Mirror does nothing.
func (mr *Mirror) Close() error {
	if mr == nil {
		return nil
	}
	mr.mu.Lock()
	defer mr.mu.Unlock()
	if mr.m == nil {
		return nil
	}
	C.ct_mirror_close(mr.m)
	mr.m = nil
	mr.pending = nil
	syscall.Close(mr.closed[1]) // wakes the waiters for good
	if mr.waiters == 0 {
		syscall.Close(mr.closed[0])
	}
	return nil
}

func pipe(op string, p *[2]int) error {
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		errno, _ := err.(syscall.Errno)
		return &Error{Op: op, Code: CodeKernel, Errno: errno, Message: "make a wake-up pipe: " + err.Error()}
	}
	return nil
}

// ctxPipe is a pipe whose read end becomes readable when ctx is done, so that a wait in C
// (poll) ends with ctx: the Run loops of Events and Mirror wait on it.
type ctxPipe struct {
	fds  [2]int
	stop chan struct{}
	wg   sync.WaitGroup
}

func newCtxPipe(op string, ctx context.Context) (*ctxPipe, error) {
	p := &ctxPipe{stop: make(chan struct{})}
	if err := pipe(op, &p.fds); err != nil {
		return nil, err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case <-ctx.Done():
			_, _ = syscall.Write(p.fds[1], []byte{0})
		case <-p.stop:
		}
	}()
	return p, nil
}

// fd is the read end, for the wait.
func (p *ctxPipe) fd() int { return p.fds[0] }

// close ends the goroutine, then closes both ends (the writer is gone before they close).
func (p *ctxPipe) close() {
	close(p.stop)
	p.wg.Wait()
	syscall.Close(p.fds[0])
	syscall.Close(p.fds[1])
}

// Fd is the descriptor to poll (readable: call Step(0)). It belongs to the mirror and is
// valid until Close.
func (mr *Mirror) Fd() int {
	if mr == nil {
		return -1
	}
	return mr.fd
}

// step runs one step without waiting and appends its changes to mr.pending; the lock is
// held. It returns how many there were and how long the caller may wait before the next
// step (negative: no end).
func (mr *Mirror) step(op string) (int, C.int32_t, error) {
	var out *C.gct_mchange
	var n C.size_t
	var detail C.gct_err
	rc := C.gct_mirror_step(mr.m, &out, &n, &detail)
	if out != nil {
		for _, c := range unsafe.Slice(out, int(n)) {
			mr.pending = append(mr.pending, Change{
				Kind:   ChangeKind(c.kind &^ C.CT_MIRROR_REPAIR),
				Repair: c.kind&C.CT_MIRROR_REPAIR != 0,
				Entry:  fromView(&c.entry),
			})
		}
		C.free(unsafe.Pointer(out))
	}
	next := C.ct_mirror_next_timeout(mr.m)
	if rc != C.CT_OK {
		return int(n), next, newError(op, rc, &detail)
	}
	return int(n), next, nil
}

// wait is called with the lock held and returns with it released: it waits without the
// lock until the mirror's descriptor is readable, the mirror is closed, cancelFd (when
// >= 0) is readable, or ms milliseconds (negative: no end) passed.
func (mr *Mirror) wait(op string, ms C.int32_t, cancelFd int) error {
	mr.waiters++
	fd, closedFd := mr.fd, mr.closed[0]
	mr.mu.Unlock()
	var errno C.int
	w := C.gct_mirror_wait(C.int(fd), C.int(closedFd), C.int(cancelFd), ms, &errno)
	mr.mu.Lock()
	mr.waiters--
	if mr.m == nil && mr.waiters == 0 {
		syscall.Close(closedFd) // the last waiter after Close
	}
	mr.mu.Unlock()
	if w < 0 {
		return &Error{Op: op, Code: CodeKernel, Errno: syscall.Errno(errno), Message: "wait for the mirror: " + syscall.Errno(errno).Error()}
	}
	return nil
}

// Step applies what is due (the first load, a repair, queued events), waiting up to
// timeout (negative: until something changes; 0: not at all) for changes, and returns
// them (nil when the timeout passed without one). Changes Run stepped but did not send
// come first. An overrun is not an error: the mirror counts it and repairs itself in a
// later step.
func (mr *Mirror) Step(timeout time.Duration) ([]Change, error) {
	const op = "mirror step"
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if err := mr.lock(op); err != nil {
			return nil, err
		}
		var next C.int32_t = -1
		var err error
		if len(mr.pending) == 0 {
			_, next, err = mr.step(op)
		}
		out := mr.pending
		mr.pending = nil
		if len(out) > 0 || err != nil || timeout == 0 {
			mr.mu.Unlock()
			return out, err
		}
		wait := next
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				mr.mu.Unlock()
				return nil, nil
			}
			if ms := timeoutMs(left); wait < 0 || ms < wait {
				wait = ms
			}
		}
		if err := mr.wait(op, wait, -1); err != nil {
			return nil, err
		}
	}
}

// Run sends every change to ch until ctx is done (it then returns ctx.Err()) or the mirror
// is closed (ErrClosed). A send blocks until ch takes the change or ctx is done, so a slow
// reader makes the kernel's queue fill and overrun, which the mirror then repairs. Changes
// stepped but not sent when ctx ends are kept for the next Step or Run. Run does not close
// ch. Other calls on the mirror stay allowed while it runs.
func (mr *Mirror) Run(ctx context.Context, ch chan<- Change) error {
	const op = "mirror run"
	if ch == nil {
		return invalid(op, "nil channel")
	}
	if err := mr.lock(op); err != nil {
		return err
	}
	mr.mu.Unlock()
	cancel, err := newCtxPipe(op, ctx)
	if err != nil {
		return err
	}
	defer cancel.close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := mr.lock(op); err != nil {
			return err
		}
		var next C.int32_t = -1
		var err error
		if len(mr.pending) == 0 {
			_, next, err = mr.step(op)
		}
		out := mr.pending
		mr.pending = nil
		if len(out) == 0 && err == nil {
			if err := mr.wait(op, next, cancel.fd()); err != nil {
				return err
			}
			continue
		}
		mr.mu.Unlock()
		for i, c := range out {
			select {
			case ch <- c:
			case <-ctx.Done():
				mr.keep(out[i:])
				return ctx.Err()
			}
		}
		if err != nil {
			return err
		}
	}
}

// keep puts changes not handed out back in front of the pending ones.
func (mr *Mirror) keep(rest []Change) {
	mr.mu.Lock()
	defer mr.mu.Unlock()
	if mr.m != nil {
		mr.pending = append(append([]Change(nil), rest...), mr.pending...)
	}
}

// Snapshot returns a copy of every entry the mirror holds now, in no particular order.
func (mr *Mirror) Snapshot() ([]Entry, error) {
	const op = "mirror snapshot"
	if err := mr.lock(op); err != nil {
		return nil, err
	}
	var views *C.gct_rview
	var n C.size_t
	var detail C.gct_err
	rc := C.gct_mirror_snapshot(mr.m, &views, &n, &detail)
	mr.mu.Unlock()
	defer C.free(unsafe.Pointer(views))
	if rc != C.CT_OK {
		return nil, newError(op, rc, &detail)
	}
	out := make([]Entry, int(n))
	vs := unsafe.Slice(views, int(n))
	var pool rarePool
	for i := range vs {
		fillFromView(&out[i], &vs[i], &pool)
	}
	return out, nil
}

// lookup runs a C lookup under the lock: (entry, true) when found, false when not.
func (mr *Mirror) lookup(op string, f func(out *C.gct_rview, detail *C.gct_err) C.ct_status) (Entry, bool, error) {
	if err := mr.lock(op); err != nil {
		return Entry{}, false, err
	}
	var out C.gct_rview
	var detail C.gct_err
	rc := f(&out, &detail)
	mr.mu.Unlock()
	switch rc {
	case C.CT_OK:
		return fromView(&out), true, nil
	case C.CT_ERR_NOT_FOUND:
		return Entry{}, false, nil
	}
	return Entry{}, false, newError(op, rc, &detail)
}

// Get looks up the mirror's entry with key's original tuple and zone (absent: zone 0).
func (mr *Mirror) Get(key Entry) (Entry, bool, error) {
	const op = "mirror get"
	var in C.gct_flat
	if err := key.toFlat(op, &in); err != nil {
		return Entry{}, false, err
	}
	return mr.lookup(op, func(out *C.gct_rview, detail *C.gct_err) C.ct_status {
		return C.gct_mirror_get(mr.m, &in, out, detail)
	})
}

// GetByID looks up the mirror's entry with the kernel id id (the newest, if the kernel
// reused the id).
func (mr *Mirror) GetByID(id uint32) (Entry, bool, error) {
	return mr.lookup("mirror get by id", func(out *C.gct_rview, detail *C.gct_err) C.ct_status {
		return C.gct_mirror_get_by_id(mr.m, C.uint32_t(id), out, detail)
	})
}

// Len is how many entries the mirror holds (0 after Close).
func (mr *Mirror) Len() int {
	if mr.lock("mirror len") != nil {
		return 0
	}
	defer mr.mu.Unlock()
	return int(C.ct_mirror_count(mr.m))
}

// Stats reads the mirror's counters.
func (mr *Mirror) Stats() (MirrorStats, error) {
	const op = "mirror stats"
	var s C.ct_mirror_counters
	if err := mr.call(op, func() C.ct_status { return C.ct_mirror_stats(mr.m, &s) }); err != nil {
		return MirrorStats{}, err
	}
	return MirrorStats{
		Events:          uint64(s.events),
		Overruns:        uint64(s.overruns),
		Repairs:         uint64(s.repairs),
		RepairedEntries: uint64(s.repaired_entries),
		StaleTime:       time.Duration(s.stale_ms) * time.Millisecond,
		LastRepair:      time.Duration(s.last_repair_ms) * time.Millisecond,
		Stale:           s.stale != 0,
	}, nil
}

// NextTimeout is how long until a repair is due (0: now), or a negative duration when none
// waits: the longest a poll loop on Fd may wait before calling Step(0).
func (mr *Mirror) NextTimeout() time.Duration {
	if mr.lock("mirror next timeout") != nil {
		return -1
	}
	defer mr.mu.Unlock()
	ms := C.ct_mirror_next_timeout(mr.m)
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// call runs f, one C call on the mirror, under the lock; a failure's detail is the one the
// mirror keeps, read before the lock is let go.
func (mr *Mirror) call(op string, f func() C.ct_status) error {
	if err := mr.lock(op); err != nil {
		return err
	}
	defer mr.mu.Unlock()
	if rc := f(); rc != C.CT_OK {
		return mirrorError(op, mr.m, rc)
	}
	return nil
}

// SetReceiveBuffer sets the event socket's receive buffer to about bytes (256 MiB by
// default). A smaller buffer loses events under bursts, which the mirror then repairs.
func (mr *Mirror) SetReceiveBuffer(bytes int) error {
	const op = "mirror set receive buffer"
	if bytes < 0 {
		return invalid(op, "negative size")
	}
	return mr.call(op, func() C.ct_status {
		return C.ct_mirror_set_receive_buffer(mr.m, C.size_t(bytes))
	})
}

// SetBackoff sets the delay before a repair after an overrun: min at first, doubling with
// each overrun up to max (defaults 10 ms and 2 s). Millisecond resolution.
func (mr *Mirror) SetBackoff(min, max time.Duration) error {
	const op = "mirror set backoff"
	if min < 0 || max < 0 || max/time.Millisecond > 1<<32-1 {
		return invalid(op, "backoff out of range")
	}
	return mr.call(op, func() C.ct_status {
		return C.ct_mirror_set_backoff(mr.m, C.uint32_t(min/time.Millisecond), C.uint32_t(max/time.Millisecond))
	})
}

// RequestRepair asks for a repair (a dump compared with the mirror) at the next step.
func (mr *Mirror) RequestRepair() error {
	return mr.call("mirror request repair", func() C.ct_status {
		return C.ct_mirror_request_repair(mr.m)
	})
}
