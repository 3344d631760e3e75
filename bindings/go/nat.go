package conntrack

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"net/netip"
	"strconv"
	"unsafe"
)

// NATKind says which NAT a filter asks for.
type NATKind uint32

const (
	// SrcNAT matches source-NATed entries (conntrack --src-nat): the reply destination
	// differs from the original source, in address or port.
	SrcNAT NATKind = C.CT_NAT_SRC
	// DstNAT matches destination-NATed entries (conntrack --dst-nat): the reply source
	// differs from the original destination.
	DstNAT NATKind = C.CT_NAT_DST
	// AnyNAT matches either (conntrack --any-nat).
	AnyNAT NATKind = C.CT_NAT_ANY
)

// NAT is the NAT condition of a Filter. Addr and Port, when set, are what the entry was
// translated to: the reply destination for SrcNAT, the reply source for DstNAT.
type NAT struct {
	Kind NATKind
	Addr netip.Addr // the zero Addr: any
	Port *uint16    // nil: any
}

// text is the condition as ct_filter_set_nat reads it: "ADDR", "ADDR:PORT", ":PORT" or "".
func (n *NAT) text(op string) (string, error) {
	var t string
	switch {
	case n.Addr.IsValid() && n.Port != nil:
		t = netip.AddrPortFrom(n.Addr.WithZone(""), *n.Port).String()
	case n.Addr.IsValid():
		t = n.Addr.WithZone("").String()
	case n.Port != nil:
		t = ":" + strconv.Itoa(int(*n.Port))
	}
	if len(t) >= C.GCT_FILTER_ADDR_MAX {
		return "", invalid(op, "NAT address "+t+" is too long")
	}
	return t, nil
}

// specs converts filters to C descriptions (Go memory without Go pointers, passed as one
// array); nil filters are refused.
func specs(op string, filters []*Filter) ([]C.gct_fspec, error) {
	out := make([]C.gct_fspec, len(filters))
	for i, f := range filters {
		if f == nil {
			return nil, invalid(op, "nil filter in the set")
		}
		s, err := f.spec(op)
		if err != nil {
			return nil, err
		}
		out[i] = *s
	}
	return out, nil
}

func first(s []C.gct_fspec) *C.gct_fspec {
	if len(s) == 0 {
		return nil
	}
	return (*C.gct_fspec)(unsafe.Pointer(&s[0]))
}

// DumpAny calls fn with each entry matching any of filters (at least one; no filter matches
// nothing), in one dump of the table however many filters there are, until fn returns
// false. The matches are gathered during the dump and passed to fn after it. Matching costs about the same for 10 or 10,000 filters that each pin an exact
// address, port, zone or protocol.
func (c *Conn) DumpAny(filters []*Filter, fn func(Entry) bool) error {
	h, err := c.handle("dump any")
	if err != nil {
		return err
	}
	if fn == nil {
		return invalid("dump any", "nil callback")
	}
	fs, err := specs("dump any", filters)
	if err != nil {
		return err
	}
	var detail C.gct_err
	var views *C.gct_rview
	var n C.size_t
	if rc := C.gct_dump_any(h, first(fs), C.size_t(len(fs)), &views, &n, &detail); rc != C.CT_OK {
		return newError("dump any", rc, &detail)
	}
	defer C.free(unsafe.Pointer(views))
	// The library's one pass has ended: fn runs on the gathered records, the handle is free.
	for _, v := range unsafe.Slice(views, int(n)) {
		v := v
		if !fn(fromView(&v)) {
			return nil
		}
	}
	return nil
}

// DeleteMatchingAny deletes every entry matching any of filters, in one dump of the table,
// and returns how many it deleted. The deletes go out while the dump is read, so memory
// stays flat whatever the number of matches; entries gone meanwhile are neither errors nor
// counted. With no filter it deletes nothing.
func (c *Conn) DeleteMatchingAny(filters ...*Filter) (uint64, error) {
	h, err := c.handle("delete matching any")
	if err != nil {
		return 0, err
	}
	fs, err := specs("delete matching any", filters)
	if err != nil {
		return 0, err
	}
	var n C.uint64_t
	var detail C.gct_err
	if rc := C.gct_delete_matching_any(h, first(fs), C.size_t(len(fs)), &n, &detail); rc != C.CT_OK {
		return 0, newError("delete matching any", rc, &detail)
	}
	return uint64(n), nil
}
