//! The ctnetlink attribute numbers (linux/netfilter/nfnetlink_conntrack.h), and the two
//! primitives the codec is built on: a writer that lays attributes out in place, in the
//! layout of netlink-packet-core's `NlaBuffer` (the tests check it against the crate), and a
//! reader over a borrowed attribute stream. Only the codec knows CTA_* numbers and byte order.

// Top level (enum ctattr_type).
pub const CTA_TUPLE_ORIG: u16 = 1;
pub const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
pub const CTA_PROTOINFO: u16 = 4;
pub const CTA_HELP: u16 = 5;
pub const CTA_NAT_SRC: u16 = 6;
pub const CTA_TIMEOUT: u16 = 7;
pub const CTA_MARK: u16 = 8;
pub const CTA_COUNTERS_ORIG: u16 = 9;
pub const CTA_COUNTERS_REPLY: u16 = 10;
pub const CTA_USE: u16 = 11;
pub const CTA_ID: u16 = 12;
pub const CTA_NAT_DST: u16 = 13;
pub const CTA_SEQ_ADJ_ORIG: u16 = 15;
pub const CTA_SEQ_ADJ_REPLY: u16 = 16;
pub const CTA_SECMARK: u16 = 17;
pub const CTA_ZONE: u16 = 18;
pub const CTA_SECCTX: u16 = 19;
pub const CTA_TIMESTAMP: u16 = 20;
pub const CTA_MARK_MASK: u16 = 21;
pub const CTA_LABELS: u16 = 22;
pub const CTA_LABELS_MASK: u16 = 23;
pub const CTA_FILTER: u16 = 25;
pub const CTA_STATUS_MASK: u16 = 26;

// Inside CTA_NAT_SRC/CTA_NAT_DST (enum ctattr_nat, ctattr_protonat).
pub const CTA_NAT_V4_MINIP: u16 = 1;
pub const CTA_NAT_V4_MAXIP: u16 = 2;
pub const CTA_NAT_PROTO: u16 = 3;
pub const CTA_NAT_V6_MINIP: u16 = 4;
pub const CTA_NAT_V6_MAXIP: u16 = 5;
pub const CTA_PROTONAT_PORT_MIN: u16 = 1;
pub const CTA_PROTONAT_PORT_MAX: u16 = 2;

// Inside CTA_FILTER (enum ctattr_filter) and its flag bits (CTA_FILTER_F_*).
pub const CTA_FILTER_ORIG_FLAGS: u16 = 1;
pub const CTA_FILTER_REPLY_FLAGS: u16 = 2;
pub const CTA_FILTER_F_IP_SRC: u32 = 1 << 0;
pub const CTA_FILTER_F_IP_DST: u32 = 1 << 1;
pub const CTA_FILTER_F_PROTO_NUM: u32 = 1 << 3;
pub const CTA_FILTER_F_PROTO_SRC_PORT: u32 = 1 << 4;
pub const CTA_FILTER_F_PROTO_DST_PORT: u32 = 1 << 5;

// Inside a tuple (enum ctattr_tuple, ctattr_ip, ctattr_l4proto).
// Expectation attributes (CTA_EXPECT_*).
pub const CTA_EXPECT_MASTER: u16 = 1;
pub const CTA_EXPECT_TUPLE: u16 = 2;
pub const CTA_EXPECT_MASK: u16 = 3;
pub const CTA_EXPECT_TIMEOUT: u16 = 4;
pub const CTA_EXPECT_ID: u16 = 5;
pub const CTA_EXPECT_HELP_NAME: u16 = 6;
pub const CTA_EXPECT_ZONE: u16 = 7;
pub const CTA_EXPECT_FLAGS: u16 = 8;
pub const CTA_EXPECT_CLASS: u16 = 9;

// Statistics attributes: the table's (CTA_STATS_GLOBAL_*) and a CPU's (CTA_STATS_*).
pub const CTA_STATS_GLOBAL_ENTRIES: u16 = 1;
pub const CTA_STATS_GLOBAL_MAX_ENTRIES: u16 = 2;
pub const CTA_STATS_FOUND: u16 = 2;
pub const CTA_STATS_INVALID: u16 = 4;
pub const CTA_STATS_INSERT: u16 = 8;
pub const CTA_STATS_INSERT_FAILED: u16 = 9;
pub const CTA_STATS_DROP: u16 = 10;
pub const CTA_STATS_EARLY_DROP: u16 = 11;
pub const CTA_STATS_ERROR: u16 = 12;
pub const CTA_STATS_SEARCH_RESTART: u16 = 13;
pub const CTA_STATS_CLASH_RESOLVE: u16 = 14;
pub const CTA_STATS_CHAIN_TOOLONG: u16 = 15;
// A CPU's expectation counters (CTA_STATS_EXP_*).
pub const CTA_STATS_EXP_NEW: u16 = 1;
pub const CTA_STATS_EXP_CREATE: u16 = 2;
pub const CTA_STATS_EXP_DELETE: u16 = 3;

pub const CTA_TUPLE_IP: u16 = 1;
pub const CTA_TUPLE_PROTO: u16 = 2;
pub const CTA_TUPLE_ZONE: u16 = 3;
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
/// The bits of an attribute's type field that hold the type.
pub const NLA_TYPE_MASK: u16 = !(1 << 15 | 1 << 14);
const NLA_HDRLEN: usize = 4;

/// `len` rounded up to the 4-byte netlink alignment.
pub const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Appends attributes to a message being built, in place: no allocation per attribute. The
/// header is the one `NlaBuffer` reads (length and type, native order), written directly:
/// going through `NlaBuffer`'s checked setters cost a tenth of a bulk create's user time.
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Writer<'a> {
        Writer { buf }
    }

    #[inline]
    fn header(&mut self, len: usize, kind: u16) {
        debug_assert!(len <= usize::from(u16::MAX), "attribute of {len} bytes");
        let mut h = [0u8; NLA_HDRLEN];
        h[..2].copy_from_slice(&(len as u16).to_ne_bytes());
        h[2..].copy_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&h);
    }

    /// Appends attribute `kind` with `value`, padded to 4 bytes.
    #[inline]
    pub fn put(&mut self, kind: u16, value: &[u8]) {
        let len = NLA_HDRLEN + value.len();
        self.header(len, kind & NLA_TYPE_MASK);
        self.buf.extend_from_slice(value);
        let pad = align4(len) - len;
        self.buf.extend_from_slice(&[0u8; 3][..pad]);
    }

    /// A u8 attribute.
    pub fn u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }

    /// A big-endian u16 attribute.
    pub fn be16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_be_bytes());
    }

    /// A big-endian u32 attribute.
    pub fn be32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_be_bytes());
    }

    /// A u32 attribute in host order (NLA_U32, as CTA_FILTER's flags).
    pub fn ne32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_ne_bytes());
    }

    /// Opens a nested attribute; close it with [`Writer::end`] and the returned mark.
    #[inline]
    pub fn begin(&mut self, kind: u16) -> usize {
        let start = self.buf.len();
        self.header(0, (kind & NLA_TYPE_MASK) | NLA_F_NESTED);
        start
    }

    /// Closes the nested attribute opened at `mark`.
    #[inline]
    pub fn end(&mut self, mark: usize) {
        debug_assert!(
            self.buf.len() - mark <= usize::from(u16::MAX),
            "nest too long"
        );
        let len = (self.buf.len() - mark) as u16;
        self.buf[mark..mark + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

/// The first attribute found malformed while decoding, by name; decoding goes on past it
/// (so one pass serves the common case) and the caller turns it into an error at the end.
pub type Bad = Option<&'static str>;

/// Calls `f(type, value, bad)` for each attribute of `buf`, borrowing the buffer. A length
/// that is too short or runs past the buffer, or stray bytes at the end, record `what` in
/// `bad` and end the walk.
#[inline]
pub fn walk<'a>(
    buf: &'a [u8],
    bad: &mut Bad,
    what: &'static str,
    mut f: impl FnMut(u16, &'a [u8], &mut Bad),
) {
    let mut pos = 0;
    while pos < buf.len() {
        let rest = &buf[pos..];
        if rest.len() < NLA_HDRLEN {
            bad.get_or_insert(what);
            return;
        }
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > rest.len() {
            bad.get_or_insert(what);
            return;
        }
        f(kind, &rest[NLA_HDRLEN..len], bad);
        pos += align4(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{DefaultNla, Emitable, NlasIterator};

    fn collect(buf: &[u8]) -> (Vec<(u16, Vec<u8>)>, Bad) {
        let mut bad = None;
        let mut v = Vec::new();
        walk(buf, &mut bad, "test", |k, val, _| v.push((k, val.to_vec())));
        (v, bad)
    }

    #[test]
    fn writer_lays_out_what_the_crate_emits() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        let m = w.begin(CTA_PROTOINFO_SCTP);
        w.u8(CTA_PROTOINFO_SCTP_STATE, 3);
        w.end(m);
        w.be16(CTA_ZONE, 7);
        assert_eq!(
            buf,
            [12, 0, 3, 0x80, 5, 0, 1, 0, 3, 0, 0, 0, 6, 0, 18, 0, 0, 7, 0, 0]
        );
        // The crate's own emitter gives the same bytes for the flat attribute.
        let nla = DefaultNla::new(CTA_ZONE, vec![0, 7]);
        let mut theirs = vec![0u8; nla.buffer_len()];
        nla.emit(&mut theirs);
        assert_eq!(&buf[12..], &theirs[..]);
    }

    #[test]
    fn reader_agrees_with_the_crate_iterator_and_stops_on_bad_lengths() {
        let buf = [
            12, 0, 3, 0x80, 5, 0, 1, 0, 3, 0, 0, 0, 6, 0, 18, 0, 0, 7, 0, 0,
        ];
        let (ours, bad) = collect(&buf);
        assert_eq!(bad, None);
        let theirs: Vec<(u16, Vec<u8>)> = NlasIterator::new(&buf[..])
            .map(|a| a.map(|n| (n.kind(), n.value().to_vec())))
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(ours, theirs);
        for input in [
            &[3u8, 0, 1, 0][..],
            &[8, 0, 1, 0, 0][..],
            &[1, 0][..],
            &[4, 0, 1, 0, 9][..],
        ] {
            let (_, bad) = collect(input);
            assert_eq!(bad, Some("test"), "{input:?}");
        }
        assert_eq!(collect(&[]), (vec![], None));
    }
}
