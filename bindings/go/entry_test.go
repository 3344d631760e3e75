package conntrack

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// These tests need no kernel: they take entries through the C library and back.

func TestRoundTripEveryField(t *testing.T) {
	var labels Labels
	labels.SetBit(0, true)
	labels.SetBit(127, true)
	in := Entry{
		Family:   FamilyIPv4,
		Proto:    ProtoTCP,
		Orig:     PortTuple(netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:80")),
		Reply:    PortTuple(netip.MustParseAddrPort("10.0.0.2:80"), netip.MustParseAddrPort("10.0.0.9:2000")),
		Zone:     65535,
		Mark:     0xffffffff,
		Status:   StatusAssured | StatusSeenReply,
		Timeout:  1234,
		TCPState: TCPStateEstablished,
		ID:       42,
		Has:      FieldZone | FieldMark | FieldStatus | FieldTimeout | FieldTCPState | FieldID,
	}
	in.SetLabels(labels)
	in.SetHelper("ftp")
	out, err := roundTrip(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the entry:\n in  %+v\n out %+v", in, out)
	}

	sctp := Entry{
		Proto:     ProtoSCTP,
		Orig:      PortTuple(netip.MustParseAddrPort("[fd00::1]:4"), netip.MustParseAddrPort("[fd00::2]:5")),
		SCTPState: 4,
		Has:       FieldSCTPState | FieldZone | FieldMark, // zone 0 and mark 0, present
	}
	out, err = roundTrip(sctp)
	if err != nil {
		t.Fatal(err)
	}
	sctp.Family = FamilyIPv6 // implied by the addresses
	if !reflect.DeepEqual(sctp, out) {
		t.Fatalf("round trip changed the entry:\n in  %+v\n out %+v", sctp, out)
	}
	// Zone 0 and mark 0 were set: present, not absent.
	if z, ok := out.GetZone(); !ok || z != 0 {
		t.Fatalf("zone 0 read back as absent: %+v", out)
	}
	if m, ok := out.GetMark(); !ok || m != 0 {
		t.Fatalf("mark 0 read back as absent: %+v", out)
	}

	icmp := Entry{
		Proto: ProtoICMPv6,
		Orig:  ICMPTuple(netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2"), 128, 0, 3333),
		Reply: ICMPTuple(netip.MustParseAddr("fe80::2"), netip.MustParseAddr("fe80::1"), 129, 0, 3333),
	}
	out, err = roundTrip(icmp)
	if err != nil {
		t.Fatal(err)
	}
	icmp.Family = FamilyIPv6
	if !reflect.DeepEqual(icmp, out) {
		t.Fatalf("round trip changed the entry:\n in  %+v\n out %+v", icmp, out)
	}
}

func TestRoundTripAbsent(t *testing.T) {
	out, err := roundTrip(Entry{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, Entry{}) {
		t.Fatalf("an empty entry read back as %+v", out)
	}
}

func TestLabelsMask(t *testing.T) {
	var on, mask Labels
	on.SetBit(5, true)
	mask.SetBit(5, true)
	mask.SetBit(6, true) // touched, cleared
	var in Entry
	in.SetLabels(on)
	in.SetLabelsMask(mask)
	out, err := roundTrip(in)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := out.GetLabels()
	if _, hasMask := out.GetLabelsMask(); !ok || !got.Bit(5) || got.Bit(6) || hasMask {
		t.Fatalf("labels read back as %v (present %v, mask present %v)", got, ok, hasMask)
	}
	var l Labels
	l.SetBit(9, true)
	l.SetBit(128, true) // out of range: ignored
	l.SetBit(-1, true)
	if !l.Bit(9) || l.Bit(8) || l.Bit(128) || l != (Labels{1: 2}) {
		t.Fatalf("label bits: %v", l)
	}
	l.SetBit(9, false)
	if l != (Labels{}) {
		t.Fatalf("label bit not cleared: %v", l)
	}
}

func TestInvalidArguments(t *testing.T) {
	v4, v6 := netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("fe80::1")
	cases := []struct {
		name string
		e    Entry
		want string // in the message
	}{
		{"mixed families", Entry{Orig: Tuple{Src: v4, Dst: v6}}, ""},
		{"port on ICMP", Entry{Proto: ProtoICMP, Orig: Tuple{Src: v4, SrcPort: 80, Has: TupleSrcPort}}, ""},
		{"ICMP on IPv6", Entry{Proto: ProtoICMP, Orig: Tuple{Src: v6}}, ""},
		{"TCP state on UDP", Entry{Proto: ProtoUDP, TCPState: TCPStateEstablished, Has: FieldTCPState}, ""},
		{"TCP state 10", Entry{Proto: ProtoTCP, TCPState: 10, Has: FieldTCPState}, ""},
		{"ICMP fields on TCP", Entry{Proto: ProtoTCP, Orig: Tuple{ICMP: ICMP{Type: 8}, Has: TupleICMP}}, ""},
		{"family contradicting an address", Entry{Family: FamilyIPv6, Orig: Tuple{Src: v4}}, ""},
		{"helper too long", withHelper(Entry{}, strings.Repeat("h", 40)), "helper"},
	}
	for _, c := range cases {
		_, err := roundTrip(c.e)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", c.name, err)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Message == "" || ce.Code != CodeInvalidArgument {
			t.Errorf("%s: error without detail: %#v", c.name, err)
			continue
		}
		if !strings.Contains(ce.Message, c.want) {
			t.Errorf("%s: message %q lacks %q", c.name, ce.Message, c.want)
		}
		if errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v also matches ErrNotFound", c.name, err)
		}
	}
}

func TestFormat(t *testing.T) {
	e := Entry{
		Proto:   ProtoICMP,
		Orig:    ICMPTuple(netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2.2.2.2"), 8, 0, 1),
		Timeout: 10,
		Has:     FieldTimeout,
	}
	s, err := e.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "icmp     1 10 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=1") || strings.Contains(s, "\n") {
		t.Fatalf("Format: %q", s)
	}
	if e.String() != s {
		t.Fatalf("String %q != Format %q", e.String(), s)
	}
	long := e
	long.SetHelper("sip")
	long.SetMark(4294967295)
	long.SetLabels(Labels{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if _, err := long.Format(FormatExtended | FormatID | FormatTimestamp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Format(0x80); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unknown flag: %v", err)
	}
}

func TestErrors(t *testing.T) {
	_, err := OpenNetns("no-such-netns-here")
	if !errors.Is(err, ErrNetns) {
		t.Fatalf("OpenNetns of a missing namespace: %v", err)
	}
	if !strings.Contains(err.Error(), "no-such-netns-here") {
		t.Fatalf("message does not name the namespace: %v", err)
	}
	if _, err := OpenNetns("/etc/hostname"); !errors.Is(err, ErrNetns) {
		t.Fatalf("OpenNetns of a plain file: %v", err)
	}
	if _, err := OpenNetns("a\x00b"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("OpenNetns with a NUL: %v", err)
	}
	e := &Error{Op: "delete", Code: CodeNotFound, Errno: syscall.ENOENT, Message: "detail"}
	if !errors.Is(e, ErrNotFound) || errors.Is(e, ErrExists) || !errors.Is(e, syscall.ENOENT) {
		t.Fatal("errors.Is on *Error")
	}
	if e.Error() != "conntrack delete: detail" {
		t.Fatalf("Error(): %q", e.Error())
	}
	if (&Error{Code: CodeBusy}).Error() != "conntrack: "+CodeBusy.String() {
		t.Fatalf("Error() without message: %q", (&Error{Code: CodeBusy}).Error())
	}
	if CodeNotFound.String() != "no such conntrack entry or object" || Code(9999).String() != "unknown status" {
		t.Fatalf("strerror: %q %q", CodeNotFound.String(), Code(9999).String())
	}
	sentinels := []error{ErrInvalidArgument, ErrNullPointer, ErrNotFound, ErrExists, ErrPermission,
		ErrBufferTooSmall, ErrDumpInterrupted, ErrUnsupported, ErrNetns, ErrKernel, ErrMalformed,
		ErrInternal, ErrNotSet, ErrOverrun, ErrBusy, ErrTableFull}
	for i, s := range sentinels {
		if Code(i+1) != s {
			t.Fatalf("sentinel %d is %v", i+1, s)
		}
	}
	var c *Conn
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("List on a nil Conn: %v", err)
	}
	if v := Version(); strings.Count(v, ".") != 2 {
		t.Fatalf("Version %q", v)
	}
}

func TestFilterSpec(t *testing.T) {
	f := &Filter{OrigSrc: netip.MustParsePrefix("10.1.2.3/16"), ReplyDst: AddrPrefix(netip.MustParseAddr("fe80::1%eth0"))}
	s, err := f.spec("test")
	if err != nil {
		t.Fatal(err)
	}
	cstr := func(b []byte) string {
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			return string(b[:i])
		}
		return string(b)
	}
	var a0, a3 []byte
	for i := range s.addr[0] {
		a0 = append(a0, byte(s.addr[0][i]))
		a3 = append(a3, byte(s.addr[3][i]))
	}
	if cstr(a0) != "10.1.0.0/16" || cstr(a3) != "fe80::1" {
		t.Fatalf("prefix texts %q %q", cstr(a0), cstr(a3))
	}
	if s, err := (*Filter)(nil).spec("test"); s != nil || err != nil {
		t.Fatal("a nil filter is not NULL")
	}
}

func withHelper(e Entry, name string) Entry {
	e.SetHelper(name)
	return e
}

// The common entry is a value of fixed size: List's memory an entry is about this.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(Entry{}); n > 200 {
		t.Fatalf("Entry is %d bytes", n)
	}
}

// Copies of an Entry share its rare fields; a setter on one copy must not change another.
func TestRareFieldsCopy(t *testing.T) {
	var a Entry
	a.SetLabels(Labels{1})
	b := a
	b.SetLabels(Labels{2})
	b.SetHelper("ftp")
	if l, _ := a.GetLabels(); l != (Labels{1}) {
		t.Fatalf("a's labels changed through b: %v", l)
	}
	if _, ok := a.GetHelper(); ok {
		t.Fatal("a has b's helper")
	}
	if l, ok := b.GetLabels(); !ok || l != (Labels{2}) {
		t.Fatalf("b's labels: %v %v", l, ok)
	}
	b.Clear(FieldLabels)
	if _, ok := b.GetLabels(); ok {
		t.Fatal("labels left after Clear")
	}
	if _, ok := (&Entry{}).GetOrigCounters(); ok {
		t.Fatal("counters on the zero Entry")
	}
}
