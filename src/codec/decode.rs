//! Decoding entry messages: one pass over the borrowed attributes, straight into an
//! [`Entry`]. Unknown attributes are skipped (newer kernels add some); a known one with a
//! wrong length makes the whole message an error that names it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::attrs::*;
use super::NFGEN_HDRLEN;
use crate::entry::{Counters, Entry, SeqAdj, Tuple};
use crate::error::{Error, Result};

#[inline]
fn u8v(v: &[u8], bad: &mut Bad, what: &'static str) -> Option<u8> {
    match v {
        [x, ..] => Some(*x),
        _ => bad.get_or_insert(what).then_none(),
    }
}

#[inline]
pub(crate) fn be16(v: &[u8], bad: &mut Bad, what: &'static str) -> Option<u16> {
    match v {
        [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
        _ => bad.get_or_insert(what).then_none(),
    }
}

#[inline]
pub(crate) fn be32(v: &[u8], bad: &mut Bad, what: &'static str) -> Option<u32> {
    match v {
        [a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => bad.get_or_insert(what).then_none(),
    }
}

#[inline]
fn be64(v: &[u8], bad: &mut Bad, what: &'static str) -> Option<u64> {
    match v.get(..8) {
        Some(b) => Some(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
        None => bad.get_or_insert(what).then_none(),
    }
}

#[inline]
fn ip(v: &[u8], bad: &mut Bad, what: &'static str) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(v);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => bad.get_or_insert(what).then_none(),
    }
}

/// `None`, for the value parsers' failure arm (after recording the bad attribute).
trait ThenNone {
    fn then_none<T>(&self) -> Option<T>;
}

impl ThenNone for &'static str {
    fn then_none<T>(&self) -> Option<T> {
        None
    }
}

pub(crate) fn string(v: &[u8]) -> String {
    let v = v.split(|b| *b == 0).next().unwrap_or(v);
    String::from_utf8_lossy(v).into_owned()
}

/// Reads a tuple nest into `t`; returns its zone (CTA_TUPLE_ZONE), which the kernel sends
/// for a zone that applies to this direction only.
pub(crate) fn tuple(v: &[u8], bad: &mut Bad, t: &mut Tuple) -> Option<u16> {
    let mut zone = None;
    walk(v, bad, "CTA_TUPLE", |kind, v, bad| match kind {
        CTA_TUPLE_IP => walk(v, bad, "CTA_TUPLE_IP", |k, v, bad| match k {
            CTA_IP_V4_SRC | CTA_IP_V6_SRC => t.src = ip(v, bad, "CTA_IP_SRC"),
            CTA_IP_V4_DST | CTA_IP_V6_DST => t.dst = ip(v, bad, "CTA_IP_DST"),
            _ => {}
        }),
        CTA_TUPLE_PROTO => walk(v, bad, "CTA_TUPLE_PROTO", |k, v, bad| match k {
            CTA_PROTO_NUM => t.proto = u8v(v, bad, "CTA_PROTO_NUM"),
            CTA_PROTO_SRC_PORT => t.src_port = be16(v, bad, "CTA_PROTO_SRC_PORT"),
            CTA_PROTO_DST_PORT => t.dst_port = be16(v, bad, "CTA_PROTO_DST_PORT"),
            CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => {
                t.icmp_id = be16(v, bad, "CTA_PROTO_ICMP_ID")
            }
            CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                t.icmp_type = u8v(v, bad, "CTA_PROTO_ICMP_TYPE")
            }
            CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                t.icmp_code = u8v(v, bad, "CTA_PROTO_ICMP_CODE")
            }
            _ => {}
        }),
        CTA_TUPLE_ZONE => zone = be16(v, bad, "CTA_TUPLE_ZONE"),
        _ => {}
    });
    zone
}

fn flags_pair(v: &[u8], bad: &mut Bad, what: &'static str) -> Option<(u8, u8)> {
    match v {
        [f, m, ..] => Some((*f, *m)),
        _ => bad.get_or_insert(what).then_none(),
    }
}

fn protoinfo(v: &[u8], bad: &mut Bad, e: &mut Entry) {
    walk(v, bad, "CTA_PROTOINFO", |kind, v, bad| match kind {
        CTA_PROTOINFO_TCP => walk(v, bad, "CTA_PROTOINFO_TCP", |k, v, bad| match k {
            CTA_PROTOINFO_TCP_STATE => e.tcp_state = u8v(v, bad, "CTA_PROTOINFO_TCP_STATE"),
            CTA_PROTOINFO_TCP_WSCALE_ORIGINAL => {
                e.tcp_wscale_orig = u8v(v, bad, "CTA_PROTOINFO_TCP_WSCALE_ORIGINAL")
            }
            CTA_PROTOINFO_TCP_WSCALE_REPLY => {
                e.tcp_wscale_reply = u8v(v, bad, "CTA_PROTOINFO_TCP_WSCALE_REPLY")
            }
            CTA_PROTOINFO_TCP_FLAGS_ORIGINAL => {
                e.tcp_flags_orig = flags_pair(v, bad, "CTA_PROTOINFO_TCP_FLAGS_ORIGINAL")
            }
            CTA_PROTOINFO_TCP_FLAGS_REPLY => {
                e.tcp_flags_reply = flags_pair(v, bad, "CTA_PROTOINFO_TCP_FLAGS_REPLY")
            }
            _ => {}
        }),
        CTA_PROTOINFO_SCTP => walk(v, bad, "CTA_PROTOINFO_SCTP", |k, v, bad| match k {
            CTA_PROTOINFO_SCTP_STATE => e.sctp_state = u8v(v, bad, "CTA_PROTOINFO_SCTP_STATE"),
            CTA_PROTOINFO_SCTP_VTAG_ORIGINAL => {
                e.extra.get_mut().sctp_vtag_orig = be32(v, bad, "CTA_PROTOINFO_SCTP_VTAG_ORIGINAL")
            }
            CTA_PROTOINFO_SCTP_VTAG_REPLY => {
                e.extra.get_mut().sctp_vtag_reply = be32(v, bad, "CTA_PROTOINFO_SCTP_VTAG_REPLY")
            }
            _ => {}
        }),
        CTA_PROTOINFO_DCCP => walk(v, bad, "CTA_PROTOINFO_DCCP", |k, v, bad| {
            if k == CTA_PROTOINFO_DCCP_STATE {
                e.dccp_state = u8v(v, bad, "CTA_PROTOINFO_DCCP_STATE");
            }
        }),
        _ => {}
    });
}

fn counters(v: &[u8], bad: &mut Bad) -> Counters {
    let mut c = Counters::default();
    walk(v, bad, "CTA_COUNTERS", |k, v, bad| match k {
        CTA_COUNTERS_PACKETS => c.packets = be64(v, bad, "CTA_COUNTERS_PACKETS").unwrap_or(0),
        CTA_COUNTERS_BYTES => c.bytes = be64(v, bad, "CTA_COUNTERS_BYTES").unwrap_or(0),
        CTA_COUNTERS32_PACKETS => {
            c.packets = be32(v, bad, "CTA_COUNTERS32_PACKETS").map_or(0, u64::from)
        }
        CTA_COUNTERS32_BYTES => c.bytes = be32(v, bad, "CTA_COUNTERS32_BYTES").map_or(0, u64::from),
        _ => {}
    });
    c
}

fn seq_adj(v: &[u8], bad: &mut Bad) -> SeqAdj {
    let mut s = SeqAdj::default();
    walk(v, bad, "CTA_SEQ_ADJ", |k, v, bad| {
        let field = match k {
            CTA_SEQADJ_CORRECTION_POS => &mut s.correction_pos,
            CTA_SEQADJ_OFFSET_BEFORE => &mut s.offset_before,
            CTA_SEQADJ_OFFSET_AFTER => &mut s.offset_after,
            _ => return,
        };
        *field = be32(v, bad, "CTA_SEQADJ").unwrap_or(0);
    });
    s
}

fn nested_string(v: &[u8], bad: &mut Bad, kind: u16, what: &'static str) -> Option<String> {
    let mut out = None;
    walk(v, bad, what, |k, v, _| {
        if k == kind {
            out = Some(string(v));
        }
    });
    out
}

/// Decodes an entry message's payload (nfgenmsg and attributes) into `e`, which must be
/// empty. Unknown attributes are skipped; a known attribute with a wrong length is an error
/// that names it.
pub fn decode_entry_into(payload: &[u8], e: &mut Entry) -> Result<()> {
    if payload.len() < NFGEN_HDRLEN {
        return Err(Error::malformed(
            "conntrack message without nfgenmsg header",
        ));
    }
    let family = payload[0];
    if family != 0 {
        e.family = Some(family);
    }
    let mut bad: Bad = None;
    walk(
        &payload[NFGEN_HDRLEN..],
        &mut bad,
        "conntrack message",
        |kind, v, bad| match kind {
            CTA_TUPLE_ORIG => {
                if let Some(z) = tuple(v, bad, &mut e.orig) {
                    e.extra.get_mut().zone_orig = Some(z);
                }
            }
            CTA_TUPLE_REPLY => {
                if let Some(z) = tuple(v, bad, &mut e.reply) {
                    e.extra.get_mut().zone_reply = Some(z);
                }
            }
            CTA_STATUS => e.status = be32(v, bad, "CTA_STATUS"),
            CTA_PROTOINFO => protoinfo(v, bad, e),
            CTA_HELP => e.extra.get_mut().helper = nested_string(v, bad, CTA_HELP_NAME, "CTA_HELP"),
            CTA_TIMEOUT => e.timeout = be32(v, bad, "CTA_TIMEOUT"),
            CTA_MARK => e.mark = be32(v, bad, "CTA_MARK"),
            CTA_COUNTERS_ORIG => e.extra.get_mut().counters_orig = Some(counters(v, bad)),
            CTA_COUNTERS_REPLY => e.extra.get_mut().counters_reply = Some(counters(v, bad)),
            CTA_USE => e.use_count = be32(v, bad, "CTA_USE"),
            CTA_ID => e.id = be32(v, bad, "CTA_ID"),
            CTA_SEQ_ADJ_ORIG => e.extra.get_mut().seq_adj_orig = Some(seq_adj(v, bad)),
            CTA_SEQ_ADJ_REPLY => e.extra.get_mut().seq_adj_reply = Some(seq_adj(v, bad)),
            CTA_SECMARK => e.extra.get_mut().secmark = be32(v, bad, "CTA_SECMARK"),
            CTA_ZONE => e.zone = be16(v, bad, "CTA_ZONE"),
            CTA_SECCTX => {
                e.extra.get_mut().secctx = nested_string(v, bad, CTA_SECCTX_NAME, "CTA_SECCTX")
            }
            CTA_TIMESTAMP => walk(v, bad, "CTA_TIMESTAMP", |k, v, bad| match k {
                CTA_TIMESTAMP_START => {
                    e.extra.get_mut().timestamp_start = be64(v, bad, "CTA_TIMESTAMP_START")
                }
                CTA_TIMESTAMP_STOP => {
                    e.extra.get_mut().timestamp_stop = be64(v, bad, "CTA_TIMESTAMP_STOP")
                }
                _ => {}
            }),
            CTA_LABELS => {
                // The kernel sends as many bytes as its label words; keep the first 16.
                let mut l = [0u8; 16];
                let n = v.len().min(16);
                l[..n].copy_from_slice(&v[..n]);
                e.extra.get_mut().labels = Some(l);
            }
            _ => {}
        },
    );
    match bad {
        None => Ok(()),
        Some(what) => Err(Error::malformed(format!(
            "the kernel sent a malformed conntrack message (attribute {what})"
        ))),
    }
}

/// Decodes an entry message's payload into a new entry.
pub fn decode_entry(payload: &[u8]) -> Result<Entry> {
    let mut e = Entry::new();
    decode_entry_into(payload, &mut e)?;
    Ok(e)
}
