package conntrack

/*
#include "shim.h"
*/
import "C"

import "net/netip"

// Masked matches a value under a mask: entries whose field ANDed with Mask equals Value
// ANDed with Mask (Mask 0xffffffff: the exact value).
type Masked struct {
	Value uint32
	Mask  uint32
}

// Filter selects entries. Every field left at its zero value matches everything, so the
// zero Filter matches every entry. The library applies each field in the kernel where the
// kernel can and checks every field again itself, so the result is the same on every
// kernel.
type Filter struct {
	Family Family  // 0: any family
	Proto  uint8   // 0: any protocol
	Zone   *uint16 // nil: any zone (entries without a zone are in zone 0)
	Mark   *Masked // nil: any mark
	Status *Masked // nil: any status

	// An address (a single-address prefix such as 10.0.0.1/32) or a network per tuple side;
	// the zero Prefix matches any address.
	OrigSrc, OrigDst, ReplySrc, ReplyDst netip.Prefix

	OrigSrcPort, OrigDstPort, ReplySrcPort, ReplyDstPort *uint16 // nil: any port

	// NAT, when set, matches only NATed entries, as conntrack(8)'s --src-nat, --dst-nat
	// and --any-nat do.
	NAT *NAT

	// NoKernelFiltering asks nothing of the kernel and matches every field in the
	// library: the path taken on older kernels, for tests and comparisons.
	NoKernelFiltering bool
}

// AddrPrefix is the Prefix that matches exactly the address a.
func AddrPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a.WithZone(""), a.BitLen())
}

// spec converts f to the C description (Go memory, no Go pointers); nil for a nil filter.
func (f *Filter) spec(op string) (*C.gct_fspec, error) {
	if f == nil {
		return nil, nil
	}
	s := new(C.gct_fspec)
	has := uint32(0)
	if f.Family != 0 {
		has |= C.GCTF_FAMILY
		s.family = C.uint8_t(f.Family)
	}
	if f.Proto != 0 {
		has |= C.GCTF_PROTO
		s.proto = C.uint8_t(f.Proto)
	}
	if f.Zone != nil {
		has |= C.GCTF_ZONE
		s.zone = C.uint16_t(*f.Zone)
	}
	if f.Mark != nil {
		has |= C.GCTF_MARK
		s.mark, s.mark_mask = C.uint32_t(f.Mark.Value), C.uint32_t(f.Mark.Mask)
	}
	if f.Status != nil {
		has |= C.GCTF_STATUS
		s.status, s.status_mask = C.uint32_t(f.Status.Value), C.uint32_t(f.Status.Mask)
	}
	prefixes := [4]netip.Prefix{f.OrigSrc, f.OrigDst, f.ReplySrc, f.ReplyDst}
	ports := [4]*uint16{f.OrigSrcPort, f.OrigDstPort, f.ReplySrcPort, f.ReplyDstPort}
	for w := 0; w < 4; w++ {
		if p := prefixes[w]; p != (netip.Prefix{}) {
			if !p.IsValid() {
				return nil, invalid(op, "filter prefix "+p.String()+" is not valid")
			}
			var text string
			if p.Bits() == p.Addr().BitLen() {
				text = p.Addr().String()
			} else {
				text = p.Masked().String()
			}
			if len(text) >= C.GCT_FILTER_ADDR_MAX {
				return nil, invalid(op, "filter prefix "+text+" is too long")
			}
			has |= C.GCTF_ADDR0 << w
			for i := 0; i < len(text); i++ {
				s.addr[w][i] = C.char(text[i])
			}
		}
		if p := ports[w]; p != nil {
			has |= C.GCTF_PORT0 << w
			s.port[w] = C.uint16_t(*p)
		}
	}
	if f.NoKernelFiltering {
		has |= C.GCTF_NO_KERNEL
	}
	if f.NAT != nil {
		text, err := f.NAT.text(op)
		if err != nil {
			return nil, err
		}
		has |= C.GCTF_NAT
		s.nat_kind = C.uint32_t(f.NAT.Kind)
		for i := 0; i < len(text); i++ {
			s.nat[i] = C.char(text[i])
		}
	}
	s.has = C.uint32_t(has)
	return s, nil
}
