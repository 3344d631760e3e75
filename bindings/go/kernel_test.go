package conntrack

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// entry makes an entry as the C suite's make_entry does: protocol, addresses, timeout
// 1000, zone and mark.
func entry(proto uint8, src, dst string, zone uint16, mark uint32) Entry {
	return Entry{Proto: proto, Orig: Tuple{Src: addr(src), Dst: addr(dst)},
		Timeout: 1000, Zone: zone, Mark: mark, Has: FieldTimeout | FieldZone | FieldMark}
}

func withPorts(e Entry, sport, dport uint16) Entry {
	e.Orig.SetPorts(sport, dport)
	return e
}

// What Go creates, the tool shows field for field; labels are read back through Get and
// changed bit by bit (LabelsMask) or all at once (Labels) by Update.
func TestCreateToolReads(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	// Labels need the label extension, which the kernel attaches only while a rule uses them.
	if _, err := ns.try("nft", "add table inet t; add chain inet t c; add rule inet t c ct label set 127"); err != nil {
		t.Fatal(err)
	}
	c := ns.open(t)
	var labels Labels
	labels.SetBit(5, true)
	labels.SetBit(100, true)
	tcp := withPorts(entry(ProtoTCP, "10.0.0.1", "10.0.0.2", 3, 0x11), 1000, 80)
	tcp.SetTCPState(TCPStateEstablished)
	tcp.SetStatus(StatusSeenReply | StatusAssured)
	tcp.SetLabels(labels)
	icmp := entry(ProtoICMP, "10.0.0.1", "10.0.0.3", 65535, 7)
	icmp.Orig.SetICMP(ICMP{Type: 8, Code: 0, ID: 77})
	icmp6 := entry(ProtoICMPv6, "fe80::1", "fe80::2", 9, 0xffffffff)
	icmp6.Orig.SetICMP(ICMP{Type: 128, Code: 0, ID: 78})
	sctp := withPorts(entry(ProtoSCTP, "10.0.0.1", "10.0.0.4", 0, 5), 4, 5)
	sctp.SetSCTPState(4)
	all := []Entry{
		tcp,
		withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 0, 0), 53, 53),
		icmp,
		icmp6,
		sctp,
		withPorts(entry(ProtoGRE, "10.0.0.1", "10.0.0.5", 12, 0), 4, 5),
	}
	for i, e := range all {
		if err := c.Create(e); err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
	}
	out := ns.tool(t, "-L")
	for _, want := range []string{
		"tcp      6 ",
		"ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80 packets=0 bytes=0 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1000 packets=0 bytes=0 [ASSURED] mark=17 zone=3",
		"udp      17 ",
		"sport=53 dport=53 packets=0 bytes=0 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=53 packets=0 bytes=0 mark=0 delta-time=",
		"type=8 code=0 id=77 packets=0 bytes=0 [UNREPLIED] src=10.0.0.3 dst=10.0.0.1 type=0 code=0 id=77 packets=0 bytes=0 mark=7 zone=65535",
		"type=128 code=0 id=78 packets=0 bytes=0 [UNREPLIED] src=fe80::2 dst=fe80::1 type=129 code=0 id=78 packets=0 bytes=0 mark=4294967295 zone=9",
		"sctp     132 ",
		"ESTABLISHED src=10.0.0.1 dst=10.0.0.4 sport=4 dport=5",
		"srckey=0x4 dstkey=0x5 packets=0 bytes=0 [UNREPLIED] src=10.0.0.5 dst=10.0.0.1 srckey=0x5 dstkey=0x4 packets=0 bytes=0 mark=0 zone=12",
	} {
		if countLines(out, want) != 1 {
			t.Errorf("conntrack -L lacks %q", want)
		}
	}
	if countLines(out, "src=") != 6 {
		t.Errorf("conntrack -L shows %d entries", countLines(out, "src="))
	}
	if t.Failed() {
		t.Fatalf("conntrack -L shows:\n%s", out)
	}

	got, err := c.Get(tcp)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := got.GetLabels(); !ok || !l.Bit(5) || l.Bit(6) || !l.Bit(100) {
		t.Fatalf("labels read back: %v %v", l, ok)
	}
	if got.Has&(FieldMark|FieldZone|FieldStatus) != FieldMark|FieldZone|FieldStatus || got.Mark != 0x11 || got.Zone != 3 || got.Status&StatusAssured == 0 {
		t.Fatalf("read back: %+v", got)
	}
	// Only bit 6 touched: 5 and 100 keep their value.
	var six Labels
	six.SetBit(6, true)
	upd := tcp
	upd.SetLabels(six)
	upd.SetLabelsMask(six)
	if err := c.Update(upd); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Get(tcp); err != nil {
		t.Fatal(err)
	}
	if l, ok := got.GetLabels(); !ok || !l.Bit(5) || !l.Bit(6) || !l.Bit(100) {
		t.Fatalf("labels after a masked update: %v %v", l, ok)
	}
	// Labels alone replace all 128 bits.
	var one Labels
	one.SetBit(1, true)
	upd.SetLabels(one)
	upd.Clear(FieldLabelsMask)
	if err := c.Update(upd); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Get(tcp); err != nil {
		t.Fatal(err)
	}
	if l, ok := got.GetLabels(); !ok || l != one {
		t.Fatalf("labels after a full update: %v %v", l, ok)
	}
}

var (
	timeoutDefault  = regexp.MustCompile(`^(\S+\s+\d+\s+)\d+ `)
	timeoutExtended = regexp.MustCompile(`^(\S+\s+\d+\s+\S+\s+\d+\s+)\d+ `)
)

// normalize sorts the lines of text with their timeout column blanked (it ticks between
// two reads) and the use= field removed (a read-only field Format cannot print).
func normalize(lines []string, extended bool) []string {
	re := timeoutDefault
	if extended {
		re = timeoutExtended
	}
	var out []string
	for _, l := range lines {
		if l == "" {
			continue
		}
		l = re.ReplaceAllString(l, "${1}T ")
		l = strings.Replace(l, " use=1", "", 1)
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Entry.Format prints what conntrack -L prints, in the default, extended and id forms.
func TestFormatLikeTool(t *testing.T) {
	t.Parallel()
	ns := makeNetns(t, false) // no counters or timestamps: Format cannot print read-only fields
	c := ns.open(t)
	ns.tool(t, "-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "--state", "ESTABLISHED", "-t", "1234", "-w", "10", "-m", "3")
	ns.tool(t, "-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "4", "--dport", "5", "-t", "1234")
	ns.tool(t, "-I", "-p", "icmp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "3333", "-t", "1234", "-w", "65535")
	ns.tool(t, "-I", "-p", "icmpv6", "-s", "::1", "-d", "::2", "--icmpv6-type", "128", "--icmpv6-code", "0", "--icmpv6-id", "3333", "-t", "1234", "-w", "7")
	ns.tool(t, "-I", "-p", "tcp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "80", "--dport", "8080", "--state", "SYN_SENT", "-t", "50", "-u", "ASSURED")
	l, err := c.List(nil)
	if err != nil || len(l) != 5 {
		t.Fatalf("List: %d entries, %v", len(l), err)
	}
	for _, form := range []struct {
		flags FormatFlag
		opts  []string
	}{{0, nil}, {FormatExtended, []string{"-o", "extended"}}, {FormatID, []string{"-o", "id"}}, {FormatExtended | FormatID, []string{"-o", "extended,id"}}} {
		var mine []string
		for _, e := range l {
			s, err := e.Format(form.flags)
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, s)
		}
		tool := strings.Split(ns.tool(t, append([]string{"-L"}, form.opts...)...), "\n")
		a, b := normalize(mine, form.flags&FormatExtended != 0), normalize(tool, form.flags&FormatExtended != 0)
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("format %d differs from conntrack -L %v:\nmine:\n%s\ntool:\n%s", form.flags, form.opts, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
	}
}

// Get, Update (mark, timeout), DeleteByID, Flush, FlushMatching, and the error paths of
// each with errors.Is, errno and the kernel's detail.
func TestGetUpdateDeleteFlush(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	e := withPorts(entry(ProtoUDP, "1.1.1.1", "2.2.2.2", 5, 1), 4, 5)
	if err := c.Create(e); err != nil {
		t.Fatal(err)
	}
	err := c.Create(e)
	if !errors.Is(err, ErrExists) || !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second Create: %v", err)
	}
	t.Logf("second create: %v", err)
	e.SetMark(0x42)
	e.SetTimeout(500)
	updated := time.Now()
	if err := c.Update(e); err != nil {
		t.Fatal(err)
	}
	out := ns.tool(t, "-L", "-w", "5")
	since := time.Since(updated)
	if left, ok := toolTimeout(out, "mark=66 zone=5"); !ok || !timeoutWithin(left, 500, since) {
		t.Fatalf("after an Update to 500 s, %v before the tool's answer:\n%s", since, out)
	}
	got, err := c.Get(e)
	if err != nil || got.Has&FieldID == 0 || got.Has&FieldMark == 0 || got.Mark != 0x42 {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	id := got.ID

	// The same tuple in zone 0 is another entry: not found.
	z0 := e
	z0.Clear(FieldZone)
	if _, err := c.Get(z0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get in zone 0: %v", err)
	}
	err = c.Delete(z0)
	var ce *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ce) || ce.Errno != syscall.ENOENT || ce.Op != "delete" ||
		!strings.Contains(strings.ToLower(ce.Message), "no such") {
		t.Fatalf("Delete of a missing entry: %#v", err)
	}
	t.Logf("delete missing: %v", err)
	if err := c.Update(z0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update of a missing entry: %v", err)
	}
	// Delete with a stale id leaves the entry alone.
	stale := got
	stale.SetID(id + 1)
	if err := c.Delete(stale); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete with another id: %v", err)
	}
	if err := c.DeleteByID(id); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteByID(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteByID: %v", err)
	}
	if out := ns.tool(t, "-L"); countLines(out, "src=") != 0 {
		t.Fatalf("after DeleteByID:\n%s", out)
	}

	// FlushMatching takes one zone only; Flush takes the rest.
	ns.tool(t, "-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "-t", "100", "-w", "5")
	ns.tool(t, "-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "-t", "100", "-w", "6")
	ns.tool(t, "-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "--state", "SYN_SENT", "-t", "100", "-w", "6")
	ns.tool(t, "-I", "-p", "udp", "-s", "::1", "-d", "::2", "--sport", "1", "--dport", "2", "-t", "100")
	if n, err := c.FlushMatching(&Filter{Zone: Ptr[uint16](6)}); err != nil || n != 2 && n != CountUnknown {
		t.Fatalf("FlushMatching: %d, %v", n, err)
	}
	if out := ns.tool(t, "-L"); countLines(out, "src=") != 2 || countLines(out, "zone=5") != 1 {
		t.Fatalf("after FlushMatching:\n%s", out)
	}
	if _, err := c.FlushMatching(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("FlushMatching(nil): %v", err)
	}
	if _, err := c.DeleteMatching(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("DeleteMatching(nil): %v", err)
	}
	if n, max, err := c.Count(); err != nil || n != 2 || max == 0 {
		t.Fatalf("Count: %d of %d, %v", n, max, err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Count(); err != nil || n != 0 {
		t.Fatalf("Count after Flush: %d, %v", n, err)
	}
	if out := ns.tool(t, "-L"); countLines(out, "src=") != 0 {
		t.Fatalf("after Flush:\n%s", out)
	}

	// Statistics: one per CPU, the total their sum.
	per, err := c.StatsPerCPU()
	if err != nil || len(per) == 0 {
		t.Fatalf("StatsPerCPU: %v, %v", per, err)
	}
	total, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var sum Stats
	for _, s := range per {
		sum.Found += s.Found
		sum.Insert += s.Insert
		sum.Drop += s.Drop
		sum.ClashResolve += s.ClashResolve
	}
	if total.CPU != 0 || sum.Found > total.Found || sum.Insert > total.Insert || sum.Drop > total.Drop {
		t.Fatalf("total %+v, sum of CPUs %+v", total, sum)
	}
	if err := c.SetReceiveBuffer(1 << 16); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(nil); err != nil {
		t.Fatalf("List with a small receive buffer: %v", err)
	}

	// A closed Conn.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Create(e); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create on a closed Conn: %v", err)
	}
	if _, err := c.List(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("List on a closed Conn: %v", err)
	}
}

// Creating without what a create needs, and invalid values, are refused before anything
// reaches the kernel.
func TestCreateRefused(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	noTimeout := withPorts(entry(ProtoUDP, "1.1.1.1", "2.2.2.2", 0, 0), 1, 2)
	noTimeout.Clear(FieldTimeout)
	for name, e := range map[string]Entry{
		"no timeout":     noTimeout,
		"no address":     {Proto: ProtoUDP, Timeout: 10, Has: FieldTimeout},
		"mixed families": {Proto: ProtoUDP, Orig: Tuple{Src: addr("1.1.1.1"), Dst: addr("::1")}, Timeout: 10, Has: FieldTimeout},
		"port on ICMP":   withPorts(entry(ProtoICMP, "1.1.1.1", "2.2.2.2", 0, 0), 1, 2),
	} {
		err := c.Create(e)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if out := ns.tool(t, "-L"); countLines(out, "src=") != 0 {
		t.Fatalf("refused creates reached the kernel:\n%s", out)
	}
}

// The filters of the C suite, through the kernel and through the library alone.
func TestFilters(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	ns.tool(t, "-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", "1", "--dport", "53", "-t", "100", "-m", "0x10")
	ns.tool(t, "-I", "-p", "udp", "-s", "10.1.0.2", "-d", "10.2.0.1", "--sport", "2", "--dport", "53", "-t", "100", "-m", "0x11")
	ns.tool(t, "-I", "-p", "tcp", "-s", "10.9.0.1", "-d", "10.2.0.1", "--sport", "3", "--dport", "80", "--state", "ESTABLISHED", "-t", "100", "-m", "0x20", "-u", "ASSURED")
	ns.tool(t, "-I", "-p", "udp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "4", "--dport", "53", "-t", "100", "-w", "3")
	c := ns.open(t)
	pfx := netip.MustParsePrefix
	cases := []struct {
		f    Filter
		want int
	}{
		{Filter{}, 4},
		{Filter{Family: FamilyIPv4}, 3},
		{Filter{Family: FamilyIPv6}, 1},
		{Filter{Proto: ProtoTCP}, 1},
		{Filter{Mark: &Masked{0x10, 0xf0}}, 2},
		{Filter{Mark: &Masked{0x11, 0xffffffff}}, 1},
		{Filter{Status: &Masked{uint32(StatusAssured), uint32(StatusAssured)}}, 1},
		{Filter{OrigSrc: pfx("10.1.0.0/16")}, 2},
		{Filter{OrigSrc: pfx("10.1.0.0/16"), OrigSrcPort: Ptr[uint16](2)}, 1},
		{Filter{OrigDst: AddrPrefix(addr("10.2.0.1"))}, 3},
		{Filter{ReplySrc: AddrPrefix(addr("10.2.0.1"))}, 3},
		{Filter{ReplyDst: pfx("10.9.0.0/16")}, 1},
		{Filter{OrigSrc: pfx("fd00::/64")}, 1},
		{Filter{OrigDstPort: Ptr[uint16](53)}, 3},
		{Filter{ReplySrcPort: Ptr[uint16](80)}, 1},
		{Filter{Zone: Ptr[uint16](3)}, 1},
		{Filter{Zone: Ptr[uint16](0)}, 3},
		{Filter{Zone: Ptr[uint16](0), Proto: ProtoUDP, Family: FamilyIPv4}, 2},
	}
	for _, kernel := range []bool{true, false} {
		for i, tc := range cases {
			f := tc.f
			f.NoKernelFiltering = !kernel
			l, err := c.List(&f)
			if err != nil || len(l) != tc.want {
				t.Errorf("case %d (kernel filtering %v): %d entries, %v; wanted %d", i, kernel, len(l), err, tc.want)
			}
			n := 0
			if err := c.Dump(&f, func(Entry) bool { n++; return true }); err != nil || n != tc.want {
				t.Errorf("case %d (kernel filtering %v): Dump gave %d entries, %v; wanted %d", i, kernel, n, err, tc.want)
			}
		}
	}
	// A filter address of the other family than the filter's.
	if _, err := c.List(&Filter{Family: FamilyIPv6, OrigSrc: pfx("10.0.0.0/8")}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("IPv4 prefix on an IPv6 filter: %v", err)
	}
	if _, err := c.List(&Filter{OrigSrc: netip.PrefixFrom(addr("10.0.0.1"), 40)}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("invalid prefix: %v", err)
	}
}

// A Dump callback that stops the dump stops it and the Conn works right after; a panic
// in the callback comes out of Dump and leaves the Conn usable; a call on the same Conn
// from inside the callback gets ErrBusy.
func TestDumpStopsEarly(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	b := NewBatch()
	for i := 1; i <= 300; i++ {
		b.AddCreate(withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 0, 0), uint16(i), 1))
	}
	if errs, err := b.Send(c); err != nil || countErrors(errs) != 0 {
		t.Fatalf("batch: %v %v", err, errs)
	}
	if out := ns.tool(t, "-L"); countLines(out, "src=10.0.0.1") != 300 {
		t.Fatalf("the tool sees %d entries", countLines(out, "src=10.0.0.1"))
	}
	seen := 0
	if err := c.Dump(nil, func(Entry) bool { seen++; return false }); err != nil || seen != 1 {
		t.Fatalf("stopping Dump: %d entries, %v", seen, err)
	}
	all := 0
	if err := c.Dump(nil, func(Entry) bool { all++; return true }); err != nil || all != 300 {
		t.Fatalf("Dump after a stopped one: %d entries, %v", all, err)
	}
	// Entries reach Go in chunks: stopping inside a later chunk stops there too.
	for _, stopAt := range []int{127, 128, 129, 200, 299, 300} {
		seen, ports := 0, map[uint16]bool{}
		if err := c.Dump(nil, func(e Entry) bool {
			seen++
			ports[e.Orig.SrcPort] = true
			return seen < stopAt
		}); err != nil || seen != stopAt || len(ports) != stopAt {
			t.Fatalf("Dump stopping at %d: %d entries (%d distinct), %v", stopAt, seen, len(ports), err)
		}
	}

	var inner, nested, closeErr error
	if err := c.Dump(nil, func(Entry) bool {
		_, inner = c.List(nil)
		nested = c.Dump(nil, func(Entry) bool { return true })
		closeErr = c.Close()
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, ErrBusy) || !errors.Is(nested, ErrBusy) || !errors.Is(closeErr, ErrBusy) {
		t.Fatalf("calls on the Conn from inside its Dump callback: %v; %v; %v", inner, nested, closeErr)
	}
	t.Logf("nested call: %v", inner)

	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_ = c.Dump(nil, func(Entry) bool { panic("boom") })
		t.Fatal("the panic did not come out of Dump")
	}()
	if l, err := c.List(nil); err != nil || len(l) != 300 {
		t.Fatalf("List after a panicking Dump: %d, %v", len(l), err)
	}
	if err := c.Dump(nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil callback: %v", err)
	}
}

func countErrors(errs []error) int {
	n := 0
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
}

// A batch with failing requests gives an outcome per request, in order, and applies the
// others.
func TestBatch(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	a := withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 7, 0), 1, 1)
	bb := withPorts(entry(ProtoTCP, "10.0.0.1", "10.0.0.2", 7, 0), 2, 2)
	bb.SetTCPState(TCPStateEstablished)
	missing := withPorts(entry(ProtoUDP, "10.0.0.9", "10.0.0.2", 7, 0), 3, 3)
	noTimeout := withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 7, 0), 4, 4)
	noTimeout.Clear(FieldTimeout)
	badICMP := withPorts(entry(ProtoICMP, "10.0.0.1", "10.0.0.2", 7, 0), 5, 5)
	marked := a
	marked.SetMark(99)

	b := NewBatch()
	want := []error{nil, ErrExists, nil, ErrNotFound, nil, ErrInvalidArgument, ErrInvalidArgument, nil, ErrInvalidArgument, nil}
	idx := []int{
		b.AddCreate(a),
		b.AddCreate(a),
		b.AddCreate(bb),
		b.AddDelete(missing),
		b.AddUpdate(marked),
		b.AddCreate(noTimeout),
		b.AddCreate(badICMP),
		b.AddDelete(bb),
		b.AddCreate(withHelper(Entry{}, strings.Repeat("x", 100))),
		b.AddCreate(missing),
	}
	for i, k := range idx {
		if k != i {
			t.Fatalf("request %d got index %d", i, k)
		}
	}
	if b.Len() != len(want) {
		t.Fatalf("Len %d", b.Len())
	}
	errs, err := b.Send(c)
	if err != nil || len(errs) != len(want) {
		t.Fatalf("Send: %v, %d outcomes", err, len(errs))
	}
	for i := range want {
		if want[i] == nil && errs[i] != nil || want[i] != nil && !errors.Is(errs[i], want[i]) {
			t.Errorf("request %d: %v, want %v", i, errs[i], want[i])
		} else if errs[i] != nil {
			t.Logf("request %d: %v", i, errs[i])
		}
	}
	var ce *Error
	if !errors.As(errs[1], &ce) || ce.Errno != syscall.EEXIST || ce.Op != "create" {
		t.Errorf("request 1: %#v", errs[1])
	}
	if !errors.As(errs[3], &ce) || ce.Errno != syscall.ENOENT || ce.Op != "delete" {
		t.Errorf("request 3: %#v", errs[3])
	}
	out := ns.tool(t, "-L", "-w", "7")
	if countLines(out, "src=") != 2 || countLines(out, "sport=1 dport=1") != 1 || countLines(out, "mark=99 zone=7") != 1 ||
		countLines(out, "src=10.0.0.9") != 1 || countLines(out, "tcp") != 0 {
		t.Fatalf("after the batch:\n%s", out)
	}

	// Sent again as it is: every create now exists, the deletes find nothing.
	errs, err = b.Send(c)
	// request 3 now finds the entry request 9 made, and request 9 makes it again
	want = []error{ErrExists, ErrExists, nil, nil, nil, ErrInvalidArgument, ErrInvalidArgument, nil, ErrInvalidArgument, nil}
	if err != nil || len(errs) != len(want) {
		t.Fatalf("second Send: %v, %d outcomes", err, len(errs))
	}
	for i := range want {
		if want[i] == nil && errs[i] != nil || want[i] != nil && !errors.Is(errs[i], want[i]) {
			t.Errorf("second Send, request %d: %v, want %v", i, errs[i], want[i])
		}
	}

	// Big batches: every answer comes back.
	b.Reset()
	if b.Len() != 0 {
		t.Fatal("Reset left requests")
	}
	const n = 3000
	for i := 0; i < n; i++ {
		b.AddCreate(withPorts(entry(ProtoUDP, "10.1.0.1", "10.1.0.2", 8, 0), uint16(i+1), uint16(i/256+1)))
	}
	if errs, err := b.Send(c); err != nil || countErrors(errs) != 0 {
		t.Fatalf("big batch: %v, %d failed", err, countErrors(errs))
	}
	if out := ns.tool(t, "-L", "-w", "8"); countLines(out, "src=10.1.0.1") != n {
		t.Fatalf("the tool sees %d of %d", countLines(out, "src=10.1.0.1"), n)
	}
	b.Reset()
	for i := 0; i < n; i += 2 {
		b.AddDelete(withPorts(entry(ProtoUDP, "10.1.0.1", "10.1.0.2", 8, 0), uint16(i+1), uint16(i/256+1)))
	}
	if errs, err := b.Send(c); err != nil || countErrors(errs) != 0 {
		t.Fatalf("big delete batch: %v, %d failed", err, countErrors(errs))
	}
	if out := ns.tool(t, "-L", "-w", "8"); countLines(out, "src=10.1.0.1") != n/2 {
		t.Fatalf("the tool sees %d of %d", countLines(out, "src=10.1.0.1"), n/2)
	}
	if errs, err := NewBatch().Send(c); err != nil || len(errs) != 0 {
		t.Fatalf("empty batch: %v %v", errs, err)
	}
}

// Separate Conns used from several goroutines at once, each in its own namespace.
func TestConcurrentConns(t *testing.T) {
	t.Parallel()
	const workers, per = 6, 200
	nss := make([]*netns, workers)
	conns := make([]*Conn, workers)
	for i := range nss {
		nss[i] = newNetns(t)
		conns[i] = nss[i].open(t)
	}
	start := make(chan struct{})
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = work(conns[i], uint16(i+1), per)
		}(i)
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
		// Each namespace holds exactly its own worker's leftovers.
		out := nss[i].tool(t, "-L")
		if countLines(out, "src=") != per/2 || countLines(out, fmt.Sprintf("zone=%d", i+1)) != per/2 {
			t.Errorf("namespace %d holds:\n%s", i, out)
		}
	}
}

// work creates per entries one by one in zone, checks them with List and Dump, deletes
// half with DeleteMatching and the rest stays.
func work(c *Conn, zone uint16, per int) error {
	for p := 1; p <= per; p++ {
		if err := c.Create(withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", zone, uint32(p%2)), uint16(p), 1)); err != nil {
			return err
		}
	}
	l, err := c.List(&Filter{Zone: &zone})
	if err != nil {
		return err
	}
	if len(l) != per {
		return fmt.Errorf("listed %d of %d", len(l), per)
	}
	for _, e := range l {
		if z, ok := e.GetZone(); !ok || z != zone {
			return fmt.Errorf("entry of another zone: %v", e)
		}
	}
	n, err := c.DeleteMatching(&Filter{Zone: &zone, Mark: &Masked{Value: 1, Mask: 1}})
	if err != nil {
		return err
	}
	if n != uint64(per/2) {
		return fmt.Errorf("deleted %d", n)
	}
	seen := 0
	if err := c.Dump(&Filter{Zone: &zone}, func(e Entry) bool {
		if m, ok := e.GetMark(); ok && m == 0 {
			seen++
		}
		return true
	}); err != nil {
		return err
	}
	if seen != per/2 {
		return fmt.Errorf("dump saw %d", seen)
	}
	// Failures of two kinds, interleaved while the other workers fail too: each error
	// carries its own detail, whichever OS thread the goroutine ran on.
	gone := withPorts(entry(ProtoUDP, "10.9.9.9", "10.0.0.2", zone, 0), 1, 1)
	there := withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", zone, 0), 2, 1)
	for i := 0; i < 100; i++ {
		err := c.Delete(gone)
		var ce *Error
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &ce) || ce.Errno != syscall.ENOENT || strings.Contains(ce.Message, "exists") {
			return fmt.Errorf("delete %d: %v", i, err)
		}
		err = c.Create(there)
		if !errors.Is(err, ErrExists) || !errors.As(err, &ce) || ce.Errno != syscall.EEXIST || !strings.Contains(ce.Message, "exists") {
			return fmt.Errorf("create %d: %v", i, err)
		}
		runtime.Gosched()
	}
	return nil
}

// Without CAP_NET_ADMIN: ErrPermission naming the capability. The test binary runs itself
// again under capsh with the capability dropped.
func TestPermission(t *testing.T) {
	if netnsName := os.Getenv("CONNTRACK_GO_UNPRIVILEGED_NETNS"); netnsName != "" {
		unprivilegedChild(t, netnsName)
		return
	}
	t.Parallel()
	ns := newNetns(t)
	if _, err := exec.LookPath("capsh"); err != nil {
		t.Skip("capsh is missing")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("capsh", "--drop=cap_net_admin", "--", "-c", self+" -test.run=^TestPermission$ -test.count=1 -test.v")
	cmd.Env = append(os.Environ(), "CONNTRACK_GO_UNPRIVILEGED_NETNS="+ns.name)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPermission") {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
}

func unprivilegedChild(t *testing.T, netnsName string) {
	c, err := OpenNetns(netnsName)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.List(nil)
	var ce *Error
	if !errors.Is(err, ErrPermission) || !errors.As(err, &ce) || ce.Errno != syscall.EPERM || !strings.Contains(ce.Message, "CAP_NET_ADMIN") {
		t.Fatalf("List without CAP_NET_ADMIN: %#v", err)
	}
	t.Logf("unprivileged: %v", err)
}

// One tuple in the original-only and in the reply-only zone 5 is two entries: List of
// zone 5 reads both with their direction's zone, and Delete finds each in it.
func TestZoneOfOneDirection(t *testing.T) {
	ns := newNetns(t)
	tup := []string{"-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", "1", "--dport", "53", "-t", "100"}
	ns.tool(t, append(tup, "--orig-zone", "5")...)
	ns.tool(t, append(tup, "--reply-zone", "5")...)
	c := ns.open(t)
	got, err := c.List(&Filter{Zone: Ptr[uint16](5)})
	if err != nil || len(got) != 2 {
		t.Fatalf("List of zone 5: %d entries, %v", len(got), err)
	}
	replies := 0
	for _, e := range got {
		z, reply, ok := e.GetDirZone()
		if !ok || z != 5 || e.Has&FieldZone != 0 {
			t.Fatalf("dir zone %d %v %v, zone bit %v", z, reply, ok, e.Has&FieldZone != 0)
		}
		if reply {
			replies++
		}
		if err := c.Delete(e); err != nil {
			t.Fatalf("Delete (reply zone %v): %v", reply, err)
		}
	}
	if replies != 1 {
		t.Fatalf("%d of the two in the reply direction's zone", replies)
	}
	if out := ns.tool(t, "-L"); strings.TrimSpace(out) != "" {
		t.Fatalf("left: %s", out)
	}
}
