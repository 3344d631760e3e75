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

// TupleFields says which optional fields of a Tuple are present (read: the kernel sent
// them; write: they are sent). Addresses need no bit: the zero netip.Addr is absent.
type TupleFields uint8

// Optional fields of a Tuple.
const (
	TupleSrcPort TupleFields = 1 << iota // SrcPort
	TupleDstPort                         // DstPort
	TupleICMP                            // ICMP
)

// Tuple is one direction of a connection, a value with no pointers. A zero netip.Addr
// means the address is absent; ports and ICMP fields count only when their bit is in Has
// (a port 0 sent and a port left out differ, as for a delete).
type Tuple struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // TCP, UDP, UDP-Lite, SCTP, DCCP ports; GRE keys
	ICMP             ICMP   // ICMP and ICMPv6 only
	Has              TupleFields
}

// PortTuple is a Tuple of addresses and ports, for TCP, UDP, SCTP, DCCP and UDP-Lite.
func PortTuple(src, dst netip.AddrPort) Tuple {
	return Tuple{Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(), Has: TupleSrcPort | TupleDstPort}
}

// ICMPTuple is a Tuple of addresses and ICMP or ICMPv6 type, code and identifier.
func ICMPTuple(src, dst netip.Addr, icmpType, code uint8, id uint16) Tuple {
	return Tuple{Src: src, Dst: dst, ICMP: ICMP{Type: icmpType, Code: code, ID: id}, Has: TupleICMP}
}

// SetPorts sets both ports (and their bits).
func (t *Tuple) SetPorts(src, dst uint16) {
	t.SrcPort, t.DstPort = src, dst
	t.Has |= TupleSrcPort | TupleDstPort
}

// SetSrcPort sets the source port (and its bit).
func (t *Tuple) SetSrcPort(p uint16) { t.SrcPort, t.Has = p, t.Has|TupleSrcPort }

// SetDstPort sets the destination port (and its bit).
func (t *Tuple) SetDstPort(p uint16) { t.DstPort, t.Has = p, t.Has|TupleDstPort }

// SetICMP sets the ICMP fields (and their bit).
func (t *Tuple) SetICMP(ic ICMP) { t.ICMP, t.Has = ic, t.Has|TupleICMP }

// GetSrcPort returns the source port and whether it is present.
func (t Tuple) GetSrcPort() (uint16, bool) { return t.SrcPort, t.Has&TupleSrcPort != 0 }

// GetDstPort returns the destination port and whether it is present.
func (t Tuple) GetDstPort() (uint16, bool) { return t.DstPort, t.Has&TupleDstPort != 0 }

// GetICMP returns the ICMP fields and whether they are present.
func (t Tuple) GetICMP() (ICMP, bool) { return t.ICMP, t.Has&TupleICMP != 0 }

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

// Fields says which optional fields of an Entry are present: read, the kernel sent them;
// write, they are sent. The Set methods set a value and its bit; the Get methods return a
// value and whether its bit is set; Clear removes bits.
type Fields uint32

// Optional fields of an Entry. The first ones are fields of Entry; the rare ones from
// FieldOrigCounters on are held behind one pointer and read through their Get methods.
const (
	FieldZone      Fields = 1 << iota // Zone
	FieldMark                         // Mark
	FieldStatus                       // Status
	FieldTimeout                      // Timeout
	FieldTCPState                     // TCPState
	FieldSCTPState                    // SCTPState
	FieldDCCPState                    // DCCPState (read-only)
	FieldID                           // ID
	FieldUse                          // Use (read-only)

	FieldOrigCounters   // GetOrigCounters (read-only)
	FieldReplyCounters  // GetReplyCounters (read-only)
	FieldTimestampStart // GetTimestampStart (read-only)
	FieldTimestampStop  // GetTimestampStop (read-only)
	FieldLabels         // GetLabels, SetLabels
	FieldLabelsMask     // GetLabelsMask, SetLabelsMask (never filled when reading)
	FieldSecmark        // GetSecmark (read-only)
	FieldHelper         // GetHelper, SetHelper
	FieldDirZone        // GetDirZone, SetDirZone
)

// Entry is a conntrack entry: every field of the C library's ct_entry, as a value. The
// optional fields count only when their bit is in Has (so a real 0 and "absent" are never
// confused); addresses are absent when they are the zero netip.Addr. Read-only fields are
// filled from the kernel and ignored by Create, Update and Delete. The rare fields
// (counters, timestamps, labels, secmark, helper) sit behind one pointer, nil when the
// entry has none of them, so reading an entry allocates nothing else.
//
// Operations use the original tuple (Orig) and Zone (zone 0 when absent) to find an entry;
// Create needs the original tuple (addresses, protocol, ports or ICMP fields) and a
// Timeout, and makes the reply tuple the inverse of the original unless Reply is given.
// An Entry returned by Dump, List or Get may be passed back to Update or Delete as it is:
// it holds its ID, so Delete then removes it only if the kernel's entry is still that one.
type Entry struct {
	Family Family // 0: not set (implied by the addresses)
	Proto  uint8  // layer-4 protocol number; 0: not set

	Orig  Tuple
	Reply Tuple

	Zone      uint16   // FieldZone; absent: zone 0 for operations (the kernel omits zone 0, so entries read from zone 0 lack it)
	Mark      uint32   // FieldMark: connection mark
	Status    Status   // FieldStatus: status bits
	Timeout   uint32   // FieldTimeout: seconds left before the entry expires
	TCPState  TCPState // FieldTCPState: TCP only
	SCTPState uint8    // FieldSCTPState: SCTP only (the kernel's SCTP_CONNTRACK_* numbering)
	DCCPState uint8    // FieldDCCPState: read-only; DCCP only
	ID        uint32   // FieldID: the kernel's id; Delete with an ID removes only the entry of that id
	Use       uint32   // FieldUse: read-only: reference count

	Has Fields

	rare *rareFields // nil when the entry holds none of them; shared by copies, so replaced, never changed
}

// rareFields are the fields few entries hold (accounting, timestamps, label rules,
// SELinux, helpers).
type rareFields struct {
	origCounters, replyCounters   Counters
	timestampStart, timestampStop time.Time
	labels, labelsMask            Labels
	secmark                       uint32
	helper                        string
	dirZone                       uint16
	dirZoneReply                  bool
}

// writeRare returns a copy of e's rare fields that e now points to: copies of an Entry
// share the old one, which must not change under them.
func (e *Entry) writeRare() *rareFields {
	r := new(rareFields)
	if e.rare != nil {
		*r = *e.rare
	}
	e.rare = r
	return r
}

func (e *Entry) readRare(f Fields) (*rareFields, bool) {
	if e.Has&f == 0 {
		return &rareFields{}, false
	}
	if e.rare == nil {
		return &rareFields{}, true
	}
	return e.rare, true
}

// Clear removes the given fields (their bits; a value left behind is not sent).
func (e *Entry) Clear(f Fields) { e.Has &^= f }

// SetZone sets the zone.
func (e *Entry) SetZone(z uint16) { e.Zone, e.Has = z, e.Has|FieldZone }

// SetMark sets the connection mark.
func (e *Entry) SetMark(m uint32) { e.Mark, e.Has = m, e.Has|FieldMark }

// SetStatus sets the status bits.
func (e *Entry) SetStatus(s Status) { e.Status, e.Has = s, e.Has|FieldStatus }

// SetTimeout sets the timeout in seconds.
func (e *Entry) SetTimeout(t uint32) { e.Timeout, e.Has = t, e.Has|FieldTimeout }

// SetTCPState sets the TCP state.
func (e *Entry) SetTCPState(s TCPState) { e.TCPState, e.Has = s, e.Has|FieldTCPState }

// SetSCTPState sets the SCTP state.
func (e *Entry) SetSCTPState(s uint8) { e.SCTPState, e.Has = s, e.Has|FieldSCTPState }

// SetID sets the kernel id the entry must have (Delete, Update).
func (e *Entry) SetID(id uint32) { e.ID, e.Has = id, e.Has|FieldID }

// SetLabels sets the labels: alone, they replace all 128 bits on Create and Update; with
// SetLabelsMask, only the bits set in the mask change, to their value here.
func (e *Entry) SetLabels(l Labels) {
	e.writeRare().labels = l
	e.Has |= FieldLabels
}

// SetLabelsMask sets the mask of the label bits Create and Update change (labels absent:
// the masked bits are cleared).
func (e *Entry) SetLabelsMask(m Labels) {
	e.writeRare().labelsMask = m
	e.Has |= FieldLabelsMask
}

// SetHelper sets the helper to attach at creation ("ftp", "sip", ...).
func (e *Entry) SetHelper(name string) {
	e.writeRare().helper = name
	e.Has |= FieldHelper
}

// SetDirZone sets the zone of one direction alone (conntrack's --orig-zone, or with reply
// true --reply-zone), as opposed to Zone, which covers both. The kernel holds such an entry
// in that zone: the zone filter lists it there. Update and Delete look an entry up by its
// original tuple in that tuple's zone: the original direction's zone set here, zone 0 with
// a reply zone alone. An entry read from the kernel has it when the kernel reported it.
func (e *Entry) SetDirZone(reply bool, z uint16) {
	r := e.writeRare()
	r.dirZone, r.dirZoneReply = z, reply
	e.Has |= FieldDirZone
}

// GetDirZone returns the zone of one direction, whether it is the reply direction's, and
// whether the entry has one.
func (e *Entry) GetDirZone() (zone uint16, reply bool, ok bool) {
	r, ok := e.readRare(FieldDirZone)
	return r.dirZone, r.dirZoneReply, ok
}

// GetZone returns the zone and whether it is present.
func (e *Entry) GetZone() (uint16, bool) { return e.Zone, e.Has&FieldZone != 0 }

// GetMark returns the mark and whether it is present.
func (e *Entry) GetMark() (uint32, bool) { return e.Mark, e.Has&FieldMark != 0 }

// GetStatus returns the status bits and whether they are present.
func (e *Entry) GetStatus() (Status, bool) { return e.Status, e.Has&FieldStatus != 0 }

// GetTimeout returns the timeout and whether it is present.
func (e *Entry) GetTimeout() (uint32, bool) { return e.Timeout, e.Has&FieldTimeout != 0 }

// GetTCPState returns the TCP state and whether it is present.
func (e *Entry) GetTCPState() (TCPState, bool) { return e.TCPState, e.Has&FieldTCPState != 0 }

// GetSCTPState returns the SCTP state and whether it is present.
func (e *Entry) GetSCTPState() (uint8, bool) { return e.SCTPState, e.Has&FieldSCTPState != 0 }

// GetDCCPState returns the DCCP state and whether it is present.
func (e *Entry) GetDCCPState() (uint8, bool) { return e.DCCPState, e.Has&FieldDCCPState != 0 }

// GetID returns the kernel's id and whether it is present.
func (e *Entry) GetID() (uint32, bool) { return e.ID, e.Has&FieldID != 0 }

// GetUse returns the reference count and whether it is present.
func (e *Entry) GetUse() (uint32, bool) { return e.Use, e.Has&FieldUse != 0 }

// GetOrigCounters returns the original direction's counters (present when the namespace
// has net.netfilter.nf_conntrack_acct=1).
func (e *Entry) GetOrigCounters() (Counters, bool) {
	r, ok := e.readRare(FieldOrigCounters)
	return r.origCounters, ok
}

// GetReplyCounters returns the reply direction's counters.
func (e *Entry) GetReplyCounters() (Counters, bool) {
	r, ok := e.readRare(FieldReplyCounters)
	return r.replyCounters, ok
}

// GetTimestampStart returns when the entry was made (needs
// net.netfilter.nf_conntrack_timestamp=1).
func (e *Entry) GetTimestampStart() (time.Time, bool) {
	r, ok := e.readRare(FieldTimestampStart)
	return r.timestampStart, ok
}

// GetTimestampStop returns when the entry ended (destroy events only).
func (e *Entry) GetTimestampStop() (time.Time, bool) {
	r, ok := e.readRare(FieldTimestampStop)
	return r.timestampStop, ok
}

// GetLabels returns the labels and whether they are present.
func (e *Entry) GetLabels() (Labels, bool) {
	r, ok := e.readRare(FieldLabels)
	return r.labels, ok
}

// GetLabelsMask returns the labels mask and whether it is set.
func (e *Entry) GetLabelsMask() (Labels, bool) {
	r, ok := e.readRare(FieldLabelsMask)
	return r.labelsMask, ok
}

// GetSecmark returns the SELinux secmark and whether it is present.
func (e *Entry) GetSecmark() (uint32, bool) {
	r, ok := e.readRare(FieldSecmark)
	return r.secmark, ok
}

// GetHelper returns the helper's name and whether it is present.
func (e *Entry) GetHelper() (string, bool) {
	r, ok := e.readRare(FieldHelper)
	return r.helper, ok
}

// Ptr returns a pointer to a copy of v: a short way to fill the optional fields of
// Filter, NAT and Expectation, as in Filter{Zone: conntrack.Ptr[uint16](10)}.
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
	tuples := [2]*Tuple{&e.Orig, &e.Reply}
	portSlots := [4]*C.uint16_t{&v.orig_sport, &v.orig_dport, &v.reply_sport, &v.reply_dport}
	portBits := [4]uint32{viewOrigSport, viewOrigDport, viewReplySport, viewReplyDport}
	for d, t := range tuples {
		if t.Has&TupleSrcPort != 0 {
			*portSlots[2*d] = C.uint16_t(t.SrcPort)
			p |= portBits[2*d]
		}
		if t.Has&TupleDstPort != 0 {
			*portSlots[2*d+1] = C.uint16_t(t.DstPort)
			p |= portBits[2*d+1]
		}
	}
	if e.Orig.Has&TupleICMP != 0 {
		ic := &e.Orig.ICMP
		v.orig_icmp_type, v.orig_icmp_code, v.orig_icmp_id = C.uint8_t(ic.Type), C.uint8_t(ic.Code), C.uint16_t(ic.ID)
		p |= viewOrigICMP
	}
	if e.Reply.Has&TupleICMP != 0 {
		ic := &e.Reply.ICMP
		v.reply_icmp_type, v.reply_icmp_code, v.reply_icmp_id = C.uint8_t(ic.Type), C.uint8_t(ic.Code), C.uint16_t(ic.ID)
		p |= viewReplyICMP
	}
	has := e.Has
	if has&FieldZone != 0 {
		p |= viewZone
		v.zone = C.uint16_t(e.Zone)
	}
	if has&FieldMark != 0 {
		p |= viewMark
		v.mark = C.uint32_t(e.Mark)
	}
	if has&FieldStatus != 0 {
		p |= viewStatus
		v.status = C.uint32_t(e.Status)
	}
	if has&FieldTimeout != 0 {
		p |= viewTimeout
		v.timeout = C.uint32_t(e.Timeout)
	}
	if has&FieldTCPState != 0 {
		p |= viewTCPState
		v.tcp_state = C.uint8_t(e.TCPState)
	}
	if has&FieldSCTPState != 0 {
		p |= viewSCTPState
		v.sctp_state = C.uint8_t(e.SCTPState)
	}
	if has&FieldID != 0 {
		p |= viewID
		v.id = C.uint32_t(e.ID)
	}
	labels, hasLabels := e.GetLabels()
	switch mask, hasMask := e.GetLabelsMask(); {
	case hasMask:
		// Only the masked bits change: not the view's labels, which replace all 128.
		f.has |= C.GCT_LABELS_MASK
		f.labels = *(*[16]C.uint8_t)(unsafe.Pointer(&labels))
		f.labels_mask = *(*[16]C.uint8_t)(unsafe.Pointer(&mask))
	case hasLabels:
		p |= viewLabels
		v.labels = *(*[16]C.uint8_t)(unsafe.Pointer(&labels))
	}
	if z, reply, ok := e.GetDirZone(); ok {
		p |= viewDirZone
		v.dir_zone = C.uint16_t(z)
		v.dir_zone_dir = C.CT_DIR_ORIG
		if reply {
			v.dir_zone_dir = C.CT_DIR_REPLY
		}
	}
	if helper, _ := e.GetHelper(); helper != "" {
		if len(helper) >= C.GCT_HELPER_MAX || strings.IndexByte(helper, 0) >= 0 {
			return invalid(op, "helper name "+strconv.Quote(helper)+" is too long or holds a NUL byte")
		}
		f.has |= C.GCT_HELPER
		for i := 0; i < len(helper); i++ {
			f.helper[i] = C.char(helper[i])
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
	viewDirZone        = C.CT_VIEW_DIR_ZONE
)

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
	fillFromView(&e, r, nil)
	return e
}

// rarePool hands out the rare fields of a list's entries from shared chunks: one
// allocation a block of entries with counters or timestamps (an accounting host), not one
// an entry. Only for results kept whole (List, Snapshot): a chunk lives while any of its
// entries does.
type rarePool struct{ free []rareFields }

func (p *rarePool) get(n int) *rareFields {
	if len(p.free) == 0 {
		p.free = make([]rareFields, n)
	}
	r := &p.free[0]
	p.free = p.free[1:]
	return r
}

const viewRare = viewOrigCounters | viewReplyCounters | viewTimestampStart | viewTimestampStop | viewLabels | viewSecmark | viewMore | viewDirZone

// fillFromView fills the zero Entry e from r, in place: the common fields are values, so
// nothing is allocated unless the entry holds a rare field (taken from pool when not nil).
func fillFromView(e *Entry, r *C.gct_rview, pool *rarePool) {
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
		e.Orig.SrcPort, e.Orig.Has = uint16(v.orig_sport), e.Orig.Has|TupleSrcPort
	}
	if p&viewOrigDport != 0 {
		e.Orig.DstPort, e.Orig.Has = uint16(v.orig_dport), e.Orig.Has|TupleDstPort
	}
	if p&viewReplySport != 0 {
		e.Reply.SrcPort, e.Reply.Has = uint16(v.reply_sport), e.Reply.Has|TupleSrcPort
	}
	if p&viewReplyDport != 0 {
		e.Reply.DstPort, e.Reply.Has = uint16(v.reply_dport), e.Reply.Has|TupleDstPort
	}
	if p&viewOrigICMP != 0 {
		e.Orig.ICMP = ICMP{Type: uint8(v.orig_icmp_type), Code: uint8(v.orig_icmp_code), ID: uint16(v.orig_icmp_id)}
		e.Orig.Has |= TupleICMP
	}
	if p&viewReplyICMP != 0 {
		e.Reply.ICMP = ICMP{Type: uint8(v.reply_icmp_type), Code: uint8(v.reply_icmp_code), ID: uint16(v.reply_icmp_id)}
		e.Reply.Has |= TupleICMP
	}
	// Absent fields stay zero, so two reads of one entry compare equal field by field.
	var has Fields
	if p&viewZone != 0 {
		e.Zone, has = uint16(v.zone), has|FieldZone
	}
	if p&viewMark != 0 {
		e.Mark, has = uint32(v.mark), has|FieldMark
	}
	if p&viewStatus != 0 {
		e.Status, has = Status(v.status), has|FieldStatus
	}
	if p&viewTimeout != 0 {
		e.Timeout, has = uint32(v.timeout), has|FieldTimeout
	}
	if p&viewTCPState != 0 {
		e.TCPState, has = TCPState(v.tcp_state), has|FieldTCPState
	}
	if p&viewSCTPState != 0 {
		e.SCTPState, has = uint8(v.sctp_state), has|FieldSCTPState
	}
	if p&viewDCCPState != 0 {
		e.DCCPState, has = uint8(v.dccp_state), has|FieldDCCPState
	}
	if p&viewID != 0 {
		e.ID, has = uint32(v.id), has|FieldID
	}
	if p&viewUse != 0 {
		e.Use, has = uint32(v.use_count), has|FieldUse
	}
	if p&viewRare != 0 {
		has |= fillRare(e, r, p, pool)
	}
	e.Has = has
}

// fillRare reads the rare fields into a new rareFields of e and returns their bits.
func fillRare(e *Entry, r *C.gct_rview, p uint32, pool *rarePool) Fields {
	v := &r.view
	var has Fields
	var rare rareFields // on the heap only when the entry keeps it
	if p&viewOrigCounters != 0 {
		rare.origCounters = Counters{Packets: uint64(v.orig_packets), Bytes: uint64(v.orig_bytes)}
		has |= FieldOrigCounters
	}
	if p&viewReplyCounters != 0 {
		rare.replyCounters = Counters{Packets: uint64(v.reply_packets), Bytes: uint64(v.reply_bytes)}
		has |= FieldReplyCounters
	}
	if p&viewTimestampStart != 0 {
		rare.timestampStart = time.Unix(0, int64(v.timestamp_start))
		has |= FieldTimestampStart
	}
	if p&viewTimestampStop != 0 {
		rare.timestampStop = time.Unix(0, int64(v.timestamp_stop))
		has |= FieldTimestampStop
	}
	if p&viewLabels != 0 {
		rare.labels = Labels(*(*[16]byte)(unsafe.Pointer(&v.labels)))
		has |= FieldLabels
	}
	if p&viewSecmark != 0 {
		rare.secmark = uint32(v.secmark)
		has |= FieldSecmark
	}
	if p&viewDirZone != 0 {
		rare.dirZone, rare.dirZoneReply = uint16(v.dir_zone), v.dir_zone_dir == C.CT_DIR_REPLY
		has |= FieldDirZone
	}
	if p&viewMore != 0 && r.helper[0] != 0 {
		rare.helper = C.GoString(&r.helper[0])
		has |= FieldHelper
	}
	switch {
	case has == 0:
	case pool != nil:
		e.rare = pool.get(viewBlock)
		*e.rare = rare
	default:
		e.rare = &rareFields{}
		*e.rare = rare
	}
	return has
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
