//! The bodies of the fuzz targets, shared by the targets under fuzz_targets/ and by
//! tests/fuzz_corpus.rs, which replays every corpus and regression file through them in an
//! ordinary `cargo test`.
//!
//! The includer defines `fuzz_derive!` before including this file: the fuzz targets make it
//! add `#[derive(arbitrary::Arbitrary)]` to [`EncodeInput`], the test (which has no
//! `arbitrary` crate) makes it add nothing. The test reads an `EncodeInput` with [`replay`],
//! a copy of `arbitrary`'s byte layout for the few fixed-size types the input is made of; the
//! fuzz target checks on every input that the two read the same value.
//!
//! A panic anywhere here is a finding: the decoders must turn any bytes into a value or an
//! error, the formatter must print any entry, and what the encoders write must decode back to
//! what they were given.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use conntrack::codec::attrs::{walk, CTA_FILTER, CTA_FILTER_ORIG_FLAGS, CTA_FILTER_REPLY_FLAGS};
use conntrack::codec::attrs::{
    CTA_FILTER_F_IP_DST, CTA_FILTER_F_IP_SRC, CTA_FILTER_F_PROTO_DST_PORT, CTA_FILTER_F_PROTO_NUM,
    CTA_FILTER_F_PROTO_SRC_PORT,
};
use conntrack::codec::{self, Purpose};
use conntrack::entry::{proto, status, Dir, Side, Tuple, AF_INET, AF_INET6};
use conntrack::filter::{slot, Cidr};
use conntrack::kernel::Kernel;
use conntrack::{format, stats, Entry, Filter};

/// The fuzz targets, by name (the corpus directories are named after them).
pub const TARGETS: [&str; 3] = ["decode_message", "decode_attrs", "encode_entry_filter"];

/// Runs the body of fuzz target `target` on `data`.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "decode_message" => decode_message(data),
        "decode_attrs" => decode_attrs(data),
        "encode_entry_filter" => encode_entry_filter(&EncodeInput::from_bytes(data)),
        _ => panic!("no fuzz target {target}"),
    }
}

const PURPOSES: [Purpose; 3] = [Purpose::Create, Purpose::Update, Purpose::Lookup];

/// Every FORMAT_* combination, and one unknown bit (ignored by the formatter).
const FORMAT_FLAGS: std::ops::Range<u32> = 0..16;

/// A label map with holes and an empty name, for `write_entry_with_labels`.
const LABEL_NAMES: [&str; 6] = ["zero", "", "two", "three", "", "five-with-a-long-name"];

// ---------------------------------------------------------------------------------------------
// decode_message: one netlink datagram.

/// Frames `data` as a netlink datagram and decodes every message in it every way the library
/// can: entry, error, expectation, per-CPU statistics.
pub fn decode_message(data: &[u8]) {
    let mut seen = 0usize;
    for m in codec::messages(data) {
        let Ok(m) = m else { break };
        seen += 1;
        assert!(
            seen <= data.len() / 16,
            "more messages than headers fit in the datagram"
        );
        let _ = codec::is_ct_message(m.msg_type);
        if let Ok((errno, text)) = codec::decode_error(&m) {
            if let Some(t) = &text {
                assert!(!t.contains('\0'), "extended-ack text keeps its NUL: {t:?}");
            }
            // What the receive loop makes of it.
            let _ = conntrack::Error::from_errno(errno, "fuzz", text.as_deref());
        }
        if let Ok(e) = codec::decode_entry(m.payload) {
            exercise_entry(&e);
        }
        if let Ok(x) = codec::expect::decode_expectation(m.payload) {
            let _ = x.family();
        }
        if let Ok(s) = codec::stats::decode_cpu_stats(m.payload) {
            let mut sum = stats::CpuStats::default();
            sum.add(&s);
            sum.add(&s);
        }
    }
    read_as_answers(data);
}

/// Feeds `data` to the readers of the receive loop as the answer to the request of its first
/// message (so that the fuzzer's messages are taken as ours), checking that a dump is never
/// reported complete when it was cut, interrupted or never ended.
fn read_as_answers(data: &[u8]) {
    use conntrack::batch::Op;
    use conntrack::receive::{ChunkReader, DumpReader, Expect, RequestReader};
    let Some(Ok(first)) = codec::messages(data).next() else {
        return;
    };
    let expect = Expect::one(first.seq, first.pid);
    // What a complete dump needs: every message well framed, one of ours a DONE, and none of
    // ours up to it flagged interrupted.
    let mut complete = false;
    for m in codec::messages(data) {
        let Ok(m) = m else { break };
        let ours = m.seq == first.seq && (m.pid == first.pid || m.pid == 0);
        if !ours {
            continue;
        }
        if m.flags & codec::NLM_F_DUMP_INTR != 0 {
            break;
        }
        if m.msg_type == codec::NLMSG_DONE {
            complete = true;
            break;
        }
        if m.msg_type == codec::NLMSG_ERROR && !matches!(codec::decode_error(&m), Ok((0, _))) {
            break;
        }
    }
    let mut dump = DumpReader::new("fuzz dump", expect);
    let r = dump.feed(data, &mut |m| codec::decode_entry(m.payload).map(|_| true));
    if r == Ok(true) {
        assert!(complete, "a dump reported complete that was not: {r:?}");
    }
    let mut request = RequestReader::new("fuzz request", expect);
    let _ = request.feed(data, &mut |_| Ok(()));
    let positions = [0usize, 1, 2];
    let chunk = Expect {
        first_seq: first.seq,
        last_seq: first.seq.wrapping_add(2),
        portid: first.pid,
    };
    let mut outcomes = vec![None; 3];
    let ops = [Op::Create, Op::Update, Op::Delete];
    let _ = ChunkReader::new(chunk, &positions, &ops).feed(data, &mut outcomes);
}

// ---------------------------------------------------------------------------------------------
// decode_attrs: one message payload (nfgenmsg, then attributes).

/// Decodes `data` as an entry message's payload: its first four bytes are the nfgenmsg.
pub fn decode_attrs(data: &[u8]) {
    let fresh = codec::decode_entry(data);
    // The same bytes into an entry that already holds values (the library reuses entries):
    // whatever the outcome, no panic, and the attributes present win.
    let mut reused = Entry::new();
    reused.mark = Some(1);
    reused.extra.get_mut().helper = Some("stale".into());
    reused.orig.src = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
    let into = codec::decode_entry_into(data, &mut reused);
    assert_eq!(
        fresh.is_ok(),
        into.is_ok(),
        "decode_entry and decode_entry_into disagree"
    );
    if let Ok(e) = fresh {
        if e.mark.is_some() {
            assert_eq!(e.mark, reused.mark);
        }
        exercise_entry(&e);
    }
    // The other decoders take the same payload shape.
    let _ = codec::expect::decode_expectation(data);
    let _ = codec::stats::decode_cpu_stats(data);
}

// ---------------------------------------------------------------------------------------------
// What every decoded entry goes through.

/// Formats `e` every way, and encodes it for every purpose, checking what was encoded.
pub fn exercise_entry(e: &Entry) {
    for flags in FORMAT_FLAGS {
        let line = format::format_entry(e, flags);
        let mut with_labels = String::new();
        format::write_entry_with_labels(&mut with_labels, e, flags, &LABEL_NAMES);
        // delta-time reads the clock when the entry has no stop time: the two lines can
        // straddle a second.
        let clock = e.extra.get().timestamp_start.is_some()
            && e.extra.get().timestamp_stop.unwrap_or(0) == 0;
        assert!(
            clock || with_labels.starts_with(line.trim_end()),
            "the labelled line does not extend the plain one:\n{line}\n{with_labels}"
        );
    }
    let _ = (e.family(), e.proto(), e.reply_or_inverted(), e.label(127));
    for purpose in PURPOSES {
        encode_and_check(e, purpose);
    }
}

/// Encodes `e` for `purpose`: a failure must write nothing, a success must decode back.
fn encode_and_check(e: &Entry, purpose: Purpose) {
    let mut out = vec![0xa5; 3];
    match codec::encode_entry(&mut out, e, purpose) {
        Err(_) => assert_eq!(out, [0xa5; 3], "a failed encode_entry wrote {out:?}"),
        Ok(()) => {
            assert_eq!(out[..3], [0xa5; 3], "encode_entry overwrote what was there");
            let attrs = codec::entry_attrs(e, purpose).expect("entry_attrs after encode_entry");
            assert_eq!(attrs, out[3..], "entry_attrs and encode_entry differ");
            check_entry_roundtrip(e, purpose, &attrs);
        }
    }
    assert_eq!(
        codec::entry_attrs(e, Purpose::Lookup).is_ok(),
        e.lookup_tuple().is_ok(),
        "a lookup encodes exactly when the entry has a lookup tuple"
    );
}

/// The part of a tuple that `put_tuple` writes: the layer-4 fields go inside the protocol
/// nest, which is only written with a protocol.
fn carried(t: &Tuple) -> Tuple {
    if t.proto.is_some() {
        t.clone()
    } else {
        Tuple {
            src: t.src,
            dst: t.dst,
            ..Tuple::default()
        }
    }
}

/// A predicate for `Option::filter`: keep the value when `b`.
fn when<T>(b: bool) -> impl Fn(&T) -> bool {
    move |_| b
}

/// The helper name as the kernel gets it: at most 15 bytes and a NUL, read up to the first NUL.
fn sent_helper(h: &str) -> String {
    let b = &h.as_bytes()[..h.len().min(15)];
    let b = b.split(|c| *c == 0).next().unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes the attributes `encode_entry` wrote for `e` and `purpose`, and checks every field
/// they carry against `e`.
pub fn check_entry_roundtrip(e: &Entry, purpose: Purpose, attrs: &[u8]) {
    let mut payload = vec![e.family().unwrap_or(0), 0, 0, 0];
    payload.extend_from_slice(attrs);
    let d = match codec::decode_entry(&payload) {
        Ok(d) => d,
        Err(err) => panic!("{purpose:?}: what encode_entry wrote does not decode: {err:?}\n{e:?}"),
    };
    let ctx = || format!("{purpose:?}\nsent    {e:?}\ndecoded {d:?}");
    match purpose {
        Purpose::Create => {
            assert_eq!(d.orig, carried(&e.orig), "original tuple: {}", ctx());
            assert_eq!(
                d.reply,
                carried(&e.reply_or_inverted()),
                "reply tuple: {}",
                ctx()
            );
        }
        Purpose::Update | Purpose::Lookup => {
            let (dir, t) = e.lookup_tuple().expect("encoded without a lookup tuple");
            let other = if dir == Dir::Orig {
                Dir::Reply
            } else {
                Dir::Orig
            };
            assert_eq!(d.tuple(dir), &carried(t), "lookup tuple: {}", ctx());
            assert!(d.tuple(other).is_empty(), "a second tuple: {}", ctx());
        }
    }
    assert_eq!(d.zone, Some(e.zone.unwrap_or(0)), "zone: {}", ctx());
    let full = purpose != Purpose::Lookup;
    assert_eq!(
        d.timeout,
        e.timeout.filter(when(full)),
        "timeout: {}",
        ctx()
    );
    assert_eq!(d.mark, e.mark.filter(when(full)), "mark: {}", ctx());
    assert_eq!(
        d.status,
        e.status.filter(when(full)).map(|s| s | status::CONFIRMED),
        "status: {}",
        ctx()
    );
    assert_eq!(
        d.id,
        e.id.filter(when(purpose != Purpose::Create)),
        "id: {}",
        ctx()
    );
    assert_eq!(
        d.extra.get().labels,
        e.extra.get().labels.filter(when(full)),
        "labels: {}",
        ctx()
    );
    let tcp = full && e.tcp_state.is_some();
    assert_eq!(
        d.tcp_state,
        e.tcp_state.filter(when(tcp)),
        "tcp state: {}",
        ctx()
    );
    assert_eq!(
        (d.tcp_wscale_orig, d.tcp_wscale_reply),
        (
            e.tcp_wscale_orig.filter(when(tcp)),
            e.tcp_wscale_reply.filter(when(tcp))
        ),
        "tcp window scale: {}",
        ctx()
    );
    let sctp = full
        && (e.sctp_state.is_some()
            || e.extra.get().sctp_vtag_orig.is_some()
            || e.extra.get().sctp_vtag_reply.is_some());
    let or0 = |v: Option<u32>| Some(v.unwrap_or(0)).filter(when(sctp));
    assert_eq!(
        (
            d.sctp_state,
            d.extra.get().sctp_vtag_orig,
            d.extra.get().sctp_vtag_reply
        ),
        (
            Some(e.sctp_state.unwrap_or(0)).filter(when(sctp)),
            or0(e.extra.get().sctp_vtag_orig),
            or0(e.extra.get().sctp_vtag_reply)
        ),
        "sctp: {}",
        ctx()
    );
    assert_eq!(
        d.dccp_state,
        e.dccp_state.filter(when(full)),
        "dccp: {}",
        ctx()
    );
    assert_eq!(
        (d.extra.get().seq_adj_orig, d.extra.get().seq_adj_reply),
        (
            e.extra.get().seq_adj_orig.filter(when(full)),
            e.extra.get().seq_adj_reply.filter(when(full))
        ),
        "sequence adjustment: {}",
        ctx()
    );
    let helper = e
        .extra
        .get()
        .helper
        .as_deref()
        .filter(|_| purpose == Purpose::Create)
        .map(sent_helper);
    assert_eq!(d.extra.get().helper, helper, "helper: {}", ctx());
    // Never sent by encode_entry: what the kernel alone reports.
    assert_eq!(
        (
            d.extra.get().counters_orig,
            d.extra.get().timestamp_start,
            d.use_count,
            d.extra.get().secctx.as_deref()
        ),
        (None, None, None, None),
        "kernel-only fields: {}",
        ctx()
    );
}

// ---------------------------------------------------------------------------------------------
// encode_entry_filter: an entry and a filter built from fuzzed fields.

/// Kernel releases the filter is encoded for: each side of every feature boundary.
pub const RELEASES: [&str; 12] = [
    "4.19.0",
    "5.7.19",
    "5.8.0",
    "5.10.0-26-amd64",
    "5.15.0",
    "5.16.1",
    "6.1.0",
    "6.8.0",
    "6.11.9",
    "6.12.0",
    "6.18.44-fc",
    "garbage",
];

const KNOWN_PROTOS: [u8; 8] = [
    proto::ICMP,
    proto::TCP,
    proto::UDP,
    proto::DCCP,
    proto::GRE,
    proto::ICMPV6,
    proto::SCTP,
    proto::UDPLITE,
];

/// `arbitrary`'s byte layout for the types [`EncodeInput`] is made of (1.x: integers
/// little-endian, zero-filled past the end; bool: low bit of a byte; Option: a bool, then the
/// value; arrays and tuples: their elements in order), and its inverse for writing seeds.
pub mod replay {
    /// The bytes not yet read.
    pub struct Bytes<'a>(pub &'a [u8]);

    impl Bytes<'_> {
        fn fill(&mut self, buf: &mut [u8]) {
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
        }
    }

    /// A value read as `arbitrary` reads it, and written so that it reads back.
    pub trait Take: Sized {
        /// Reads one value.
        fn take(b: &mut Bytes<'_>) -> Self;
        /// Appends the bytes that read as `self`.
        fn put(&self, out: &mut Vec<u8>);
    }

    macro_rules! ints {
        ($($t:ty),*) => {$(
            impl Take for $t {
                fn take(b: &mut Bytes<'_>) -> Self {
                    let mut buf = [0u8; std::mem::size_of::<$t>()];
                    b.fill(&mut buf);
                    <$t>::from_le_bytes(buf)
                }
                fn put(&self, out: &mut Vec<u8>) {
                    out.extend_from_slice(&self.to_le_bytes());
                }
            }
        )*};
    }
    ints!(u8, u16, u32, u64);

    impl Take for bool {
        fn take(b: &mut Bytes<'_>) -> Self {
            u8::take(b) & 1 == 1
        }
        fn put(&self, out: &mut Vec<u8>) {
            out.push(u8::from(*self));
        }
    }

    impl<T: Take> Take for Option<T> {
        fn take(b: &mut Bytes<'_>) -> Self {
            if bool::take(b) {
                Some(T::take(b))
            } else {
                None
            }
        }
        fn put(&self, out: &mut Vec<u8>) {
            self.is_some().put(out);
            if let Some(v) = self {
                v.put(out);
            }
        }
    }

    impl<T: Take, const N: usize> Take for [T; N] {
        fn take(b: &mut Bytes<'_>) -> Self {
            std::array::from_fn(|_| T::take(b))
        }
        fn put(&self, out: &mut Vec<u8>) {
            self.iter().for_each(|v| v.put(out));
        }
    }

    impl<A: Take, B: Take> Take for (A, B) {
        fn take(b: &mut Bytes<'_>) -> Self {
            let a = A::take(b);
            (a, B::take(b))
        }
        fn put(&self, out: &mut Vec<u8>) {
            self.0.put(out);
            self.1.put(out);
        }
    }

    impl<A: Take, B: Take, C: Take> Take for (A, B, C) {
        fn take(b: &mut Bytes<'_>) -> Self {
            let a = A::take(b);
            let bb = B::take(b);
            (a, bb, C::take(b))
        }
        fn put(&self, out: &mut Vec<u8>) {
            self.0.put(out);
            self.1.put(out);
            self.2.put(out);
        }
    }
}

/// Declares [`EncodeInput`] once, with the includer's derive, and its replay in field order.
macro_rules! input_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        fuzz_derive! {
            $(#[$m])*
            #[derive(Clone, Debug, Default, PartialEq, Eq)]
            pub struct $name { $($(#[$fm])* pub $f: $t,)* }
        }

        impl $name {
            /// Reads the input from `data` as the `arbitrary` derive does.
            pub fn from_bytes(data: &[u8]) -> $name {
                let mut b = replay::Bytes(data);
                $name { $($f: <$t as replay::Take>::take(&mut b),)* }
            }

            /// The bytes that read as this input (for seeds).
            pub fn to_bytes(&self) -> Vec<u8> {
                let mut out = Vec::new();
                $(replay::Take::put(&self.$f, &mut out);)*
                out
            }
        }
    };
}

input_struct! {
    /// An entry and a filter, field by field. Text fields are (length, bytes) and become
    /// strings through `String::from_utf8_lossy`, so they hold any text, valid or not.
    pub struct EncodeInput {
        /// Entry family through `set_family`: (raw, value); not raw picks IPv4 or IPv6.
        pub family: Option<(bool, u8)>,
        /// Whether the protocol is set before the addresses, ports and ICMP fields.
        pub proto_first: bool,
        /// Protocol through `set_proto`: (raw, value); not raw picks a known protocol.
        pub proto: Option<(bool, u8)>,
        /// Addresses through `set_addr`, by `slot`: (IPv6, bytes; IPv4 takes the first four).
        pub addrs: [Option<(bool, [u8; 16])>; 4],
        /// Ports through `set_port`, by `slot`.
        pub ports: [Option<u16>; 4],
        /// ICMP (type, code, id) through `set_icmp`, original then reply.
        pub icmp: [Option<(u8, u8, u16)>; 2],
        /// Zone through `set_zone` (over 65535 is refused).
        pub zone: Option<u32>,
        /// TCP state through `set_tcp_state`.
        pub tcp_state: Option<u8>,
        /// Label bits through `set_label` (128 and over are refused).
        pub label_bits: [Option<(u8, bool)>; 4],
        /// Protocols written straight into the tuples, past the setters' checks.
        pub raw_proto: [Option<u8>; 2],
        /// The fields without setters.
        pub mark: Option<u32>,
        pub status: Option<u32>,
        pub timeout: Option<u32>,
        pub id: Option<u32>,
        pub wscale: (Option<u8>, Option<u8>),
        pub sctp: (Option<u8>, Option<u32>, Option<u32>),
        pub dccp_state: Option<u8>,
        pub labels: Option<[u8; 16]>,
        pub labels_mask: Option<[u8; 16]>,
        pub seq_adj: [Option<(u32, u32, u32)>; 2],
        pub helper: Option<(u8, [u8; 40])>,
        /// Filter family through `set_family`: (raw, value) as for the entry.
        pub f_family: Option<(bool, u8)>,
        /// Filter zone through `set_zone`.
        pub f_zone: Option<u32>,
        pub f_mark: Option<(u32, u32)>,
        pub f_status: Option<(u32, u32)>,
        /// Address texts through `Cidr::parse` and `set_addr`, by `slot`.
        pub f_cidrs: [Option<(u8, [u8; 48])>; 4],
        pub f_ports: [Option<u16>; 4],
        /// Filter protocol: (raw, value) as for the entry.
        pub f_proto: Option<(bool, u8)>,
        pub f_userspace_only: bool,
        /// Index into [`RELEASES`].
        pub kernel: u8,
    }
}

fn pick_family((raw, v): (bool, u8)) -> u8 {
    if raw {
        v
    } else if v & 1 == 0 {
        AF_INET
    } else {
        AF_INET6
    }
}

fn pick_proto((raw, v): (bool, u8)) -> u8 {
    if raw {
        v
    } else {
        KNOWN_PROTOS[usize::from(v) % KNOWN_PROTOS.len()]
    }
}

fn text(len: u8, bytes: &[u8]) -> String {
    let n = usize::from(len) % (bytes.len() + 1);
    String::from_utf8_lossy(&bytes[..n]).into_owned()
}

const SLOTS: [(Dir, Side); 4] = [
    (Dir::Orig, Side::Src),
    (Dir::Orig, Side::Dst),
    (Dir::Reply, Side::Src),
    (Dir::Reply, Side::Dst),
];

/// Applies a setter; when it refuses, the value must be as it was.
fn set<T: Clone + PartialEq + std::fmt::Debug, E>(
    what: &str,
    v: &mut T,
    f: impl FnOnce(&mut T) -> Result<(), E>,
) {
    let before = v.clone();
    if f(v).is_err() {
        assert_eq!(*v, before, "a refused {what} changed the value");
    }
}

impl EncodeInput {
    /// The entry, through the setters in the input's order, then the plain fields.
    pub fn entry(&self) -> Entry {
        let mut e = Entry::new();
        if let Some(f) = self.family {
            set("set_family", &mut e, |e| e.set_family(pick_family(f)));
        }
        let set_proto = |e: &mut Entry| {
            if let Some(p) = self.proto {
                set("set_proto", e, |e| e.set_proto(pick_proto(p)));
            }
        };
        if self.proto_first {
            set_proto(&mut e);
        }
        for (i, (dir, side)) in SLOTS.into_iter().enumerate() {
            if let Some((v6, b)) = self.addrs[i] {
                let a = if v6 {
                    IpAddr::V6(Ipv6Addr::from(b))
                } else {
                    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                };
                set("set_addr", &mut e, |e| e.set_addr(dir, side, a));
            }
            if let Some(p) = self.ports[i] {
                set("set_port", &mut e, |e| e.set_port(dir, side, p));
            }
        }
        for (dir, icmp) in [Dir::Orig, Dir::Reply].into_iter().zip(self.icmp) {
            if let Some((t, c, id)) = icmp {
                set("set_icmp", &mut e, |e| e.set_icmp(dir, t, c, id));
            }
        }
        if !self.proto_first {
            set_proto(&mut e);
        }
        if let Some(z) = self.zone {
            set("set_zone", &mut e, |e| e.set_zone(z));
            assert_eq!(e.zone.is_some_and(|v| u32::from(v) == z), z <= 0xffff);
        }
        if let Some(s) = self.tcp_state {
            set("set_tcp_state", &mut e, |e| e.set_tcp_state(s));
        }
        if let Some(l) = self.labels {
            e.extra.get_mut().labels = Some(l);
        }
        for (bit, on) in self.label_bits.into_iter().flatten() {
            set("set_label", &mut e, |e| e.set_label(u32::from(bit), on));
            if bit < 128 {
                assert_eq!(e.label(u32::from(bit)), on);
            }
        }
        if let Some(p) = self.raw_proto[0] {
            e.orig.proto = Some(p);
        }
        if let Some(p) = self.raw_proto[1] {
            e.reply.proto = Some(p);
        }
        e.mark = self.mark;
        e.status = self.status;
        e.timeout = self.timeout;
        e.id = self.id;
        (e.tcp_wscale_orig, e.tcp_wscale_reply) = self.wscale;
        let x = e.extra.get_mut();
        (e.sctp_state, x.sctp_vtag_orig, x.sctp_vtag_reply) = self.sctp;
        e.dccp_state = self.dccp_state;
        e.extra.get_mut().labels_mask = self.labels_mask;
        let adj = |a: Option<(u32, u32, u32)>| {
            a.map(|(p, b, f)| conntrack::entry::SeqAdj {
                correction_pos: p,
                offset_before: b,
                offset_after: f,
            })
        };
        e.extra.get_mut().seq_adj_orig = adj(self.seq_adj[0]);
        e.extra.get_mut().seq_adj_reply = adj(self.seq_adj[1]);
        e.extra.get_mut().helper = self.helper.map(|(n, b)| text(n, &b));
        e
    }

    /// The filter, through its setters and fields.
    pub fn filter(&self) -> Filter {
        let mut f = Filter::new();
        if let Some(fam) = self.f_family {
            set("Filter::set_family", &mut f, |f| {
                f.set_family(pick_family(fam))
            });
        }
        if let Some(z) = self.f_zone {
            set("Filter::set_zone", &mut f, |f| f.set_zone(z));
        }
        f.mark = self.f_mark;
        f.status = self.f_status;
        for (i, (dir, side)) in SLOTS.into_iter().enumerate() {
            if let Some((n, b)) = self.f_cidrs[i] {
                let t = text(n, &b);
                if let Ok(c) = Cidr::parse(&t) {
                    check_cidr(&t, &c);
                    set("Filter::set_addr", &mut f, |f| f.set_addr(dir, side, c));
                }
            }
        }
        f.ports = self.f_ports;
        f.proto = self.f_proto.map(pick_proto);
        f.userspace_only = self.f_userspace_only;
        f
    }

    /// The kernel the filter is encoded for.
    pub fn kernel(&self) -> Kernel {
        Kernel::from_release(RELEASES[usize::from(self.kernel) % RELEASES.len()])
    }
}

fn check_cidr(text: &str, c: &Cidr) {
    assert!(
        c.prefix() <= c.max_prefix(),
        "{text:?}: prefix {} over the maximum",
        c.prefix()
    );
    assert_eq!(
        Cidr::new(c.addr(), c.prefix()),
        *c,
        "{text:?}: host bits left set"
    );
    assert!(
        c.contains(&c.addr()),
        "{text:?}: a prefix that misses its own address"
    );
    let again = Cidr::parse(&format!("{}/{}", c.addr(), c.prefix()));
    assert_eq!(
        again.ok(),
        Some(*c),
        "{text:?}: its text form parses to something else"
    );
}

/// Builds the entry and the filter of `input`, encodes them, and decodes what was encoded.
pub fn encode_entry_filter(input: &EncodeInput) {
    let e = input.entry();
    for purpose in PURPOSES {
        encode_and_check(&e, purpose);
    }
    let _ = format::format_entry(&e, format::FORMAT_EXTENDED | format::FORMAT_ID);
    let f = input.filter();
    let _ = f.matches(&e);
    for k in [input.kernel(), Kernel::from_release("6.18.0")] {
        check_filter(&f, &k);
    }
}

/// The exact (kernel-side) tuple of one direction of `f`, and its CTA_FILTER flags.
fn exact_tuple(f: &Filter, dir: Dir) -> (Tuple, u32) {
    // IPv6 addresses are never sent: the kernel matches them inverted.
    let exact = |side| {
        f.addrs[slot(dir, side)]
            .filter(|c| c.prefix() == c.max_prefix() && c.addr().is_ipv4())
            .map(|c| c.addr())
    };
    let t = Tuple {
        src: exact(Side::Src),
        dst: exact(Side::Dst),
        proto: f.proto,
        src_port: f.ports[slot(dir, Side::Src)].filter(|_| f.proto.is_some()),
        dst_port: f.ports[slot(dir, Side::Dst)].filter(|_| f.proto.is_some()),
        ..Tuple::default()
    };
    let mut flags = 0;
    for (set, bit) in [
        (t.src.is_some(), CTA_FILTER_F_IP_SRC),
        (t.dst.is_some(), CTA_FILTER_F_IP_DST),
        (t.proto.is_some(), CTA_FILTER_F_PROTO_NUM),
        (t.src_port.is_some(), CTA_FILTER_F_PROTO_SRC_PORT),
        (t.dst_port.is_some(), CTA_FILTER_F_PROTO_DST_PORT),
    ] {
        if set {
            flags |= bit;
        }
    }
    (t, flags)
}

/// The CTA_FILTER flags found in `attrs` (0, 0 without CTA_FILTER).
fn filter_flags(attrs: &[u8]) -> (u32, u32) {
    let (mut orig, mut reply) = (0, 0);
    let mut bad = None;
    walk(attrs, &mut bad, "filter request", |kind, v, bad| {
        if kind == CTA_FILTER {
            walk(v, bad, "CTA_FILTER", |k, v, _| {
                let n = u32::from_ne_bytes(v.try_into().expect("4-byte CTA_FILTER flags"));
                match k {
                    CTA_FILTER_ORIG_FLAGS => orig = n,
                    CTA_FILTER_REPLY_FLAGS => reply = n,
                    _ => panic!("unknown CTA_FILTER attribute {k}"),
                }
            });
        }
    });
    assert_eq!(bad, None, "the filter request does not parse");
    (orig, reply)
}

/// Checks a request's filter attributes: what the kernel will read of zone, mark, status and
/// tuples, and that every address sent is of the family sent.
fn check_sent_filter(what: &str, f: &Filter, family: u8, attrs: &[u8], tuples: (bool, bool)) {
    let mut payload = vec![family, 0, 0, 0];
    payload.extend_from_slice(attrs);
    let d = match codec::decode_entry(&payload) {
        Ok(d) => d,
        Err(err) => panic!("{what}: the filter does not decode: {err:?}\n{f:?}"),
    };
    let ctx = || format!("{what}\nfilter  {f:?}\ndecoded {d:?}");
    assert_eq!(d.zone, f.zone, "zone: {}", ctx());
    assert_eq!(d.mark, f.mark.map(|(m, mask)| m & mask), "mark: {}", ctx());
    assert_eq!(
        d.status,
        f.status.map(|(s, mask)| s & mask),
        "status: {}",
        ctx()
    );
    let (orig, orig_flags) = exact_tuple(f, Dir::Orig);
    let (reply, reply_flags) = exact_tuple(f, Dir::Reply);
    let want_orig = tuples.0 && orig_flags != 0;
    let want_reply = tuples.1 && reply_flags != 0;
    let none = Tuple::default();
    assert_eq!(
        d.orig,
        if want_orig { orig } else { none.clone() },
        "orig: {}",
        ctx()
    );
    assert_eq!(
        d.reply,
        if want_reply { reply } else { none },
        "reply: {}",
        ctx()
    );
    assert_eq!(
        filter_flags(attrs),
        (
            if want_orig { orig_flags } else { 0 },
            if want_reply { reply_flags } else { 0 }
        ),
        "CTA_FILTER flags: {}",
        ctx()
    );
    for a in [d.orig.src, d.orig.dst, d.reply.src, d.reply.dst]
        .into_iter()
        .flatten()
    {
        let fam = if a.is_ipv4() { AF_INET } else { AF_INET6 };
        assert_eq!(
            fam,
            family,
            "an address of another family than the request's: {}",
            ctx()
        );
    }
}

/// Encodes `f` for a dump and a flush on kernel `k` and checks both.
pub fn check_filter(f: &Filter, k: &Kernel) {
    let attrs = f.kernel_attrs(k);
    let family = f.kernel_family();
    if f.userspace_only {
        assert!(
            attrs.is_empty() && family == 0,
            "userspace_only sent a filter"
        );
    } else {
        let tuples = k.tuple_dump_filter() && family != 0;
        let reply = tuples && k.reply_tuple_dump_filter();
        check_sent_filter("dump", f, family, &attrs, (tuples, reply));
    }
    match f.kernel_flush(k) {
        None => {}
        Some((family, attrs)) => {
            assert!(
                !f.userspace_only && k.filtered_flush(),
                "a flush sent to {k:?}"
            );
            if let Some(fam) = f.family {
                assert_eq!(family, fam, "flush family: {f:?}");
            }
            check_sent_filter("flush", f, family, &attrs, (true, true));
            // A flush must remove exactly what the filter matches: every field is sent.
            let (orig, _) = exact_tuple(f, Dir::Orig);
            let (reply, _) = exact_tuple(f, Dir::Reply);
            for (i, (dir, side)) in SLOTS.into_iter().enumerate() {
                let t = if dir == Dir::Orig { &orig } else { &reply };
                if let Some(c) = f.addrs[i] {
                    assert_eq!(t.addr(side), Some(c.addr()), "flush lost an address: {f:?}");
                }
                if let Some(p) = f.ports[i] {
                    assert_eq!(t.port(side), Some(p), "flush lost a port: {f:?}");
                }
            }
            let has_tuple = orig != Tuple::default() || reply != Tuple::default();
            assert!(
                !has_tuple || family != 0,
                "a tuple flush without a family: {f:?}"
            );
        }
    }
}

/// Seeds for encode_entry_filter: entries and filters a program would really build.
pub fn encode_seeds() -> Vec<(&'static str, EncodeInput)> {
    let v4 = |a: [u8; 4]| {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&a);
        Some((false, b))
    };
    let v6 = |s: &str| Some((true, s.parse::<Ipv6Addr>().unwrap().octets()));
    let txt = |s: &str| {
        let mut b = [0u8; 48];
        b[..s.len()].copy_from_slice(s.as_bytes());
        Some((s.len() as u8, b))
    };
    let helper = |s: &str| {
        let mut b = [0u8; 40];
        b[..s.len()].copy_from_slice(s.as_bytes());
        Some((s.len() as u8, b))
    };
    let known = |p: u8| {
        Some((
            false,
            KNOWN_PROTOS.iter().position(|x| *x == p).unwrap() as u8,
        ))
    };
    let tcp = EncodeInput {
        family: Some((false, 0)),
        proto_first: true,
        proto: known(proto::TCP),
        addrs: [v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), None, None],
        ports: [Some(40000), Some(80), None, None],
        zone: Some(7),
        tcp_state: Some(3),
        mark: Some(0x42),
        status: Some(status::ASSURED | status::SEEN_REPLY),
        timeout: Some(600),
        wscale: (Some(7), Some(7)),
        labels: Some([1; 16]),
        label_bits: [Some((3, true)), Some((127, true)), Some((128, true)), None],
        helper: helper("ftp"),
        f_family: Some((false, 0)),
        f_zone: Some(7),
        f_mark: Some((0x42, 0xff)),
        f_cidrs: [txt("10.0.0.1"), txt("10.0.0.0/24"), None, None],
        f_ports: [Some(40000), None, None, None],
        f_proto: known(proto::TCP),
        kernel: 10,
        ..EncodeInput::default()
    };
    let icmp6 = EncodeInput {
        family: Some((false, 1)),
        proto: known(proto::ICMPV6),
        addrs: [v6("fd00::1"), v6("fd00::2"), v6("fd00::2"), v6("fd00::1")],
        icmp: [Some((128, 0, 77)), Some((129, 0, 77))],
        timeout: Some(30),
        id: Some(123456),
        f_family: Some((false, 1)),
        f_cidrs: [
            txt("fd00::1"),
            txt("fd00::/64"),
            txt("::ffff:1.2.3.4"),
            None,
        ],
        f_status: Some((status::SEEN_REPLY, status::SEEN_REPLY)),
        f_proto: known(proto::ICMPV6),
        kernel: 4,
        ..EncodeInput::default()
    };
    let sctp = EncodeInput {
        proto_first: false,
        proto: known(proto::SCTP),
        addrs: [
            v4([192, 168, 1, 1]),
            v4([192, 168, 1, 2]),
            v4([192, 168, 1, 2]),
            None,
        ],
        ports: [Some(5000), Some(6000), Some(6000), Some(5000)],
        sctp: (Some(4), Some(0xdead_beef), Some(0x0bad_cafe)),
        seq_adj: [Some((1, 2, 3)), None],
        timeout: Some(100),
        zone: Some(70000),
        helper: helper("a-helper-name-longer-than-fifteen"),
        f_zone: Some(3),
        f_ports: [Some(5000), Some(6000), None, None],
        f_userspace_only: false,
        kernel: 9,
        ..EncodeInput::default()
    };
    let gre = EncodeInput {
        proto: known(proto::GRE),
        proto_first: true,
        addrs: [v4([172, 16, 0, 1]), v4([172, 16, 0, 2]), None, None],
        ports: [Some(0x1234), Some(0x5678), None, None],
        raw_proto: [None, Some(proto::UDP)],
        timeout: Some(180),
        dccp_state: Some(4),
        labels_mask: Some([0xff; 16]),
        f_cidrs: [None, None, txt("172.16.0.2"), txt("172.16.0.1")],
        f_proto: known(proto::GRE),
        f_userspace_only: true,
        kernel: 7,
        ..EncodeInput::default()
    };
    let flush = EncodeInput {
        proto: known(proto::UDP),
        addrs: [v4([10, 0, 0, 3]), v4([10, 0, 0, 4]), None, None],
        ports: [Some(53), Some(5353), None, None],
        timeout: Some(30),
        zone: Some(7),
        f_zone: Some(7),
        f_mark: Some((1, 0xffff_ffff)),
        f_status: Some((status::ASSURED, 0)),
        f_cidrs: [txt("10.0.0.3"), None, None, txt("10.0.0.3/32")],
        f_ports: [Some(53), None, Some(5353), None],
        f_proto: known(proto::UDP),
        kernel: 9,
        ..EncodeInput::default()
    };
    vec![
        ("seed-tcp", tcp),
        ("seed-icmpv6", icmp6),
        ("seed-sctp", sctp),
        ("seed-gre", gre),
        ("seed-flush", flush),
    ]
}
