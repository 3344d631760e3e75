//! ct_view: an entry as one flat, fixed-layout struct, read and written in blocks.
//!
//! A binding that reads an entry field by field pays a foreign call per field (about thirty
//! an entry); with views it pays one call per block of entries and reads plain memory. The
//! layout is fixed by the header: it only ever grows at its end, and `size` says how much of
//! it a view holds, so a caller built against a newer header keeps working on this library.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::batch::ct_batch;
use super::cursor::ct_cursor;
use super::entry::{ct_entry, CT_DIR_ORIG, CT_DIR_REPLY};
use super::list::ct_entry_list;
use super::status::ct_status;
use super::{fail, give, write_opt};
use crate::batch::Op;
use crate::entry::{proto, Counters, Dir, Side, AF_INET, AF_INET6, SCTP_STATES};
use crate::error::Error;
use crate::Entry;

/// One conntrack entry as plain data: every field bindings read, in one fixed layout.
/// Addresses are in network order, IPv4 in the first 4 bytes (the rest zero); ports, keys
/// and every other number are in host order. A field holds a value only when its
/// `CT_VIEW_*` bit is set in `present`; otherwise it reads 0. Fields an entry rarely has
/// (helper, security context, sequence adjustment, SCTP tags) are not in the view: `CT_VIEW_MORE` says the entry has some, read through ct_entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ct_view {
    /// The size in bytes of the layout this view holds: sizeof(ct_view) of the header the
    /// writer was built with. Set it when passing views in; the library sets it on views it
    /// writes (to its own size).
    pub size: u32,
    /// Which fields hold a value: CT_VIEW_* bits.
    pub present: u32,
    /// CT_FAMILY_IPV4 or CT_FAMILY_IPV6.
    pub family: u8,
    /// Layer-4 protocol number.
    pub proto: u8,
    /// Zone.
    pub zone: u16,
    /// Connection mark.
    pub mark: u32,
    /// Status bits (CT_STATUS_*).
    pub status: u32,
    /// Seconds until the entry expires.
    pub timeout: u32,
    /// The kernel's id.
    pub id: u32,
    /// Reference count (read-only).
    pub use_count: u32,
    /// TCP state (CT_TCP_STATE_*).
    pub tcp_state: u8,
    /// SCTP state (the kernel's SCTP_CONNTRACK_* numbering).
    pub sctp_state: u8,
    /// DCCP state (read-only).
    pub dccp_state: u8,
    /// The direction `dir_zone` is the zone of: CT_DIR_ORIG or CT_DIR_REPLY (with
    /// CT_VIEW_DIR_ZONE; zero otherwise).
    pub dir_zone_dir: u8,
    /// Source port (GRE: key) of the original tuple.
    pub orig_sport: u16,
    /// Destination port (GRE: key) of the original tuple.
    pub orig_dport: u16,
    /// Source port of the reply tuple.
    pub reply_sport: u16,
    /// Destination port of the reply tuple.
    pub reply_dport: u16,
    /// ICMP type of the original tuple.
    pub orig_icmp_type: u8,
    /// ICMP code of the original tuple.
    pub orig_icmp_code: u8,
    /// ICMP id of the original tuple.
    pub orig_icmp_id: u16,
    /// ICMP type of the reply tuple.
    pub reply_icmp_type: u8,
    /// ICMP code of the reply tuple.
    pub reply_icmp_code: u8,
    /// ICMP id of the reply tuple.
    pub reply_icmp_id: u16,
    /// TCP window scale of the original direction.
    pub tcp_wscale_orig: u8,
    /// TCP window scale of the reply direction.
    pub tcp_wscale_reply: u8,
    /// The zone of direction `dir_zone_dir` alone (CTA_TUPLE_ZONE, conntrack's
    /// `--orig-zone`/`--reply-zone`), as ct_entry_get_dir_zone reads it.
    pub dir_zone: u16,
    /// Source address of the original tuple.
    pub orig_src: [u8; 16],
    /// Destination address of the original tuple.
    pub orig_dst: [u8; 16],
    /// Source address of the reply tuple.
    pub reply_src: [u8; 16],
    /// Destination address of the reply tuple.
    pub reply_dst: [u8; 16],
    /// Packets of the original direction (read-only; nf_conntrack_acct).
    pub orig_packets: u64,
    /// Bytes of the original direction (read-only).
    pub orig_bytes: u64,
    /// Packets of the reply direction (read-only).
    pub reply_packets: u64,
    /// Bytes of the reply direction (read-only).
    pub reply_bytes: u64,
    /// Start timestamp, nanoseconds since the epoch (read-only; nf_conntrack_timestamp).
    pub timestamp_start: u64,
    /// Stop timestamp, nanoseconds since the epoch (read-only).
    pub timestamp_stop: u64,
    /// The 128 connection-label bits: bit n is bit n%8 of byte n/8. Passed in, they replace
    /// every label bit (as ct_entry_set_labels).
    pub labels: [u8; 16],
    /// SELinux secmark (read-only).
    pub secmark: u32,
    /// TCP flags seen in the original direction (read-only).
    pub tcp_flags_orig: u8,
    /// Which of `tcp_flags_orig` the kernel reports (read-only).
    pub tcp_flags_orig_mask: u8,
    /// TCP flags seen in the reply direction (read-only).
    pub tcp_flags_reply: u8,
    /// Which of `tcp_flags_reply` the kernel reports (read-only).
    pub tcp_flags_reply_mask: u8,
}

/// The size of this library's ct_view.
const VIEW_SIZE: usize = std::mem::size_of::<ct_view>();

/// View field bit: `family`.
pub const CT_VIEW_FAMILY: u32 = 1 << 0;
/// View field bit: `proto`.
pub const CT_VIEW_PROTO: u32 = 1 << 1;
/// View field bit: `orig_src`.
pub const CT_VIEW_ORIG_SRC: u32 = 1 << 2;
/// View field bit: `orig_dst`.
pub const CT_VIEW_ORIG_DST: u32 = 1 << 3;
/// View field bit: `reply_src`.
pub const CT_VIEW_REPLY_SRC: u32 = 1 << 4;
/// View field bit: `reply_dst`.
pub const CT_VIEW_REPLY_DST: u32 = 1 << 5;
/// View field bit: `orig_sport`.
pub const CT_VIEW_ORIG_SPORT: u32 = 1 << 6;
/// View field bit: `orig_dport`.
pub const CT_VIEW_ORIG_DPORT: u32 = 1 << 7;
/// View field bit: `reply_sport`.
pub const CT_VIEW_REPLY_SPORT: u32 = 1 << 8;
/// View field bit: `reply_dport`.
pub const CT_VIEW_REPLY_DPORT: u32 = 1 << 9;
/// View field bit: `orig_icmp_type`, `orig_icmp_code` and `orig_icmp_id`.
pub const CT_VIEW_ORIG_ICMP: u32 = 1 << 10;
/// View field bit: `reply_icmp_type`, `reply_icmp_code` and `reply_icmp_id`.
pub const CT_VIEW_REPLY_ICMP: u32 = 1 << 11;
/// View field bit: `zone`.
pub const CT_VIEW_ZONE: u32 = 1 << 12;
/// View field bit: `mark`.
pub const CT_VIEW_MARK: u32 = 1 << 13;
/// View field bit: `status`.
pub const CT_VIEW_STATUS: u32 = 1 << 14;
/// View field bit: `timeout`.
pub const CT_VIEW_TIMEOUT: u32 = 1 << 15;
/// View field bit: `id`.
pub const CT_VIEW_ID: u32 = 1 << 16;
/// View field bit: `use_count`.
pub const CT_VIEW_USE: u32 = 1 << 17;
/// View field bit: `tcp_state`.
pub const CT_VIEW_TCP_STATE: u32 = 1 << 18;
/// View field bit: `sctp_state`.
pub const CT_VIEW_SCTP_STATE: u32 = 1 << 19;
/// View field bit: `dccp_state`.
pub const CT_VIEW_DCCP_STATE: u32 = 1 << 20;
/// View field bit: `orig_packets` and `orig_bytes`.
pub const CT_VIEW_ORIG_COUNTERS: u32 = 1 << 21;
/// View field bit: `reply_packets` and `reply_bytes`.
pub const CT_VIEW_REPLY_COUNTERS: u32 = 1 << 22;
/// View field bit: `timestamp_start`.
pub const CT_VIEW_TIMESTAMP_START: u32 = 1 << 23;
/// View field bit: `timestamp_stop`.
pub const CT_VIEW_TIMESTAMP_STOP: u32 = 1 << 24;
/// View field bit: `labels`.
pub const CT_VIEW_LABELS: u32 = 1 << 25;
/// View field bit: `secmark`.
pub const CT_VIEW_SECMARK: u32 = 1 << 26;
/// View field bit: `tcp_wscale_orig` and `tcp_wscale_reply`.
pub const CT_VIEW_TCP_WSCALE: u32 = 1 << 27;
/// View field bit: `tcp_flags_orig` and `tcp_flags_orig_mask`.
pub const CT_VIEW_TCP_FLAGS_ORIG: u32 = 1 << 28;
/// View field bit: `tcp_flags_reply` and `tcp_flags_reply_mask`.
pub const CT_VIEW_TCP_FLAGS_REPLY: u32 = 1 << 29;
/// View bit: the entry holds fields the view does not carry (helper, security context,
/// sequence adjustment, SCTP tags, a label update mask, a zone for each direction).
/// Ignored on views passed in.
pub const CT_VIEW_MORE: u32 = 1 << 30;
/// View field bit: `dir_zone` and `dir_zone_dir`, a zone of one direction. The kernel
/// looks such an entry up in that zone, so a view without it names another entry. An entry
/// with a zone for each direction (which the kernel refuses to create) carries its
/// original direction's here, with CT_VIEW_MORE.
pub const CT_VIEW_DIR_ZONE: u32 = 0x8000_0000;

fn addr_bytes(a: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

fn addr_of(family: u8, b: &[u8; 16]) -> IpAddr {
    if family == AF_INET {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*b))
    }
}

/// A field's value, or 0 with its bit left out of `present`.
#[inline(always)]
fn opt<T: Default>(present: &mut u32, bit: u32, x: Option<T>) -> T {
    match x {
        Some(x) => {
            *present |= bit;
            x
        }
        None => T::default(),
    }
}

/// The address as a view holds it, or zeros with its bit left out.
#[inline(always)]
fn opt_addr(present: &mut u32, bit: u32, a: Option<IpAddr>) -> [u8; 16] {
    a.map_or([0; 16], |a| {
        *present |= bit;
        addr_bytes(a)
    })
}

/// A tuple's ICMP fields (all three or none).
#[inline(always)]
fn opt_icmp(present: &mut u32, bit: u32, t: &crate::entry::Tuple) -> (u8, u8, u16) {
    let icmp = match (t.icmp_type, t.icmp_code, t.icmp_id) {
        (Some(ty), Some(c), Some(id)) => Some((ty, c, id)),
        _ => None,
    };
    opt(present, bit, icmp)
}

/// The view of `e`. Always inlined, so that a dump builds each view where it goes (no
/// second copy).
#[inline(always)]
pub(crate) fn view_of(e: &Entry) -> ct_view {
    let mut p = 0;
    let p = &mut p;
    let (o, r) = (&e.orig, &e.reply);
    let x = e.extra.get();
    // Every field of Extra named: a field added there must be sorted into carried or not.
    let crate::entry::Extra {
        zone_orig,
        zone_reply,
        sctp_vtag_orig,
        sctp_vtag_reply,
        counters_orig,
        counters_reply,
        timestamp_start,
        timestamp_stop,
        labels,
        labels_mask,
        secmark,
        secctx,
        helper,
        seq_adj_orig,
        seq_adj_reply,
        nat_src,
        nat_dst,
    } = x;
    // A label update mask never comes from the kernel; one set by the caller is a field
    // the view does not carry. Nor does it carry a window scale of one direction only
    // (the kernel sends both).
    // A zone of one direction is carried; zones of both directions (the kernel keeps one)
    // are not.
    let more = (zone_orig.is_some() && zone_reply.is_some())
        || sctp_vtag_orig.is_some()
        || sctp_vtag_reply.is_some()
        || labels_mask.is_some()
        || secctx.is_some()
        || helper.is_some()
        || seq_adj_orig.is_some()
        || seq_adj_reply.is_some()
        || nat_src.is_some()
        || nat_dst.is_some()
        || e.tcp_wscale_orig.is_some() != e.tcp_wscale_reply.is_some();
    let (orig_icmp_type, orig_icmp_code, orig_icmp_id) = opt_icmp(p, CT_VIEW_ORIG_ICMP, o);
    let (reply_icmp_type, reply_icmp_code, reply_icmp_id) = opt_icmp(p, CT_VIEW_REPLY_ICMP, r);
    let wscale = match (e.tcp_wscale_orig, e.tcp_wscale_reply) {
        (Some(o), Some(r)) => Some((o, r)),
        _ => None,
    };
    let (tcp_wscale_orig, tcp_wscale_reply) = opt(p, CT_VIEW_TCP_WSCALE, wscale);
    let (tcp_flags_orig, tcp_flags_orig_mask) = opt(p, CT_VIEW_TCP_FLAGS_ORIG, e.tcp_flags_orig);
    let (tcp_flags_reply, tcp_flags_reply_mask) =
        opt(p, CT_VIEW_TCP_FLAGS_REPLY, e.tcp_flags_reply);
    let dir_zone = match (*zone_orig, *zone_reply) {
        (Some(z), _) => Some((CT_DIR_ORIG as u8, z)),
        (None, Some(z)) => Some((CT_DIR_REPLY as u8, z)),
        (None, None) => None,
    };
    let (dir_zone_dir, dir_zone) = opt(p, CT_VIEW_DIR_ZONE, dir_zone);
    let co = opt(p, CT_VIEW_ORIG_COUNTERS, *counters_orig);
    let cr = opt(p, CT_VIEW_REPLY_COUNTERS, *counters_reply);
    let mut v = ct_view {
        size: VIEW_SIZE as u32,
        present: 0,
        family: opt(p, CT_VIEW_FAMILY, e.family()),
        proto: opt(p, CT_VIEW_PROTO, e.proto()),
        zone: opt(p, CT_VIEW_ZONE, e.zone),
        mark: opt(p, CT_VIEW_MARK, e.mark),
        status: opt(p, CT_VIEW_STATUS, e.status),
        timeout: opt(p, CT_VIEW_TIMEOUT, e.timeout),
        id: opt(p, CT_VIEW_ID, e.id),
        use_count: opt(p, CT_VIEW_USE, e.use_count),
        tcp_state: opt(p, CT_VIEW_TCP_STATE, e.tcp_state),
        sctp_state: opt(p, CT_VIEW_SCTP_STATE, e.sctp_state),
        dccp_state: opt(p, CT_VIEW_DCCP_STATE, e.dccp_state),
        dir_zone_dir,
        orig_sport: opt(p, CT_VIEW_ORIG_SPORT, o.src_port),
        orig_dport: opt(p, CT_VIEW_ORIG_DPORT, o.dst_port),
        reply_sport: opt(p, CT_VIEW_REPLY_SPORT, r.src_port),
        reply_dport: opt(p, CT_VIEW_REPLY_DPORT, r.dst_port),
        orig_icmp_type,
        orig_icmp_code,
        orig_icmp_id,
        reply_icmp_type,
        reply_icmp_code,
        reply_icmp_id,
        tcp_wscale_orig,
        tcp_wscale_reply,
        dir_zone,
        orig_src: opt_addr(p, CT_VIEW_ORIG_SRC, o.src),
        orig_dst: opt_addr(p, CT_VIEW_ORIG_DST, o.dst),
        reply_src: opt_addr(p, CT_VIEW_REPLY_SRC, r.src),
        reply_dst: opt_addr(p, CT_VIEW_REPLY_DST, r.dst),
        orig_packets: co.packets,
        orig_bytes: co.bytes,
        reply_packets: cr.packets,
        reply_bytes: cr.bytes,
        timestamp_start: opt(p, CT_VIEW_TIMESTAMP_START, *timestamp_start),
        timestamp_stop: opt(p, CT_VIEW_TIMESTAMP_STOP, *timestamp_stop),
        labels: opt(p, CT_VIEW_LABELS, *labels),
        secmark: opt(p, CT_VIEW_SECMARK, *secmark),
        tcp_flags_orig,
        tcp_flags_orig_mask,
        tcp_flags_reply,
        tcp_flags_reply_mask,
    };
    v.present = *p | if more { CT_VIEW_MORE } else { 0 };
    v
}

/// The entry a view describes, built through the entry's setters so that a view is held to
/// the same rules as the setter calls it replaces. Read-only fields (use, DCCP state,
/// counters, timestamps, secmark) are not taken: requests never carry them.
pub(crate) fn entry_of(v: &ct_view) -> crate::Result<Entry> {
    if (v.size as usize) < VIEW_SIZE {
        return Err(Error::invalid(format!(
            "the view's size {} is smaller than this library's ct_view ({VIEW_SIZE} bytes): \
             an unknown layout",
            v.size
        )));
    }
    // Every bit of `present` has a meaning: fields of a later, larger layout come with
    // their own bits past this one (a view of it is read up to this library's fields).
    let has = |bit: u32| v.present & bit != 0;
    let mut e = Entry::new();
    let family = if has(CT_VIEW_FAMILY) {
        e.set_family(v.family)?;
        v.family
    } else {
        0
    };
    if has(CT_VIEW_PROTO) {
        e.set_proto(v.proto)?;
    }
    let addrs = [
        (CT_VIEW_ORIG_SRC, Dir::Orig, Side::Src, &v.orig_src),
        (CT_VIEW_ORIG_DST, Dir::Orig, Side::Dst, &v.orig_dst),
        (CT_VIEW_REPLY_SRC, Dir::Reply, Side::Src, &v.reply_src),
        (CT_VIEW_REPLY_DST, Dir::Reply, Side::Dst, &v.reply_dst),
    ];
    if addrs.iter().any(|a| has(a.0)) && family != AF_INET && family != AF_INET6 {
        return Err(Error::invalid(
            "the view has addresses but no family (CT_VIEW_FAMILY): 4 or 16 bytes?",
        ));
    }
    for (bit, dir, side, bytes) in addrs {
        if has(bit) {
            e.set_addr(dir, side, addr_of(family, bytes))?;
        }
    }
    for (bit, dir, side, port) in [
        (CT_VIEW_ORIG_SPORT, Dir::Orig, Side::Src, v.orig_sport),
        (CT_VIEW_ORIG_DPORT, Dir::Orig, Side::Dst, v.orig_dport),
        (CT_VIEW_REPLY_SPORT, Dir::Reply, Side::Src, v.reply_sport),
        (CT_VIEW_REPLY_DPORT, Dir::Reply, Side::Dst, v.reply_dport),
    ] {
        if has(bit) {
            e.set_port(dir, side, port)?;
        }
    }
    if has(CT_VIEW_ORIG_ICMP) {
        e.set_icmp(
            Dir::Orig,
            v.orig_icmp_type,
            v.orig_icmp_code,
            v.orig_icmp_id,
        )?;
    }
    if has(CT_VIEW_REPLY_ICMP) {
        e.set_icmp(
            Dir::Reply,
            v.reply_icmp_type,
            v.reply_icmp_code,
            v.reply_icmp_id,
        )?;
    }
    if has(CT_VIEW_ZONE) {
        e.set_zone(u32::from(v.zone))?;
    }
    if has(CT_VIEW_DIR_ZONE) {
        let dir = match u32::from(v.dir_zone_dir) {
            CT_DIR_ORIG => Dir::Orig,
            CT_DIR_REPLY => Dir::Reply,
            d => {
                return Err(Error::invalid(format!(
                    "dir_zone_dir {d} is neither CT_DIR_ORIG (0) nor CT_DIR_REPLY (1)"
                )))
            }
        };
        e.set_dir_zone(dir, u32::from(v.dir_zone))?;
    }
    e.mark = has(CT_VIEW_MARK).then_some(v.mark);
    e.status = has(CT_VIEW_STATUS).then_some(v.status);
    e.timeout = has(CT_VIEW_TIMEOUT).then_some(v.timeout);
    e.id = has(CT_VIEW_ID).then_some(v.id);
    if has(CT_VIEW_TCP_STATE) {
        e.set_tcp_state(v.tcp_state)?;
    }
    if has(CT_VIEW_SCTP_STATE) {
        if usize::from(v.sctp_state) >= SCTP_STATES.len() {
            return Err(Error::invalid(format!(
                "SCTP state {} is unknown (0..9)",
                v.sctp_state
            )));
        }
        if let Some(p) = e.proto().filter(|p| *p != proto::SCTP) {
            return Err(Error::invalid(format!("protocol {p} is not SCTP")));
        }
        e.sctp_state = Some(v.sctp_state);
    }
    if has(CT_VIEW_LABELS) {
        e.extra.get_mut().labels = Some(v.labels);
    }
    if has(CT_VIEW_TCP_WSCALE) {
        if e.proto().is_some_and(|p| p != proto::TCP) {
            return Err(Error::invalid(
                "a TCP window scale on an entry that is not TCP",
            ));
        }
        e.tcp_wscale_orig = Some(v.tcp_wscale_orig);
        e.tcp_wscale_reply = Some(v.tcp_wscale_reply);
    }
    Ok(e)
}

/// As [`entry_of`], with the read-only fields too: the entry as the kernel reported it, for
/// formatting.
fn whole_entry_of(v: &ct_view) -> crate::Result<Entry> {
    let mut e = entry_of(v)?;
    let has = |bit: u32| v.present & bit != 0;
    e.use_count = has(CT_VIEW_USE).then_some(v.use_count);
    e.dccp_state = has(CT_VIEW_DCCP_STATE).then_some(v.dccp_state);
    let x = e.extra.get_mut();
    x.counters_orig = has(CT_VIEW_ORIG_COUNTERS).then_some(Counters {
        packets: v.orig_packets,
        bytes: v.orig_bytes,
    });
    x.counters_reply = has(CT_VIEW_REPLY_COUNTERS).then_some(Counters {
        packets: v.reply_packets,
        bytes: v.reply_bytes,
    });
    x.timestamp_start = has(CT_VIEW_TIMESTAMP_START).then_some(v.timestamp_start);
    x.timestamp_stop = has(CT_VIEW_TIMESTAMP_STOP).then_some(v.timestamp_stop);
    x.secmark = has(CT_VIEW_SECMARK).then_some(v.secmark);
    e.tcp_flags_orig =
        has(CT_VIEW_TCP_FLAGS_ORIG).then_some((v.tcp_flags_orig, v.tcp_flags_orig_mask));
    e.tcp_flags_reply =
        has(CT_VIEW_TCP_FLAGS_REPLY).then_some((v.tcp_flags_reply, v.tcp_flags_reply_mask));
    if e.extra.is_empty() {
        e.extra = Default::default();
    }
    Ok(e)
}

/// Checks a caller's view size: at least this library's (a newer, larger layout is fine).
fn check_size(view_size: usize) -> Result<(), ct_status> {
    if view_size < VIEW_SIZE {
        return Err(fail(&Error::invalid(format!(
            "view_size {view_size} is smaller than this library's ct_view ({VIEW_SIZE} bytes)"
        ))));
    }
    Ok(())
}

/// Writes the view of `e` into slot `i` of the caller's array of views `view_size` bytes
/// apart, zeroing what a larger (newer) layout has beyond this library's; returns its
/// `present`.
///
/// # Safety
/// `views` is valid for `(i + 1) * view_size` bytes and `view_size >= VIEW_SIZE`.
unsafe fn write_view(views: *mut u8, view_size: usize, i: usize, e: &Entry) -> u32 {
    let slot = views.add(i * view_size);
    let slot_view = slot as *mut ct_view;
    if (slot as usize) % std::mem::align_of::<ct_view>() == 0 {
        // The usual case (an array of ct_view): an aligned write, which the compiler makes
        // in place.
        slot_view.write(view_of(e));
    } else {
        slot_view.write_unaligned(view_of(e));
    }
    let present = std::ptr::addr_of!((*slot_view).present).read_unaligned();
    if view_size > VIEW_SIZE {
        std::ptr::write_bytes(slot.add(VIEW_SIZE), 0, view_size - VIEW_SIZE);
    }
    present
}

/// Reads slot `i` of the caller's array of views.
///
/// # Safety
/// As [`write_view`], for reading.
unsafe fn read_view(views: *const u8, view_size: usize, i: usize) -> ct_view {
    std::ptr::read_unaligned(views.add(i * view_size) as *const ct_view)
}

/// Fills `*view_out` with `entry`'s fields; `view_size` is sizeof(ct_view) as the caller
/// knows it (CT_ERR_INVALID_ARGUMENT when smaller than this library's; a larger one gets
/// its unknown tail zeroed). `view_out->size` then says which layout was written.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_view(
    entry: *const ct_entry,
    view_out: *mut ct_view,
    view_size: usize,
) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        arg_out!(view_out);
        ok!(check_size(view_size));
        write_view(view_out as *mut u8, view_size, 0, e);
        ct_status::CT_OK
    }
}

/// Makes an entry from `view` (its `size` set by the caller; a view of a newer, larger
/// layout is read up to this library's fields). The view is held to the setters' rules and
/// CT_ERR_INVALID_ARGUMENT names the first field that breaks one; a size smaller than this
/// library's ct_view is refused the same way. A zone of one direction (CT_VIEW_DIR_ZONE)
/// is kept: the entry made is the one the kernel holds in that zone. Read-only fields are
/// ignored. On CT_OK, `*entry_out` is a new entry owned by the caller; free it with
/// ct_entry_free.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_from_view(
    view: *const ct_view,
    entry_out: *mut *mut ct_entry,
) -> ct_status {
    ffi_fn! {
        arg_out!(view);
        arg_out!(entry_out);
        let e = ok!(entry_of(&std::ptr::read_unaligned(view)));
        give::<ct_entry>(entry_out, "entry_out", e)
    }
}

/// Fills up to `capacity` views, `view_size` bytes apart, with entries `first`,
/// `first + 1`, ... of `list`; `*count_out` says how many (0 once `first` reaches the end).
/// `views` may be NULL only with `capacity` 0.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_list_views(
    list: *const ct_entry_list,
    first: usize,
    views: *mut ct_view,
    view_size: usize,
    capacity: usize,
    count_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let l = arg_ref!(list);
        arg_out!(views if capacity > 0);
        arg_out!(count_out);
        ok!(check_size(view_size));
        let entries = l.get(first..).unwrap_or_default();
        let n = entries.len().min(capacity);
        for (i, e) in entries[..n].iter().enumerate() {
            write_view(views as *mut u8, view_size, i, e);
        }
        count_out.write(n);
        ct_status::CT_OK
    }
}

/// Writes `view` as one line of `conntrack -L` text, as ct_entry_format does for the entry
/// it came from (same `flags`, buffer and `*needed_out` rules), read-only fields included.
/// An entry with CT_VIEW_MORE has fields the view lacks (a helper, say): format the entry
/// itself for those.
#[no_mangle]
pub unsafe extern "C" fn ct_view_format(
    view: *const ct_view,
    flags: u32,
    buf: *mut std::ffi::c_char,
    len: usize,
    needed_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(view);
        let e = ok!(whole_entry_of(&std::ptr::read_unaligned(view)));
        super::entry::with_format_buffer(|text| {
            crate::format::write_entry(text, &e, flags);
            write_opt(needed_out, text.len());
            super::copy_text(text, buf, len)
        })
    }
}

/// Reads the next entries of `cursor`'s dump into up to `capacity` views, `view_size` bytes
/// apart: one call per block instead of one per entry. A block ends early after a view
/// with CT_VIEW_MORE (its entry has fields beyond the view), whose entry ct_cursor_last then
/// gives. `*count_out` says how many were written; 0 with CT_OK means the dump ended (as
/// ct_cursor_next's NULL). Unlike other outputs, `*count_out` is written on errors too: the
/// views before the error are whole.
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_next_views(
    cursor: *mut ct_cursor,
    views: *mut ct_view,
    view_size: usize,
    capacity: usize,
    count_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let c = arg_ref!(cursor);
        arg_out!(views if capacity > 0);
        arg_out!(count_out);
        if let Err(s) = check_size(view_size) {
            c.last_error.record_thread();
            return s;
        }
        let mut n = 0;
        let status = super::cursor::next_each(cursor, c, capacity, |e| {
            let present = write_view(views as *mut u8, view_size, n, e);
            n += 1;
            present & CT_VIEW_MORE == 0
        });
        count_out.write(n);
        status
    }
}

/// Queues one request of `op` (CT_BATCH_CREATE, _UPDATE or _DELETE) per view of `views`
/// (`count` views, `view_size` bytes apart, each with its `size` set), in order, as the
/// ct_batch_add_* functions do for entries: a view the library refuses still takes its
/// index, with the reason as its outcome. CT_ERR_INVALID_ARGUMENT for an unknown `op` or a
/// `view_size` smaller than this library's ct_view (nothing is queued then).
#[no_mangle]
pub unsafe extern "C" fn ct_batch_add_views(
    batch: *mut ct_batch,
    op: u32,
    views: *const ct_view,
    view_size: usize,
    count: usize,
) -> ct_status {
    ffi_fn! {
        let b = super::batch::batch_mut(arg_mut!(batch));
        arg_out!(views if count > 0);
        let op = match op {
            CT_BATCH_CREATE => Op::Create,
            CT_BATCH_UPDATE => Op::Update,
            CT_BATCH_DELETE => Op::Delete,
            _ => {
                return fail(&Error::invalid(format!(
                    "op {op} is not CT_BATCH_CREATE, CT_BATCH_UPDATE or CT_BATCH_DELETE"
                )))
            }
        };
        ok!(check_size(view_size));
        for i in 0..count {
            match entry_of(&read_view(views as *const u8, view_size, i)) {
                Ok(e) => b.add(op, &e),
                Err(err) => b.add_refused(op, err),
            }
        }
        ct_status::CT_OK
    }
}

/// Batch operation of ct_batch_add_views: create.
pub const CT_BATCH_CREATE: u32 = 0;
/// Batch operation of ct_batch_add_views: update.
pub const CT_BATCH_UPDATE: u32 = 1;
/// Batch operation of ct_batch_add_views: delete.
pub const CT_BATCH_DELETE: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_what_the_header_says() {
        // Bindings read these offsets; they may only ever grow at the end.
        assert_eq!(VIEW_SIZE, 192);
        assert_eq!(std::mem::offset_of!(ct_view, labels), 168);
        assert_eq!(std::mem::offset_of!(ct_view, secmark), 184);
        assert_eq!(std::mem::offset_of!(ct_view, zone), 10);
        assert_eq!(std::mem::offset_of!(ct_view, tcp_state), 32);
        assert_eq!(std::mem::offset_of!(ct_view, orig_sport), 36);
        assert_eq!(std::mem::offset_of!(ct_view, orig_icmp_type), 44);
        assert_eq!(std::mem::offset_of!(ct_view, orig_src), 56);
        assert_eq!(std::mem::offset_of!(ct_view, reply_dst), 104);
        assert_eq!(std::mem::offset_of!(ct_view, orig_packets), 120);
        assert_eq!(std::mem::offset_of!(ct_view, timestamp_stop), 160);
    }

    /// A small deterministic generator (no dependency): xorshift.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn chance(&mut self) -> bool {
            !self.next().is_multiple_of(3)
        }
    }

    fn random_entry(r: &mut Rng) -> Entry {
        let v6 = r.next().is_multiple_of(2);
        let protos = [
            proto::TCP,
            proto::UDP,
            proto::SCTP,
            proto::DCCP,
            proto::GRE,
            proto::UDPLITE,
            if v6 { proto::ICMPV6 } else { proto::ICMP },
        ];
        let p = protos[(r.next() % protos.len() as u64) as usize];
        let mut e = Entry::new();
        let addr = |r: &mut Rng| -> IpAddr {
            if v6 {
                IpAddr::V6(Ipv6Addr::from(
                    u128::from(r.next()) << 64 | u128::from(r.next()),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(r.next() as u32))
            }
        };
        e.set_family(if v6 { AF_INET6 } else { AF_INET }).unwrap();
        e.set_proto(p).unwrap();
        for (dir, side) in [
            (Dir::Orig, Side::Src),
            (Dir::Orig, Side::Dst),
            (Dir::Reply, Side::Src),
            (Dir::Reply, Side::Dst),
        ] {
            if r.chance() {
                let a = addr(r);
                e.set_addr(dir, side, a).unwrap();
            }
            if proto::has_ports(p) && r.chance() {
                e.set_port(dir, side, r.next() as u16).unwrap();
            }
        }
        if proto::is_icmp(p) {
            for dir in [Dir::Orig, Dir::Reply] {
                if r.chance() {
                    let x = r.next();
                    e.set_icmp(dir, x as u8, (x >> 8) as u8, (x >> 16) as u16)
                        .unwrap();
                }
            }
        }
        if r.chance() {
            e.set_zone(u32::from(r.next() as u16)).unwrap();
        }
        if r.next().is_multiple_of(4) {
            let dir = [Dir::Orig, Dir::Reply][(r.next() % 2) as usize];
            e.set_dir_zone(dir, u32::from(r.next() as u16)).unwrap();
        }
        e.mark = r.chance().then(|| r.next() as u32);
        e.status = r.chance().then(|| r.next() as u32);
        e.timeout = r.chance().then(|| r.next() as u32);
        e.id = r.chance().then(|| r.next() as u32);
        if p == proto::TCP && r.chance() {
            e.set_tcp_state((r.next() % 10) as u8).unwrap();
        }
        if p == proto::TCP && r.chance() {
            e.tcp_wscale_orig = Some(r.next() as u8);
            e.tcp_wscale_reply = Some(r.next() as u8);
        }
        if r.chance() {
            e.extra.get_mut().labels = Some((u128::from(r.next()) << 64 | 1).to_le_bytes());
        }
        if p == proto::SCTP && r.chance() {
            e.sctp_state = Some((r.next() % 10) as u8);
        }
        e
    }

    #[test]
    fn views_round_trip_every_field_a_request_carries() {
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let e = random_entry(&mut r);
            let v = view_of(&e);
            assert_eq!(v.present & CT_VIEW_MORE, 0);
            let back = entry_of(&v).unwrap();
            assert_eq!(back, e, "{v:?}");
            // The view's fields are the entry's, read as the getters read them.
            assert_eq!(v.present & CT_VIEW_MARK != 0, e.mark.is_some());
            assert_eq!(v.mark, e.mark.unwrap_or(0));
        }
    }

    #[test]
    fn read_only_and_rare_fields() {
        let mut e = Entry::new();
        e.set_family(AF_INET).unwrap();
        e.use_count = Some(2);
        e.dccp_state = Some(4);
        e.extra.get_mut().counters_orig = Some(Counters {
            packets: 3,
            bytes: 300,
        });
        e.extra.get_mut().timestamp_start = Some(7);
        let v = view_of(&e);
        assert_eq!(
            (v.use_count, v.dccp_state, v.orig_packets, v.orig_bytes),
            (2, 4, 3, 300)
        );
        assert_eq!(v.timestamp_start, 7);
        assert_eq!(
            v.present & CT_VIEW_MORE,
            0,
            "counters and timestamps are in the view"
        );
        // Read-only fields do not go back into requests.
        assert_eq!(entry_of(&v).unwrap().use_count, None);
        e.extra.get_mut().helper = Some("ftp".into());
        assert_ne!(view_of(&e).present & CT_VIEW_MORE, 0);
    }

    #[test]
    fn a_zone_of_one_direction_is_in_the_view() {
        for dir in [Dir::Orig, Dir::Reply] {
            let mut e = Entry::new();
            e.set_dir_zone(dir, 5).unwrap();
            let v = view_of(&e);
            assert_eq!(
                v.present, CT_VIEW_DIR_ZONE,
                "{dir:?}: no CT_VIEW_ZONE, no MORE"
            );
            assert_eq!(v.dir_zone, 5);
            let back = entry_of(&v).unwrap();
            assert_eq!(back.dir_zone(dir), Some(5));
            assert_eq!(back.zone(), None);
        }
        // Both directions' (the kernel creates no such entry): the original one, and MORE.
        let mut e = Entry::new();
        e.set_dir_zone(Dir::Orig, 5).unwrap();
        e.set_dir_zone(Dir::Reply, 6).unwrap();
        let v = view_of(&e);
        assert_eq!(v.present, CT_VIEW_DIR_ZONE | CT_VIEW_MORE);
        assert_eq!((v.dir_zone_dir, v.dir_zone), (CT_DIR_ORIG as u8, 5));
    }

    #[test]
    fn bad_views_are_refused() {
        let mut v = view_of(&{
            let mut e = Entry::new();
            e.set_family(AF_INET).unwrap();
            e.set_proto(proto::ICMP).unwrap();
            e
        });
        assert!(entry_of(&v).is_ok());
        let mut small = v;
        small.size = VIEW_SIZE as u32 - 8;
        assert!(entry_of(&small).is_err());
        let mut larger = v;
        larger.size = VIEW_SIZE as u32 + 64;
        assert!(entry_of(&larger).is_ok(), "a newer layout is read");
        let mut bad_dir = v;
        bad_dir.present |= CT_VIEW_DIR_ZONE;
        bad_dir.dir_zone_dir = 2;
        assert!(entry_of(&bad_dir).is_err(), "a direction that is not one");
        v.present |= CT_VIEW_ORIG_SPORT;
        assert!(entry_of(&v).is_err(), "a port on ICMP");
        let mut no_family = view_of(&Entry::new());
        no_family.present |= CT_VIEW_ORIG_SRC;
        assert!(entry_of(&no_family).is_err());
        let mut zone_ok = view_of(&Entry::new());
        zone_ok.present |= CT_VIEW_SCTP_STATE;
        zone_ok.sctp_state = 10;
        assert!(entry_of(&zone_ok).is_err(), "an unknown SCTP state");
    }
}
