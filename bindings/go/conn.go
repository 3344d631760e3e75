package conntrack

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// Conn is an open ctnetlink socket in one network namespace (a ct_handle).
//
// A Conn is not safe for concurrent use: use it from one goroutine at a time (the
// library answers ErrBusy to a call made while another one is running on the same Conn,
// including a call made from inside a Dump callback). Separate Conns are independent and
// may be used from different goroutines at once. Close it when done.
type Conn struct {
	h      *C.ct_handle
	inDump bool
}

// Open opens a Conn in the caller's network namespace.
func Open() (*Conn, error) {
	return open("open", nil)
}

// OpenNetns opens a Conn inside the network namespace netns: a name under /run/netns (as
// `ip netns add` makes) or a path such as /proc/PID/ns/net. The calling thread never
// changes namespace. Errors match ErrNetns when the namespace cannot be opened or entered.
func OpenNetns(netns string) (*Conn, error) {
	if strings.IndexByte(netns, 0) >= 0 {
		return nil, invalid("open", "network namespace name holds a NUL byte")
	}
	cs := C.CString(netns)
	defer C.free(unsafe.Pointer(cs))
	return open("open "+netns, cs)
}

func open(op string, netns *C.char) (*Conn, error) {
	if viewLayoutErr != nil {
		return nil, viewLayoutErr
	}
	var h *C.ct_handle
	err := threadCall(op, func() C.ct_status {
		if netns != nil {
			return C.ct_open_netns(netns, &h)
		}
		return C.ct_open(&h)
	})
	if err != nil {
		return nil, err
	}
	return &Conn{h: h}, nil
}

// Close closes the socket. Closing a closed Conn does nothing; closing it from inside a
// Dump callback on it fails with ErrBusy.
func (c *Conn) Close() error {
	if c == nil || c.h == nil {
		return nil
	}
	if c.inDump {
		return &Error{Op: "close", Code: CodeBusy, Message: "Close called from inside a Dump callback on the same Conn"}
	}
	C.ct_close(c.h)
	c.h = nil
	return nil
}

func (c *Conn) handle(op string) (*C.ct_handle, error) {
	if c == nil || c.h == nil {
		return nil, fmt.Errorf("conntrack %s: %w", op, ErrClosed)
	}
	return c.h, nil
}

// viewBlock is how many entries Dump and List read per C call: a block of views.
const viewBlock = 256

// Dump streams every entry matching f (nil: every entry) to fn, which returns false to
// stop the dump early; nothing is kept in memory. fn must not use c (calls on it fail
// with ErrBusy) nor call runtime.Goexit (t.FailNow in tests); a panic in fn stops the
// dump and is raised again from Dump. Errors match ErrDumpInterrupted when the kernel
// flagged the dump as inconsistent: entries already delivered stand; run it again.
//
// The entries are read a block of views per C call (ct_cursor_next_views) and handed to
// fn one by one.
func (c *Conn) Dump(f *Filter, fn func(Entry) bool) error {
	h, err := c.handle("dump")
	if err != nil {
		return err
	}
	if fn == nil {
		return invalid("dump", "nil callback")
	}
	fs, err := f.spec("dump")
	if err != nil {
		return err
	}
	var cur *C.ct_cursor
	var detail C.gct_err
	if rc := C.gct_cursor_open(h, fs, &cur, &detail); rc != C.CT_OK {
		return newError("dump", rc, &detail)
	}
	// The cursor holds the handle (the library answers CT_ERR_BUSY meanwhile) until it
	// is freed, also when fn panics.
	defer C.ct_cursor_free(cur)
	outer := c.inDump // a Dump from inside a callback fails with ErrBusy; the outer one goes on
	c.inDump = true
	defer func() { c.inDump = outer }()
	views := make([]C.gct_rview, viewBlock)
	for {
		var n C.size_t
		rc := C.gct_cursor_views(h, cur, &views[0], C.size_t(len(views)), &n, &detail)
		// What the library delivered before an error stands.
		for i := 0; i < int(n); i++ {
			// fn may keep e: a value (its rare fields, if any, are its own).
			if !fn(fromView(&views[i])) {
				return nil
			}
		}
		if rc != C.CT_OK {
			return newError("dump", rc, &detail)
		}
		if n == 0 {
			return nil
		}
	}
}

// List returns every entry matching f (nil: every entry), read from the library's list a
// block of views per C call.
func (c *Conn) List(f *Filter) ([]Entry, error) {
	h, err := c.handle("list")
	if err != nil {
		return nil, err
	}
	fs, err := f.spec("list")
	if err != nil {
		return nil, err
	}
	var list *C.ct_entry_list
	var detail C.gct_err
	if rc := C.gct_list(h, fs, &list, &detail); rc != C.CT_OK {
		return nil, newError("list", rc, &detail)
	}
	defer C.ct_entry_list_free(list)
	total := int(C.ct_entry_list_len(list))
	out := make([]Entry, total)
	views := make([]C.gct_rview, viewBlock)
	var pool rarePool
	for first := 0; first < total; {
		var n C.size_t
		if rc := C.gct_list_views(list, C.size_t(first), &views[0], C.size_t(len(views)), &n, &detail); rc != C.CT_OK {
			return nil, newError("list", rc, &detail)
		}
		if n == 0 {
			break
		}
		for i := 0; i < int(n); i++ {
			fillFromView(&out[first+i], &views[i], &pool)
		}
		first += int(n)
	}
	return out, nil
}

// Get reads the entry whose original tuple (or, when key has only a reply tuple, reply
// tuple) and zone (0 when absent) are key's. Errors match ErrNotFound when there is none.
func (c *Conn) Get(key Entry) (Entry, error) {
	h, err := c.handle("get")
	if err != nil {
		return Entry{}, err
	}
	var in C.gct_flat
	var out C.gct_rview
	if err := key.toFlat("get", &in); err != nil {
		return Entry{}, err
	}
	var detail C.gct_err
	if rc := C.gct_get(h, &in, &out, &detail); rc != C.CT_OK {
		return Entry{}, newError("get", rc, &detail)
	}
	return fromView(&out), nil
}

func (c *Conn) entryOp(op string, code C.int, e *Entry) error {
	h, err := c.handle(op)
	if err != nil {
		return err
	}
	var f C.gct_flat
	if err := e.toFlat(op, &f); err != nil {
		return err
	}
	var detail C.gct_err
	if rc := C.gct_entry_op(h, code, &f, &detail); rc != C.CT_OK {
		return newError(op, rc, &detail)
	}
	return nil
}

// Create creates e. It needs the original tuple and a Timeout; errors match ErrExists
// when the tuple is taken in that zone, ErrTableFull when the kernel has no room for it.
func (c *Conn) Create(e Entry) error { return c.entryOp("create", C.GCT_OP_CREATE, &e) }

// Update changes the entry with e's tuple and zone: the timeout, mark, status, labels and
// protocol state e holds. Errors match ErrNotFound when there is no such entry.
func (c *Conn) Update(e Entry) error { return c.entryOp("update", C.GCT_OP_UPDATE, &e) }

// Delete deletes the entry with e's tuple and zone (0 when absent) and, when e has an ID,
// only if the kernel's entry has that id. Errors match ErrNotFound when there is none.
func (c *Conn) Delete(e Entry) error { return c.entryOp("delete", C.GCT_OP_DELETE, &e) }

// DeleteByID deletes the entry whose kernel id is id. Errors match ErrNotFound when there
// is none.
func (c *Conn) DeleteByID(id uint32) error {
	h, err := c.handle("delete")
	if err != nil {
		return err
	}
	if rc := C.ct_delete_by_id(h, C.uint32_t(id)); rc != C.CT_OK {
		return handleError("delete", h, rc)
	}
	return nil
}

func (c *Conn) deleteMatching(op string, f *Filter, flush C.int) (uint64, error) {
	h, err := c.handle(op)
	if err != nil {
		return 0, err
	}
	if f == nil {
		return 0, invalid(op, "nil filter (use Flush to empty the whole table)")
	}
	fs, err := f.spec(op)
	if err != nil {
		return 0, err
	}
	var n C.uint64_t
	var detail C.gct_err
	if rc := C.gct_delete_matching(h, fs, flush, &n, &detail); rc != C.CT_OK {
		return 0, newError(op, rc, &detail)
	}
	return uint64(n), nil
}

// CountUnknown is the count FlushMatching reports when the kernel flushed the entries
// itself and did not say how many.
const CountUnknown uint64 = C.CT_COUNT_UNKNOWN

// DeleteMatching deletes every entry matching f (not nil; an empty Filter matches every
// entry) and returns how many it deleted. It deletes exactly the matching entries on
// every kernel (by tuple, zone and id, in batches).
func (c *Conn) DeleteMatching(f *Filter) (uint64, error) {
	return c.deleteMatching("delete matching", f, 0)
}

// FlushMatching flushes every entry matching f (not nil) by the fastest means that removes
// exactly the matching entries on the running kernel (one filtered flush request where the
// kernel supports it for every field of f, otherwise like DeleteMatching). It returns how
// many entries went, or CountUnknown when the kernel flushed them itself; use
// DeleteMatching when the count matters.
func (c *Conn) FlushMatching(f *Filter) (uint64, error) {
	return c.deleteMatching("flush matching", f, 1)
}

// Flush empties the whole table of the Conn's namespace (IPv4 and IPv6, every zone).
func (c *Conn) Flush() error {
	h, err := c.handle("flush")
	if err != nil {
		return err
	}
	if rc := C.ct_flush(h); rc != C.CT_OK {
		return handleError("flush", h, rc)
	}
	return nil
}

// Count returns the number of entries in the table of the Conn's namespace (conntrack -C)
// and the table's limit (net.netfilter.nf_conntrack_max).
func (c *Conn) Count() (count, max uint32, err error) {
	h, err := c.handle("count")
	if err != nil {
		return 0, 0, err
	}
	var n, m C.uint32_t
	if rc := C.ct_count(h, &n, &m); rc != C.CT_OK {
		return 0, 0, handleError("count", h, rc)
	}
	return uint32(n), uint32(m), nil
}

// SetReceiveBuffer sets the socket's receive buffer to about bytes (the kernel doubles it
// and applies its own minimum). The default is 8 MiB; batches size each message to what
// the buffer can answer, so a small buffer costs more system calls, never lost outcomes.
func (c *Conn) SetReceiveBuffer(bytes int) error {
	h, err := c.handle("set receive buffer")
	if err != nil {
		return err
	}
	if bytes < 0 {
		return invalid("set receive buffer", "negative size")
	}
	if rc := C.ct_handle_set_receive_buffer(h, C.size_t(bytes)); rc != C.CT_OK {
		return handleError("set receive buffer", h, rc)
	}
	return nil
}

// Stats are conntrack statistics as `conntrack -S` prints them; counters the running
// kernel does not send read 0.
type Stats struct {
	CPU           uint32 // the CPU (0 in the total)
	Found         uint32
	Invalid       uint32
	Insert        uint32
	InsertFailed  uint32
	Drop          uint32
	EarlyDrop     uint32
	Error         uint32
	SearchRestart uint32
	ClashResolve  uint32
	ChainTooLong  uint32
}

func statsFromC(s *C.ct_stats) Stats {
	return Stats{CPU: uint32(s.cpu), Found: uint32(s.found), Invalid: uint32(s.invalid),
		Insert: uint32(s.insert), InsertFailed: uint32(s.insert_failed), Drop: uint32(s.drop),
		EarlyDrop: uint32(s.early_drop), Error: uint32(s.error), SearchRestart: uint32(s.search_restart),
		ClashResolve: uint32(s.clash_resolve), ChainTooLong: uint32(s.chaintoolong)}
}

// Stats returns the statistics summed over every CPU.
func (c *Conn) Stats() (Stats, error) {
	h, err := c.handle("stats")
	if err != nil {
		return Stats{}, err
	}
	var s C.ct_stats
	if rc := C.ct_stats_total(h, &s); rc != C.CT_OK {
		return Stats{}, handleError("stats", h, rc)
	}
	return statsFromC(&s), nil
}

// StatsPerCPU returns the statistics of each CPU, in the kernel's order.
func (c *Conn) StatsPerCPU() ([]Stats, error) {
	h, err := c.handle("stats")
	if err != nil {
		return nil, err
	}
	buf := make([]C.ct_stats, 8)
	for {
		var n C.size_t
		rc := C.ct_stats_per_cpu(h, &buf[0], C.size_t(len(buf)), &n)
		if rc == C.CT_ERR_BUFFER_TOO_SMALL && int(n) > len(buf) {
			buf = make([]C.ct_stats, int(n))
			continue
		}
		if rc != C.CT_OK {
			return nil, handleError("stats", h, rc)
		}
		out := make([]Stats, int(n))
		for i := range out {
			out[i] = statsFromC(&buf[i])
		}
		return out, nil
	}
}

// Version is the C library's version ("0.1.0").
func Version() string { return C.GoString(C.ct_version()) }
