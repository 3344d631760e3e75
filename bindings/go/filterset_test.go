package conntrack

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
)

// A set of filters lists and deletes exactly the union of what each lists alone, on the
// kernel path and on the library's; a set of 10,000 (most matching nothing) too.
func TestDeleteMatchingAny(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	for _, userspace := range []bool{false, true} {
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		for z := uint16(1); z <= 2; z++ {
			for i := 1; i <= 50; i++ {
				if err := c.Create(withPorts(entry(ProtoUDP, fmt.Sprintf("10.0.%d.%d", z, i), "10.9.0.1", z, 0), 1000, 53)); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Create(withPorts(entry(ProtoUDP, fmt.Sprintf("fd00::%d", z), "fd00::99", z, 0), 1000, 53)); err != nil {
				t.Fatal(err)
			}
		}
		var filters []*Filter
		for j := 0; j < 10000; j++ {
			z := uint16(1 + j%2)
			a := netip.AddrFrom4([4]byte{10, byte(j / 2 / 250), byte(z), byte(j/2%250 + 1)})
			filters = append(filters, &Filter{Proto: ProtoUDP, Zone: Ptr(z), OrigSrc: AddrPrefix(a), NoKernelFiltering: userspace})
		}
		// Sources 10.0.Z.1 to 10.0.Z.50 exist: 100 entries; and IPv6 in zone 2.
		filters = append(filters, &Filter{Family: FamilyIPv6, Zone: Ptr[uint16](2), NoKernelFiltering: userspace})
		var listed []string
		if err := c.DumpAny(filters, func(e Entry) bool {
			listed = append(listed, fmt.Sprintf("%v/%d", e.Orig.Src, e.Zone))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if len(listed) != 101 {
			sort.Strings(listed)
			t.Fatalf("listed %d: %v", len(listed), listed)
		}
		n, err := c.DeleteMatchingAny(filters...)
		if err != nil || n != 101 {
			t.Fatalf("DeleteMatchingAny: %d, %v", n, err)
		}
		left := ns.tool(t, "-L")
		if countLines(left, "") != 1 || !strings.Contains(left, "fd00::1") {
			t.Fatalf("left:\n%s", left)
		}
		if n, err := c.DeleteMatchingAny(); err != nil || n != 0 {
			t.Fatalf("no filter: %d, %v", n, err)
		}
		if _, err := c.DeleteMatchingAny(nil); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("nil filter: %v", err)
		}
		// A filter that cannot match (IPv4 with an IPv6 address) is refused.
		bad := &Filter{Family: FamilyIPv4, NAT: &NAT{Kind: SrcNAT, Addr: netip.MustParseAddr("fd00::1")}}
		if _, err := c.DeleteMatchingAny(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("contradictory filter: %v", err)
		}
	}
}

// NAT filters list what conntrack -L --src-nat/--dst-nat/--any-nat lists.
func TestNATFilters(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	for _, args := range [][]string{
		{"-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", "1000", "--dport", "53", "-t", "100", "--src-nat", "192.168.9.9"},
		{"-I", "-p", "udp", "-s", "10.1.0.2", "-d", "10.2.0.1", "--sport", "1001", "--dport", "53", "-t", "100", "--dst-nat", "172.16.0.5:8053"},
		{"-I", "-p", "udp", "-s", "10.1.0.3", "-d", "10.2.0.1", "--sport", "1002", "--dport", "53", "-t", "100"},
	} {
		ns.tool(t, args...)
	}
	cases := []struct {
		nat  NAT
		tool []string
	}{
		{NAT{Kind: SrcNAT}, []string{"--src-nat"}},
		{NAT{Kind: SrcNAT, Addr: netip.MustParseAddr("192.168.9.9")}, []string{"--src-nat", "192.168.9.9"}},
		{NAT{Kind: DstNAT, Addr: netip.MustParseAddr("172.16.0.5"), Port: Ptr[uint16](8053)}, []string{"--dst-nat", "172.16.0.5:8053"}},
		{NAT{Kind: AnyNAT}, []string{"--any-nat"}},
	}
	for _, k := range cases {
		want := countLines(ns.tool(t, append([]string{"-L"}, k.tool...)...), "")
		nat := k.nat
		l, err := c.List(&Filter{NAT: &nat})
		if err != nil || len(l) != want || want == 0 {
			t.Fatalf("%v: listed %d (%v), the tool %d", k.tool, len(l), err, want)
		}
	}
	n, err := c.DeleteMatching(&Filter{NAT: &NAT{Kind: AnyNAT}})
	if err != nil || n != 2 || countLines(ns.tool(t, "-L"), "") != 1 {
		t.Fatalf("DeleteMatching any NAT: %d, %v", n, err)
	}
}
