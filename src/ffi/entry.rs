//! ct_entry: make, clone, free, and get or set every field.
//!
//! Setters check their value and leave the entry unchanged when it cannot be right.
//! Getters return CT_ERR_NOT_SET when the entry does not hold the field, so a real 0 and
//! "absent" are never confused.

use std::ffi::c_char;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::status::ct_status;
use super::{answer, copy_text, fail, free_c, give, status_of, write_opt, Castable};
use crate::entry::{Dir, Field, Side};
use crate::error::{Error, Kind};
use crate::Entry;

/// A conntrack entry: plain data owned by whoever made it (ct_entry_new, ct_entry_clone,
/// ct_get) or by the list or callback that hands it out.
pub struct ct_entry {
    _private: [u8; 0],
}

impl Castable for ct_entry {
    type Rust = Entry;
}

/// Address family IPv4 (AF_INET).
pub const CT_FAMILY_IPV4: u8 = 2;
/// Address family IPv6 (AF_INET6).
pub const CT_FAMILY_IPV6: u8 = 10;

/// Protocol number of ICMP.
pub const CT_PROTO_ICMP: u8 = 1;
/// Protocol number of TCP.
pub const CT_PROTO_TCP: u8 = 6;
/// Protocol number of UDP.
pub const CT_PROTO_UDP: u8 = 17;
/// Protocol number of DCCP.
pub const CT_PROTO_DCCP: u8 = 33;
/// Protocol number of GRE.
pub const CT_PROTO_GRE: u8 = 47;
/// Protocol number of ICMPv6.
pub const CT_PROTO_ICMPV6: u8 = 58;
/// Protocol number of SCTP.
pub const CT_PROTO_SCTP: u8 = 132;
/// Protocol number of UDP-Lite.
pub const CT_PROTO_UDPLITE: u8 = 136;

/// Direction selector: the original tuple.
pub const CT_DIR_ORIG: u32 = 0;
/// Direction selector: the reply tuple.
pub const CT_DIR_REPLY: u32 = 1;

/// Address/port selector: source of the original tuple.
pub const CT_ORIG_SRC: u32 = 0;
/// Address/port selector: destination of the original tuple.
pub const CT_ORIG_DST: u32 = 1;
/// Address/port selector: source of the reply tuple.
pub const CT_REPLY_SRC: u32 = 2;
/// Address/port selector: destination of the reply tuple.
pub const CT_REPLY_DST: u32 = 3;

/// Status bit: an expected connection (a helper's expectation matched).
pub const CT_STATUS_EXPECTED: u32 = 1 << 0;
/// Status bit: packets were seen in both directions.
pub const CT_STATUS_SEEN_REPLY: u32 = 1 << 1;
/// Status bit: assured (never early-dropped).
pub const CT_STATUS_ASSURED: u32 = 1 << 2;
/// Status bit: confirmed (in the table).
pub const CT_STATUS_CONFIRMED: u32 = 1 << 3;
/// Status bit: source NAT applies.
pub const CT_STATUS_SRC_NAT: u32 = 1 << 4;
/// Status bit: destination NAT applies.
pub const CT_STATUS_DST_NAT: u32 = 1 << 5;
/// Status bit: TCP sequence numbers are adjusted (a helper changed the payload).
pub const CT_STATUS_SEQ_ADJUST: u32 = 1 << 6;
/// Status bit: source NAT set up.
pub const CT_STATUS_SRC_NAT_DONE: u32 = 1 << 7;
/// Status bit: destination NAT set up.
pub const CT_STATUS_DST_NAT_DONE: u32 = 1 << 8;
/// Status bit: being destroyed.
pub const CT_STATUS_DYING: u32 = 1 << 9;
/// Status bit: the timeout is fixed (not refreshed by traffic).
pub const CT_STATUS_FIXED_TIMEOUT: u32 = 1 << 10;
/// Status bit: a template, not a connection.
pub const CT_STATUS_TEMPLATE: u32 = 1 << 11;
/// Status bit: untracked (notrack).
pub const CT_STATUS_UNTRACKED: u32 = 1 << 12;
/// Status bit: a helper was attached explicitly.
pub const CT_STATUS_HELPER: u32 = 1 << 13;
/// Status bit: offloaded to a flowtable.
pub const CT_STATUS_OFFLOAD: u32 = 1 << 14;
/// Status bit: offloaded to hardware.
pub const CT_STATUS_HW_OFFLOAD: u32 = 1 << 15;
/// TCP state NONE (the kernel's TCP_CONNTRACK_NONE).
pub const CT_TCP_STATE_NONE: u8 = 0;
/// TCP state SYN_SENT (the kernel's TCP_CONNTRACK_SYN_SENT).
pub const CT_TCP_STATE_SYN_SENT: u8 = 1;
/// TCP state SYN_RECV (the kernel's TCP_CONNTRACK_SYN_RECV).
pub const CT_TCP_STATE_SYN_RECV: u8 = 2;
/// TCP state ESTABLISHED (the kernel's TCP_CONNTRACK_ESTABLISHED).
pub const CT_TCP_STATE_ESTABLISHED: u8 = 3;
/// TCP state FIN_WAIT (the kernel's TCP_CONNTRACK_FIN_WAIT).
pub const CT_TCP_STATE_FIN_WAIT: u8 = 4;
/// TCP state CLOSE_WAIT (the kernel's TCP_CONNTRACK_CLOSE_WAIT).
pub const CT_TCP_STATE_CLOSE_WAIT: u8 = 5;
/// TCP state LAST_ACK (the kernel's TCP_CONNTRACK_LAST_ACK).
pub const CT_TCP_STATE_LAST_ACK: u8 = 6;
/// TCP state TIME_WAIT (the kernel's TCP_CONNTRACK_TIME_WAIT).
pub const CT_TCP_STATE_TIME_WAIT: u8 = 7;
/// TCP state CLOSE (the kernel's TCP_CONNTRACK_CLOSE).
pub const CT_TCP_STATE_CLOSE: u8 = 8;
/// TCP state SYN_SENT2 (the kernel's TCP_CONNTRACK_SYN_SENT2).
pub const CT_TCP_STATE_SYN_SENT2: u8 = 9;
/// SCTP state NONE (the kernel's SCTP_CONNTRACK_NONE).
pub const CT_SCTP_STATE_NONE: u8 = 0;
/// SCTP state CLOSED (the kernel's SCTP_CONNTRACK_CLOSED).
pub const CT_SCTP_STATE_CLOSED: u8 = 1;
/// SCTP state COOKIE_WAIT (the kernel's SCTP_CONNTRACK_COOKIE_WAIT).
pub const CT_SCTP_STATE_COOKIE_WAIT: u8 = 2;
/// SCTP state COOKIE_ECHOED (the kernel's SCTP_CONNTRACK_COOKIE_ECHOED).
pub const CT_SCTP_STATE_COOKIE_ECHOED: u8 = 3;
/// SCTP state ESTABLISHED (the kernel's SCTP_CONNTRACK_ESTABLISHED).
pub const CT_SCTP_STATE_ESTABLISHED: u8 = 4;
/// SCTP state SHUTDOWN_SENT (the kernel's SCTP_CONNTRACK_SHUTDOWN_SENT).
pub const CT_SCTP_STATE_SHUTDOWN_SENT: u8 = 5;
/// SCTP state SHUTDOWN_RECD (the kernel's SCTP_CONNTRACK_SHUTDOWN_RECD).
pub const CT_SCTP_STATE_SHUTDOWN_RECD: u8 = 6;
/// SCTP state SHUTDOWN_ACK_SENT (the kernel's SCTP_CONNTRACK_SHUTDOWN_ACK_SENT).
pub const CT_SCTP_STATE_SHUTDOWN_ACK_SENT: u8 = 7;
/// SCTP state HEARTBEAT_SENT (the kernel's SCTP_CONNTRACK_HEARTBEAT_SENT).
pub const CT_SCTP_STATE_HEARTBEAT_SENT: u8 = 8;
/// SCTP state HEARTBEAT_ACKED (the kernel's SCTP_CONNTRACK_HEARTBEAT_ACKED).
pub const CT_SCTP_STATE_HEARTBEAT_ACKED: u8 = 9;
/// DCCP state NONE (the kernel's CT_DCCP_NONE).
pub const CT_DCCP_STATE_NONE: u8 = 0;
/// DCCP state REQUEST (the kernel's CT_DCCP_REQUEST).
pub const CT_DCCP_STATE_REQUEST: u8 = 1;
/// DCCP state RESPOND (the kernel's CT_DCCP_RESPOND).
pub const CT_DCCP_STATE_RESPOND: u8 = 2;
/// DCCP state PARTOPEN (the kernel's CT_DCCP_PARTOPEN).
pub const CT_DCCP_STATE_PARTOPEN: u8 = 3;
/// DCCP state OPEN (the kernel's CT_DCCP_OPEN).
pub const CT_DCCP_STATE_OPEN: u8 = 4;
/// DCCP state CLOSEREQ (the kernel's CT_DCCP_CLOSEREQ).
pub const CT_DCCP_STATE_CLOSEREQ: u8 = 5;
/// DCCP state CLOSING (the kernel's CT_DCCP_CLOSING).
pub const CT_DCCP_STATE_CLOSING: u8 = 6;
/// DCCP state TIMEWAIT (the kernel's CT_DCCP_TIMEWAIT).
pub const CT_DCCP_STATE_TIMEWAIT: u8 = 7;
/// DCCP state IGNORE (the kernel's CT_DCCP_IGNORE).
pub const CT_DCCP_STATE_IGNORE: u8 = 8;
/// DCCP state INVALID (the kernel's CT_DCCP_INVALID).
pub const CT_DCCP_STATE_INVALID: u8 = 9;

/// Text option of ct_entry_format: the `-o extended` form (layer-3 columns first).
pub const CT_FORMAT_EXTENDED: u32 = 1;
/// Text option of ct_entry_format: append the kernel id as `-o id` does.
pub const CT_FORMAT_ID: u32 = 2;
/// Text option of ct_entry_format: the start/stop timestamps as `-o ktimestamp` does
/// (conntrack's `-o timestamp` only stamps event lines).
pub const CT_FORMAT_TIMESTAMP: u32 = 4;

/// Size that holds any address as text, NUL included (INET6_ADDRSTRLEN).
pub const CT_ADDR_TEXT_MAX: usize = 46;

fn dir_of(dir: u32) -> crate::Result<Dir> {
    match dir {
        CT_DIR_ORIG => Ok(Dir::Orig),
        CT_DIR_REPLY => Ok(Dir::Reply),
        _ => Err(Error::invalid(format!(
            "direction {dir} is neither CT_DIR_ORIG (0) nor CT_DIR_REPLY (1)"
        ))),
    }
}

/// The (direction, side) a CT_ORIG_SRC..CT_REPLY_DST selector names; entries and filters share it.
pub(crate) fn selector(which: u32) -> crate::Result<(Dir, Side)> {
    match which {
        CT_ORIG_SRC => Ok((Dir::Orig, Side::Src)),
        CT_ORIG_DST => Ok((Dir::Orig, Side::Dst)),
        CT_REPLY_SRC => Ok((Dir::Reply, Side::Src)),
        CT_REPLY_DST => Ok((Dir::Reply, Side::Dst)),
        _ => Err(Error::invalid(format!(
            "selector {which} is not one of CT_ORIG_SRC..CT_REPLY_DST (0..3)"
        ))),
    }
}

/// Makes an empty entry. On CT_OK, `*entry_out` is a new entry owned by the caller; free it
/// with ct_entry_free. On error `*entry_out` is unchanged.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_new(entry_out: *mut *mut ct_entry) -> ct_status {
    ffi_fn! { give::<ct_entry>(entry_out, "entry_out", Entry::new()) }
}

/// Fields ct_entry_unset can clear.
pub const CT_FIELD_ID: u32 = 1;
/// The mark.
pub const CT_FIELD_MARK: u32 = 2;
/// The status bits.
pub const CT_FIELD_STATUS: u32 = 3;
/// The timeout.
pub const CT_FIELD_TIMEOUT: u32 = 4;
/// The zone (an entry without one is in zone 0).
pub const CT_FIELD_ZONE: u32 = 5;
/// The labels (and which of them an update changes).
pub const CT_FIELD_LABELS: u32 = 6;
/// The TCP, SCTP and DCCP protocol states.
pub const CT_FIELD_PROTO_STATE: u32 = 7;
/// The reply tuple (a create then uses the inverse of the original).
pub const CT_FIELD_REPLY: u32 = 8;
/// The helper name.
pub const CT_FIELD_HELPER: u32 = 9;

/// Removes field `field` (CT_FIELD_*) from `entry`, so requests no longer carry it: for
/// example an entry read from the kernel, without its id, deletes whatever entry holds the
/// tuple now. CT_ERR_INVALID_ARGUMENT for an unknown field.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_unset(entry: *mut ct_entry, field: u32) -> ct_status {
    ffi_fn! {
        let f = match field {
            CT_FIELD_ID => Some(Field::Id),
            CT_FIELD_MARK => Some(Field::Mark),
            CT_FIELD_STATUS => Some(Field::Status),
            CT_FIELD_TIMEOUT => Some(Field::Timeout),
            CT_FIELD_ZONE => Some(Field::Zone),
            CT_FIELD_LABELS => Some(Field::Labels),
            CT_FIELD_PROTO_STATE => Some(Field::ProtoState),
            CT_FIELD_REPLY => Some(Field::Reply),
            CT_FIELD_HELPER => Some(Field::Helper),
            _ => None,
        };
        let e = arg_mut!(entry);
        let f = ok!(f.ok_or_else(|| Error::invalid(format!(
            "field {field} is not a CT_FIELD_* value"
        ))));
        e.unset(f);
        ct_status::CT_OK
    }
}

/// Copies `entry` (for example one handed to a dump callback). On CT_OK, `*entry_out` is a
/// new entry owned by the caller; free it with ct_entry_free.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_clone(
    entry: *const ct_entry,
    entry_out: *mut *mut ct_entry,
) -> ct_status {
    ffi_fn! { give::<ct_entry>(entry_out, "entry_out", arg_ref!(entry).clone()) }
}

/// Frees an entry made by ct_entry_new, ct_entry_clone or ct_get. Passing NULL does
/// nothing; freeing the same entry twice, or one that belongs to a list, is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_free(entry: *mut ct_entry) {
    ffi_fn! { free_c(entry) }
}

/// Sets the layer-3 family: CT_FAMILY_IPV4 or CT_FAMILY_IPV6. Setting an address also sets
/// it. CT_ERR_INVALID_ARGUMENT for another number or one that contradicts an address.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_family(entry: *mut ct_entry, family: u8) -> ct_status {
    ffi_fn! { status_of(arg_mut!(entry).set_family(family)) }
}

/// Gets the layer-3 family (as set, or implied by an address).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_family(
    entry: *const ct_entry,
    family_out: *mut u8,
) -> ct_status {
    ffi_fn! { get!(entry, family_out, |e| e.family()) }
}

/// Sets the layer-4 protocol number (CT_PROTO_TCP, ... or any other number) of both
/// tuples. CT_ERR_INVALID_ARGUMENT when it contradicts ports or ICMP fields already set, or
/// ICMP on IPv6 (use ICMPv6) and the reverse.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_proto(entry: *mut ct_entry, proto: u8) -> ct_status {
    ffi_fn! { status_of(arg_mut!(entry).set_proto(proto)) }
}

/// Gets the layer-4 protocol number.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_proto(
    entry: *const ct_entry,
    proto_out: *mut u8,
) -> ct_status {
    ffi_fn! { get!(entry, proto_out, |e| e.proto()) }
}

/// Sets an address from text ("1.1.1.1", "fe80::1"). `which` is CT_ORIG_SRC, CT_ORIG_DST,
/// CT_REPLY_SRC or CT_REPLY_DST. CT_ERR_INVALID_ARGUMENT for text that is no address or an
/// address of the other family. `addr` is borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_addr(
    entry: *mut ct_entry,
    which: u32,
    addr: *const c_char,
) -> ct_status {
    ffi_fn! {
        let text = arg_str!(addr);
        let (dir, side) = ok!(selector(which));
        let e = arg_mut!(entry);
        let a: IpAddr = ok!(text
            .parse()
            .map_err(|_| Error::invalid(format!("'{text}' is not an IPv4 or IPv6 address"))));
        status_of(e.set_addr(dir, side, a))
    }
}

/// Sets an address from raw bytes in network order: 4 bytes for IPv4, 16 for IPv6.
/// CT_ERR_INVALID_ARGUMENT for another length or the other family.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_addr_bytes(
    entry: *mut ct_entry,
    which: u32,
    bytes: *const u8,
    len: usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(bytes);
        let (dir, side) = ok!(selector(which));
        let e = arg_mut!(entry);
        let b = std::slice::from_raw_parts(bytes, len);
        let a = match len {
            4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or([0; 16]))),
            _ => return fail(&Error::invalid(format!("an address has 4 or 16 bytes, not {len}"))),
        };
        status_of(e.set_addr(dir, side, a))
    }
}

/// Writes an address as text into `buf` (`len` bytes, NUL included; CT_ADDR_TEXT_MAX
/// always suffices). CT_ERR_BUFFER_TOO_SMALL when it does not fit; CT_ERR_NOT_SET when the
/// entry has no such address.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_addr(
    entry: *const ct_entry,
    which: u32,
    buf: *mut c_char,
    len: usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(buf if len > 0);
        let e = arg_ref!(entry);
        let (dir, side) = ok!(selector(which));
        match e.tuple(dir).addr(side) {
            Some(a) => copy_text(&a.to_string(), buf, len),
            None => ct_status::CT_ERR_NOT_SET,
        }
    }
}

/// Writes an address as raw bytes in network order into `buf` (`len` >= 16 always
/// suffices); on CT_OK `*len_out` is 4 or 16.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_addr_bytes(
    entry: *const ct_entry,
    which: u32,
    buf: *mut u8,
    len: usize,
    len_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        arg_out!(buf);
        arg_out!(len_out);
        let (dir, side) = ok!(selector(which));
        let octets: Vec<u8> = match e.tuple(dir).addr(side) {
            Some(IpAddr::V4(a)) => a.octets().to_vec(),
            Some(IpAddr::V6(a)) => a.octets().to_vec(),
            None => return ct_status::CT_ERR_NOT_SET,
        };
        if octets.len() > len {
            return fail(&Error::new(
                Kind::BufferTooSmall,
                format!("the address needs {} bytes", octets.len()),
            ));
        }
        std::ptr::copy_nonoverlapping(octets.as_ptr(), buf, octets.len());
        len_out.write(octets.len());
        ct_status::CT_OK
    }
}

/// Sets a port (host order; GRE: the key) selected by `which` (CT_ORIG_SRC...).
/// CT_ERR_INVALID_ARGUMENT on a protocol without ports (ICMP, ICMPv6, ...).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_port(
    entry: *mut ct_entry,
    which: u32,
    port: u16,
) -> ct_status {
    ffi_fn! {
        let (dir, side) = ok!(selector(which));
        status_of(arg_mut!(entry).set_port(dir, side, port))
    }
}

/// Gets a port (host order) selected by `which`.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_port(
    entry: *const ct_entry,
    which: u32,
    port_out: *mut u16,
) -> ct_status {
    ffi_fn! {
        let (dir, side) = ok!(selector(which));
        let e = arg_ref!(entry);
        arg_out!(port_out);
        answer(port_out, e.tuple(dir).port(side))
    }
}

/// Sets the ICMP or ICMPv6 type, code and id (host order) of the tuple of `dir`
/// (CT_DIR_ORIG or CT_DIR_REPLY). CT_ERR_INVALID_ARGUMENT on a protocol other than ICMP or
/// ICMPv6.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_icmp(
    entry: *mut ct_entry,
    dir: u32,
    icmp_type: u8,
    code: u8,
    id: u16,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        status_of(arg_mut!(entry).set_icmp(d, icmp_type, code, id))
    }
}

/// Gets the ICMP or ICMPv6 type, code and id of the tuple of `dir`; every out-parameter is
/// required.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_icmp(
    entry: *const ct_entry,
    dir: u32,
    type_out: *mut u8,
    code_out: *mut u8,
    id_out: *mut u16,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        arg_out!(type_out);
        arg_out!(code_out);
        arg_out!(id_out);
        let t = arg_ref!(entry).tuple(d);
        match (t.icmp_type, t.icmp_code, t.icmp_id) {
            (Some(ty), Some(c), Some(i)) => {
                type_out.write(ty);
                code_out.write(c);
                id_out.write(i);
                ct_status::CT_OK
            }
            _ => ct_status::CT_ERR_NOT_SET,
        }
    }
}

/// Sets the zone (0..65535; CT_ERR_INVALID_ARGUMENT above). Operations on an entry without
/// a zone use zone 0.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_zone(entry: *mut ct_entry, zone: u32) -> ct_status {
    ffi_fn! { status_of(arg_mut!(entry).set_zone(zone)) }
}

/// Gets the zone. The kernel omits zone 0, so an entry read from the kernel without a zone
/// answers CT_ERR_NOT_SET and is in zone 0.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_zone(
    entry: *const ct_entry,
    zone_out: *mut u16,
) -> ct_status {
    ffi_fn! { get!(entry, zone_out, |e| e.zone) }
}

/// Sets the connection mark.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_mark(entry: *mut ct_entry, mark: u32) -> ct_status {
    ffi_fn! {
        arg_mut!(entry).mark = Some(mark);
        ct_status::CT_OK
    }
}

/// Gets the connection mark.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_mark(
    entry: *const ct_entry,
    mark_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(entry, mark_out, |e| e.mark) }
}

/// Sets the status bits (CT_STATUS_*; the kernel's IPS_* numbering). Create and update
/// always send CT_STATUS_CONFIRMED with them, as the kernel requires; the kernel changes
/// only the bits it lets user space change (ASSURED, SEEN_REPLY, NAT bits).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_status(entry: *mut ct_entry, status: u32) -> ct_status {
    ffi_fn! {
        arg_mut!(entry).status = Some(status);
        ct_status::CT_OK
    }
}

/// Gets the status bits.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_status(
    entry: *const ct_entry,
    status_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(entry, status_out, |e| e.status) }
}

/// Sets the timeout in seconds.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_timeout(entry: *mut ct_entry, seconds: u32) -> ct_status {
    ffi_fn! {
        arg_mut!(entry).timeout = Some(seconds);
        ct_status::CT_OK
    }
}

/// Gets the seconds left before the entry expires.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_timeout(
    entry: *const ct_entry,
    seconds_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(entry, seconds_out, |e| e.timeout) }
}

/// Sets the TCP state (0 NONE .. 9 SYN_SENT2, the kernel's TCP_CONNTRACK_* numbering).
/// CT_ERR_INVALID_ARGUMENT for another number or a protocol other than TCP.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_tcp_state(entry: *mut ct_entry, state: u8) -> ct_status {
    ffi_fn! { status_of(arg_mut!(entry).set_tcp_state(state)) }
}

/// Gets the TCP state.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_tcp_state(
    entry: *const ct_entry,
    state_out: *mut u8,
) -> ct_status {
    ffi_fn! { get!(entry, state_out, |e| e.tcp_state) }
}

/// Sets the SCTP state (the kernel's SCTP_CONNTRACK_* numbering, 0..9).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_sctp_state(entry: *mut ct_entry, state: u8) -> ct_status {
    ffi_fn! { status_of(arg_mut!(entry).set_sctp_state(state)) }
}

/// Gets the SCTP state.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_sctp_state(
    entry: *const ct_entry,
    state_out: *mut u8,
) -> ct_status {
    ffi_fn! { get!(entry, state_out, |e| e.sctp_state) }
}

/// Gets the DCCP state (the kernel's CT_DCCP_* numbering).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_dccp_state(
    entry: *const ct_entry,
    state_out: *mut u8,
) -> ct_status {
    ffi_fn! { get!(entry, state_out, |e| e.dccp_state) }
}

/// Sets the kernel id: a delete then removes the entry only if its id still matches.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_id(entry: *mut ct_entry, id: u32) -> ct_status {
    ffi_fn! {
        arg_mut!(entry).id = Some(id);
        ct_status::CT_OK
    }
}

/// Gets the kernel id of the entry.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_id(entry: *const ct_entry, id_out: *mut u32) -> ct_status {
    ffi_fn! { get!(entry, id_out, |e| e.id) }
}

/// Gets the reference count the kernel reported.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_use(entry: *const ct_entry, use_out: *mut u32) -> ct_status {
    ffi_fn! { get!(entry, use_out, |e| e.use_count) }
}

/// Gets the packet and byte counters of direction `dir` (present when the namespace has
/// net.netfilter.nf_conntrack_acct=1); both out-parameters are required.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_counters(
    entry: *const ct_entry,
    dir: u32,
    packets_out: *mut u64,
    bytes_out: *mut u64,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        arg_out!(bytes_out);
        let e = arg_ref!(entry);
        arg_out!(packets_out);
        let x = e.extra.get();
        let c = match d {
            Dir::Orig => x.counters_orig,
            Dir::Reply => x.counters_reply,
        };
        if let Some(c) = c {
            bytes_out.write(c.bytes);
        }
        answer(packets_out, c.map(|c| c.packets))
    }
}

/// Gets the start timestamp, nanoseconds since the epoch (present when the namespace has
/// net.netfilter.nf_conntrack_timestamp=1).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_timestamp_start(
    entry: *const ct_entry,
    ns_out: *mut u64,
) -> ct_status {
    ffi_fn! { get!(entry, ns_out, |e| e.extra.get().timestamp_start) }
}

/// Gets the stop timestamp, nanoseconds since the epoch (destroy events only).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_timestamp_stop(
    entry: *const ct_entry,
    ns_out: *mut u64,
) -> ct_status {
    ffi_fn! { get!(entry, ns_out, |e| e.extra.get().timestamp_stop) }
}

/// Sets (`on` true) or clears label bit `bit` (0..127). For ct_update, only the bits
/// touched this way change on the kernel's entry; the others keep their value.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_label(entry: *mut ct_entry, bit: u32, on: bool) -> ct_status {
    ffi_fn! { status_of(arg_mut!(entry).set_label(bit, on)) }
}

/// Gets label bit `bit` (0..127) into `*on_out`. CT_ERR_NOT_SET when the entry carries no
/// labels at all.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_label(
    entry: *const ct_entry,
    bit: u32,
    on_out: *mut bool,
) -> ct_status {
    ffi_fn! {
        ok!(crate::entry::check_label_bit(bit));
        let e = arg_ref!(entry);
        arg_out!(on_out);
        answer(on_out, ok!(e.label_bit(bit)))
    }
}

/// Sets all 128 label bits from `len` bytes (at most 16; missing bytes are 0): bit n is
/// bit n%8 of byte n/8. For ct_update this replaces every label bit.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_labels(
    entry: *mut ct_entry,
    bytes: *const u8,
    len: usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(bytes if len > 0);
        let b = if len == 0 { &[][..] } else { std::slice::from_raw_parts(bytes, len) };
        status_of(arg_mut!(entry).set_labels(b))
    }
}

/// Copies the 16 label bytes into `buf` (`len` >= 16). CT_ERR_NOT_SET without labels.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_labels(
    entry: *const ct_entry,
    buf: *mut u8,
    len: usize,
) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        arg_out!(buf);
        let Some(l) = e.extra.get().labels else {
            return ct_status::CT_ERR_NOT_SET;
        };
        if len < 16 {
            return fail(&Error::new(Kind::BufferTooSmall, "labels need 16 bytes"));
        }
        std::ptr::copy_nonoverlapping(l.as_ptr(), buf, 16);
        ct_status::CT_OK
    }
}

/// Gets the SELinux secmark.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_secmark(
    entry: *const ct_entry,
    secmark_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(entry, secmark_out, |e| e.extra.get().secmark) }
}

/// Sets the name of the helper to attach at creation ("ftp", "sip", ...). `name` is copied.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_helper(
    entry: *mut ct_entry,
    name: *const c_char,
) -> ct_status {
    ffi_fn! {
        let n = arg_str!(name);
        status_of(arg_mut!(entry).set_helper(n))
    }
}

/// Writes the helper name into `buf` (`len` bytes, NUL included; 16 always suffices).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_helper(
    entry: *const ct_entry,
    buf: *mut c_char,
    len: usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(buf if len > 0);
        let e = arg_ref!(entry);
        match &e.extra.get().helper {
            Some(h) => copy_text(h, buf, len),
            None => ct_status::CT_ERR_NOT_SET,
        }
    }
}

/// Asks the kernel to set up NAT when it creates `entry` (ct_create, ct_batch_add_create), as
/// conntrack(8)'s `-I --src-nat ADDR[:PORT]` and `--dst-nat` do: `kind` is CT_NAT_SRC or
/// CT_NAT_DST, `addr_port` is "ADDR", "ADDR:PORT" or `"[ADDR6]:PORT"` (copied). The kernel then
/// makes the reply tuple and sets the NAT status bits itself; updates and lookups ignore it,
/// and entries read back never hold it. CT_ERR_INVALID_ARGUMENT for another kind, text that
/// is no address, or an address of the other family than the entry's.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_nat(
    entry: *mut ct_entry,
    kind: u32,
    addr_port: *const c_char,
) -> ct_status {
    ffi_fn! {
        let text = arg_str!(addr_port);
        let src = match kind {
            super::filterset::CT_NAT_SRC => true,
            super::filterset::CT_NAT_DST => false,
            _ => return fail(&Error::invalid(format!(
                "NAT kind {kind} is neither CT_NAT_SRC (1) nor CT_NAT_DST (2)"
            ))),
        };
        let to = ok!(crate::nat::NatSetup::parse(text));
        status_of(arg_mut!(entry).set_nat_setup(src, to))
    }
}

/// Sets the zone of direction `dir` alone (CT_DIR_ORIG or CT_DIR_REPLY), as conntrack(8)'s
/// `--orig-zone`/`--reply-zone`: sent inside that direction's tuple. The kernel takes it on a
/// create only when the entry's zone (ct_entry_set_zone) is unset or 0 and for one direction
/// at most; otherwise the create fails with CT_ERR_INVALID_ARGUMENT from the kernel.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_dir_zone(
    entry: *mut ct_entry,
    dir: u32,
    zone: u32,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        status_of(arg_mut!(entry).set_dir_zone(d, zone))
    }
}

/// Gets the zone of direction `dir` alone (CT_DIR_ORIG or CT_DIR_REPLY); CT_ERR_NOT_SET when
/// the entry has none (a zone of both directions is ct_entry_get_zone's).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_dir_zone(
    entry: *const ct_entry,
    dir: u32,
    zone_out: *mut u16,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        get!(entry, zone_out, |e| e.dir_zone(d))
    }
}

/// Sets the SCTP verification tag of direction `dir` (CT_DIR_ORIG or CT_DIR_REPLY), as
/// conntrack(8)'s `--orig-vtag`/`--reply-vtag`. A create or update that carries one carries
/// the SCTP state and both tags (0 for one not set), as the kernel wants them together.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_sctp_vtag(
    entry: *mut ct_entry,
    dir: u32,
    vtag: u32,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        let x = arg_mut!(entry).extra.get_mut();
        match d {
            Dir::Orig => x.sctp_vtag_orig = Some(vtag),
            Dir::Reply => x.sctp_vtag_reply = Some(vtag),
        }
        ct_status::CT_OK
    }
}

/// Gets the SCTP verification tag of direction `dir` (CT_DIR_ORIG or CT_DIR_REPLY).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_sctp_vtag(
    entry: *const ct_entry,
    dir: u32,
    vtag_out: *mut u32,
) -> ct_status {
    ffi_fn! {
        let d = ok!(dir_of(dir));
        get!(entry, vtag_out, |e| match d {
            Dir::Orig => e.extra.get().sctp_vtag_orig,
            Dir::Reply => e.extra.get().sctp_vtag_reply,
        })
    }
}

/// Writes `entry` as one line of `conntrack -L` text (no newline) into `buf`, `len` bytes
/// with the NUL. `flags` is 0 or an OR of CT_FORMAT_EXTENDED, CT_FORMAT_ID and
/// CT_FORMAT_TIMESTAMP. Like snprintf, it writes as much as fits (NUL-terminated unless
/// `len` is 0) and stores in `*needed_out` (may be NULL) the length of the whole text without the
/// NUL; CT_ERR_BUFFER_TOO_SMALL when that did not fit. `buf` may be NULL when `len` is 0, to
/// ask for the size. CT_ERR_INVALID_ARGUMENT for a flag bit the library does not know.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_format(
    entry: *const ct_entry,
    flags: u32,
    buf: *mut c_char,
    len: usize,
    needed_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        ok!(check_format_flags(flags));
        with_format_buffer(|text| {
            crate::format::write_entry(text, e, flags);
            write_opt(needed_out, text.len());
            copy_text(text, buf, len)
        })
    }
}

thread_local! {
    /// The text of the last entry formatted on this thread: kept, so that formatting a
    /// whole table allocates once.
    static FORMAT_BUFFER: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(512));
}

/// Runs `f` with this thread's format buffer, emptied.
pub(crate) fn with_format_buffer<R>(f: impl FnOnce(&mut String) -> R) -> R {
    FORMAT_BUFFER.with(|b| {
        let mut text = b.borrow_mut();
        text.clear();
        f(&mut text)
    })
}

/// Refuses format flags the library does not know.
pub(crate) fn check_format_flags(flags: u32) -> crate::Result<()> {
    let known = CT_FORMAT_EXTENDED | CT_FORMAT_ID | CT_FORMAT_TIMESTAMP;
    if flags & !known != 0 {
        return Err(Error::invalid(format!(
            "format flags {flags:#x} hold bits the library does not know"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{status, DCCP_STATES, SCTP_STATES, TCP_STATES};

    #[test]
    fn c_names_are_the_kernels_numbers() {
        assert_eq!(
            [
                CT_STATUS_EXPECTED,
                CT_STATUS_SEEN_REPLY,
                CT_STATUS_ASSURED,
                CT_STATUS_CONFIRMED
            ],
            [
                status::EXPECTED,
                status::SEEN_REPLY,
                status::ASSURED,
                status::CONFIRMED
            ]
        );
        assert_eq!(
            [
                CT_STATUS_SRC_NAT_DONE,
                CT_STATUS_DYING,
                CT_STATUS_HW_OFFLOAD
            ],
            [status::SRC_NAT_DONE, status::DYING, status::HW_OFFLOAD]
        );
        assert_eq!(
            TCP_STATES[usize::from(CT_TCP_STATE_ESTABLISHED)],
            "ESTABLISHED"
        );
        assert_eq!(TCP_STATES[usize::from(CT_TCP_STATE_SYN_SENT2)], "SYN_SENT2");
        assert_eq!(
            SCTP_STATES[usize::from(CT_SCTP_STATE_HEARTBEAT_ACKED)],
            "HEARTBEAT_ACKED"
        );
        assert_eq!(DCCP_STATES[usize::from(CT_DCCP_STATE_INVALID)], "INVALID");
        assert_eq!(
            (CT_PROTO_TCP, CT_PROTO_SCTP, CT_PROTO_UDPLITE),
            (
                crate::entry::proto::TCP,
                crate::entry::proto::SCTP,
                crate::entry::proto::UDPLITE
            )
        );
    }
}
