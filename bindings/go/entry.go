package conntrack

/*
#include "shim.h"
*/
import "C"

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Family is a layer-3 address family.
type Family uint8

// Address families.
const (
	FamilyIPv4 Family = C.CT_FAMILY_IPV4
	FamilyIPv6 Family = C.CT_FAMILY_IPV6
)

func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// Layer-4 protocol numbers (any other number may be used as well).
const (
	ProtoICMP    uint8 = C.CT_PROTO_ICMP
	ProtoTCP     uint8 = C.CT_PROTO_TCP
	ProtoUDP     uint8 = C.CT_PROTO_UDP
	ProtoDCCP    uint8 = C.CT_PROTO_DCCP
	ProtoGRE     uint8 = C.CT_PROTO_GRE
	ProtoICMPv6  uint8 = C.CT_PROTO_ICMPV6
	ProtoSCTP    uint8 = C.CT_PROTO_SCTP
	ProtoUDPLite uint8 = C.CT_PROTO_UDPLITE
)

// Status holds the status bits of an entry (the kernel's IPS_* numbering).
type Status uint32

// Status bits. Create and Update always send StatusConfirmed; the kernel lets user space
// change only some bits (Assured, SeenReply and the NAT bits).
const (
	StatusExpected     Status = 1 << 0
	StatusSeenReply    Status = C.CT_STATUS_SEEN_REPLY
	StatusAssured      Status = C.CT_STATUS_ASSURED
	StatusConfirmed    Status = C.CT_STATUS_CONFIRMED
	StatusSrcNAT       Status = 1 << 4
	StatusDstNAT       Status = 1 << 5
	StatusSeqAdjust    Status = 1 << 6
	StatusSrcNATDone   Status = 1 << 7
	StatusDstNATDone   Status = 1 << 8
	StatusDying        Status = 1 << 9
	StatusFixedTimeout Status = 1 << 10
	StatusTemplate     Status = 1 << 11
	StatusHelper       Status = 1 << 13
	StatusOffload      Status = 1 << 14
)

// TCPState is a TCP conntrack state (the kernel's TCP_CONNTRACK_* numbering).
type TCPState uint8

// TCP states.
const (
	TCPStateNone        TCPState = 0
	TCPStateSynSent     TCPState = 1
	TCPStateSynRecv     TCPState = 2
	TCPStateEstablished TCPState = C.CT_TCP_STATE_ESTABLISHED
	TCPStateFinWait     TCPState = 4
	TCPStateCloseWait   TCPState = 5
	TCPStateLastAck     TCPState = 6
	TCPStateTimeWait    TCPState = 7
	TCPStateClose       TCPState = 8
	TCPStateSynSent2    TCPState = 9
)

var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// String gives the state as conntrack -L prints it.
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "tcpstate(" + strconv.Itoa(int(s)) + ")"
}

// ICMP holds the ICMP or ICMPv6 type, code and identifier of one tuple.
type ICMP struct {
	Type uint8
	Code uint8
	ID   uint16
}

// Tuple is one direction of a connection. A zero netip.Addr and a nil pointer mean the
// field is absent.
type Tuple struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort *uint16 // TCP, UDP, UDP-Lite, SCTP, DCCP ports; GRE keys
	ICMP             *ICMP   // ICMP and ICMPv6 only
}

// PortTuple is a Tuple of addresses and ports, for TCP, UDP, SCTP, DCCP and UDP-Lite.
func PortTuple(src, dst netip.AddrPort) Tuple {
	sp, dp := src.Port(), dst.Port()
	return Tuple{Src: src.Addr(), Dst: dst.Addr(), SrcPort: &sp, DstPort: &dp}
}

// ICMPTuple is a Tuple of addresses and ICMP or ICMPv6 type, code and identifier.
func ICMPTuple(src, dst netip.Addr, icmpType, code uint8, id uint16) Tuple {
	return Tuple{Src: src, Dst: dst, ICMP: &ICMP{Type: icmpType, Code: code, ID: id}}
}

// Counters are the packet and byte counters of one direction (present when the namespace
// has net.netfilter.nf_conntrack_acct=1).
type Counters struct {
	Packets uint64
	Bytes   uint64
}

// Labels are the 128 connection label bits: bit n is bit n%8 of byte n/8.
type Labels [16]byte

// Bit reports label bit n (0..127); false for n out of range.
func (l Labels) Bit(n int) bool {
	return n >= 0 && n < 128 && l[n/8]&(1<<(n%8)) != 0
}

// SetBit sets (on true) or clears label bit n (0..127); it ignores n out of range.
func (l *Labels) SetBit(n int, on bool) {
	if n < 0 || n >= 128 {
		return
	}
	if on {
		l[n/8] |= 1 << (n % 8)
	} else {
		l[n/8] &^= 1 << (n % 8)
	}
}

// Entry is a conntrack entry: every field of the C library's ct_entry. Pointer fields are
// nil, addresses invalid (the zero netip.Addr), times zero and strings empty when the
// entry does not hold the field, so a real 0 and "absent" are never confused. Fields
// marked read-only are filled from the kernel and ignored by Create, Update and Delete.
//
// Operations use the original tuple (Orig) and Zone (zone 0 when nil) to find an entry;
// Create needs the original tuple (addresses, protocol, ports or ICMP fields) and a
// Timeout, and makes the reply tuple the inverse of the original unless Reply is given.
// An Entry returned by Dump, List or Get may be passed back to Update or Delete as it is:
// it holds its ID, so Delete then removes it only if the kernel's entry is still that one.
type Entry struct {
	Family Family // 0: not set (implied by the addresses)
	Proto  uint8  // layer-4 protocol number; 0: not set

	Orig  Tuple
	Reply Tuple

	Zone      *uint16   // nil: zone 0 for operations (the kernel omits zone 0, so entries read from zone 0 have nil)
	Mark      *uint32   // connection mark
	Status    *Status   // status bits
	Timeout   *uint32   // seconds left before the entry expires
	TCPState  *TCPState // TCP only
	SCTPState *uint8    // SCTP only (the kernel's SCTP_CONNTRACK_* numbering)
	DCCPState *uint8    // read-only; DCCP only
	ID        *uint32   // the kernel's id; Delete with an ID removes only the entry of that id
	Use       *uint32   // read-only: reference count

	OrigCounters  *Counters // read-only
	ReplyCounters *Counters // read-only

	TimestampStart time.Time // read-only; needs net.netfilter.nf_conntrack_timestamp=1
	TimestampStop  time.Time // read-only; destroy events only

	// Labels are the connection labels. On Create and Update, Labels alone replaces all 128
	// bits; with LabelsMask, only the bits set in the mask are changed, to their value in
	// Labels (nil Labels: cleared). LabelsMask is never filled when reading.
	Labels     *Labels
	LabelsMask *Labels

	Secmark *uint32 // read-only: SELinux secmark
	Helper  string  // helper to attach at creation ("ftp", "sip", ...); "" when none
}

// Ptr returns a pointer to a copy of v: a short way to fill the optional fields of Entry
// and Filter, as in Entry{Zone: conntrack.Ptr[uint16](10)}.
func Ptr[T any](v T) *T { return &v }

// toFlat copies e into the flat C struct (Go memory without Go pointers): its view, and
// the labels mask and helper the view cannot carry. Only the fields a setter exists for
// are copied; read-only fields are left out. The library checks the rest when it builds
// the entry (ct_entry_from_view).
func (e *Entry) toFlat(op string, f *C.gct_flat) error {
	*f = C.gct_flat{}
	v := &f.view
	v.size = C.uint32_t(viewSize)
	var p uint32
	family := e.Family
	if family != 0 {
		p |= viewFamily
	}
	addrs := [4]netip.Addr{e.Orig.Src, e.Orig.Dst, e.Reply.Src, e.Reply.Dst}
	slots := [4]*[16]C.uint8_t{&v.orig_src, &v.orig_dst, &v.reply_src, &v.reply_dst}
	bits := [4]uint32{viewOrigSrc, viewOrigDst, viewReplySrc, viewReplyDst}
	for w, a := range addrs {
		if !a.IsValid() {
			continue
		}
		fam := FamilyIPv6
		if a.Is4() {
			fam = FamilyIPv4
		}
		if family == 0 {
			family = fam // the first address decides, as the setters do
			p |= viewFamily
		} else if fam != family {
			return invalid(op, "address "+a.String()+" is not of the entry's family ("+family.String()+")")
		}
		raw := a.As16()
		if fam == FamilyIPv4 {
			b4 := a.As4()
			raw = [16]byte{b4[0], b4[1], b4[2], b4[3]}
		}
		*slots[w] = *(*[16]C.uint8_t)(unsafe.Pointer(&raw))
		p |= bits[w]
	}
	v.family = C.uint8_t(family)
	if e.Proto != 0 {
		p |= viewProto
		v.proto = C.uint8_t(e.Proto)
	}
	ports := [4]*uint16{e.Orig.SrcPort, e.Orig.DstPort, e.Reply.SrcPort, e.Reply.DstPort}
	portSlots := [4]*C.uint16_t{&v.orig_sport, &v.orig_dport, &v.reply_sport, &v.reply_dport}
	portBits := [4]uint32{viewOrigSport, viewOrigDport, viewReplySport, viewReplyDport}
	for w, port := range ports {
		if port != nil {
			*portSlots[w] = C.uint16_t(*port)
			p |= portBits[w]
		}
	}
	if ic := e.Orig.ICMP; ic != nil {
		v.orig_icmp_type, v.orig_icmp_code, v.orig_icmp_id = C.uint8_t(ic.Type), C.uint8_t(ic.Code), C.uint16_t(ic.ID)
		p |= viewOrigICMP
	}
	if ic := e.Reply.ICMP; ic != nil {
		v.reply_icmp_type, v.reply_icmp_code, v.reply_icmp_id = C.uint8_t(ic.Type), C.uint8_t(ic.Code), C.uint16_t(ic.ID)
		p |= viewReplyICMP
	}
	if e.Zone != nil {
		p |= viewZone
		v.zone = C.uint16_t(*e.Zone)
	}
	if e.Mark != nil {
		p |= viewMark
		v.mark = C.uint32_t(*e.Mark)
	}
	if e.Status != nil {
		p |= viewStatus
		v.status = C.uint32_t(*e.Status)
	}
	if e.Timeout != nil {
		p |= viewTimeout
		v.timeout = C.uint32_t(*e.Timeout)
	}
	if e.TCPState != nil {
		p |= viewTCPState
		v.tcp_state = C.uint8_t(*e.TCPState)
	}
	if e.SCTPState != nil {
		p |= viewSCTPState
		v.sctp_state = C.uint8_t(*e.SCTPState)
	}
	if e.ID != nil {
		p |= viewID
		v.id = C.uint32_t(*e.ID)
	}
	switch {
	case e.LabelsMask != nil:
		// Only the masked bits change: not the view's labels, which replace all 128.
		f.has |= C.GCT_LABELS_MASK
		var l Labels
		if e.Labels != nil {
			l = *e.Labels
		}
		f.labels = *(*[16]C.uint8_t)(unsafe.Pointer(&l))
		f.labels_mask = *(*[16]C.uint8_t)(unsafe.Pointer(e.LabelsMask))
	case e.Labels != nil:
		p |= viewLabels
		v.labels = *(*[16]C.uint8_t)(unsafe.Pointer(e.Labels))
	}
	if e.Helper != "" {
		if len(e.Helper) >= C.GCT_HELPER_MAX || strings.IndexByte(e.Helper, 0) >= 0 {
			return invalid(op, "helper name "+strconv.Quote(e.Helper)+" is too long or holds a NUL byte")
		}
		f.has |= C.GCT_HELPER
		for i := 0; i < len(e.Helper); i++ {
			f.helper[i] = C.char(e.Helper[i])
		}
	}
	v.present = C.uint32_t(p)
	return nil
}

// The view layout this package reads (C.ct_view of the header it was built with); the
// library must say it writes this size, or Open refuses to work (a mismatched library).
var viewLayoutErr = checkViewLayout(viewSize)

const viewSize = C.sizeof_ct_view

func checkViewLayout(size int) error {
	if got := int(C.gct_view_size(C.size_t(size))); got != size {
		how := "refused that size"
		if got != 0 {
			how = "wrote " + strconv.Itoa(got) + " bytes"
		}
		return &Error{Op: "open", Code: CodeInvalidArgument, Message: "libconntrack has another ct_view layout: this package reads " +
			strconv.Itoa(size) + "-byte views and the library " + how + "; build the package against the library's own conntrack.h"}
	}
	return nil
}

// Presence bits of C.ct_view, as Go constants.
const (
	viewFamily         = C.CT_VIEW_FAMILY
	viewProto          = C.CT_VIEW_PROTO
	viewOrigSrc        = C.CT_VIEW_ORIG_SRC
	viewOrigDst        = C.CT_VIEW_ORIG_DST
	viewReplySrc       = C.CT_VIEW_REPLY_SRC
	viewReplyDst       = C.CT_VIEW_REPLY_DST
	viewOrigSport      = C.CT_VIEW_ORIG_SPORT
	viewOrigDport      = C.CT_VIEW_ORIG_DPORT
	viewReplySport     = C.CT_VIEW_REPLY_SPORT
	viewReplyDport     = C.CT_VIEW_REPLY_DPORT
	viewOrigICMP       = C.CT_VIEW_ORIG_ICMP
	viewReplyICMP      = C.CT_VIEW_REPLY_ICMP
	viewZone           = C.CT_VIEW_ZONE
	viewMark           = C.CT_VIEW_MARK
	viewStatus         = C.CT_VIEW_STATUS
	viewTimeout        = C.CT_VIEW_TIMEOUT
	viewID             = C.CT_VIEW_ID
	viewUse            = C.CT_VIEW_USE
	viewTCPState       = C.CT_VIEW_TCP_STATE
	viewSCTPState      = C.CT_VIEW_SCTP_STATE
	viewDCCPState      = C.CT_VIEW_DCCP_STATE
	viewOrigCounters   = C.CT_VIEW_ORIG_COUNTERS
	viewReplyCounters  = C.CT_VIEW_REPLY_COUNTERS
	viewTimestampStart = C.CT_VIEW_TIMESTAMP_START
	viewTimestampStop  = C.CT_VIEW_TIMESTAMP_STOP
	viewLabels         = C.CT_VIEW_LABELS
	viewSecmark        = C.CT_VIEW_SECMARK
	viewMore           = C.CT_VIEW_MORE
)

// scalars holds the values an Entry's pointer fields point to; a block of entries shares
// one slice of them (one allocation a block, not one a field).
type scalars struct {
	ports   [4]uint16
	icmp    [2]ICMP
	zone    uint16
	tcp     TCPState
	sctp    uint8
	dccp    uint8
	mark    uint32
	status  Status
	timeout uint32
	id      uint32
	use     uint32
	secmark uint32
}

func viewAddr(family uint8, b *[16]C.uint8_t) netip.Addr {
	raw := (*[16]byte)(unsafe.Pointer(b))
	if family == C.CT_FAMILY_IPV4 {
		return netip.AddrFrom4([4]byte{raw[0], raw[1], raw[2], raw[3]})
	}
	return netip.AddrFrom16(*raw)
}

// fromView copies one view (and its helper) into a new Entry (nothing of C escapes).
func fromView(r *C.gct_rview) Entry {
	var e Entry
	fillFromView(&e, r, new(scalars))
	return e
}

// fillFromView fills e from r; the pointer fields point into s.
func fillFromView(e *Entry, r *C.gct_rview, s *scalars) {
	v := &r.view
	p := uint32(v.present)
	family := uint8(v.family)
	if p&viewFamily != 0 {
		e.Family = Family(family)
	}
	if p&viewProto != 0 {
		e.Proto = uint8(v.proto)
	}
	if p&viewOrigSrc != 0 {
		e.Orig.Src = viewAddr(family, &v.orig_src)
	}
	if p&viewOrigDst != 0 {
		e.Orig.Dst = viewAddr(family, &v.orig_dst)
	}
	if p&viewReplySrc != 0 {
		e.Reply.Src = viewAddr(family, &v.reply_src)
	}
	if p&viewReplyDst != 0 {
		e.Reply.Dst = viewAddr(family, &v.reply_dst)
	}
	if p&viewOrigSport != 0 {
		s.ports[0] = uint16(v.orig_sport)
		e.Orig.SrcPort = &s.ports[0]
	}
	if p&viewOrigDport != 0 {
		s.ports[1] = uint16(v.orig_dport)
		e.Orig.DstPort = &s.ports[1]
	}
	if p&viewReplySport != 0 {
		s.ports[2] = uint16(v.reply_sport)
		e.Reply.SrcPort = &s.ports[2]
	}
	if p&viewReplyDport != 0 {
		s.ports[3] = uint16(v.reply_dport)
		e.Reply.DstPort = &s.ports[3]
	}
	if p&viewOrigICMP != 0 {
		s.icmp[0] = ICMP{Type: uint8(v.orig_icmp_type), Code: uint8(v.orig_icmp_code), ID: uint16(v.orig_icmp_id)}
		e.Orig.ICMP = &s.icmp[0]
	}
	if p&viewReplyICMP != 0 {
		s.icmp[1] = ICMP{Type: uint8(v.reply_icmp_type), Code: uint8(v.reply_icmp_code), ID: uint16(v.reply_icmp_id)}
		e.Reply.ICMP = &s.icmp[1]
	}
	if p&viewZone != 0 {
		s.zone = uint16(v.zone)
		e.Zone = &s.zone
	}
	if p&viewMark != 0 {
		s.mark = uint32(v.mark)
		e.Mark = &s.mark
	}
	if p&viewStatus != 0 {
		s.status = Status(v.status)
		e.Status = &s.status
	}
	if p&viewTimeout != 0 {
		s.timeout = uint32(v.timeout)
		e.Timeout = &s.timeout
	}
	if p&viewTCPState != 0 {
		s.tcp = TCPState(v.tcp_state)
		e.TCPState = &s.tcp
	}
	if p&viewSCTPState != 0 {
		s.sctp = uint8(v.sctp_state)
		e.SCTPState = &s.sctp
	}
	if p&viewDCCPState != 0 {
		s.dccp = uint8(v.dccp_state)
		e.DCCPState = &s.dccp
	}
	if p&viewID != 0 {
		s.id = uint32(v.id)
		e.ID = &s.id
	}
	if p&viewUse != 0 {
		s.use = uint32(v.use_count)
		e.Use = &s.use
	}
	if p&viewSecmark != 0 {
		s.secmark = uint32(v.secmark)
		e.Secmark = &s.secmark
	}
	// Counters and labels are rare (accounting, label rules): allocated only when present.
	if p&viewOrigCounters != 0 {
		e.OrigCounters = &Counters{Packets: uint64(v.orig_packets), Bytes: uint64(v.orig_bytes)}
	}
	if p&viewReplyCounters != 0 {
		e.ReplyCounters = &Counters{Packets: uint64(v.reply_packets), Bytes: uint64(v.reply_bytes)}
	}
	if p&viewTimestampStart != 0 {
		e.TimestampStart = time.Unix(0, int64(v.timestamp_start))
	}
	if p&viewTimestampStop != 0 {
		e.TimestampStop = time.Unix(0, int64(v.timestamp_stop))
	}
	if p&viewLabels != 0 {
		l := Labels(*(*[16]byte)(unsafe.Pointer(&v.labels)))
		e.Labels = &l
	}
	if p&viewMore != 0 && r.helper[0] != 0 {
		e.Helper = C.GoString(&r.helper[0])
	}
}

// FormatFlag selects options of Entry.Format.
type FormatFlag uint32

// Options of Entry.Format.
const (
	FormatExtended  FormatFlag = C.CT_FORMAT_EXTENDED  // conntrack -o extended
	FormatID        FormatFlag = C.CT_FORMAT_ID        // conntrack -o id
	FormatTimestamp FormatFlag = C.CT_FORMAT_TIMESTAMP // conntrack -o ktimestamp
)

// Format writes the entry as one line of `conntrack -L` text (no newline).
func (e Entry) Format(flags FormatFlag) (string, error) {
	var f C.gct_flat
	if err := e.toFlat("format", &f); err != nil {
		return "", err
	}
	var detail C.gct_err
	buf := make([]byte, 512)
	for {
		var needed C.size_t
		rc := C.gct_format(&f, C.uint32_t(flags), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &needed, &detail)
		switch {
		case rc == C.CT_OK:
			return string(buf[:needed]), nil
		case rc == C.CT_ERR_BUFFER_TOO_SMALL && int(needed) >= len(buf):
			buf = make([]byte, int(needed)+1)
		default:
			return "", newError("format", rc, &detail)
		}
	}
}

// String is Format(0), or the error text when the entry cannot be formatted.
func (e Entry) String() string {
	s, err := e.Format(0)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return s
}

// roundTrip builds a C entry from e, clones it and reads the clone back: the Go<->C
// conversion end to end, for tests.
func roundTrip(e Entry) (Entry, error) {
	var in C.gct_flat
	var out C.gct_rview
	if err := e.toFlat("roundtrip", &in); err != nil {
		return Entry{}, err
	}
	var detail C.gct_err
	if rc := C.gct_roundtrip(&in, &out, &detail); rc != C.CT_OK {
		return Entry{}, newError("roundtrip", rc, &detail)
	}
	return fromView(&out), nil
}
