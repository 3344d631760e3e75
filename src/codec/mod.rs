//! The netlink encoding and decoding of conntrack messages, in one place.
//!
//! Messages are framed with netlink-packet-core's `NetlinkBuffer` and netlink-packet-netfilter's
//! `NetfilterHeader` (and their headers read back directly, in [`messages`]); attributes are written in place (`attrs::Writer`, over netlink-packet-core's
//! `NlaBuffer`) and read from the borrowed receive buffer (`attrs::attrs`), straight from and into
//! an [`Entry`]. The crate's owned attribute trees (`ConntrackAttribute` and friends) cost about a
//! dozen allocations and a quadratic length computation per entry, a fifth of a bulk create's time
//! in a profile, so they serve as the tests' oracle for the byte layout instead.

pub mod attrs;
pub mod bpf;
pub mod expect;
pub mod stats;

use std::net::IpAddr;

use netlink_packet_core::{Emitable, NetlinkBuffer, NLM_F_REQUEST};
use netlink_packet_netfilter::NetfilterHeader;

use crate::entry::{proto, Entry, Tuple};
use crate::error::{Error, Result};
use attrs::*;

/// nfnetlink subsystem of conntrack entries.
pub const SUBSYS_CTNETLINK: u8 = 1;
/// nfnetlink subsystem of expectations.
pub const SUBSYS_CTNETLINK_EXP: u8 = 2;

/// IPCTNL_MSG_CT_* message types.
pub mod msg {
    /// Create (or, with NLM_F_CREATE missing, update) an entry; also the NEW/UPDATE event.
    pub const CT_NEW: u8 = 0;
    /// Get one entry, or dump.
    pub const CT_GET: u8 = 1;
    /// Delete one entry, or flush; also the DESTROY event.
    pub const CT_DELETE: u8 = 2;
    /// Dump, zeroing each entry's counters as it is read.
    pub const CT_GET_CTRZERO: u8 = 3;
    /// Per-CPU statistics (dump).
    pub const CT_GET_STATS_CPU: u8 = 4;
    /// Global statistics.
    pub const CT_GET_STATS: u8 = 5;
    /// Dump of the entries being destroyed.
    pub const CT_GET_DYING: u8 = 6;
    /// Dump of the entries not yet confirmed (in the table).
    pub const CT_GET_UNCONFIRMED: u8 = 7;
    /// Create an expectation (IPCTNL_MSG_EXP_NEW); also what an expectation dump answers.
    pub const EXP_NEW: u8 = 0;
    /// Get or dump expectations.
    pub const EXP_GET: u8 = 1;
    /// Delete an expectation, or flush them.
    pub const EXP_DELETE: u8 = 2;
    /// Per-CPU expectation statistics (IPCTNL_MSG_EXP_GET_STATS_CPU).
    pub const EXP_GET_STATS_CPU: u8 = 3;
}

pub use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};

/// Netlink control message types.
pub const NLMSG_NOOP: u16 = 1;
/// An error or an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// End of a dump.
pub const NLMSG_DONE: u16 = 3;
/// An overrun notice.
pub const NLMSG_OVERRUN: u16 = 4;

/// nlmsg flag: the dump was interrupted and is inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// nlmsg flag on an error: extended-ack attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// nlmsg flag on an error: the echoed request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Bytes of the netlink header.
pub const NLMSG_HDRLEN: usize = 16;
/// Bytes of the nfgenmsg header that follows it.
pub const NFGEN_HDRLEN: usize = 4;

/// A request: message type, family, flags and its encoded attributes.
pub struct Request {
    /// IPCTNL_MSG_CT_* (or expectation) message type.
    pub msg_type: u8,
    /// nfgen_family.
    pub family: u8,
    /// nfgenmsg version: 1 makes a flush honour the family (0 flushes IPv4 and IPv6).
    pub version: u8,
    /// nlmsg flags besides NLM_F_REQUEST (NLM_F_CREATE, ...).
    pub flags: u16,
    /// The attributes, encoded.
    pub attrs: Vec<u8>,
}

/// Starts a message in `out`: netlink header and nfgenmsg. Returns the mark that
/// [`finish_message`] takes once the attributes are appended.
pub fn begin_message(
    out: &mut Vec<u8>,
    subsys: u8,
    msg_type: u8,
    flags: u16,
    seq: u32,
    family: u8,
    version: u8,
) -> usize {
    let start = out.len();
    out.resize(start + NLMSG_HDRLEN + NFGEN_HDRLEN, 0);
    let mut nl = NetlinkBuffer::new(&mut out[start..]);
    nl.set_message_type(u16::from(subsys) << 8 | u16::from(msg_type));
    nl.set_flags(NLM_F_REQUEST | flags);
    nl.set_sequence_number(seq);
    NetfilterHeader::new(family.into(), version, 0).emit(&mut out[start + NLMSG_HDRLEN..]);
    start
}

/// The end of the message that starts at `start` of `buf` (as its header's length says).
pub fn message_end(buf: &[u8], start: usize) -> usize {
    start + NetlinkBuffer::new(&buf[start..]).length() as usize
}

/// Gives the message that starts at `start` of `buf`, already encoded, the sequence number
/// `seq` and asks for an acknowledgement or not (a batch renumbers its requests per chunk
/// and acknowledges only the last of each).
pub fn renumber(buf: &mut [u8], start: usize, seq: u32, ack: bool) {
    let mut nl = NetlinkBuffer::new(&mut buf[start..]);
    let flags = nl.flags() & !NLM_F_ACK;
    nl.set_flags(if ack { flags | NLM_F_ACK } else { flags });
    nl.set_sequence_number(seq);
}

/// The kind of change an event message reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A new entry (IPCTNL_MSG_CT_NEW with NLM_F_CREATE or NLM_F_EXCL).
    New,
    /// A changed entry.
    Update,
    /// A destroyed entry (IPCTNL_MSG_CT_DELETE).
    Destroy,
}

/// What the event `m` (a conntrack message) reports.
pub fn event_kind(m: &RawMessage<'_>) -> EventKind {
    match (m.msg_type & 0xff) as u8 {
        msg::CT_DELETE => EventKind::Destroy,
        _ if m.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 => EventKind::New,
        _ => EventKind::Update,
    }
}

/// Sets the length of the message begun at `mark`.
pub fn finish_message(out: &mut [u8], mark: usize) {
    let len = (out.len() - mark) as u32;
    NetlinkBuffer::new(&mut out[mark..]).set_length(len);
}

/// Appends one ctnetlink request of subsystem `subsys` to `out`, with sequence number `seq`
/// and `extra_flags` added to the request's own (NLM_F_ACK, NLM_F_DUMP).
pub fn put_request(out: &mut Vec<u8>, subsys: u8, seq: u32, extra_flags: u16, req: &Request) {
    let mark = begin_message(
        out,
        subsys,
        req.msg_type,
        req.flags | extra_flags,
        seq,
        req.family,
        req.version,
    );
    out.extend_from_slice(&req.attrs);
    finish_message(out, mark);
}

/// One NAT range of a single address (and port) for the kernel's NAT setup.
fn put_nat(w: &mut Writer<'_>, kind: u16, n: &crate::nat::NatSetup) {
    let outer = w.begin(kind);
    match n.addr {
        IpAddr::V4(a) => {
            w.put(CTA_NAT_V4_MINIP, &a.octets());
            w.put(CTA_NAT_V4_MAXIP, &a.octets());
        }
        IpAddr::V6(a) => {
            w.put(CTA_NAT_V6_MINIP, &a.octets());
            w.put(CTA_NAT_V6_MAXIP, &a.octets());
        }
    }
    if let Some(p) = n.port {
        let pr = w.begin(CTA_NAT_PROTO);
        w.be16(CTA_PROTONAT_PORT_MIN, p);
        w.be16(CTA_PROTONAT_PORT_MAX, p);
        w.end(pr);
    }
    w.end(outer);
}

pub(crate) fn put_tuple(w: &mut Writer<'_>, kind: u16, t: &Tuple) {
    put_tuple_zoned(w, kind, t, None);
}

/// A tuple nest with a zone of its direction only (CTA_TUPLE_ZONE) when `zone` is set.
pub(crate) fn put_tuple_zoned(w: &mut Writer<'_>, kind: u16, t: &Tuple, zone: Option<u16>) {
    let outer = w.begin(kind);
    let ip = w.begin(CTA_TUPLE_IP);
    for (addr, v4, v6) in [
        (t.src, CTA_IP_V4_SRC, CTA_IP_V6_SRC),
        (t.dst, CTA_IP_V4_DST, CTA_IP_V6_DST),
    ] {
        match addr {
            Some(IpAddr::V4(a)) => w.put(v4, &a.octets()),
            Some(IpAddr::V6(a)) => w.put(v6, &a.octets()),
            None => {}
        }
    }
    w.end(ip);
    if let Some(p) = t.proto {
        let pm = w.begin(CTA_TUPLE_PROTO);
        w.u8(CTA_PROTO_NUM, p);
        if let Some(port) = t.src_port {
            w.be16(CTA_PROTO_SRC_PORT, port);
        }
        if let Some(port) = t.dst_port {
            w.be16(CTA_PROTO_DST_PORT, port);
        }
        let (id, ty, code) = if p == proto::ICMPV6 {
            (
                CTA_PROTO_ICMPV6_ID,
                CTA_PROTO_ICMPV6_TYPE,
                CTA_PROTO_ICMPV6_CODE,
            )
        } else {
            (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)
        };
        if let Some(x) = t.icmp_id {
            w.be16(id, x);
        }
        if let Some(x) = t.icmp_type {
            w.u8(ty, x);
        }
        if let Some(x) = t.icmp_code {
            w.u8(code, x);
        }
        w.end(pm);
    }
    if let Some(z) = zone {
        w.be16(CTA_TUPLE_ZONE, z);
    }
    w.end(outer);
}

/// What a request carries of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Create: both tuples (the reply inverted from the original when unset) and every
    /// settable field.
    Create,
    /// Update: the lookup tuple, zone, and the fields the kernel can change.
    Update,
    /// Get or delete: the lookup tuple, zone, and id when set.
    Lookup,
}

/// Checks that `e` holds what `purpose` needs, before anything is written.
fn check(e: &Entry, purpose: Purpose) -> Result<()> {
    e.lookup_tuple()?;
    if purpose == Purpose::Create {
        if e.orig.src.is_none() {
            return Err(Error::invalid("create needs the original tuple"));
        }
        if e.timeout.is_none() {
            return Err(Error::invalid("create needs a timeout"));
        }
        if let Some(h) = &e.extra.get().helper {
            crate::entry::check_helper_name(h)?;
        }
    }
    Ok(())
}

/// Appends the attributes of `e` for `purpose` to `out`. Fails, writing nothing, when the
/// entry lacks what the kernel needs.
pub fn encode_entry(out: &mut Vec<u8>, e: &Entry, purpose: Purpose) -> Result<()> {
    check(e, purpose)?;
    let mut w = Writer::new(out);
    if purpose == Purpose::Create {
        let x = e.extra.get();
        put_tuple_zoned(&mut w, CTA_TUPLE_ORIG, &e.orig, x.zone_orig);
        if e.reply.src.is_some() || e.reply.dst.is_some() {
            put_tuple_zoned(&mut w, CTA_TUPLE_REPLY, &e.reply, x.zone_reply);
        } else {
            put_tuple_zoned(&mut w, CTA_TUPLE_REPLY, &e.orig.inverted(), x.zone_reply);
        }
        // NAT for the kernel to set up: it rewrites the reply tuple and sets the NAT bits.
        for (kind, nat) in [
            (CTA_NAT_SRC, e.extra.get().nat_src),
            (CTA_NAT_DST, e.extra.get().nat_dst),
        ] {
            if let Some(n) = nat {
                put_nat(&mut w, kind, &n);
            }
        }
    } else {
        let (dir, t) = e.lookup_tuple()?;
        let x = e.extra.get();
        let (kind, zone) = match dir {
            crate::entry::Dir::Orig => (CTA_TUPLE_ORIG, x.zone_orig),
            crate::entry::Dir::Reply => (CTA_TUPLE_REPLY, x.zone_reply),
        };
        put_tuple_zoned(&mut w, kind, t, zone);
    }
    // The kernel looks entries up in the zone given, zone 0 when none is: always send it.
    w.be16(CTA_ZONE, e.zone.unwrap_or(0));
    if purpose == Purpose::Lookup {
        if let Some(id) = e.id {
            w.be32(CTA_ID, id);
        }
        return Ok(());
    }
    if let Some(t) = e.timeout {
        w.be32(CTA_TIMEOUT, t);
    }
    if let Some(m) = e.mark {
        w.be32(CTA_MARK, m);
    }
    if let Some(s) = e.status {
        // The kernel refuses (EBUSY) a status that would clear CONFIRMED, which every
        // entry in the table carries, including one being created.
        w.be32(CTA_STATUS, s | crate::entry::status::CONFIRMED);
    }
    if let Some(id) = e.id.filter(|_| purpose == Purpose::Update) {
        w.be32(CTA_ID, id);
    }
    if let Some(l) = e.extra.get().labels {
        w.put(CTA_LABELS, &l);
        if let Some(mask) = e
            .extra
            .get()
            .labels_mask
            .filter(|_| purpose == Purpose::Update)
        {
            w.put(CTA_LABELS_MASK, &mask);
        }
    }
    let has_sctp = e.sctp_state.is_some()
        || e.extra.get().sctp_vtag_orig.is_some()
        || e.extra.get().sctp_vtag_reply.is_some();
    if e.tcp_state.is_some() || has_sctp || e.dccp_state.is_some() {
        let info = w.begin(CTA_PROTOINFO);
        if let Some(s) = e.tcp_state {
            let tcp = w.begin(CTA_PROTOINFO_TCP);
            w.u8(CTA_PROTOINFO_TCP_STATE, s);
            if let Some(x) = e.tcp_wscale_orig {
                w.u8(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, x);
            }
            if let Some(x) = e.tcp_wscale_reply {
                w.u8(CTA_PROTOINFO_TCP_WSCALE_REPLY, x);
            }
            w.end(tcp);
        }
        if has_sctp {
            // The kernel wants the state and both verification tags together.
            let sctp = w.begin(CTA_PROTOINFO_SCTP);
            w.u8(CTA_PROTOINFO_SCTP_STATE, e.sctp_state.unwrap_or(0));
            w.be32(
                CTA_PROTOINFO_SCTP_VTAG_ORIGINAL,
                e.extra.get().sctp_vtag_orig.unwrap_or(0),
            );
            w.be32(
                CTA_PROTOINFO_SCTP_VTAG_REPLY,
                e.extra.get().sctp_vtag_reply.unwrap_or(0),
            );
            w.end(sctp);
        }
        if let Some(x) = e.dccp_state {
            let dccp = w.begin(CTA_PROTOINFO_DCCP);
            w.u8(CTA_PROTOINFO_DCCP_STATE, x);
            w.end(dccp);
        }
        w.end(info);
    }
    for (kind, adj) in [
        (CTA_SEQ_ADJ_ORIG, e.extra.get().seq_adj_orig),
        (CTA_SEQ_ADJ_REPLY, e.extra.get().seq_adj_reply),
    ] {
        if let Some(a) = adj {
            let m = w.begin(kind);
            w.be32(CTA_SEQADJ_CORRECTION_POS, a.correction_pos);
            w.be32(CTA_SEQADJ_OFFSET_BEFORE, a.offset_before);
            w.be32(CTA_SEQADJ_OFFSET_AFTER, a.offset_after);
            w.end(m);
        }
    }
    if let Some(h) = e
        .extra
        .get()
        .helper
        .as_deref()
        .filter(|_| purpose == Purpose::Create)
    {
        // check() made sure the name fits: 15 bytes at most, then the NUL.
        let m = w.begin(CTA_HELP);
        let mut name = [0u8; 16];
        name[..h.len()].copy_from_slice(h.as_bytes());
        w.put(CTA_HELP_NAME, &name[..h.len() + 1]);
        w.end(m);
    }
    Ok(())
}

/// The attributes of `e` for `purpose`, encoded (for a single request).
pub fn entry_attrs(e: &Entry, purpose: Purpose) -> Result<Vec<u8>> {
    let mut v = Vec::with_capacity(160);
    encode_entry(&mut v, e, purpose)?;
    Ok(v)
}

/// A tuple the kernel matches field by field (CTA_FILTER, 5.8+): the fields set are the
/// ones compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TupleFilter {
    /// Exact source address.
    pub src: Option<IpAddr>,
    /// Exact destination address.
    pub dst: Option<IpAddr>,
    /// Protocol (needed by the kernel for ports).
    pub proto: Option<u8>,
    /// Source port.
    pub src_port: Option<u16>,
    /// Destination port.
    pub dst_port: Option<u16>,
}

impl TupleFilter {
    fn flags(&self) -> u32 {
        let mut f = 0;
        if self.src.is_some() {
            f |= CTA_FILTER_F_IP_SRC;
        }
        if self.dst.is_some() {
            f |= CTA_FILTER_F_IP_DST;
        }
        if self.proto.is_some() {
            f |= CTA_FILTER_F_PROTO_NUM;
            if self.src_port.is_some() {
                f |= CTA_FILTER_F_PROTO_SRC_PORT;
            }
            if self.dst_port.is_some() {
                f |= CTA_FILTER_F_PROTO_DST_PORT;
            }
        }
        f
    }

    fn tuple(&self) -> Tuple {
        Tuple {
            src: self.src,
            dst: self.dst,
            proto: self.proto,
            src_port: self.src_port.filter(|_| self.proto.is_some()),
            dst_port: self.dst_port.filter(|_| self.proto.is_some()),
            ..Tuple::default()
        }
    }
}

/// What the kernel is asked to filter in a dump.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpFilter {
    /// CTA_ZONE (6.8+; ignored before).
    pub zone: Option<u16>,
    /// CTA_MARK and CTA_MARK_MASK.
    pub mark: Option<(u32, u32)>,
    /// CTA_STATUS and CTA_STATUS_MASK (5.15+).
    pub status: Option<(u32, u32)>,
    /// Original tuple through CTA_FILTER (5.8+; needs a family in the request).
    pub orig: TupleFilter,
    /// Reply tuple through CTA_FILTER (correct from 5.16).
    pub reply: TupleFilter,
}

/// The attributes of a dump request that the kernel filters on.
pub fn filter_attrs(f: &DumpFilter) -> Vec<u8> {
    let mut v = Vec::new();
    let mut w = Writer::new(&mut v);
    if let Some(z) = f.zone {
        w.be16(CTA_ZONE, z);
    }
    if let Some((m, mask)) = f.mark {
        // Always with the mask: before 5.8 a mark without mask is ignored.
        w.be32(CTA_MARK, m);
        w.be32(CTA_MARK_MASK, mask);
    }
    if let Some((s, mask)) = f.status {
        w.be32(CTA_STATUS, s);
        w.be32(CTA_STATUS_MASK, mask);
    }
    let (orig, reply) = (f.orig.flags(), f.reply.flags());
    if orig != 0 {
        put_tuple(&mut w, CTA_TUPLE_ORIG, &f.orig.tuple());
    }
    if reply != 0 {
        put_tuple(&mut w, CTA_TUPLE_REPLY, &f.reply.tuple());
    }
    if orig != 0 || reply != 0 {
        let m = w.begin(CTA_FILTER);
        w.ne32(CTA_FILTER_ORIG_FLAGS, orig);
        w.ne32(CTA_FILTER_REPLY_FLAGS, reply);
        w.end(m);
    }
    v
}

/// One netlink message as received, borrowed from the receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawMessage<'a> {
    /// nlmsg_type.
    pub msg_type: u16,
    /// nlmsg_flags.
    pub flags: u16,
    /// nlmsg_seq.
    pub seq: u32,
    /// nlmsg_pid.
    pub pid: u32,
    /// Everything after the netlink header.
    pub payload: &'a [u8],
}

/// Iterates over the netlink messages of one datagram. A message whose length is wrong ends
/// the iteration with an error (the rest of the datagram cannot be trusted).
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<RawMessage<'_>>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= buf.len() {
            return None;
        }
        let rest = &buf[pos..];
        // The header read directly (nlmsghdr: length, type, flags, seq, pid, in host order):
        // this runs once per entry of a dump.
        let Some(h) = rest.get(..NLMSG_HDRLEN) else {
            let at = pos;
            pos = buf.len();
            return Some(Err(Error::malformed(format!(
                "netlink message at offset {at}: {} bytes left, less than a header",
                rest.len()
            ))));
        };
        let u32_at = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u16_at = |i: usize| u16::from_ne_bytes([h[i], h[i + 1]]);
        let len = u32_at(0) as usize;
        if len < NLMSG_HDRLEN {
            pos = buf.len();
            return Some(Err(Error::malformed(
                "netlink message shorter than its header",
            )));
        }
        if len > rest.len() {
            let at = pos;
            pos = buf.len();
            return Some(Err(Error::malformed(format!(
                "netlink message at offset {at}: its length {len} runs past the datagram \
                 ({} bytes left)",
                rest.len()
            ))));
        }
        let m = RawMessage {
            msg_type: u16_at(4),
            flags: u16_at(6),
            seq: u32_at(8),
            pid: u32_at(12),
            payload: &rest[NLMSG_HDRLEN..len],
        };
        pos += (len + 3) & !3;
        Some(Ok(m))
    })
}

/// Is this an entry message of ctnetlink (a dump reply, a get reply or an event)?
pub fn is_ct_message(msg_type: u16) -> bool {
    (msg_type >> 8) as u8 == SUBSYS_CTNETLINK
        && matches!((msg_type & 0xff) as u8, msg::CT_NEW | msg::CT_DELETE)
}

/// The errno (positive; 0 for an acknowledgement) and extended-ack text of an NLMSG_ERROR.
pub fn decode_error(m: &RawMessage<'_>) -> Result<(i32, Option<String>)> {
    let p = m.payload;
    if p.len() < 4 {
        return Err(Error::malformed("netlink error message too short"));
    }
    let code = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
    let mut text = None;
    if m.flags & NLM_F_ACK_TLVS != 0 && p.len() >= 4 + NLMSG_HDRLEN {
        // The echoed request: its header only when capped, else the whole request.
        let echoed = if m.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            let l = u32::from_ne_bytes([p[4], p[5], p[6], p[7]]) as usize;
            (l + 3) & !3
        };
        if let Some(tlvs) = p.get(4 + echoed..) {
            let mut bad = None;
            walk(tlvs, &mut bad, "extended ack", |kind, v, _| {
                if kind == NLMSGERR_ATTR_MSG {
                    let v = v.split(|b| *b == 0).next().unwrap_or(v);
                    text = Some(String::from_utf8_lossy(v).into_owned());
                }
            });
        }
    }
    if code > 0 {
        return Err(Error::malformed(format!(
            "netlink error message with a positive code {code}"
        )));
    }
    Ok((code.checked_neg().unwrap_or(i32::MAX), text))
}

pub(crate) mod decode;
pub use decode::{decode_entry, decode_entry_into};

#[cfg(test)]
mod tests;
