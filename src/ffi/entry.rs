//! ct_entry: make, clone, free, and get or set every field.
//!
//! Setters check their value and leave the entry unchanged when it cannot be right.
//! Getters return CT_ERR_NOT_SET when the entry does not hold the field, so a real 0 and
//! "absent" are never confused.

use std::ffi::c_char;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::status::ct_status;
use super::{
    boundary, cast_mut, cast_ref, copy_text, fail, free_c, give, null_arg, status_of, str_arg,
    write_out, Castable,
};
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

/// Status bit: packets were seen in both directions.
pub const CT_STATUS_SEEN_REPLY: u32 = 1 << 1;
/// Status bit: assured (never early-dropped).
pub const CT_STATUS_ASSURED: u32 = 1 << 2;
/// Status bit: confirmed (in the table).
pub const CT_STATUS_CONFIRMED: u32 = 1 << 3;

/// TCP state ESTABLISHED (the kernel's TCP_CONNTRACK_ESTABLISHED).
pub const CT_TCP_STATE_ESTABLISHED: u8 = 3;

/// Text option of ct_entry_format: the `-o extended` form (layer-3 columns first).
pub const CT_FORMAT_EXTENDED: u32 = 1;
/// Text option of ct_entry_format: append the kernel id as `-o id` does.
pub const CT_FORMAT_ID: u32 = 2;
/// Text option of ct_entry_format: the start/stop timestamps as `-o ktimestamp` does
/// (conntrack's `-o timestamp` only stamps event lines).
pub const CT_FORMAT_TIMESTAMP: u32 = 4;

/// Size that holds any address as text, NUL included (INET6_ADDRSTRLEN).
pub const CT_ADDR_TEXT_MAX: usize = 46;

fn dir_of(dir: u32) -> Result<Dir, ct_status> {
    match dir {
        CT_DIR_ORIG => Ok(Dir::Orig),
        CT_DIR_REPLY => Ok(Dir::Reply),
        _ => Err(fail(&Error::invalid(format!(
            "direction {dir} is neither CT_DIR_ORIG (0) nor CT_DIR_REPLY (1)"
        )))),
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

fn which_of(which: u32) -> Result<(Dir, Side), ct_status> {
    selector(which).map_err(|e| fail(&e))
}

/// Runs a setter on the entry behind `entry`; the entry is unchanged when it fails.
unsafe fn set(entry: *mut ct_entry, f: impl FnOnce(&mut Entry) -> crate::Result<()>) -> ct_status {
    boundary(|| match cast_mut(entry) {
        Some(e) => status_of(f(e)),
        None => null_arg("entry"),
    })
}

/// Reads a field into `out`: CT_ERR_NOT_SET when absent. "Absent" is an answer, not a
/// failure: it leaves ct_last_error_message alone (and costs no formatting).
unsafe fn get<T>(
    entry: *const ct_entry,
    out: *mut T,
    _what: &str,
    f: impl FnOnce(&Entry) -> Option<T>,
) -> ct_status {
    boundary(|| {
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        if out.is_null() {
            return null_arg("value_out");
        }
        match f(e) {
            Some(v) => write_out(out, "value_out", v),
            None => ct_status::CT_ERR_NOT_SET,
        }
    })
}

/// Makes an empty entry. On CT_OK, `*entry_out` is a new entry owned by the caller; free it
/// with ct_entry_free. On error `*entry_out` is unchanged.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_new(entry_out: *mut *mut ct_entry) -> ct_status {
    boundary(|| give::<ct_entry>(entry_out, "entry_out", Entry::new()))
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
    set(entry, |e| {
        let f = match field {
            CT_FIELD_ID => Field::Id,
            CT_FIELD_MARK => Field::Mark,
            CT_FIELD_STATUS => Field::Status,
            CT_FIELD_TIMEOUT => Field::Timeout,
            CT_FIELD_ZONE => Field::Zone,
            CT_FIELD_LABELS => Field::Labels,
            CT_FIELD_PROTO_STATE => Field::ProtoState,
            CT_FIELD_REPLY => Field::Reply,
            CT_FIELD_HELPER => Field::Helper,
            _ => {
                return Err(Error::invalid(format!(
                    "field {field} is not a CT_FIELD_* value"
                )))
            }
        };
        e.unset(f);
        Ok(())
    })
}

/// Copies `entry` (for example one handed to a dump callback). On CT_OK, `*entry_out` is a
/// new entry owned by the caller; free it with ct_entry_free.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_clone(
    entry: *const ct_entry,
    entry_out: *mut *mut ct_entry,
) -> ct_status {
    boundary(|| match cast_ref(entry) {
        Some(e) => give::<ct_entry>(entry_out, "entry_out", e.clone()),
        None => null_arg("entry"),
    })
}

/// Frees an entry made by ct_entry_new, ct_entry_clone or ct_get. Passing NULL does
/// nothing; freeing the same entry twice, or one that belongs to a list, is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_free(entry: *mut ct_entry) {
    boundary(|| free_c(entry))
}

/// Sets the layer-3 family: CT_FAMILY_IPV4 or CT_FAMILY_IPV6. Setting an address also sets
/// it. CT_ERR_INVALID_ARGUMENT for another number or one that contradicts an address.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_family(entry: *mut ct_entry, family: u8) -> ct_status {
    set(entry, |e| e.set_family(family))
}

/// Gets the layer-3 family (as set, or implied by an address).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_family(
    entry: *const ct_entry,
    family_out: *mut u8,
) -> ct_status {
    get(entry, family_out, "family", |e| e.family())
}

/// Sets the layer-4 protocol number (CT_PROTO_TCP, ... or any other number) of both
/// tuples. CT_ERR_INVALID_ARGUMENT when it contradicts ports or ICMP fields already set, or
/// ICMP on IPv6 (use ICMPv6) and the reverse.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_proto(entry: *mut ct_entry, proto: u8) -> ct_status {
    set(entry, |e| e.set_proto(proto))
}

/// Gets the layer-4 protocol number.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_proto(
    entry: *const ct_entry,
    proto_out: *mut u8,
) -> ct_status {
    get(entry, proto_out, "protocol", |e| e.proto())
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
    boundary(|| {
        let text = match str_arg(addr, "addr") {
            Ok(t) => t,
            Err(s) => return s,
        };
        let (dir, side) = match which_of(which) {
            Ok(w) => w,
            Err(s) => return s,
        };
        set(entry, |e| {
            let a: IpAddr = text
                .parse()
                .map_err(|_| Error::invalid(format!("'{text}' is not an IPv4 or IPv6 address")))?;
            e.set_addr(dir, side, a)
        })
    })
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
    boundary(|| {
        if bytes.is_null() {
            return null_arg("bytes");
        }
        let (dir, side) = match which_of(which) {
            Ok(w) => w,
            Err(s) => return s,
        };
        let b = std::slice::from_raw_parts(bytes, len);
        set(entry, |e| {
            let a = match len {
                4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
                16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or([0; 16]))),
                _ => {
                    return Err(Error::invalid(format!(
                        "an address has 4 or 16 bytes, not {len}"
                    )))
                }
            };
            e.set_addr(dir, side, a)
        })
    })
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
    boundary(|| {
        if buf.is_null() && len > 0 {
            return null_arg("buf");
        }
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        let (dir, side) = match which_of(which) {
            Ok(w) => w,
            Err(s) => return s,
        };
        match e.tuple(dir).addr(side) {
            Some(a) => copy_text(&a.to_string(), buf, len),
            None => ct_status::CT_ERR_NOT_SET,
        }
    })
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
    boundary(|| {
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        if buf.is_null() {
            return null_arg("buf");
        }
        if len_out.is_null() {
            return null_arg("len_out");
        }
        let (dir, side) = match which_of(which) {
            Ok(w) => w,
            Err(s) => return s,
        };
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
        write_out(len_out, "len_out", octets.len())
    })
}

/// Sets a port (host order; GRE: the key) selected by `which` (CT_ORIG_SRC...).
/// CT_ERR_INVALID_ARGUMENT on a protocol without ports (ICMP, ICMPv6, ...).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_port(
    entry: *mut ct_entry,
    which: u32,
    port: u16,
) -> ct_status {
    let (dir, side) = match which_of(which) {
        Ok(w) => w,
        Err(s) => return s,
    };
    set(entry, |e| e.set_port(dir, side, port))
}

/// Gets a port (host order) selected by `which`.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_port(
    entry: *const ct_entry,
    which: u32,
    port_out: *mut u16,
) -> ct_status {
    let (dir, side) = match which_of(which) {
        Ok(w) => w,
        Err(s) => return s,
    };
    get(entry, port_out, "such port", |e| e.tuple(dir).port(side))
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
    let d = match dir_of(dir) {
        Ok(d) => d,
        Err(s) => return s,
    };
    set(entry, |e| e.set_icmp(d, icmp_type, code, id))
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
    boundary(|| {
        let d = match dir_of(dir) {
            Ok(d) => d,
            Err(s) => return s,
        };
        if type_out.is_null() || code_out.is_null() || id_out.is_null() {
            return null_arg("type_out/code_out/id_out");
        }
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        let t = e.tuple(d);
        match (t.icmp_type, t.icmp_code, t.icmp_id) {
            (Some(ty), Some(c), Some(i)) => {
                write_out(type_out, "type_out", ty);
                write_out(code_out, "code_out", c);
                write_out(id_out, "id_out", i)
            }
            _ => ct_status::CT_ERR_NOT_SET,
        }
    })
}

/// Sets the zone (0..65535; CT_ERR_INVALID_ARGUMENT above). Operations on an entry without
/// a zone use zone 0.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_zone(entry: *mut ct_entry, zone: u32) -> ct_status {
    set(entry, |e| e.set_zone(zone))
}

/// Gets the zone. The kernel omits zone 0, so an entry read from the kernel without a zone
/// answers CT_ERR_NOT_SET and is in zone 0.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_zone(
    entry: *const ct_entry,
    zone_out: *mut u16,
) -> ct_status {
    get(entry, zone_out, "zone", |e| e.zone)
}

/// Sets the connection mark.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_mark(entry: *mut ct_entry, mark: u32) -> ct_status {
    set(entry, |e| {
        e.mark = Some(mark);
        Ok(())
    })
}

/// Gets the connection mark.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_mark(
    entry: *const ct_entry,
    mark_out: *mut u32,
) -> ct_status {
    get(entry, mark_out, "mark", |e| e.mark)
}

/// Sets the status bits (CT_STATUS_*; the kernel's IPS_* numbering). Create and update
/// always send CT_STATUS_CONFIRMED with them, as the kernel requires; the kernel changes
/// only the bits it lets user space change (ASSURED, SEEN_REPLY, NAT bits).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_status(entry: *mut ct_entry, status: u32) -> ct_status {
    set(entry, |e| {
        e.status = Some(status);
        Ok(())
    })
}

/// Gets the status bits.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_status(
    entry: *const ct_entry,
    status_out: *mut u32,
) -> ct_status {
    get(entry, status_out, "status", |e| e.status)
}

/// Sets the timeout in seconds.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_timeout(entry: *mut ct_entry, seconds: u32) -> ct_status {
    set(entry, |e| {
        e.timeout = Some(seconds);
        Ok(())
    })
}

/// Gets the seconds left before the entry expires.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_timeout(
    entry: *const ct_entry,
    seconds_out: *mut u32,
) -> ct_status {
    get(entry, seconds_out, "timeout", |e| e.timeout)
}

/// Sets the TCP state (0 NONE .. 9 SYN_SENT2, the kernel's TCP_CONNTRACK_* numbering).
/// CT_ERR_INVALID_ARGUMENT for another number or a protocol other than TCP.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_tcp_state(entry: *mut ct_entry, state: u8) -> ct_status {
    set(entry, |e| e.set_tcp_state(state))
}

/// Gets the TCP state.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_tcp_state(
    entry: *const ct_entry,
    state_out: *mut u8,
) -> ct_status {
    get(entry, state_out, "TCP state", |e| e.tcp_state)
}

/// Sets the SCTP state (the kernel's SCTP_CONNTRACK_* numbering, 0..9).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_sctp_state(entry: *mut ct_entry, state: u8) -> ct_status {
    set(entry, |e| e.set_sctp_state(state))
}

/// Gets the SCTP state.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_sctp_state(
    entry: *const ct_entry,
    state_out: *mut u8,
) -> ct_status {
    get(entry, state_out, "SCTP state", |e| e.sctp_state)
}

/// Gets the DCCP state (the kernel's CT_DCCP_* numbering).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_dccp_state(
    entry: *const ct_entry,
    state_out: *mut u8,
) -> ct_status {
    get(entry, state_out, "DCCP state", |e| e.dccp_state)
}

/// Sets the kernel id: a delete then removes the entry only if its id still matches.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_id(entry: *mut ct_entry, id: u32) -> ct_status {
    set(entry, |e| {
        e.id = Some(id);
        Ok(())
    })
}

/// Gets the kernel id of the entry.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_id(entry: *const ct_entry, id_out: *mut u32) -> ct_status {
    get(entry, id_out, "id", |e| e.id)
}

/// Gets the reference count the kernel reported.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_use(entry: *const ct_entry, use_out: *mut u32) -> ct_status {
    get(entry, use_out, "use count", |e| e.use_count)
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
    let d = match dir_of(dir) {
        Ok(d) => d,
        Err(s) => return s,
    };
    if bytes_out.is_null() {
        return null_arg("bytes_out");
    }
    let mut bytes = 0;
    let rc = get(entry, packets_out, "counters", |e| {
        let c = match d {
            Dir::Orig => e.extra.get().counters_orig,
            Dir::Reply => e.extra.get().counters_reply,
        }?;
        bytes = c.bytes;
        Some(c.packets)
    });
    if rc == ct_status::CT_OK {
        bytes_out.write(bytes);
    }
    rc
}

/// Gets the start timestamp, nanoseconds since the epoch (present when the namespace has
/// net.netfilter.nf_conntrack_timestamp=1).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_timestamp_start(
    entry: *const ct_entry,
    ns_out: *mut u64,
) -> ct_status {
    get(entry, ns_out, "start timestamp", |e| {
        e.extra.get().timestamp_start
    })
}

/// Gets the stop timestamp, nanoseconds since the epoch (destroy events only).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_timestamp_stop(
    entry: *const ct_entry,
    ns_out: *mut u64,
) -> ct_status {
    get(entry, ns_out, "stop timestamp", |e| {
        e.extra.get().timestamp_stop
    })
}

/// Sets (`on` true) or clears label bit `bit` (0..127). For ct_update, only the bits
/// touched this way change on the kernel's entry; the others keep their value.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_label(entry: *mut ct_entry, bit: u32, on: bool) -> ct_status {
    set(entry, |e| e.set_label(bit, on))
}

/// Gets label bit `bit` (0..127) into `*on_out`. CT_ERR_NOT_SET when the entry carries no
/// labels at all.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_label(
    entry: *const ct_entry,
    bit: u32,
    on_out: *mut bool,
) -> ct_status {
    if bit >= 128 {
        return fail(&Error::invalid(format!("label bit {bit} is over 127")));
    }
    get(entry, on_out, "labels", |e| {
        e.extra.get().labels.map(|_| e.label(bit))
    })
}

/// Sets all 128 label bits from `len` bytes (at most 16; missing bytes are 0): bit n is
/// bit n%8 of byte n/8. For ct_update this replaces every label bit.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_labels(
    entry: *mut ct_entry,
    bytes: *const u8,
    len: usize,
) -> ct_status {
    boundary(|| {
        if bytes.is_null() && len > 0 {
            return null_arg("bytes");
        }
        if len > 16 {
            return fail(&Error::invalid(format!(
                "labels have at most 16 bytes, not {len}"
            )));
        }
        let mut l = [0u8; 16];
        if len > 0 {
            l[..len].copy_from_slice(std::slice::from_raw_parts(bytes, len));
        }
        set(entry, |e| {
            e.set_labels(l);
            Ok(())
        })
    })
}

/// Copies the 16 label bytes into `buf` (`len` >= 16). CT_ERR_NOT_SET without labels.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_labels(
    entry: *const ct_entry,
    buf: *mut u8,
    len: usize,
) -> ct_status {
    boundary(|| {
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        if buf.is_null() {
            return null_arg("buf");
        }
        let Some(l) = e.extra.get().labels else {
            return ct_status::CT_ERR_NOT_SET;
        };
        if len < 16 {
            return fail(&Error::new(Kind::BufferTooSmall, "labels need 16 bytes"));
        }
        std::ptr::copy_nonoverlapping(l.as_ptr(), buf, 16);
        ct_status::CT_OK
    })
}

/// Gets the SELinux secmark.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_secmark(
    entry: *const ct_entry,
    secmark_out: *mut u32,
) -> ct_status {
    get(entry, secmark_out, "secmark", |e| e.extra.get().secmark)
}

/// Sets the name of the helper to attach at creation ("ftp", "sip", ...). `name` is copied.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_helper(
    entry: *mut ct_entry,
    name: *const c_char,
) -> ct_status {
    boundary(|| {
        let n = match str_arg(name, "name") {
            Ok(n) => n,
            Err(s) => return s,
        };
        set(entry, |e| e.set_helper(n))
    })
}

/// Writes the helper name into `buf` (`len` bytes, NUL included; 16 always suffices).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_get_helper(
    entry: *const ct_entry,
    buf: *mut c_char,
    len: usize,
) -> ct_status {
    boundary(|| {
        if buf.is_null() && len > 0 {
            return null_arg("buf");
        }
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        match &e.extra.get().helper {
            Some(h) => copy_text(h, buf, len),
            None => ct_status::CT_ERR_NOT_SET,
        }
    })
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
    boundary(|| {
        let Some(e) = cast_ref(entry) else {
            return null_arg("entry");
        };
        if let Err(s) = check_format_flags(flags) {
            return s;
        }
        let text = crate::format::format_entry(e, flags);
        if !needed_out.is_null() {
            needed_out.write(text.len());
        }
        copy_text(&text, buf, len)
    })
}

/// Refuses format flags the library does not know.
pub(crate) fn check_format_flags(flags: u32) -> Result<(), ct_status> {
    let known = CT_FORMAT_EXTENDED | CT_FORMAT_ID | CT_FORMAT_TIMESTAMP;
    if flags & !known != 0 {
        return Err(fail(&Error::invalid(format!(
            "format flags {flags:#x} hold bits the library does not know"
        ))));
    }
    Ok(())
}
