package conntrack

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The scenario of Neutron's conntrack helper tests, as the C suite runs it: the tool makes
// a TCP, a UDP and an ICMP entry in one zone; List with a zone filter finds exactly those
// with every field right, another zone finds none; Delete removes them one by one
// (checked with conntrack -L) and DeleteMatching several at once.

type scenario struct {
	v6   bool
	zone uint16
}

func (s scenario) src() string {
	if s.v6 {
		return "::1"
	}
	return "1.1.1.1"
}

func (s scenario) dst() string {
	if s.v6 {
		return "::2"
	}
	return "2.2.2.2"
}

func (s scenario) icmpProto() uint8 {
	if s.v6 {
		return ProtoICMPv6
	}
	return ProtoICMP
}

// createThree makes the entries, with a timeout of 1234 s; it returns the time just before.
func (s scenario) createThree(t *testing.T, ns *netns) time.Time {
	t.Helper()
	start := time.Now()
	z := fmt.Sprint(s.zone)
	ns.tool(t, "-I", "-p", "tcp", "-s", s.src(), "-d", s.dst(), "--sport", "1", "--dport", "2",
		"--state", "ESTABLISHED", "-t", "1234", "-w", z)
	ns.tool(t, "-I", "-p", "udp", "-s", s.src(), "-d", s.dst(), "--sport", "4", "--dport", "5", "-t", "1234", "-w", z)
	if s.v6 {
		ns.tool(t, "-I", "-p", "icmpv6", "-s", s.src(), "-d", s.dst(), "--icmpv6-type", "128",
			"--icmpv6-code", "0", "--icmpv6-id", "3333", "-t", "1234", "-w", z)
	} else {
		ns.tool(t, "-I", "-p", "icmp", "-s", s.src(), "-d", s.dst(), "--icmp-type", "8",
			"--icmp-code", "0", "--icmp-id", "3333", "-t", "1234", "-w", z)
	}
	return start
}

// checkEntry checks every field of one of the three entries, read at most `since` after
// their creation.
func (s scenario) checkEntry(t *testing.T, ns *netns, e Entry, since time.Duration) {
	t.Helper()
	src, dst := netip.MustParseAddr(s.src()), netip.MustParseAddr(s.dst())
	wantFamily := FamilyIPv4
	if s.v6 {
		wantFamily = FamilyIPv6
	}
	if e.Family != wantFamily {
		t.Errorf("family %v, want %v", e.Family, wantFamily)
	}
	if e.Orig.Src != src || e.Orig.Dst != dst || e.Reply.Src != dst || e.Reply.Dst != src {
		t.Errorf("addresses %v>%v / %v>%v", e.Orig.Src, e.Orig.Dst, e.Reply.Src, e.Reply.Dst)
	}
	if to, ok := e.GetTimeout(); !ok || !timeoutWithin(to, 1234, since) {
		t.Errorf("timeout %v (present %v), %v after a create with 1234", to, ok, since)
	}
	if s.zone == 0 {
		if z, ok := e.GetZone(); ok {
			t.Errorf("zone %d on an entry of zone 0 (the kernel omits zone 0)", z)
		}
	} else if z, ok := e.GetZone(); !ok || z != s.zone {
		t.Errorf("zone %v (present %v), want %d", z, ok, s.zone)
	}
	if m, ok := e.GetMark(); !ok || m != 0 {
		t.Errorf("mark %v (present %v), want 0", m, ok)
	}
	if st, ok := e.GetStatus(); !ok || st&StatusConfirmed == 0 || st&StatusSeenReply != 0 {
		t.Errorf("status %v (present %v)", st, ok)
	}
	if e.Has&(FieldID|FieldUse) != FieldID|FieldUse {
		t.Errorf("id or use missing: %+v", e)
	}
	if ns.acct {
		oc, okO := e.GetOrigCounters()
		rc, okR := e.GetReplyCounters()
		if !okO || !okR || oc != (Counters{}) {
			t.Errorf("counters %v %v (present %v %v)", oc, rc, okO, okR)
		}
		if ts, ok := e.GetTimestampStart(); !ok || ts.IsZero() {
			t.Errorf("no start timestamp")
		}
	}
	if e.Has&(FieldTimestampStop|FieldLabels|FieldLabelsMask|FieldHelper|FieldSCTPState|FieldDCCPState) != 0 {
		t.Errorf("fields the entry does not hold: %+v", e)
	}
	port := func(p uint16, present bool) int {
		if !present {
			return -1
		}
		return int(p)
	}
	switch e.Proto {
	case ProtoTCP:
		if port(e.Orig.GetSrcPort()) != 1 || port(e.Orig.GetDstPort()) != 2 || port(e.Reply.GetSrcPort()) != 2 || port(e.Reply.GetDstPort()) != 1 {
			t.Errorf("TCP ports %d %d %d %d", port(e.Orig.GetSrcPort()), port(e.Orig.GetDstPort()), port(e.Reply.GetSrcPort()), port(e.Reply.GetDstPort()))
		}
		if st, ok := e.GetTCPState(); !ok || st != TCPStateEstablished {
			t.Errorf("TCP state %v (present %v)", st, ok)
		}
		if e.Orig.Has&TupleICMP != 0 {
			t.Errorf("ICMP fields on TCP")
		}
	case ProtoUDP:
		if port(e.Orig.GetSrcPort()) != 4 || port(e.Orig.GetDstPort()) != 5 || port(e.Reply.GetSrcPort()) != 5 || port(e.Reply.GetDstPort()) != 4 {
			t.Errorf("UDP ports %d %d %d %d", port(e.Orig.GetSrcPort()), port(e.Orig.GetDstPort()), port(e.Reply.GetSrcPort()), port(e.Reply.GetDstPort()))
		}
		if st, ok := e.GetTCPState(); ok {
			t.Errorf("TCP state on UDP: %v", st)
		}
	case s.icmpProto():
		wantOrig, wantReply := ICMP{Type: 8, ID: 3333}, ICMP{Type: 0, ID: 3333}
		if s.v6 {
			wantOrig.Type, wantReply.Type = 128, 129
		}
		if ic, ok := e.Orig.GetICMP(); !ok || ic != wantOrig {
			t.Errorf("ICMP orig %v (present %v)", ic, ok)
		}
		if ic, ok := e.Reply.GetICMP(); !ok || ic != wantReply {
			t.Errorf("ICMP reply %v (present %v)", ic, ok)
		}
		if e.Orig.Has&(TupleSrcPort|TupleDstPort) != 0 || e.Has&FieldTCPState != 0 {
			t.Errorf("ports or TCP state on ICMP")
		}
	default:
		t.Errorf("protocol %d", e.Proto)
	}
}

func listZone(t *testing.T, c *Conn, zone uint16) []Entry {
	t.Helper()
	l, err := c.List(&Filter{Zone: &zone})
	if err != nil {
		t.Fatalf("List zone %d: %v", zone, err)
	}
	return l
}

// deleteOne deletes the entry of proto and checks with the tool that exactly that one went.
func (s scenario) deleteOne(t *testing.T, c *Conn, ns *netns, proto uint8, name string, leftAfter int) {
	t.Helper()
	var victim *Entry
	for _, e := range listZone(t, c, s.zone) {
		if e.Proto == proto {
			e := e
			victim = &e
		}
	}
	if victim == nil {
		t.Fatalf("no %s entry listed", name)
	}
	if err := c.Delete(*victim); err != nil {
		t.Fatalf("Delete %s: %v", name, err)
	}
	out := ns.tool(t, "-L", "-w", fmt.Sprint(s.zone))
	total := countLines(out, "zone=")
	if s.zone == 0 {
		total = countLines(out, "src=")
	}
	if countLines(out, name) != 0 || total != leftAfter {
		t.Fatalf("after deleting %s (want %d left), conntrack -L shows:\n%s", name, leftAfter, out)
	}
}

func (s scenario) run(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	created := s.createThree(t, ns)
	// An entry in another zone that must never show up or go.
	other := "5"
	if s.zone == 5 {
		other = "6"
	}
	ns.tool(t, "-I", "-p", "udp", "-s", "9.9.9.9", "-d", "8.8.8.8", "--sport", "9", "--dport", "9", "-t", "1234", "-w", other)

	l := listZone(t, c, s.zone)
	if len(l) != 3 {
		t.Fatalf("zone %d listed %d entries: %v", s.zone, len(l), l)
	}
	protos := map[uint8]bool{}
	for _, e := range l {
		oc, _ := e.GetOrigCounters()
		rc, _ := e.GetReplyCounters()
		ts, _ := e.GetTimestampStart()
		t.Logf("listed: %s (counters %v %v, started %v)", e, oc, rc, ts)
		s.checkEntry(t, ns, e, time.Since(created))
		protos[e.Proto] = true
	}
	if !protos[ProtoTCP] || !protos[ProtoUDP] || !protos[s.icmpProto()] {
		t.Fatalf("protocols listed: %v", protos)
	}
	empty := uint16(4242)
	if s.zone == empty {
		empty++
	}
	if l := listZone(t, c, empty); len(l) != 0 {
		t.Fatalf("empty zone %d listed %v", empty, l)
	}

	icmpName := "icmp "
	if s.v6 {
		icmpName = "icmpv6"
	}
	s.deleteOne(t, c, ns, s.icmpProto(), icmpName, 2)
	s.deleteOne(t, c, ns, ProtoTCP, "tcp ", 1)
	s.deleteOne(t, c, ns, ProtoUDP, "udp ", 0)

	// Several at once.
	s.createThree(t, ns)
	n, err := c.DeleteMatching(&Filter{Zone: Ptr(s.zone)})
	if err != nil || n != 3 {
		t.Fatalf("DeleteMatching zone %d: %d, %v", s.zone, n, err)
	}
	all := ns.tool(t, "-L")
	if countLines(all, "src=") != 1 || countLines(all, "9.9.9.9") != 1 {
		t.Fatalf("after DeleteMatching the table holds:\n%s", all)
	}
}

func TestNeutronIPv4Zone(t *testing.T)      { scenario{v6: false, zone: 10}.run(t) }
func TestNeutronIPv6Zone(t *testing.T)      { scenario{v6: true, zone: 10}.run(t) }
func TestNeutronIPv4Zone65535(t *testing.T) { scenario{v6: false, zone: 65535}.run(t) }
func TestNeutronIPv6Zone65535(t *testing.T) { scenario{v6: true, zone: 65535}.run(t) }
func TestNeutronIPv4Zone0(t *testing.T)     { scenario{v6: false, zone: 0}.run(t) }
func TestNeutronIPv6Zone0(t *testing.T)     { scenario{v6: true, zone: 0}.run(t) }
