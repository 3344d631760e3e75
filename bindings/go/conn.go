package conntrack

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
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
	var h *C.ct_handle
	var detail C.gct_err
	if rc := C.gct_open(netns, &h, &detail); rc != C.CT_OK {
		return nil, newError(op, rc, &detail)
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

// dumpState is what a running Dump's C callback finds through its cgo.Handle.
type dumpState struct {
	fn       func(Entry) bool
	panicked bool
	panicVal interface{}
}

// deliver hands one entry to the user's function; 0 goes on, 1 stops the dump. A panic
// is caught here (it must not unwind through the C library's frames) and raised again
// by Dump after the library has returned.
func (st *dumpState) deliver(e *C.ct_entry) (stop C.int32_t) {
	if st.panicked {
		return 1
	}
	var f C.gct_flat
	C.gct_read(e, &f)
	entry := fromFlat(&f)
	defer func() {
		if r := recover(); r != nil {
			st.panicked, st.panicVal, stop = true, r, 1
		}
	}()
	if st.fn(entry) {
		return 0
	}
	return 1
}

// Dump streams every entry matching f (nil: every entry) to fn, which returns false to
// stop the dump early; nothing is kept in memory. fn must not use c (calls on it fail
// with ErrBusy) nor call runtime.Goexit (t.FailNow in tests); a panic in fn stops the
// dump and is raised again from Dump. Errors match ErrDumpInterrupted when the kernel
// flagged the dump as inconsistent: entries already delivered stand; run it again.
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
	st := &dumpState{fn: fn}
	user := cgo.NewHandle(st)
	defer user.Delete()
	var detail C.gct_err
	c.inDump = true
	rc := C.gct_dump(h, fs, C.uintptr_t(user), &detail)
	c.inDump = false
	if st.panicked {
		panic(st.panicVal)
	}
	if rc != C.CT_OK {
		return newError("dump", rc, &detail)
	}
	return nil
}

// listChunk is how many entries List converts per C call.
const listChunk = 256

// List returns every entry matching f (nil: every entry).
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
	n := int(C.ct_entry_list_len(list))
	out := make([]Entry, 0, n)
	chunk := make([]C.gct_flat, listChunk)
	for start := 0; start < n; start += listChunk {
		k := n - start
		if k > listChunk {
			k = listChunk
		}
		C.gct_read_list(list, C.size_t(start), &chunk[0], C.size_t(k))
		for i := 0; i < k; i++ {
			out = append(out, fromFlat(&chunk[i]))
		}
	}
	return out, nil
}

// Get reads the entry whose original tuple (or, when key has only a reply tuple, reply
// tuple) and zone (0 when nil) are key's. Errors match ErrNotFound when there is none.
func (c *Conn) Get(key Entry) (Entry, error) {
	h, err := c.handle("get")
	if err != nil {
		return Entry{}, err
	}
	var in, out C.gct_flat
	if err := key.toFlat("get", &in); err != nil {
		return Entry{}, err
	}
	var detail C.gct_err
	if rc := C.gct_get(h, &in, &out, &detail); rc != C.CT_OK {
		return Entry{}, newError("get", rc, &detail)
	}
	return fromFlat(&out), nil
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
// when the tuple is taken in that zone.
func (c *Conn) Create(e Entry) error { return c.entryOp("create", C.GCT_OP_CREATE, &e) }

// Update changes the entry with e's tuple and zone: the timeout, mark, status, labels and
// protocol state e holds. Errors match ErrNotFound when there is no such entry.
func (c *Conn) Update(e Entry) error { return c.entryOp("update", C.GCT_OP_UPDATE, &e) }

// Delete deletes the entry with e's tuple and zone (0 when nil) and, when e.ID is set,
// only if the kernel's entry has that id. Errors match ErrNotFound when there is none.
func (c *Conn) Delete(e Entry) error { return c.entryOp("delete", C.GCT_OP_DELETE, &e) }

// DeleteByID deletes the entry whose kernel id is id. Errors match ErrNotFound when there
// is none.
func (c *Conn) DeleteByID(id uint32) error {
	h, err := c.handle("delete")
	if err != nil {
		return err
	}
	var detail C.gct_err
	if rc := C.gct_delete_by_id(h, C.uint32_t(id), &detail); rc != C.CT_OK {
		return newError("delete", rc, &detail)
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

// DeleteMatching deletes every entry matching f (not nil; an empty Filter matches every
// entry) and returns how many it deleted. It deletes exactly the matching entries on
// every kernel (by tuple, zone and id, in batches).
func (c *Conn) DeleteMatching(f *Filter) (uint64, error) {
	return c.deleteMatching("delete matching", f, 0)
}

// FlushMatching flushes every entry matching f (not nil) and returns how many went; safe
// on every kernel, like DeleteMatching.
func (c *Conn) FlushMatching(f *Filter) (uint64, error) {
	return c.deleteMatching("flush matching", f, 1)
}

// Flush empties the whole table of the Conn's namespace (IPv4 and IPv6, every zone).
func (c *Conn) Flush() error {
	h, err := c.handle("flush")
	if err != nil {
		return err
	}
	var detail C.gct_err
	if rc := C.gct_flush(h, &detail); rc != C.CT_OK {
		return newError("flush", rc, &detail)
	}
	return nil
}

// Version is the C library's version ("0.1.0").
func Version() string { return C.GoString(C.ct_version()) }
