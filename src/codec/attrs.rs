//! The ctnetlink attribute numbers (linux/netfilter/nfnetlink_conntrack.h) that
//! netlink-packet-netfilter 0.4 does not name, and the nested attributes built from that
//! crate's `DefaultNla`. Only this module and its parent know CTA_* numbers and byte order.

use netlink_packet_core::{DefaultNla, Emitable, Nla};

// Top level (enum ctattr_type).
pub const CTA_TUPLE_ORIG: u16 = 1;
pub const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
pub const CTA_PROTOINFO: u16 = 4;
pub const CTA_HELP: u16 = 5;
pub const CTA_TIMEOUT: u16 = 7;
pub const CTA_MARK: u16 = 8;
pub const CTA_COUNTERS_ORIG: u16 = 9;
pub const CTA_COUNTERS_REPLY: u16 = 10;
pub const CTA_USE: u16 = 11;
pub const CTA_ID: u16 = 12;
pub const CTA_SEQ_ADJ_ORIG: u16 = 15;
pub const CTA_SEQ_ADJ_REPLY: u16 = 16;
pub const CTA_SECMARK: u16 = 17;
pub const CTA_ZONE: u16 = 18;
pub const CTA_SECCTX: u16 = 19;
pub const CTA_TIMESTAMP: u16 = 20;
pub const CTA_MARK_MASK: u16 = 21;
pub const CTA_LABELS: u16 = 22;
pub const CTA_LABELS_MASK: u16 = 23;
pub const CTA_STATUS_MASK: u16 = 26;

// Inside a tuple (enum ctattr_tuple, ctattr_ip, ctattr_l4proto).
pub const CTA_TUPLE_IP: u16 = 1;
pub const CTA_TUPLE_PROTO: u16 = 2;
pub const CTA_IP_V4_SRC: u16 = 1;
pub const CTA_IP_V4_DST: u16 = 2;
pub const CTA_IP_V6_SRC: u16 = 3;
pub const CTA_IP_V6_DST: u16 = 4;
pub const CTA_PROTO_NUM: u16 = 1;
pub const CTA_PROTO_SRC_PORT: u16 = 2;
pub const CTA_PROTO_DST_PORT: u16 = 3;
pub const CTA_PROTO_ICMP_ID: u16 = 4;
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;

// Protocol info (ctattr_protoinfo and per protocol).
pub const CTA_PROTOINFO_TCP: u16 = 1;
pub const CTA_PROTOINFO_DCCP: u16 = 2;
pub const CTA_PROTOINFO_SCTP: u16 = 3;
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;
pub const CTA_PROTOINFO_DCCP_STATE: u16 = 1;
pub const CTA_PROTOINFO_SCTP_STATE: u16 = 1;
pub const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: u16 = 2;
pub const CTA_PROTOINFO_SCTP_VTAG_REPLY: u16 = 3;

// Counters, timestamps, helper, secctx, sequence adjustment.
pub const CTA_COUNTERS_PACKETS: u16 = 1;
pub const CTA_COUNTERS_BYTES: u16 = 2;
pub const CTA_COUNTERS32_PACKETS: u16 = 3;
pub const CTA_COUNTERS32_BYTES: u16 = 4;
pub const CTA_TIMESTAMP_START: u16 = 1;
pub const CTA_TIMESTAMP_STOP: u16 = 2;
pub const CTA_HELP_NAME: u16 = 1;
pub const CTA_SECCTX_NAME: u16 = 1;
pub const CTA_SEQADJ_CORRECTION_POS: u16 = 1;
pub const CTA_SEQADJ_OFFSET_BEFORE: u16 = 2;
pub const CTA_SEQADJ_OFFSET_AFTER: u16 = 3;

/// Flag of a nested attribute (NLA_F_NESTED).
pub const NLA_F_NESTED: u16 = 1 << 15;

/// A u8 attribute.
pub fn u8_nla(kind: u16, v: u8) -> DefaultNla {
    DefaultNla::new(kind, vec![v])
}

/// A big-endian u16 attribute.
pub fn be16_nla(kind: u16, v: u16) -> DefaultNla {
    DefaultNla::new(kind, v.to_be_bytes().to_vec())
}

/// A big-endian u32 attribute.
pub fn be32_nla(kind: u16, v: u32) -> DefaultNla {
    DefaultNla::new(kind, v.to_be_bytes().to_vec())
}

/// A nested attribute holding `inner`, flagged NLA_F_NESTED as the kernel's strict
/// parsers expect.
pub fn nested_nla(kind: u16, inner: &[DefaultNla]) -> DefaultNla {
    let mut value = vec![0u8; inner.buffer_len()];
    inner.emit(&mut value);
    DefaultNla::new(kind | NLA_F_NESTED, value)
}

/// The emitted size of an attribute list (for tests and sizing).
pub fn emitted_len<T: Nla>(nlas: &[T]) -> usize {
    nlas.buffer_len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attribute_bytes() {
        // CTA_PROTOINFO_SCTP { STATE=3 } as the kernel lays it out: length 12, type 3|nested,
        // then the u8 state padded to 4 bytes.
        let n = nested_nla(CTA_PROTOINFO_SCTP, &[u8_nla(CTA_PROTOINFO_SCTP_STATE, 3)]);
        let mut out = vec![0u8; n.buffer_len()];
        n.emit(&mut out);
        assert_eq!(out, [12, 0, 3, 0x80, 5, 0, 1, 0, 3, 0, 0, 0]);
        assert_eq!(emitted_len(&[be16_nla(CTA_ZONE, 7)]), 8);
    }
}
