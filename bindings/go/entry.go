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

// Presence bits of C.gct_flat, as Go constants.
const (
	hasFamily     = C.GCT_FAMILY
	hasProto      = C.GCT_PROTO
	hasAddr0      = C.GCT_ADDR0
	hasPort0      = C.GCT_PORT0
	hasICMP0      = C.GCT_ICMP0
	hasZone       = C.GCT_ZONE
	hasMark       = C.GCT_MARK
	hasStatus     = C.GCT_STATUS
	hasTimeout    = C.GCT_TIMEOUT
	hasTCPState   = C.GCT_TCP_STATE
	hasSCTPState  = C.GCT_SCTP_STATE
	hasDCCPState  = C.GCT_DCCP_STATE
	hasID         = C.GCT_ID
	hasUse        = C.GCT_USE
	hasCounters0  = C.GCT_COUNTERS0
	hasTSStart    = C.GCT_TS_START
	hasTSStop     = C.GCT_TS_STOP
	hasLabels     = C.GCT_LABELS
	hasLabelsMask = C.GCT_LABELS_MASK
	hasSecmark    = C.GCT_SECMARK
	hasHelper     = C.GCT_HELPER
)

// Selector numbers of the C API (CT_ORIG_SRC ... CT_REPLY_DST).
const (
	selOrigSrc  = C.CT_ORIG_SRC
	selOrigDst  = C.CT_ORIG_DST
	selReplySrc = C.CT_REPLY_SRC
	selReplyDst = C.CT_REPLY_DST
)

// toFlat copies e into the flat C struct (Go memory without Go pointers). Only the
// fields a setter exists for are copied; read-only fields are left out.
func (e *Entry) toFlat(op string, f *C.gct_flat) error {
	*f = C.gct_flat{}
	has := uint32(0)
	if e.Family != 0 {
		has |= hasFamily
		f.family = C.uint8_t(e.Family)
	}
	if e.Proto != 0 {
		has |= hasProto
		f.proto = C.uint8_t(e.Proto)
	}
	addrs := [4]netip.Addr{e.Orig.Src, e.Orig.Dst, e.Reply.Src, e.Reply.Dst}
	ports := [4]*uint16{e.Orig.SrcPort, e.Orig.DstPort, e.Reply.SrcPort, e.Reply.DstPort}
	for w := 0; w < 4; w++ {
		if a := addrs[w]; a.IsValid() {
			has |= hasAddr0 << w
			if a.Is4() {
				b := a.As4()
				f.addr_len[w] = 4
				for i := range b {
					f.addr[w][i] = C.uint8_t(b[i])
				}
			} else {
				b := a.As16()
				f.addr_len[w] = 16
				for i := range b {
					f.addr[w][i] = C.uint8_t(b[i])
				}
			}
		}
		if p := ports[w]; p != nil {
			has |= hasPort0 << w
			f.port[w] = C.uint16_t(*p)
		}
	}
	for d, ic := range [2]*ICMP{e.Orig.ICMP, e.Reply.ICMP} {
		if ic != nil {
			has |= hasICMP0 << d
			f.icmp_type[d] = C.uint8_t(ic.Type)
			f.icmp_code[d] = C.uint8_t(ic.Code)
			f.icmp_id[d] = C.uint16_t(ic.ID)
		}
	}
	if e.Zone != nil {
		has |= hasZone
		f.zone = C.uint16_t(*e.Zone)
	}
	if e.Mark != nil {
		has |= hasMark
		f.mark = C.uint32_t(*e.Mark)
	}
	if e.Status != nil {
		has |= hasStatus
		f.status = C.uint32_t(*e.Status)
	}
	if e.Timeout != nil {
		has |= hasTimeout
		f.timeout = C.uint32_t(*e.Timeout)
	}
	if e.TCPState != nil {
		has |= hasTCPState
		f.tcp_state = C.uint8_t(*e.TCPState)
	}
	if e.SCTPState != nil {
		has |= hasSCTPState
		f.sctp_state = C.uint8_t(*e.SCTPState)
	}
	if e.ID != nil {
		has |= hasID
		f.id = C.uint32_t(*e.ID)
	}
	if e.Labels != nil {
		has |= hasLabels
		for i, b := range e.Labels {
			f.labels[i] = C.uint8_t(b)
		}
	}
	if e.LabelsMask != nil {
		has |= hasLabelsMask
		for i, b := range e.LabelsMask {
			f.labels_mask[i] = C.uint8_t(b)
		}
	}
	if e.Helper != "" {
		if len(e.Helper) >= C.GCT_HELPER_MAX || strings.IndexByte(e.Helper, 0) >= 0 {
			return invalid(op, "helper name "+strconv.Quote(e.Helper)+" is too long or holds a NUL byte")
		}
		has |= hasHelper
		for i := 0; i < len(e.Helper); i++ {
			f.helper[i] = C.char(e.Helper[i])
		}
	}
	f.has = C.uint32_t(has)
	return nil
}

// scalars holds the pointed-to values of one Entry read from C: one allocation per entry
// instead of one per field.
type scalars struct {
	ports    [4]uint16
	icmp     [2]ICMP
	counters [2]Counters
	zone     uint16
	mark     uint32
	status   Status
	timeout  uint32
	tcp      TCPState
	sctp     uint8
	dccp     uint8
	id       uint32
	use      uint32
	secmark  uint32
	labels   Labels
}

// fromFlat copies a flat C struct into a new Entry (nothing of C escapes).
func fromFlat(f *C.gct_flat) Entry {
	var e Entry
	has := uint32(f.has)
	s := new(scalars)
	if has&hasFamily != 0 {
		e.Family = Family(f.family)
	}
	if has&hasProto != 0 {
		e.Proto = uint8(f.proto)
	}
	addrs := [4]*netip.Addr{&e.Orig.Src, &e.Orig.Dst, &e.Reply.Src, &e.Reply.Dst}
	ports := [4]**uint16{&e.Orig.SrcPort, &e.Orig.DstPort, &e.Reply.SrcPort, &e.Reply.DstPort}
	for w := 0; w < 4; w++ {
		if has&(hasAddr0<<w) != 0 {
			b := (*[16]byte)(unsafe.Pointer(&f.addr[w][0]))
			switch f.addr_len[w] {
			case 4:
				*addrs[w] = netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
			case 16:
				*addrs[w] = netip.AddrFrom16(*b)
			}
		}
		if has&(hasPort0<<w) != 0 {
			s.ports[w] = uint16(f.port[w])
			*ports[w] = &s.ports[w]
		}
	}
	icmps := [2]**ICMP{&e.Orig.ICMP, &e.Reply.ICMP}
	counters := [2]**Counters{&e.OrigCounters, &e.ReplyCounters}
	for d := 0; d < 2; d++ {
		if has&(hasICMP0<<d) != 0 {
			s.icmp[d] = ICMP{Type: uint8(f.icmp_type[d]), Code: uint8(f.icmp_code[d]), ID: uint16(f.icmp_id[d])}
			*icmps[d] = &s.icmp[d]
		}
		if has&(hasCounters0<<d) != 0 {
			s.counters[d] = Counters{Packets: uint64(f.packets[d]), Bytes: uint64(f.bytes[d])}
			*counters[d] = &s.counters[d]
		}
	}
	if has&hasZone != 0 {
		s.zone = uint16(f.zone)
		e.Zone = &s.zone
	}
	if has&hasMark != 0 {
		s.mark = uint32(f.mark)
		e.Mark = &s.mark
	}
	if has&hasStatus != 0 {
		s.status = Status(f.status)
		e.Status = &s.status
	}
	if has&hasTimeout != 0 {
		s.timeout = uint32(f.timeout)
		e.Timeout = &s.timeout
	}
	if has&hasTCPState != 0 {
		s.tcp = TCPState(f.tcp_state)
		e.TCPState = &s.tcp
	}
	if has&hasSCTPState != 0 {
		s.sctp = uint8(f.sctp_state)
		e.SCTPState = &s.sctp
	}
	if has&hasDCCPState != 0 {
		s.dccp = uint8(f.dccp_state)
		e.DCCPState = &s.dccp
	}
	if has&hasID != 0 {
		s.id = uint32(f.id)
		e.ID = &s.id
	}
	if has&hasUse != 0 {
		s.use = uint32(f.use)
		e.Use = &s.use
	}
	if has&hasSecmark != 0 {
		s.secmark = uint32(f.secmark)
		e.Secmark = &s.secmark
	}
	if has&hasTSStart != 0 {
		e.TimestampStart = time.Unix(0, int64(f.ts_start))
	}
	if has&hasTSStop != 0 {
		e.TimestampStop = time.Unix(0, int64(f.ts_stop))
	}
	if has&hasLabels != 0 {
		for i := range s.labels {
			s.labels[i] = byte(f.labels[i])
		}
		e.Labels = &s.labels
	}
	if has&hasHelper != 0 {
		e.Helper = C.GoString(&f.helper[0])
	}
	return e
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
	var in, out C.gct_flat
	if err := e.toFlat("roundtrip", &in); err != nil {
		return Entry{}, err
	}
	var detail C.gct_err
	if rc := C.gct_roundtrip(&in, &out, &detail); rc != C.CT_OK {
		return Entry{}, newError("roundtrip", rc, &detail)
	}
	return fromFlat(&out), nil
}
