package conntrack

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"strconv"
	"strings"
)

// ExpectTuple is one tuple of an expectation: a layer-4 protocol and one direction's
// addresses and ports (or ICMP fields).
type ExpectTuple struct {
	Proto uint8
	Tuple
}

// Expectation is an entry of the expectation table: a connection a helper (FTP, SIP, ...)
// expects because of its master connection's traffic.
type Expectation struct {
	Master   ExpectTuple // the original tuple of the master connection
	Expected ExpectTuple // the expected connection's tuple
	Mask     ExpectTuple // which bits of Expected must match: addresses and ports as bit masks

	Timeout *uint32 // seconds (the helper's policy may replace it)
	Zone    *uint16 // nil: zone 0
	Helper  string  // "" on create: the master's helper
	Class   *uint32 // the helper's expectation class

	Flags *uint32 // read-only: the kernel's NF_CT_EXPECT_* flags
	ID    *uint32 // read-only: the kernel's id (DeleteExpectation does not use it)
}

func (t *ExpectTuple) isZero() bool {
	return t.Proto == 0 && !t.Src.IsValid() && !t.Dst.IsValid() && t.Has == 0
}

// toFlat copies x into the flat C struct (Go memory without Go pointers).
func (x *Expectation) toFlat(op string, f *C.gct_xflat) error {
	*f = C.gct_xflat{}
	has := uint32(0)
	for w, t := range [3]*ExpectTuple{&x.Master, &x.Expected, &x.Mask} {
		if t.isZero() {
			continue
		}
		e := Entry{Proto: t.Proto, Orig: t.Tuple}
		if err := e.toFlat(op, &f.tuple[w]); err != nil {
			return err
		}
		has |= C.GCTX_TUPLE0 << w
	}
	if x.Timeout != nil {
		has |= C.GCTX_TIMEOUT
		f.timeout = C.uint32_t(*x.Timeout)
	}
	if x.Zone != nil {
		has |= C.GCTX_ZONE
		f.zone = C.uint32_t(*x.Zone)
	}
	if x.Class != nil {
		has |= C.GCTX_CLASS
		f.cls = C.uint32_t(*x.Class)
	}
	if x.Helper != "" {
		if len(x.Helper) >= C.GCT_HELPER_MAX || strings.IndexByte(x.Helper, 0) >= 0 {
			return invalid(op, "helper name "+strconv.Quote(x.Helper)+" is too long or holds a NUL byte")
		}
		has |= C.GCTX_HELPER
		for i := 0; i < len(x.Helper); i++ {
			f.helper[i] = C.char(x.Helper[i])
		}
	}
	f.has = C.uint32_t(has)
	return nil
}

func expectFromFlat(f *C.gct_xflat) Expectation {
	var x Expectation
	has := uint32(f.has)
	for w, t := range [3]*ExpectTuple{&x.Master, &x.Expected, &x.Mask} {
		if has&(C.GCTX_TUPLE0<<w) != 0 {
			e := fromView(&f.rtuple[w])
			t.Proto, t.Tuple = e.Proto, e.Orig
		}
	}
	if has&C.GCTX_TIMEOUT != 0 {
		x.Timeout = Ptr(uint32(f.timeout))
	}
	if has&C.GCTX_ZONE != 0 {
		x.Zone = Ptr(uint16(f.zone))
	}
	if has&C.GCTX_CLASS != 0 {
		x.Class = Ptr(uint32(f.cls))
	}
	if has&C.GCTX_FLAGS != 0 {
		x.Flags = Ptr(uint32(f.flags))
	}
	if has&C.GCTX_ID != 0 {
		x.ID = Ptr(uint32(f.id))
	}
	if has&C.GCTX_HELPER != 0 {
		x.Helper = C.GoString(&f.helper[0])
	}
	return x
}

// Expectations returns every expectation of the Conn's namespace (conntrack -L expect).
func (c *Conn) Expectations() ([]Expectation, error) {
	const op = "expectations"
	h, err := c.handle(op)
	if err != nil {
		return nil, err
	}
	var out []Expectation
	user := cgo.NewHandle(&out)
	defer user.Delete()
	var detail C.gct_err
	if rc := C.gct_expect_dump(h, C.uintptr_t(user), &detail); rc != C.CT_OK {
		return nil, newError(op, rc, &detail)
	}
	return out, nil
}

func (c *Conn) expectOp(op string, code C.int, x *Expectation) error {
	h, err := c.handle(op)
	if err != nil {
		return err
	}
	var f C.gct_xflat
	if err := x.toFlat(op, &f); err != nil {
		return err
	}
	var detail C.gct_err
	if rc := C.gct_expect_op(h, code, &f, &detail); rc != C.CT_OK {
		return newError(op, rc, &detail)
	}
	return nil
}

// CreateExpectation creates x, which needs the Master, Expected and Mask tuples. The master
// connection must exist with a helper attached (errors match ErrNotFound otherwise);
// ErrExists when it is already expected.
func (c *Conn) CreateExpectation(x Expectation) error {
	return c.expectOp("create expectation", C.GCT_OP_CREATE, &x)
}

// DeleteExpectation deletes the expectation with x's Expected tuple and Zone (nil: 0).
// Errors match ErrNotFound when there is none.
func (c *Conn) DeleteExpectation(x Expectation) error {
	return c.expectOp("delete expectation", C.GCT_OP_DELETE, &x)
}

// FlushExpectations empties the expectation table of the Conn's namespace.
func (c *Conn) FlushExpectations() error {
	const op = "flush expectations"
	h, err := c.handle(op)
	if err != nil {
		return err
	}
	if rc := C.ct_expect_flush(h); rc != C.CT_OK {
		return handleError(op, h, rc)
	}
	return nil
}
