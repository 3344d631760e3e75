use super::*;
use crate::entry::{Counters, SeqAdj, AF_INET, AF_INET6};

fn roundtrip(e: &Entry) -> Entry {
    let mut buf = Vec::new();
    let req = Request {
        msg_type: msg::CT_NEW,
        version: 0,
        family: e.family().unwrap(),
        flags: 0,
        attrs: entry_attrs(e, Purpose::Create).unwrap(),
    };
    put_request(&mut buf, SUBSYS_CTNETLINK, 7, 0, &req);
    let msgs: Vec<_> = messages(&buf).collect::<Result<_>>().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].seq, 7);
    assert_eq!(msgs[0].msg_type, (SUBSYS_CTNETLINK as u16) << 8);
    decode_entry(msgs[0].payload).unwrap()
}

fn full_entry() -> Entry {
    let mut e = Entry::new();
    e.set_family(AF_INET).unwrap();
    e.set_proto(proto::TCP).unwrap();
    e.orig.src = Some("1.1.1.1".parse().unwrap());
    e.orig.dst = Some("2.2.2.2".parse().unwrap());
    e.orig.src_port = Some(1);
    e.orig.dst_port = Some(2);
    e.zone = Some(65535);
    e.mark = Some(0xdead_beef);
    e.status = Some(crate::entry::status::ASSURED | crate::entry::status::SEEN_REPLY);
    e.timeout = Some(1234);
    e.tcp_state = Some(3);
    e.tcp_wscale_orig = Some(7);
    e.tcp_wscale_reply = Some(8);
    e.set_label(5, true).unwrap();
    e.set_label(100, true).unwrap();
    e.extra.get_mut().seq_adj_orig = Some(SeqAdj {
        correction_pos: 1,
        offset_before: 2,
        offset_after: 3,
    });
    e
}

#[test]
fn create_roundtrip_keeps_every_settable_field() {
    let e = full_entry();
    let got = roundtrip(&e);
    let mut want = e.clone();
    want.reply = e.orig.inverted();
    want.status = e.status.map(|s| s | crate::entry::status::CONFIRMED);
    // The label mask says what an update changes; a create sends the labels whole.
    want.extra.get_mut().labels_mask = None;
    assert_eq!(got, want);
}

#[test]
fn zones_of_one_direction_go_inside_their_tuple_and_come_back() {
    use crate::entry::Dir;
    let mut e = full_entry();
    e.zone = None;
    e.set_dir_zone(Dir::Orig, 5).unwrap();
    e.set_dir_zone(Dir::Reply, 6).unwrap();
    assert!(e.set_dir_zone(Dir::Orig, 65536).is_err());
    let attrs = entry_attrs(&e, Purpose::Create).unwrap();
    // CTA_TUPLE_ORIG's nest ends with CTA_TUPLE_ZONE (len 6, type 3, be16 5).
    let orig_len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
    assert_eq!(&attrs[orig_len - 8..orig_len - 2], &[6, 0, 3, 0, 0, 5]);
    let got = roundtrip(&e);
    assert_eq!(
        (got.dir_zone(Dir::Orig), got.dir_zone(Dir::Reply), got.zone),
        (Some(5), Some(6), Some(0))
    );
    // A lookup carries the zone of the tuple it looks up by.
    let mut key = e.clone();
    key.extra.get_mut().zone_reply = None;
    let attrs = entry_attrs(&key, Purpose::Lookup).unwrap();
    let orig_len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
    assert_eq!(&attrs[orig_len - 8..orig_len - 2], &[6, 0, 3, 0, 0, 5]);
    assert_eq!(roundtrip(&full_entry()).dir_zone(Dir::Orig), None);
}

#[test]
fn icmp_and_ipv6_roundtrip() {
    let mut e = Entry::new();
    e.set_proto(proto::ICMPV6).unwrap();
    e.orig.src = Some("fe80::1".parse().unwrap());
    e.orig.dst = Some("fe80::2".parse().unwrap());
    e.set_icmp(crate::entry::Dir::Orig, 128, 0, 3333).unwrap();
    e.timeout = Some(10);
    e.sctp_state = None;
    let got = roundtrip(&e);
    assert_eq!(got.family, Some(AF_INET6));
    assert_eq!(got.orig, e.orig);
    assert_eq!(got.reply.icmp_type, Some(129));
    assert_eq!(got.reply.src, e.orig.dst);
}

#[test]
fn sctp_dccp_states_roundtrip() {
    for (p, set) in [(proto::SCTP, 0), (proto::DCCP, 1)] {
        let mut e = Entry::new();
        e.set_proto(p).unwrap();
        e.orig.src = Some("1.1.1.1".parse().unwrap());
        e.orig.dst = Some("2.2.2.2".parse().unwrap());
        e.orig.src_port = Some(4);
        e.orig.dst_port = Some(5);
        e.timeout = Some(10);
        if set == 0 {
            e.sctp_state = Some(3);
            e.extra.get_mut().sctp_vtag_orig = Some(1);
            e.extra.get_mut().sctp_vtag_reply = Some(2);
        } else {
            e.dccp_state = Some(4);
        }
        let got = roundtrip(&e);
        assert_eq!(got.sctp_state, e.sctp_state);
        assert_eq!(got.extra.get().sctp_vtag_orig, e.extra.get().sctp_vtag_orig);
        assert_eq!(
            got.extra.get().sctp_vtag_reply,
            e.extra.get().sctp_vtag_reply
        );
        assert_eq!(got.dccp_state, e.dccp_state);
    }
}

/// Builds attribute bytes with the codec's writer.
fn build(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut v = Vec::new();
    f(&mut Writer::new(&mut v));
    v
}

#[test]
fn decodes_read_only_fields() {
    let mut payload = vec![AF_INET, 0, 0, 0];
    payload.extend(build(|w| {
        for (kind, p, b) in [(CTA_COUNTERS_ORIG, 1u64, 2u64), (CTA_COUNTERS_REPLY, 3, 4)] {
            let m = w.begin(kind);
            w.put(CTA_COUNTERS_PACKETS, &p.to_be_bytes());
            w.put(CTA_COUNTERS_BYTES, &b.to_be_bytes());
            w.end(m);
        }
        w.be32(CTA_ID, 42);
        w.be32(CTA_USE, 1);
        w.be32(CTA_SECMARK, 9);
        let m = w.begin(CTA_TIMESTAMP);
        w.put(CTA_TIMESTAMP_START, &10u64.to_be_bytes());
        w.put(CTA_TIMESTAMP_STOP, &20u64.to_be_bytes());
        w.end(m);
        let m = w.begin(CTA_HELP);
        w.put(CTA_HELP_NAME, b"ftp\0");
        w.end(m);
        let m = w.begin(CTA_SECCTX);
        w.put(CTA_SECCTX_NAME, b"system_u\0");
        w.end(m);
        w.put(999, &[1, 2, 3]);
    }));
    let e = decode_entry(&payload).unwrap();
    assert_eq!(
        e.extra.get().counters_orig,
        Some(Counters {
            packets: 1,
            bytes: 2
        })
    );
    assert_eq!(
        e.extra.get().counters_reply,
        Some(Counters {
            packets: 3,
            bytes: 4
        })
    );
    assert_eq!(
        (e.id, e.use_count, e.extra.get().secmark),
        (Some(42), Some(1), Some(9))
    );
    assert_eq!(
        (e.extra.get().timestamp_start, e.extra.get().timestamp_stop),
        (Some(10), Some(20))
    );
    assert_eq!(e.extra.get().helper.as_deref(), Some("ftp"));
    assert_eq!(e.extra.get().secctx.as_deref(), Some("system_u"));
}

#[test]
fn malformed_attributes_are_errors_not_panics() {
    // A zone of one byte, a truncated attribute, a length that runs past the buffer.
    let cases: [&[u8]; 4] = [
        &[2, 0, 0, 0, 5, 0, 18, 0, 1, 0, 0, 0],
        &[2, 0, 0, 0, 8, 0, 1],
        &[2, 0, 0, 0, 200, 0, 1, 0, 0, 0, 0, 0],
        &[2, 0],
    ];
    for c in cases {
        assert!(decode_entry(c).is_err(), "{c:?}");
    }
    // A nesting of tuples with an empty IP nest decodes to an empty tuple.
    let mut payload = vec![AF_INET, 0, 0, 0];
    payload.extend(build(|w| {
        let t = w.begin(CTA_TUPLE_ORIG);
        let ip = w.begin(CTA_TUPLE_IP);
        w.end(ip);
        w.end(t);
    }));
    assert!(decode_entry(&payload).unwrap().orig.is_empty());
}

#[test]
fn error_message_with_extended_ack() {
    // nlmsgerr: error -2, capped echoed header, then NLMSGERR_ATTR_MSG "no entry".
    let mut p = (-2i32).to_ne_bytes().to_vec();
    p.extend([0u8; 16]);
    p.extend(build(|w| w.put(1, b"no entry\0")));
    let m = RawMessage {
        msg_type: NLMSG_ERROR,
        flags: NLM_F_ACK_TLVS | NLM_F_CAPPED,
        seq: 1,
        pid: 0,
        payload: &p,
    };
    assert_eq!(
        decode_error(&m).unwrap(),
        (libc::ENOENT, Some("no entry".to_string()))
    );
}

#[test]
fn dump_filter_always_carries_the_mark_mask() {
    let a = filter_attrs(&DumpFilter {
        zone: Some(5),
        mark: Some((1, 0xffff_ffff)),
        ..DumpFilter::default()
    });
    let mut kinds = Vec::new();
    let mut bad = None;
    walk(&a, &mut bad, "filter", |k, _, _| kinds.push(k));
    assert_eq!(bad, None);
    assert_eq!(kinds, [CTA_ZONE, CTA_MARK, CTA_MARK_MASK]);
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Payloads of two dump replies captured from a 6.18 kernel (nfgenmsg onward), for
/// `conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 --state ESTABLISHED
/// -t 1234 -w 7 -m 5` and an ICMPv6 echo in zone 65535, with accounting and timestamps on.
const KERNEL_TCP: &str = "020000003400018014000180080001000101010108000200020202021c0002800500010006000000060002000001000006000300000200003400028014000180080001000202020208000200010101011c00028005000100060000000600020000020000060003000001000006001200000700000800030000000008080008000000000508000c0071f7cb8a08000b000000000108000700000004b1300004802c000180050001000300000005000200000000000500030000000000060004000a000000060005000a0000001c0009800c00010000000000000000000c00020000000000000000001c000a800c00010000000000000000000c0002000000000000000000100014800c00010018eb1265692e4dd01c001880080001000000000008000200000000000800030000000000";
const KERNEL_ICMPV6: &str = "0a000000540001802c00018014000300fe80000000000000000000000000000114000400fe80000000000000000000000000000224000280050001003a000000060007000d05000005000800800000000500090000000000540002802c00018014000300fe80000000000000000000000000000214000400fe80000000000000000000000000000124000280050001003a000000060007000d0500000500080081000000050009000000000006001200ffff00000800030000000008080008000000000008000c00d794e51208000b000000000108000700000004b11c0009800c00010000000000000000000c00020000000000000000001c000a800c00010000000000000000000c0002000000000000000000100014800c00010018eb1265696e36c01c001880080001000000000008000200000000000800030000000000";

#[test]
fn decodes_a_kernel_tcp_entry() {
    let e = decode_entry(&unhex(KERNEL_TCP)).unwrap();
    assert_eq!(e.family, Some(AF_INET));
    assert_eq!(e.orig.src, Some("1.1.1.1".parse().unwrap()));
    assert_eq!(e.orig.dst, Some("2.2.2.2".parse().unwrap()));
    assert_eq!(
        (e.orig.proto, e.orig.src_port, e.orig.dst_port),
        (Some(6), Some(1), Some(2))
    );
    assert_eq!((e.reply.src_port, e.reply.dst_port), (Some(2), Some(1)));
    assert_eq!(e.zone, Some(7));
    assert_eq!(e.mark, Some(5));
    assert_eq!(e.status, Some(crate::entry::status::CONFIRMED));
    assert_eq!(e.timeout, Some(1201));
    assert_eq!(e.use_count, Some(1));
    assert_eq!(e.id, Some(0x71f7_cb8a));
    assert_eq!(e.tcp_state, Some(3));
    assert_eq!(e.tcp_flags_orig, Some((10, 0)));
    assert_eq!(e.extra.get().counters_orig, Some(Counters::default()));
    assert_eq!(e.extra.get().counters_reply, Some(Counters::default()));
    assert_eq!(e.extra.get().timestamp_start, Some(0x18eb_1265_692e_4dd0));
    assert_eq!(e.extra.get().timestamp_stop, None);
    // The text without delta-time, which counts from the start timestamp to the clock.
    let mut e = e;
    e.extra.get_mut().timestamp_start = None;
    assert_eq!(
        crate::format::format_entry(&e, 0),
        "tcp      6 1201 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 packets=0 bytes=0 \
         [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 packets=0 bytes=0 mark=5 zone=7 use=1"
    );
}

#[test]
fn decodes_a_kernel_icmpv6_entry_in_zone_65535() {
    let e = decode_entry(&unhex(KERNEL_ICMPV6)).unwrap();
    assert_eq!(e.family, Some(AF_INET6));
    assert_eq!(e.orig.src, Some("fe80::1".parse().unwrap()));
    assert_eq!(e.proto(), Some(proto::ICMPV6));
    assert_eq!(
        (e.orig.icmp_type, e.orig.icmp_code, e.orig.icmp_id),
        (Some(128), Some(0), Some(3333))
    );
    assert_eq!(e.reply.icmp_type, Some(129));
    assert_eq!(e.zone, Some(65535));
    assert_eq!(e.mark, Some(0));
}

#[test]
fn every_truncation_of_a_kernel_message_is_an_error_or_a_prefix() {
    // Cutting a real message anywhere must never panic; whatever decodes is a subset.
    let full = unhex(KERNEL_TCP);
    for cut in 0..full.len() {
        let _ = decode_entry(&full[..cut]);
    }
    // And flipping any single byte must never panic either.
    for i in 0..full.len() {
        let mut m = full.clone();
        m[i] ^= 0xff;
        let _ = decode_entry(&m);
    }
}

#[test]
fn messages_read_each_header_field_and_refuse_bad_framing() {
    let mut buf = Vec::new();
    let mut header = |len: u32, msg_type: u16, flags: u16, seq: u32, pid: u32, pad: usize| {
        for f in [len.to_ne_bytes().to_vec(), msg_type.to_ne_bytes().to_vec()] {
            buf.extend(f);
        }
        buf.extend(flags.to_ne_bytes());
        buf.extend(seq.to_ne_bytes());
        buf.extend(pid.to_ne_bytes());
        buf.extend(std::iter::repeat(0xab).take(pad));
    };
    // A message with a 3-byte payload (padded to 4), then one with none.
    header(19, 0x0100, 0x0202, 7, 42, 4);
    header(16, 3, 0, 8, 43, 0);
    let msgs: Vec<_> = messages(&buf).collect::<Result<_>>().unwrap();
    assert_eq!(msgs.len(), 2);
    let m = &msgs[0];
    assert_eq!(
        (m.msg_type, m.flags, m.seq, m.pid, m.payload),
        (0x0100, 0x0202, 7, 42, &[0xab; 3][..])
    );
    let m = &msgs[1];
    assert_eq!((m.msg_type, m.flags, m.seq, m.pid), (3, 0, 8, 43));
    assert!(m.payload.is_empty());
    // Too few bytes for a header, a length under the header's, a length past the end:
    // each ends the datagram with one error after the whole messages before it.
    for bad in [
        &buf[..16 + 4 + 10],
        &[&buf[..20], &15u32.to_ne_bytes()[..], &buf[24..]].concat(),
        &[&buf[..20], &17u32.to_ne_bytes()[..], &buf[24..]].concat(),
    ] {
        let r: Vec<_> = messages(bad).collect();
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].is_ok());
        assert!(r[1].is_err());
    }
}

#[test]
fn encoded_lookup_matches_the_kernel_layout() {
    // The original tuple we send for a lookup is byte for byte the one the kernel sent.
    let e = decode_entry(&unhex(KERNEL_TCP)).unwrap();
    let buf = entry_attrs(&e, Purpose::Lookup).unwrap();
    let kernel = unhex(KERNEL_TCP);
    assert_eq!(&buf[..0x34], &kernel[4..4 + 0x34]);
    // Then the zone, then the id.
    assert_eq!(&buf[0x34..0x3c], &[6, 0, 18, 0, 0, 7, 0, 0]);
    assert_eq!(&buf[0x3c..], &[8, 0, 12, 0, 0x71, 0xf7, 0xcb, 0x8a]);
}

/// The crate's own parser is the oracle for the layout of what the codec writes.
#[test]
fn the_crate_parses_what_the_codec_writes() {
    use netlink_packet_core::ParseableParametrized;
    use netlink_packet_netfilter::conntrack::{
        ConntrackAttribute as Ca, ConntrackMessage, IPTuple, ProtoInfo, ProtoInfoTCP, ProtoTuple,
        Tuple as NlTuple,
    };
    let e = full_entry();
    let bytes = entry_attrs(&e, Purpose::Create).unwrap();
    let ConntrackMessage::New(parsed) =
        ConntrackMessage::parse_with_param(&bytes[..], msg::CT_NEW).unwrap()
    else {
        panic!("not a New message");
    };
    let tuple = |t: &Tuple| {
        vec![
            NlTuple::Ip(vec![
                IPTuple::SourceAddress(t.src.unwrap()),
                IPTuple::DestinationAddress(t.dst.unwrap()),
            ]),
            NlTuple::Proto(vec![
                ProtoTuple::Protocol(t.proto.unwrap().into()),
                ProtoTuple::SourcePort(t.src_port.unwrap()),
                ProtoTuple::DestinationPort(t.dst_port.unwrap()),
            ]),
        ]
    };
    assert_eq!(parsed[0], Ca::CtaTupleOrig(tuple(&e.orig)));
    assert_eq!(parsed[1], Ca::CtaTupleReply(tuple(&e.orig.inverted())));
    assert!(parsed.contains(&Ca::CtaTimeout(1234)));
    assert!(parsed.contains(&Ca::CtaMark(0xdead_beef)));
    assert!(parsed.contains(&Ca::CtaProtoInfo(vec![ProtoInfo::TCP(vec![
        ProtoInfoTCP::State(3),
        ProtoInfoTCP::OriginalWindowScale(7),
        ProtoInfoTCP::ReplyWindowScale(8),
    ])])));
}

/// And the crate reads the kernel's messages the same way the codec does.
#[test]
fn the_codec_reads_kernel_tuples_as_the_crate_does() {
    use netlink_packet_core::ParseableParametrized;
    use netlink_packet_netfilter::conntrack::{
        ConntrackAttribute as Ca, ConntrackMessage, IPTuple, ProtoTuple, Tuple as NlTuple,
    };
    let raw = unhex(KERNEL_TCP);
    let ours = decode_entry(&raw).unwrap();
    let ConntrackMessage::New(parsed) =
        ConntrackMessage::parse_with_param(&raw[4..], msg::CT_NEW).unwrap()
    else {
        panic!("not a New message");
    };
    let Some(Ca::CtaTupleOrig(t)) = parsed.first() else {
        panic!("no tuple")
    };
    for part in t {
        match part {
            NlTuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => assert_eq!(Some(*a), ours.orig.src),
                        IPTuple::DestinationAddress(a) => assert_eq!(Some(*a), ours.orig.dst),
                        _ => {}
                    }
                }
            }
            NlTuple::Proto(ps) => {
                for p in ps {
                    match p {
                        ProtoTuple::SourcePort(x) => assert_eq!(Some(*x), ours.orig.src_port),
                        ProtoTuple::DestinationPort(x) => assert_eq!(Some(*x), ours.orig.dst_port),
                        ProtoTuple::Protocol(x) => assert_eq!(Some(u8::from(*x)), ours.orig.proto),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    assert!(parsed.contains(&Ca::CtaMark(5)));
    assert!(parsed.contains(&Ca::CtaTimeout(1201)));
}

/// NAT to set up travels with a create only: one address as both ends of the range, and the
/// port as both ends of the port range.
#[test]
fn nat_setup_is_sent_with_a_create_only() {
    let mut e = Entry::new();
    e.set_proto(proto::UDP).unwrap();
    e.orig.src = Some("1.1.1.1".parse().unwrap());
    e.orig.dst = Some("2.2.2.2".parse().unwrap());
    e.orig.src_port = Some(4);
    e.orig.dst_port = Some(5);
    e.timeout = Some(10);
    let to = crate::nat::NatSetup::parse("9.9.9.9:77").unwrap();
    e.set_nat_setup(true, to).unwrap();
    let v6 = crate::nat::NatSetup::parse("fd00::1").unwrap();
    assert!(e.set_nat_setup(false, v6).is_err());
    assert!(crate::nat::NatSetup::parse(":77").is_err());
    let bytes = entry_attrs(&e, Purpose::Create).unwrap();
    let range = [8, 0, 1, 0, 9, 9, 9, 9, 8, 0, 2, 0, 9, 9, 9, 9];
    let ports = [6, 0, 1, 0, 0, 77, 0, 0, 6, 0, 2, 0, 0, 77, 0, 0];
    let at = bytes
        .windows(range.len())
        .position(|w| w == range)
        .expect("the address range");
    assert_eq!(bytes[at - 2] & 0x7f, CTA_NAT_SRC as u8);
    assert!(bytes.windows(ports.len()).any(|w| w == ports));
    let update = entry_attrs(&e, Purpose::Update).unwrap();
    assert!(!update.windows(range.len()).any(|w| w == range));
}
