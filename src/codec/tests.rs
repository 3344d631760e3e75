use super::*;
use crate::entry::{AF_INET, AF_INET6};
use netlink_packet_core::{Emitable, Nla};

fn roundtrip(e: &Entry) -> Entry {
    let mut buf = Vec::new();
    let req = Request {
        msg_type: msg::CT_NEW,
        family: e.family().unwrap(),
        flags: 0,
        attrs: entry_attrs(e, Purpose::Create).unwrap(),
    };
    put_request(&mut buf, SUBSYS_CTNETLINK, 7, 0, req);
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
    e.seq_adj_orig = Some(SeqAdj {
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
    assert_eq!(got, want);
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
            e.sctp_vtag_orig = Some(1);
            e.sctp_vtag_reply = Some(2);
        } else {
            e.dccp_state = Some(4);
        }
        let got = roundtrip(&e);
        assert_eq!(got.sctp_state, e.sctp_state);
        assert_eq!(got.sctp_vtag_orig, e.sctp_vtag_orig);
        assert_eq!(got.sctp_vtag_reply, e.sctp_vtag_reply);
        assert_eq!(got.dccp_state, e.dccp_state);
    }
}

fn emit_all(nlas: &[DefaultNla]) -> Vec<u8> {
    let mut v = vec![0u8; nlas.buffer_len()];
    nlas.emit(&mut v);
    v
}

#[test]
fn decodes_read_only_fields() {
    let c = |p: u64, b: u64| {
        nested_nla(
            CTA_COUNTERS_ORIG,
            &[
                DefaultNla::new(CTA_COUNTERS_PACKETS, p.to_be_bytes().to_vec()),
                DefaultNla::new(CTA_COUNTERS_BYTES, b.to_be_bytes().to_vec()),
            ],
        )
    };
    let mut reply = c(3, 4);
    let mut bytes = vec![0u8; reply.buffer_len()];
    reply.emit(&mut bytes);
    bytes[2] = CTA_COUNTERS_REPLY as u8;
    reply = DefaultNla::new(CTA_COUNTERS_REPLY | NLA_F_NESTED, bytes[4..].to_vec());
    let attrs = [
        c(1, 2),
        reply,
        be32_nla(CTA_ID, 42),
        be32_nla(CTA_USE, 1),
        be32_nla(CTA_SECMARK, 9),
        nested_nla(
            CTA_TIMESTAMP,
            &[
                DefaultNla::new(CTA_TIMESTAMP_START, 10u64.to_be_bytes().to_vec()),
                DefaultNla::new(CTA_TIMESTAMP_STOP, 20u64.to_be_bytes().to_vec()),
            ],
        ),
        nested_nla(
            CTA_HELP,
            &[DefaultNla::new(CTA_HELP_NAME, b"ftp\0".to_vec())],
        ),
        nested_nla(
            CTA_SECCTX,
            &[DefaultNla::new(CTA_SECCTX_NAME, b"system_u\0".to_vec())],
        ),
        DefaultNla::new(999, vec![1, 2, 3]),
    ];
    let mut payload = vec![AF_INET, 0, 0, 0];
    payload.extend(emit_all(&attrs));
    let e = decode_entry(&payload).unwrap();
    assert_eq!(
        e.counters_orig,
        Some(Counters {
            packets: 1,
            bytes: 2
        })
    );
    assert_eq!(
        e.counters_reply,
        Some(Counters {
            packets: 3,
            bytes: 4
        })
    );
    assert_eq!((e.id, e.use_count, e.secmark), (Some(42), Some(1), Some(9)));
    assert_eq!((e.timestamp_start, e.timestamp_stop), (Some(10), Some(20)));
    assert_eq!(e.helper.as_deref(), Some("ftp"));
    assert_eq!(e.secctx.as_deref(), Some("system_u"));
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
    let t = nested_nla(CTA_TUPLE_ORIG, &[nested_nla(CTA_TUPLE_IP, &[])]);
    let mut payload = vec![AF_INET, 0, 0, 0];
    payload.extend(emit_all(&[t]));
    assert!(decode_entry(&payload).unwrap().orig.is_empty());
}

#[test]
fn error_message_with_extended_ack() {
    // nlmsgerr: error -2, capped echoed header, then NLMSGERR_ATTR_MSG "no entry".
    let mut p = (-2i32).to_ne_bytes().to_vec();
    p.extend([0u8; 16]);
    p.extend(emit_all(&[DefaultNla::new(1, b"no entry\0".to_vec())]));
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
    let a = filter_attrs(Some(5), Some((1, 0xffff_ffff)), None);
    let kinds: Vec<u16> = a.iter().map(|x| x.kind()).collect();
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
    assert_eq!(e.counters_orig, Some(Counters::default()));
    assert_eq!(e.counters_reply, Some(Counters::default()));
    assert_eq!(e.timestamp_start, Some(0x18eb_1265_692e_4dd0));
    assert_eq!(e.timestamp_stop, None);
    // The text without delta-time, which counts from the start timestamp to the clock.
    let mut e = e;
    e.timestamp_start = None;
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
fn encoded_lookup_matches_the_kernel_layout() {
    // The original tuple we send for a lookup is byte for byte the one the kernel sent.
    let e = decode_entry(&unhex(KERNEL_TCP)).unwrap();
    let attrs = entry_attrs(&e, Purpose::Lookup).unwrap();
    let mut buf = vec![0u8; attrs.as_slice().buffer_len()];
    attrs.as_slice().emit(&mut buf);
    let kernel = unhex(KERNEL_TCP);
    assert_eq!(&buf[..0x34], &kernel[4..4 + 0x34]);
    // Then the zone, then the id.
    assert_eq!(&buf[0x34..0x3c], &[6, 0, 18, 0, 0, 7, 0, 0]);
    assert_eq!(&buf[0x3c..], &[8, 0, 12, 0, 0x71, 0xf7, 0xcb, 0x8a]);
}
