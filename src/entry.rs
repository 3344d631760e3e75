//! The conntrack entry: a plain Rust value with an `Option` for every field the kernel may omit.
//!
//! Setters validate: a value that cannot be right (a port on ICMP, an IPv6 address on an IPv4
//! entry, a zone over 65535) is refused and the entry stays as it was.

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::types::{DccpState, Protocol, SctpState, Status, TcpState};

/// Address families, as the kernel numbers them (AF_INET, AF_INET6).
pub const AF_INET: u8 = 2;
/// IPv6.
pub const AF_INET6: u8 = 10;

/// Layer-4 protocol numbers the library knows by name.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// DCCP.
    pub const DCCP: u8 = 33;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
    /// UDP-Lite.
    pub const UDPLITE: u8 = 136;

    /// Protocols whose tuple carries source and destination ports (GRE: keys).
    pub fn has_ports(p: u8) -> bool {
        matches!(p, TCP | UDP | DCCP | GRE | SCTP | UDPLITE)
    }

    /// ICMP or ICMPv6: the tuple carries type, code and id instead of ports.
    pub fn is_icmp(p: u8) -> bool {
        matches!(p, ICMP | ICMPV6)
    }
}

/// Status bits (IPS_*), as in the kernel's nf_conntrack_common.h.
pub mod status {
    /// Expected connection.
    pub const EXPECTED: u32 = 1 << 0;
    /// Packets seen in both directions.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// Assured: will not be early-dropped.
    pub const ASSURED: u32 = 1 << 2;
    /// Confirmed: in the table.
    pub const CONFIRMED: u32 = 1 << 3;
    /// Source NAT.
    pub const SRC_NAT: u32 = 1 << 4;
    /// Destination NAT.
    pub const DST_NAT: u32 = 1 << 5;
    /// Sequence adjustment.
    pub const SEQ_ADJUST: u32 = 1 << 6;
    /// Source NAT done.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// Destination NAT done.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// Dying.
    pub const DYING: u32 = 1 << 9;
    /// Fixed timeout.
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    /// Template.
    pub const TEMPLATE: u32 = 1 << 11;
    /// Untracked.
    pub const UNTRACKED: u32 = 1 << 12;
    /// Helper attached.
    pub const HELPER: u32 = 1 << 13;
    /// Offloaded to a flowtable.
    pub const OFFLOAD: u32 = 1 << 14;
    /// Offloaded to hardware.
    pub const HW_OFFLOAD: u32 = 1 << 15;
}

/// TCP conntrack states (TCP_CONNTRACK_*), index = kernel number.
pub const TCP_STATES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];

/// SCTP conntrack states (SCTP_CONNTRACK_*).
pub const SCTP_STATES: [&str; 10] = [
    "NONE",
    "CLOSED",
    "COOKIE_WAIT",
    "COOKIE_ECHOED",
    "ESTABLISHED",
    "SHUTDOWN_SENT",
    "SHUTDOWN_RECD",
    "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT",
    "HEARTBEAT_ACKED",
];

/// DCCP conntrack states (CT_DCCP_*).
pub const DCCP_STATES: [&str; 10] = [
    "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE",
    "INVALID",
];

/// A helper name the kernel can take whole: 1 to 15 bytes (16 with the NUL), no NUL inside.
/// Anything else is refused rather than cut, so the kernel never looks up another helper.
pub fn check_helper_name(h: &str) -> Result<()> {
    if h.is_empty() || h.len() > 15 || h.contains('\0') {
        return Err(Error::invalid(format!(
            "helper name {h:?}: 1 to 15 bytes without NUL"
        )));
    }
    Ok(())
}

/// Refuses a label bit over 127 (there are 128).
pub fn check_label_bit(bit: u32) -> Result<()> {
    if bit >= 128 {
        return Err(Error::invalid(format!("label bit {bit} is over 127")));
    }
    Ok(())
}

/// The groups of fields [`Entry::unset`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The kernel id.
    Id,
    /// The mark.
    Mark,
    /// The status bits.
    Status,
    /// The timeout.
    Timeout,
    /// The zone (an entry without one is in zone 0).
    Zone,
    /// The labels, and which of them an update changes.
    Labels,
    /// The TCP, SCTP and DCCP protocol states.
    ProtoState,
    /// The reply tuple (a create then uses the inverse of the original).
    Reply,
    /// The helper name.
    Helper,
}

/// Direction of a tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// The original direction (the side that opened the connection).
    Orig,
    /// The reply direction.
    Reply,
}

/// One side of a tuple's addresses or ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Source.
    Src,
    /// Destination.
    Dst,
}

crate_fields! {
/// One direction of a connection: addresses, protocol and the layer-4 identifiers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tuple {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Layer-4 protocol number (as sent in this tuple).
    pub proto: Option<u8>,
    /// Source port (GRE: source key), host order.
    pub src_port: Option<u16>,
    /// Destination port (GRE: destination key), host order.
    pub dst_port: Option<u16>,
    /// ICMP/ICMPv6 type.
    pub icmp_type: Option<u8>,
    /// ICMP/ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// ICMP/ICMPv6 identifier, host order.
    pub icmp_id: Option<u16>,
}
}

impl Tuple {
    /// The address on `side`.
    pub fn addr(&self, side: Side) -> Option<IpAddr> {
        match side {
            Side::Src => self.src,
            Side::Dst => self.dst,
        }
    }

    /// The port on `side`.
    pub fn port(&self, side: Side) -> Option<u16> {
        match side {
            Side::Src => self.src_port,
            Side::Dst => self.dst_port,
        }
    }

    /// The layer-4 protocol number carried in this tuple.
    pub fn proto(&self) -> Option<u8> {
        self.proto
    }

    /// The ICMP/ICMPv6 type, code and identifier, each as the tuple carries it.
    pub fn icmp(&self) -> (Option<u8>, Option<u8>, Option<u16>) {
        (self.icmp_type, self.icmp_code, self.icmp_id)
    }

    /// Sets the layer-4 protocol; refused when ports or ICMP fields already set do not fit it.
    pub fn set_proto(&mut self, p: u8) -> Result<()> {
        if (self.src_port.is_some() || self.dst_port.is_some()) && !proto::has_ports(p) {
            return Err(Error::invalid(format!(
                "protocol {p} has no ports, but ports are set"
            )));
        }
        if (self.icmp_type.is_some() || self.icmp_code.is_some() || self.icmp_id.is_some())
            && !proto::is_icmp(p)
        {
            return Err(Error::invalid(format!(
                "protocol {p} is not ICMP, but ICMP fields are set"
            )));
        }
        self.proto = Some(p);
        Ok(())
    }

    /// Sets the address on `side`; refused when the other side holds the other family.
    pub fn set_addr(&mut self, side: Side, addr: IpAddr) -> Result<()> {
        let other = match side {
            Side::Src => self.dst,
            Side::Dst => self.src,
        };
        if other.is_some_and(|o| o.is_ipv4() != addr.is_ipv4()) {
            return Err(Error::invalid(format!(
                "address {addr} does not match the tuple's family"
            )));
        }
        match side {
            Side::Src => self.src = Some(addr),
            Side::Dst => self.dst = Some(addr),
        }
        Ok(())
    }

    /// Sets the port (GRE: key) on `side`; refused when the protocol has no ports.
    pub fn set_port(&mut self, side: Side, port: u16) -> Result<()> {
        if let Some(p) = self.proto.filter(|p| !proto::has_ports(*p)) {
            return Err(Error::invalid(format!("protocol {p} has no ports")));
        }
        match side {
            Side::Src => self.src_port = Some(port),
            Side::Dst => self.dst_port = Some(port),
        }
        Ok(())
    }

    /// True when nothing in the tuple is set.
    pub fn is_empty(&self) -> bool {
        *self == Tuple::default()
    }

    /// The tuple seen from the other direction: addresses and ports swapped, ICMP requests
    /// turned into their replies (what the kernel computes for a new entry's reply tuple).
    pub fn inverted(&self) -> Tuple {
        let proto = self.proto;
        let icmp_type = match (proto, self.icmp_type) {
            (Some(p), Some(t)) => Some(invert_icmp_type(p, t)),
            (_, t) => t,
        };
        Tuple {
            src: self.dst,
            dst: self.src,
            proto,
            src_port: self.dst_port,
            dst_port: self.src_port,
            icmp_type,
            icmp_code: self.icmp_code,
            icmp_id: self.icmp_id,
        }
    }
}

/// The reply type of an ICMP or ICMPv6 query type (the kernel's invmap tables).
fn invert_icmp_type(proto_num: u8, t: u8) -> u8 {
    let pairs: &[(u8, u8)] = if proto_num == proto::ICMP {
        &[(8, 0), (13, 14), (15, 16), (17, 18)]
    } else if proto_num == proto::ICMPV6 {
        &[(128, 129), (139, 140)]
    } else {
        &[]
    };
    for &(req, rep) in pairs {
        if t == req {
            return rep;
        }
        if t == rep {
            return req;
        }
    }
    t
}

/// Packet and byte counters of one direction (nf_conntrack_acct).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// NAT sequence adjustment of one direction (CTA_NAT_SEQ_ADJ_*).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqAdj {
    /// Position of the correction.
    pub correction_pos: u32,
    /// Offset before the position.
    pub offset_before: u32,
    /// Offset after the position.
    pub offset_after: u32,
}

/// The 128 connection-label bits, as the kernel stores them (bit n is bit n%8 of byte n/8).
pub type Labels = [u8; 16];

crate_fields! {
/// A conntrack entry: what the kernel reports of one connection, or what a request asks
/// for. Fields the kernel may omit are `Option`s; the setters check what they are given
/// (a port on ICMP, an IPv6 address on an IPv4 entry and a zone over 65535 are refused, and
/// the entry stays as it was).
///
/// ```
/// use conntrack::{Dir, Entry, Protocol, Side, TcpState};
///
/// # fn main() -> conntrack::Result<()> {
/// let mut e = Entry::new();
/// e.set_protocol(Protocol::Tcp)?;
/// e.set_addr(Dir::Orig, Side::Src, "10.0.0.1".parse().unwrap())?;
/// e.set_addr(Dir::Orig, Side::Dst, "10.0.0.2".parse().unwrap())?;
/// e.set_port(Dir::Orig, Side::Src, 1001)?;
/// e.set_port(Dir::Orig, Side::Dst, 80)?;
/// e.set_tcp_state(TcpState::Established.into())?;
/// e.set_timeout(120);
/// assert!(e.set_icmp(Dir::Orig, 8, 0, 1).is_err(), "TCP has no ICMP fields");
/// assert_eq!(e.tcp_state(), Some(TcpState::Established));
/// assert_eq!(e.family(), Some(conntrack::entry::AF_INET));
/// // Handle::create(&e) would now create it.
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Layer-3 family: [`AF_INET`] or [`AF_INET6`].
    pub family: Option<u8>,
    /// The original tuple.
    pub orig: Tuple,
    /// The reply tuple.
    pub reply: Tuple,
    /// Conntrack zone.
    pub zone: Option<u16>,
    /// Connection mark.
    pub mark: Option<u32>,
    /// Status bits (see [`status`]).
    pub status: Option<u32>,
    /// Seconds until the entry expires.
    pub timeout: Option<u32>,
    /// The kernel's id of the entry.
    pub id: Option<u32>,
    /// Reference count.
    pub use_count: Option<u32>,
    /// TCP state (index into [`TCP_STATES`]).
    pub tcp_state: Option<u8>,
    /// TCP window scale, original direction.
    pub tcp_wscale_orig: Option<u8>,
    /// TCP window scale, reply direction.
    pub tcp_wscale_reply: Option<u8>,
    /// TCP flags (flags, mask) of the original direction.
    pub tcp_flags_orig: Option<(u8, u8)>,
    /// TCP flags (flags, mask) of the reply direction.
    pub tcp_flags_reply: Option<(u8, u8)>,
    /// SCTP state (index into [`SCTP_STATES`]).
    pub sctp_state: Option<u8>,
    /// DCCP state (index into [`DCCP_STATES`]).
    pub dccp_state: Option<u8>,
    /// The fields most entries lack (see [`Extra`]).
    pub extra: ExtraSlot,
}
}

crate_fields! {
/// The fields a kernel sends only with accounting, timestamps, labels, helpers, SELinux, NAT
/// sequence adjustment or SCTP. They live in one separate allocation, made only for an entry
/// that has one of them, so that a list of a million plain entries stays small.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Extra {
    /// Zone of the original direction only (CTA_TUPLE_ZONE in the original tuple).
    pub zone_orig: Option<u16>,
    /// Zone of the reply direction only (CTA_TUPLE_ZONE in the reply tuple).
    pub zone_reply: Option<u16>,
    /// SCTP verification tag, original direction.
    pub sctp_vtag_orig: Option<u32>,
    /// SCTP verification tag, reply direction.
    pub sctp_vtag_reply: Option<u32>,
    /// Counters of the original direction.
    pub counters_orig: Option<Counters>,
    /// Counters of the reply direction.
    pub counters_reply: Option<Counters>,
    /// Start timestamp, nanoseconds since the epoch.
    pub timestamp_start: Option<u64>,
    /// Stop timestamp, nanoseconds since the epoch.
    pub timestamp_stop: Option<u64>,
    /// Connection labels.
    pub labels: Option<Labels>,
    /// Which label bits an update changes (CTA_LABELS_MASK); None: all of them.
    pub labels_mask: Option<Labels>,
    /// SELinux secmark.
    pub secmark: Option<u32>,
    /// Security context name (CTA_SECCTX).
    pub secctx: Option<String>,
    /// Helper name.
    pub helper: Option<String>,
    /// NAT sequence adjustment, original direction.
    pub seq_adj_orig: Option<SeqAdj>,
    /// NAT sequence adjustment, reply direction.
    pub seq_adj_reply: Option<SeqAdj>,
    /// Source NAT for the kernel to set up at creation (CTA_NAT_SRC); never read back.
    pub nat_src: Option<crate::nat::NatSetup>,
    /// Destination NAT for the kernel to set up at creation (CTA_NAT_DST); never read back.
    pub nat_dst: Option<crate::nat::NatSetup>,
}
}

const NO_EXTRA: Extra = Extra {
    zone_orig: None,
    zone_reply: None,
    sctp_vtag_orig: None,
    sctp_vtag_reply: None,
    counters_orig: None,
    counters_reply: None,
    timestamp_start: None,
    timestamp_stop: None,
    labels: None,
    labels_mask: None,
    secmark: None,
    secctx: None,
    helper: None,
    seq_adj_orig: None,
    seq_adj_reply: None,
    nat_src: None,
    nat_dst: None,
};

/// Where an entry keeps its [`Extra`] fields: nothing until one is set. An allocated but
/// empty slot equals an unallocated one, and a clone of an empty slot allocates nothing.
#[cfg(not(feature = "internals"))]
#[derive(Debug, Default)]
pub(crate) struct ExtraSlot(Option<Box<Extra>>);
/// The same slot, public for the fuzz targets (the `internals` feature).
#[cfg(feature = "internals")]
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct ExtraSlot(Option<Box<Extra>>);

impl ExtraSlot {
    /// The fields; all `None` when none was ever set.
    pub fn get(&self) -> &Extra {
        self.0.as_deref().unwrap_or(&NO_EXTRA)
    }

    /// The fields, for setting; allocates on first use.
    pub fn get_mut(&mut self) -> &mut Extra {
        self.0.get_or_insert_with(Box::default)
    }

    /// Unsets fields through `f`, which runs only when some field was ever set (unsetting
    /// allocates nothing).
    pub fn unset(&mut self, f: impl FnOnce(&mut Extra)) {
        if let Some(x) = self.0.as_deref_mut() {
            f(x);
        }
    }

    /// Unsets every field, keeping the allocation for the next entry decoded into it.
    pub fn clear(&mut self) {
        if let Some(x) = self.0.as_deref_mut() {
            *x = Extra::default();
        }
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self.get() == NO_EXTRA
    }
}

impl Clone for ExtraSlot {
    fn clone(&self) -> ExtraSlot {
        if self.is_empty() {
            ExtraSlot(None)
        } else {
            ExtraSlot(self.0.clone())
        }
    }
}

impl PartialEq for ExtraSlot {
    fn eq(&self, other: &ExtraSlot) -> bool {
        self.get() == other.get()
    }
}

impl Eq for ExtraSlot {}

impl From<Extra> for ExtraSlot {
    fn from(x: Extra) -> ExtraSlot {
        ExtraSlot(Some(Box::new(x)))
    }
}

fn family_of(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

impl Entry {
    /// An empty entry.
    pub fn new() -> Entry {
        Entry::default()
    }

    /// Unsets every field, as `Entry::new()` would, but keeps the extra fields' allocation
    /// (decoding a dump into one reused entry then allocates nothing per entry).
    pub fn clear(&mut self) {
        let mut extra = std::mem::take(&mut self.extra);
        extra.clear();
        *self = Entry {
            extra,
            ..Entry::default()
        };
    }

    /// The tuple of `dir`.
    pub fn tuple(&self, dir: Dir) -> &Tuple {
        match dir {
            Dir::Orig => &self.orig,
            Dir::Reply => &self.reply,
        }
    }

    fn tuple_mut(&mut self, dir: Dir) -> &mut Tuple {
        match dir {
            Dir::Orig => &mut self.orig,
            Dir::Reply => &mut self.reply,
        }
    }

    /// The layer-4 protocol: from the original tuple, else the reply tuple.
    pub fn proto(&self) -> Option<u8> {
        self.orig.proto.or(self.reply.proto)
    }

    /// The family: as set, else from the first address found.
    pub fn family(&self) -> Option<u8> {
        self.family.or_else(|| {
            [self.orig.src, self.orig.dst, self.reply.src, self.reply.dst]
                .iter()
                .flatten()
                .next()
                .map(family_of)
        })
    }

    /// True when `bit` (0..128) of the labels is set.
    pub fn label(&self, bit: u32) -> bool {
        match (&self.extra.get().labels, bit < 128) {
            (Some(l), true) => l[(bit / 8) as usize] & (1 << (bit % 8)) != 0,
            _ => false,
        }
    }

    /// The layer-4 protocol, typed.
    pub fn protocol(&self) -> Option<Protocol> {
        self.proto().map(Protocol::from)
    }

    /// Sets the layer-4 protocol of both tuples, as [`Entry::set_proto`] does.
    pub fn set_protocol(&mut self, p: Protocol) -> Result<()> {
        self.set_proto(p.into())
    }

    /// The status bits, typed; see [`Entry::set_status`].
    pub fn status(&self) -> Option<Status> {
        self.status.map(Status::from_bits_retain)
    }

    /// Sets the status bits. Create and update always send [`Status::CONFIRMED`] with them,
    /// as the kernel requires; the kernel changes only the bits it lets user space change.
    pub fn set_status(&mut self, s: Status) {
        self.status = Some(s.bits());
    }

    /// The TCP state, typed (None also for a number the library does not know).
    pub fn tcp_state(&self) -> Option<TcpState> {
        self.tcp_state.and_then(|s| TcpState::try_from(s).ok())
    }

    /// The SCTP state, typed.
    pub fn sctp_state(&self) -> Option<SctpState> {
        self.sctp_state.and_then(|s| SctpState::try_from(s).ok())
    }

    /// The DCCP state, typed.
    pub fn dccp_state(&self) -> Option<DccpState> {
        self.dccp_state.and_then(|s| DccpState::try_from(s).ok())
    }

    /// The zone (the kernel omits zone 0: an entry read without one is in zone 0).
    pub fn zone(&self) -> Option<u16> {
        self.zone
    }

    /// The connection mark.
    pub fn mark(&self) -> Option<u32> {
        self.mark
    }

    /// Sets the connection mark (any value).
    pub fn set_mark(&mut self, mark: u32) {
        self.mark = Some(mark);
    }

    /// The timeout: seconds left before the entry expires (as read), or to give it (as sent).
    pub fn timeout(&self) -> Option<u32> {
        self.timeout
    }

    /// Sets the timeout in seconds (any value).
    pub fn set_timeout(&mut self, seconds: u32) {
        self.timeout = Some(seconds);
    }

    /// The kernel's id of the entry.
    pub fn id(&self) -> Option<u32> {
        self.id
    }

    /// Sets the kernel id: a delete then removes the entry only if its id still matches.
    pub fn set_id(&mut self, id: u32) {
        self.id = Some(id);
    }

    /// The reference count the kernel reported.
    pub fn use_count(&self) -> Option<u32> {
        self.use_count
    }

    /// The TCP window scale of direction `dir` (kernel-reported).
    pub fn tcp_wscale(&self, dir: Dir) -> Option<u8> {
        match dir {
            Dir::Orig => self.tcp_wscale_orig,
            Dir::Reply => self.tcp_wscale_reply,
        }
    }

    /// The TCP flags (flags, mask) of direction `dir` (kernel-reported).
    pub fn tcp_flags(&self, dir: Dir) -> Option<(u8, u8)> {
        match dir {
            Dir::Orig => self.tcp_flags_orig,
            Dir::Reply => self.tcp_flags_reply,
        }
    }

    /// The zone of direction `dir` alone (conntrack's `--orig-zone`/`--reply-zone`), as
    /// opposed to [`Entry::zone`], which covers both directions.
    pub fn dir_zone(&self, dir: Dir) -> Option<u16> {
        let x = self.extra.get();
        match dir {
            Dir::Orig => x.zone_orig,
            Dir::Reply => x.zone_reply,
        }
    }

    /// The zone id the kernel holds the entry in, which its zone filter compares whatever
    /// direction the zone covers (`nf_ct_zone_equal_any`): the zone of both directions,
    /// else the original direction's, else the reply direction's; 0 when none. The kernel
    /// keeps one zone an entry (it refuses a create that names two), so for entries read
    /// from it at most one of the three is set. Every zone filter of the library compares
    /// this.
    pub fn zone_id(&self) -> u16 {
        let x = self.extra.get();
        [self.zone, x.zone_orig, x.zone_reply]
            .into_iter()
            .flatten()
            .find(|&z| z != 0)
            .unwrap_or(0)
    }

    /// Sets the zone of direction `dir` alone. The kernel takes it on a create only with no
    /// zone for both directions (none, or zone 0), and one direction's zone at most: it
    /// refuses the rest with EINVAL. Refused above 65535.
    pub fn set_dir_zone(&mut self, dir: Dir, zone: u32) -> Result<()> {
        let z = u16::try_from(zone)
            .map_err(|_| Error::invalid(format!("zone {zone} is over 65535")))?;
        let x = self.extra.get_mut();
        match dir {
            Dir::Orig => x.zone_orig = Some(z),
            Dir::Reply => x.zone_reply = Some(z),
        }
        Ok(())
    }

    /// The SCTP verification tag of direction `dir` (kernel-reported).
    pub fn sctp_vtag(&self, dir: Dir) -> Option<u32> {
        let x = self.extra.get();
        match dir {
            Dir::Orig => x.sctp_vtag_orig,
            Dir::Reply => x.sctp_vtag_reply,
        }
    }

    /// The packet and byte counters of direction `dir` (present when the namespace has
    /// net.netfilter.nf_conntrack_acct=1).
    pub fn counters(&self, dir: Dir) -> Option<Counters> {
        let x = self.extra.get();
        match dir {
            Dir::Orig => x.counters_orig,
            Dir::Reply => x.counters_reply,
        }
    }

    /// The NAT sequence adjustment of direction `dir` (kernel-reported).
    pub fn seq_adj(&self, dir: Dir) -> Option<SeqAdj> {
        let x = self.extra.get();
        match dir {
            Dir::Orig => x.seq_adj_orig,
            Dir::Reply => x.seq_adj_reply,
        }
    }

    /// The start timestamp, nanoseconds since the epoch (present when the namespace has
    /// net.netfilter.nf_conntrack_timestamp=1).
    pub fn timestamp_start(&self) -> Option<u64> {
        self.extra.get().timestamp_start
    }

    /// The stop timestamp, nanoseconds since the epoch (destroy events only).
    pub fn timestamp_stop(&self) -> Option<u64> {
        self.extra.get().timestamp_stop
    }

    /// All 128 label bits, when the entry has labels.
    pub fn labels(&self) -> Option<Labels> {
        self.extra.get().labels
    }

    /// The label bits an update changes (those set through [`Entry::set_label`]); None: an
    /// update replaces them all.
    pub fn labels_mask(&self) -> Option<Labels> {
        self.extra.get().labels_mask
    }

    /// The SELinux security mark.
    pub fn secmark(&self) -> Option<u32> {
        self.extra.get().secmark
    }

    /// The SELinux security context.
    pub fn secctx(&self) -> Option<&str> {
        self.extra.get().secctx.as_deref()
    }

    /// The helper's name.
    pub fn helper(&self) -> Option<&str> {
        self.extra.get().helper.as_deref()
    }

    /// Sets the layer-3 family. Refused when an address of the other family is set.
    pub fn set_family(&mut self, family: u8) -> Result<()> {
        if family != AF_INET && family != AF_INET6 {
            return Err(Error::invalid(format!(
                "family {family} is neither IPv4 (2) nor IPv6 (10)"
            )));
        }
        for t in [&self.orig, &self.reply] {
            for a in [t.src, t.dst].iter().flatten() {
                if family_of(a) != family {
                    return Err(Error::invalid(format!(
                        "family {family} does not match the address {a} already set"
                    )));
                }
            }
        }
        self.family = Some(family);
        Ok(())
    }

    /// Sets the layer-4 protocol of both tuples. Refused for ICMP when ports are set, and
    /// for a protocol without ports when ports are set.
    pub fn set_proto(&mut self, p: u8) -> Result<()> {
        for t in [&self.orig, &self.reply] {
            if (t.src_port.is_some() || t.dst_port.is_some()) && !proto::has_ports(p) {
                return Err(Error::invalid(format!(
                    "protocol {p} has no ports, but ports are set"
                )));
            }
            if (t.icmp_type.is_some() || t.icmp_code.is_some() || t.icmp_id.is_some())
                && !proto::is_icmp(p)
            {
                return Err(Error::invalid(format!(
                    "protocol {p} is not ICMP, but ICMP fields are set"
                )));
            }
        }
        if p == proto::ICMP && self.family() == Some(AF_INET6) {
            return Err(Error::invalid("ICMP (1) on an IPv6 entry: use ICMPv6 (58)"));
        }
        if p == proto::ICMPV6 && self.family() == Some(AF_INET) {
            return Err(Error::invalid("ICMPv6 (58) on an IPv4 entry: use ICMP (1)"));
        }
        self.orig.proto = Some(p);
        self.reply.proto = Some(p);
        Ok(())
    }

    /// Sets an address of one tuple. Refused when its family differs from the entry's.
    pub fn set_addr(&mut self, dir: Dir, side: Side, addr: IpAddr) -> Result<()> {
        if let Some(f) = self.family() {
            if f != family_of(&addr) {
                let want = if f == AF_INET { "IPv4" } else { "IPv6" };
                return Err(Error::invalid(format!(
                    "address {addr} does not match the entry's family ({want})"
                )));
            }
        }
        match self.proto() {
            Some(proto::ICMP) if addr.is_ipv6() => {
                return Err(Error::invalid("an IPv6 address on an ICMP (IPv4) entry"))
            }
            Some(proto::ICMPV6) if addr.is_ipv4() => {
                return Err(Error::invalid("an IPv4 address on an ICMPv6 entry"))
            }
            _ => {}
        }
        let t = self.tuple_mut(dir);
        match side {
            Side::Src => t.src = Some(addr),
            Side::Dst => t.dst = Some(addr),
        }
        Ok(())
    }

    /// Sets a port (GRE: key) of one tuple. Refused when the protocol has no ports.
    pub fn set_port(&mut self, dir: Dir, side: Side, port: u16) -> Result<()> {
        if let Some(p) = self.proto() {
            if !proto::has_ports(p) {
                return Err(Error::invalid(format!("protocol {p} has no ports")));
            }
        }
        let t = self.tuple_mut(dir);
        match side {
            Side::Src => t.src_port = Some(port),
            Side::Dst => t.dst_port = Some(port),
        }
        Ok(())
    }

    /// Sets the ICMP type, code and id of one tuple. Refused unless the protocol is ICMP or
    /// ICMPv6 (or not yet set).
    pub fn set_icmp(&mut self, dir: Dir, icmp_type: u8, code: u8, id: u16) -> Result<()> {
        if let Some(p) = self.proto() {
            if !proto::is_icmp(p) {
                return Err(Error::invalid(format!(
                    "protocol {p} is not ICMP or ICMPv6"
                )));
            }
        }
        let t = self.tuple_mut(dir);
        t.icmp_type = Some(icmp_type);
        t.icmp_code = Some(code);
        t.icmp_id = Some(id);
        Ok(())
    }

    /// Sets the zone; refused above 65535.
    pub fn set_zone(&mut self, zone: u32) -> Result<()> {
        let z = u16::try_from(zone)
            .map_err(|_| Error::invalid(format!("zone {zone} is over 65535")))?;
        self.zone = Some(z);
        Ok(())
    }

    /// Sets the TCP state; refused for an unknown state or a non-TCP entry.
    pub fn set_tcp_state(&mut self, state: u8) -> Result<()> {
        if usize::from(state) >= TCP_STATES.len() {
            return Err(Error::invalid(format!(
                "TCP state {state} is unknown (0..9)"
            )));
        }
        if let Some(p) = self.proto() {
            if p != proto::TCP {
                return Err(Error::invalid(format!("protocol {p} is not TCP")));
            }
        }
        self.tcp_state = Some(state);
        Ok(())
    }

    /// Sets the SCTP state; refused for an unknown state or a non-SCTP entry.
    pub fn set_sctp_state(&mut self, state: u8) -> Result<()> {
        if usize::from(state) >= SCTP_STATES.len() {
            return Err(Error::invalid(format!(
                "SCTP state {state} is unknown (0..9)"
            )));
        }
        if let Some(p) = self.proto().filter(|p| *p != proto::SCTP) {
            return Err(Error::invalid(format!("protocol {p} is not SCTP")));
        }
        self.sctp_state = Some(state);
        Ok(())
    }

    /// Sets or clears label `bit` (0..127). An update then changes only the bits touched
    /// this way (they go into the label mask); the kernel's other bits keep their value.
    pub fn set_label(&mut self, bit: u32, on: bool) -> Result<()> {
        check_label_bit(bit)?;
        let x = self.extra.get_mut();
        let (byte, mask) = ((bit / 8) as usize, 1u8 << (bit % 8));
        let l = x.labels.get_or_insert([0; 16]);
        if on {
            l[byte] |= mask;
        } else {
            l[byte] &= !mask;
        }
        x.labels_mask.get_or_insert([0; 16])[byte] |= mask;
        Ok(())
    }

    /// Sets all 128 label bits from at most 16 bytes (missing bytes are 0); an update then
    /// replaces every bit.
    pub fn set_labels(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.len() > 16 {
            return Err(Error::invalid(format!(
                "labels have at most 16 bytes, not {}",
                bytes.len()
            )));
        }
        let mut l = [0u8; 16];
        l[..bytes.len()].copy_from_slice(bytes);
        let x = self.extra.get_mut();
        x.labels = Some(l);
        x.labels_mask = None;
        Ok(())
    }

    /// Label `bit` (0..127; refused above): None when the entry carries no labels at all.
    pub fn label_bit(&self, bit: u32) -> Result<Option<bool>> {
        check_label_bit(bit)?;
        Ok(self.extra.get().labels.map(|_| self.label(bit)))
    }

    /// Sets the name of the helper to attach at creation; see [`check_helper_name`].
    pub fn set_helper(&mut self, name: &str) -> Result<()> {
        check_helper_name(name)?;
        self.extra.get_mut().helper = Some(name.to_string());
        Ok(())
    }

    /// Asks the kernel to set up source (`src`) or destination NAT to `to` when it creates
    /// the entry, as conntrack(8)'s `-I --src-nat`/`--dst-nat` do: the kernel then makes the
    /// reply tuple and the NAT status bits itself. The address must be of the entry's family
    /// when the entry has one.
    pub fn set_nat_setup(&mut self, src: bool, to: crate::nat::NatSetup) -> Result<()> {
        let fam = if to.addr.is_ipv4() { AF_INET } else { AF_INET6 };
        if let Some(f) = self.family() {
            if f != fam {
                return Err(Error::invalid(
                    "the NAT address is not of the entry's family",
                ));
            }
        }
        let x = self.extra.get_mut();
        if src {
            x.nat_src = Some(to);
        } else {
            x.nat_dst = Some(to);
        }
        Ok(())
    }

    /// Removes the fields of `field`, so requests no longer carry them.
    pub fn unset(&mut self, field: Field) {
        match field {
            Field::Id => self.id = None,
            Field::Mark => self.mark = None,
            Field::Status => self.status = None,
            Field::Timeout => self.timeout = None,
            Field::Zone => self.zone = None,
            Field::Labels => self.extra.unset(|x| {
                x.labels = None;
                x.labels_mask = None;
            }),
            Field::ProtoState => {
                self.tcp_state = None;
                self.sctp_state = None;
                self.dccp_state = None;
            }
            Field::Reply => self.reply = Tuple::default(),
            Field::Helper => self.extra.unset(|x| x.helper = None),
        }
    }

    /// The reply tuple to send when creating: as set, else the inverse of the original.
    pub fn reply_or_inverted(&self) -> Tuple {
        if self.reply.src.is_some() || self.reply.dst.is_some() {
            self.reply.clone()
        } else {
            self.orig.inverted()
        }
    }

    /// Checks that the original (or reply) tuple is complete enough for the kernel to look
    /// the entry up: both addresses, the protocol, and its ports or ICMP fields.
    pub fn lookup_tuple(&self) -> Result<(Dir, &Tuple)> {
        let (dir, t) = if self.orig.src.is_some() || self.reply.src.is_none() {
            (Dir::Orig, &self.orig)
        } else {
            (Dir::Reply, &self.reply)
        };
        let what = if dir == Dir::Orig {
            "original"
        } else {
            "reply"
        };
        if t.src.is_none() || t.dst.is_none() {
            return Err(Error::invalid(format!(
                "the {what} tuple needs a source and a destination address"
            )));
        }
        let p = t
            .proto
            .ok_or_else(|| Error::invalid(format!("the {what} tuple needs a layer-4 protocol")))?;
        if proto::has_ports(p) && (t.src_port.is_none() || t.dst_port.is_none()) {
            return Err(Error::invalid(format!(
                "the {what} tuple needs source and destination ports for protocol {p}"
            )));
        }
        if proto::is_icmp(p)
            && (t.icmp_type.is_none() || t.icmp_code.is_none() || t.icmp_id.is_none())
        {
            return Err(Error::invalid(format!(
                "the {what} tuple needs ICMP type, code and id"
            )));
        }
        Ok((dir, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn setters_refuse_impossible_values_and_keep_the_entry() {
        let mut e = Entry::new();
        e.set_proto(proto::ICMP).unwrap();
        let before = e.clone();
        assert!(e.set_port(Dir::Orig, Side::Src, 1).is_err());
        assert!(e.set_zone(65536).is_err());
        e.set_addr(Dir::Orig, Side::Src, v4("1.1.1.1")).unwrap();
        assert!(e.set_addr(Dir::Orig, Side::Dst, v4("fe80::1")).is_err());
        assert!(e.set_family(AF_INET6).is_err());
        assert!(e.set_tcp_state(3).is_err());
        let mut expected = before;
        expected.orig.src = Some(v4("1.1.1.1"));
        assert_eq!(e, expected);
        assert!(e.set_zone(65535).is_ok());
    }

    #[test]
    fn inverted_tuple_swaps_and_maps_icmp_echo() {
        let t = Tuple {
            src: Some(v4("1.1.1.1")),
            dst: Some(v4("2.2.2.2")),
            proto: Some(proto::ICMP),
            icmp_type: Some(8),
            icmp_code: Some(0),
            icmp_id: Some(3333),
            ..Tuple::default()
        };
        let r = t.inverted();
        assert_eq!(r.src, Some(v4("2.2.2.2")));
        assert_eq!(r.icmp_type, Some(0));
        assert_eq!(r.inverted(), t);
    }

    #[test]
    fn an_entry_without_extras_is_small_and_clones_without_allocating() {
        // ct_list keeps one Entry per connection: a million of them must stay under 200 MB.
        assert!(
            std::mem::size_of::<Entry>() <= 184,
            "{}",
            std::mem::size_of::<Entry>()
        );
        let mut e = Entry::new();
        e.extra.get_mut().helper = Some("ftp".into());
        e.clear();
        assert_eq!(e, Entry::new());
        assert!(e.extra.0.is_some(), "clear keeps the allocation");
        assert!(
            e.clone().extra.0.is_none(),
            "a clone of empty extras allocates nothing"
        );
        e.set_label(3, true).unwrap();
        assert_ne!(e, Entry::new());
        assert!(e.clone().label(3));
    }

    #[test]
    fn protocol_states_helper_and_unset_follow_one_rule() {
        let mut e = Entry::new();
        e.set_proto(proto::SCTP).unwrap();
        assert!(e.set_sctp_state(10).is_err());
        assert!(e.set_tcp_state(3).is_err());
        e.set_sctp_state(4).unwrap();
        let mut t = Entry::new();
        t.set_proto(proto::TCP).unwrap();
        assert!(t.set_sctp_state(4).is_err());
        assert!(e.set_helper("").is_err());
        assert!(e.set_helper("sixteen-chars-xx").is_err());
        assert!(e.set_helper("a\0b").is_err());
        e.set_helper("ftp").unwrap();
        e.id = Some(9);
        e.set_label(1, true).unwrap();
        e.unset(Field::ProtoState);
        e.unset(Field::Helper);
        e.unset(Field::Id);
        e.unset(Field::Labels);
        let mut want = Entry::new();
        want.set_proto(proto::SCTP).unwrap();
        assert_eq!(e, want);
    }

    #[test]
    fn set_label_records_the_update_mask_and_set_labels_replaces_all() {
        let mut e = Entry::new();
        e.set_label(9, true).unwrap();
        e.set_label(3, false).unwrap();
        let x = e.extra.get();
        assert_eq!(x.labels.unwrap()[1], 2);
        assert_eq!(x.labels_mask.unwrap()[..2], [8, 2]);
        e.set_labels(&[1; 16]).unwrap();
        assert_eq!(e.extra.get().labels_mask, None);
        assert!(e.set_labels(&[0; 17]).is_err());
        assert_eq!(e.label_bit(0).unwrap(), Some(true));
        assert!(e.label_bit(128).is_err());
    }

    #[test]
    fn labels_by_bit() {
        let mut e = Entry::new();
        e.set_label(0, true).unwrap();
        e.set_label(127, true).unwrap();
        assert!(e.label(0) && e.label(127) && !e.label(1));
        assert!(e.set_label(128, true).is_err());
        e.set_label(0, false).unwrap();
        assert!(!e.label(0));
    }
}
