//! ct_expect: entries of the expectation table (connections a helper such as FTP or SIP
//! expects), with their master tuple, expected tuple and mask.

use std::ffi::{c_char, c_void};
use std::ops::ControlFlow;

use super::entry::ct_entry;
use super::handle::{ct_handle, run, with_handle};
use super::status::ct_status;
use super::{copy_text, free_c, give, status_of, Castable};
use crate::error::Error;
use crate::expect::Expectation;
use crate::Entry;

/// An expectation: plain data owned by whoever made it, or by the dump callback that hands it
/// out.
pub struct ct_expect {
    _private: [u8; 0],
}

impl Castable for ct_expect {
    type Rust = Expectation;
}

/// Tuple selector: the original tuple of the master connection.
pub const CT_EXPECT_MASTER: u32 = 0;
/// Tuple selector: the expected connection's tuple.
pub const CT_EXPECT_TUPLE: u32 = 1;
/// Tuple selector: the mask over the expected tuple (addresses and ports as bit masks).
pub const CT_EXPECT_MASK: u32 = 2;

/// Called for each expectation of a dump: `expect` is valid until the callback returns (copy
/// it with ct_expect_clone). Return 0 to go on, anything else to stop.
pub type ct_expect_cb =
    Option<unsafe extern "C" fn(expect: *const ct_expect, user_data: *mut c_void) -> i32>;

fn part(x: &mut Expectation, which: u32) -> crate::Result<&mut crate::entry::Tuple> {
    match which {
        CT_EXPECT_MASTER => Ok(&mut x.master),
        CT_EXPECT_TUPLE => Ok(&mut x.tuple),
        CT_EXPECT_MASK => Ok(&mut x.mask),
        _ => Err(Error::invalid(format!(
            "tuple selector {which} is not CT_EXPECT_MASTER, CT_EXPECT_TUPLE or CT_EXPECT_MASK"
        ))),
    }
}

/// Makes an empty expectation. On CT_OK, `*expect_out` is owned by the caller; free it with
/// ct_expect_free.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_new(expect_out: *mut *mut ct_expect) -> ct_status {
    ffi_fn! { give::<ct_expect>(expect_out, "expect_out", Expectation::default()) }
}

/// Copies `expect`. On CT_OK, `*expect_out` is owned by the caller; free it with
/// ct_expect_free.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_clone(
    expect: *const ct_expect,
    expect_out: *mut *mut ct_expect,
) -> ct_status {
    ffi_fn! { give::<ct_expect>(expect_out, "expect_out", arg_ref!(expect).clone()) }
}

/// Frees `expect`. Passing NULL does nothing; freeing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_free(expect: *mut ct_expect) {
    ffi_fn! { free_c(expect) }
}

/// Sets the tuple `which` (CT_EXPECT_MASTER, CT_EXPECT_TUPLE or CT_EXPECT_MASK) to the
/// original tuple of `entry` (addresses, protocol, ports or ICMP fields, made with the
/// ct_entry setters); `entry` is only read.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_set_tuple(
    expect: *mut ct_expect,
    which: u32,
    entry: *const ct_entry,
) -> ct_status {
    ffi_fn! {
        let x = arg_mut!(expect);
        let e = arg_ref!(entry);
        *ok!(part(x, which)) = e.orig.clone();
        ct_status::CT_OK
    }
}

/// The tuple `which` as the original tuple of a new entry (read it with the ct_entry
/// getters). On CT_OK, `*entry_out` is owned by the caller; free it with ct_entry_free.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_tuple(
    expect: *const ct_expect,
    which: u32,
    entry_out: *mut *mut ct_entry,
) -> ct_status {
    ffi_fn! {
        let x = arg_ref!(expect);
        let mut copy = x.clone();
        let e = Entry {
            family: x.family(),
            orig: ok!(part(&mut copy, which)).clone(),
            ..Entry::default()
        };
        give::<ct_entry>(entry_out, "entry_out", e)
    }
}

/// Sets the timeout in seconds (the helper's policy may replace it).
#[no_mangle]
pub unsafe extern "C" fn ct_expect_set_timeout(expect: *mut ct_expect, seconds: u32) -> ct_status {
    ffi_fn! {
        arg_mut!(expect).timeout = Some(seconds);
        ct_status::CT_OK
    }
}

/// Sets the zone (0..65535).
#[no_mangle]
pub unsafe extern "C" fn ct_expect_set_zone(expect: *mut ct_expect, zone: u32) -> ct_status {
    ffi_fn! { status_of(arg_mut!(expect).set_zone(zone)) }
}

/// Sets the helper name ("ftp"; 1 to 15 bytes, else CT_ERR_INVALID_ARGUMENT); `name` is
/// copied. Without one, the master's helper is used.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_set_helper(
    expect: *mut ct_expect,
    name: *const c_char,
) -> ct_status {
    ffi_fn! {
        let n = arg_str!(name);
        status_of(arg_mut!(expect).set_helper(n))
    }
}

/// Sets the helper's expectation class.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_set_class(expect: *mut ct_expect, class: u32) -> ct_status {
    ffi_fn! {
        arg_mut!(expect).class = Some(class);
        ct_status::CT_OK
    }
}

/// Gets the seconds left.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_timeout(
    expect: *const ct_expect,
    seconds_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(expect, seconds_out, |x| x.timeout) }
}

/// Gets the zone (CT_ERR_NOT_SET: zone 0).
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_zone(
    expect: *const ct_expect,
    zone_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(expect, zone_out, |x| x.zone.map(u32::from)) }
}

/// Gets the helper's expectation class.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_class(
    expect: *const ct_expect,
    class_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(expect, class_out, |x| x.class) }
}

/// Gets the flags (the kernel's NF_CT_EXPECT_*).
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_flags(
    expect: *const ct_expect,
    flags_out: *mut u32,
) -> ct_status {
    ffi_fn! { get!(expect, flags_out, |x| x.flags) }
}

/// Gets the kernel's id of the expectation.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_id(expect: *const ct_expect, id_out: *mut u32) -> ct_status {
    ffi_fn! { get!(expect, id_out, |x| x.id) }
}

/// Writes the helper name into `buf` (`len` bytes with the NUL; 16 always suffices).
#[no_mangle]
pub unsafe extern "C" fn ct_expect_get_helper(
    expect: *const ct_expect,
    buf: *mut c_char,
    len: usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(buf if len > 0);
        match &arg_ref!(expect).helper {
            Some(h) => copy_text(h, buf, len),
            None => ct_status::CT_ERR_NOT_SET,
        }
    }
}

/// Streams every expectation of the handle's namespace to `cb`.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_dump(
    h: *mut ct_handle,
    cb: ct_expect_cb,
    user_data: *mut c_void,
) -> ct_status {
    ffi_fn! {
        let cb = arg_cb!(cb);
        ok!(with_handle(h, |core| {
            core.dump_expectations(|x| {
                // SAFETY: the expectation lives until the callback returns, as documented.
                if cb(x as *const Expectation as *const ct_expect, user_data) == 0 {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            })
        }));
        ct_status::CT_OK
    }
}

/// Creates `expect`: it needs the master, expected and mask tuples; the master connection
/// must exist with a helper attached (CT_ERR_NOT_FOUND otherwise). CT_ERR_EXISTS when it is
/// already expected.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_create(
    h: *mut ct_handle,
    expect: *const ct_expect,
) -> ct_status {
    ffi_fn! {
        let x = arg_ref!(expect);
        run(h, |core| core.create_expectation(x))
    }
}

/// Deletes the expectation with `expect`'s expected tuple and zone (and id, when it holds
/// one, as an expectation from `ct_expect_dump` does). CT_ERR_NOT_FOUND when there is none.
/// The id is checked on every kernel, including those whose own id lookup fails (5.10
/// before its stable fix): there the library reads the expectation by tuple, compares the
/// id and deletes by tuple.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_delete(
    h: *mut ct_handle,
    expect: *const ct_expect,
) -> ct_status {
    ffi_fn! {
        let x = arg_ref!(expect);
        run(h, |core| core.delete_expectation(x))
    }
}

/// Empties the expectation table of the handle's namespace.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_flush(h: *mut ct_handle) -> ct_status {
    ffi_fn! {
        run(h, |core| core.flush_expectations())
    }
}

/// A subscription to the expectation table's events (`conntrack -E expect`).
pub struct ct_expect_events {
    _private: [u8; 0],
}

impl Castable for ct_expect_events {
    type Rust = ExpectEventsBox;
}

/// The Rust side of a ct_expect_events: the listener, and the detail of its last error.
pub(crate) struct ExpectEventsBox {
    l: crate::expect_events::ExpectListener,
    last_error: super::LastError,
}

/// Called for each expectation event: `event_type` is one CT_EVENT_* value; `expect` is
/// valid until the callback returns (copy it with ct_expect_clone). Return 0 to go on.
pub type ct_expect_event_cb = Option<
    unsafe extern "C" fn(event_type: u32, expect: *const ct_expect, user_data: *mut c_void) -> i32,
>;

/// Subscribes to the expectation events `types` (an OR of CT_EVENT_NEW, CT_EVENT_UPDATE and
/// CT_EVENT_DESTROY) of the network namespace `netns` (a name under /run/netns or a path such
/// as /proc/PID/ns/net; NULL: the caller's; the calling thread never changes namespace). On
/// CT_OK, `*events_out` is owned by the caller; close it with ct_expect_events_close.
/// With net.netfilter.nf_conntrack_events=2 (the default of newer kernels) the kernel gives
/// an entry its event extension only when a listener exists as it is made, so expectations
/// of a master made before any listener report no events; set it to 1 to hear them all.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_events_open(
    netns: *const c_char,
    types: u32,
    events_out: *mut *mut ct_expect_events,
) -> ct_status {
    ffi_fn! {
        arg_out!(events_out);
        let l = if netns.is_null() {
            ok!(crate::expect_events::ExpectListener::open(types))
        } else {
            let name = arg_str!(netns);
            ok!(crate::expect_events::ExpectListener::open_netns(name, types))
        };
        let b = ExpectEventsBox {
            l,
            last_error: super::LastError::default(),
        };
        give::<ct_expect_events>(events_out, "events_out", b)
    }
}

/// Waits up to `timeout_ms` milliseconds (0: do not wait; -1: wait forever) for expectation
/// events, then passes those queued to `cb`; a non-zero return stops the call after the
/// datagram being delivered. `*delivered_out` (may be NULL) receives how many were passed:
/// 0 on timeout or when a signal interrupted the wait. CT_ERR_OVERRUN when the kernel dropped
/// events; list the table to resynchronise.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_events_receive(
    events: *mut ct_expect_events,
    timeout_ms: i32,
    cb: ct_expect_event_cb,
    user_data: *mut c_void,
    delivered_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let b = arg_mut!(events);
        let cb = arg_cb!(cb);
        let mut n = 0usize;
        let r = b.l.receive(timeout_ms, |kind, x| {
            n += 1;
            // SAFETY: the expectation lives until the callback returns, as documented.
            if cb(kind, x as *const Expectation as *const ct_expect, user_data) == 0 {
                std::ops::ControlFlow::Continue(())
            } else {
                std::ops::ControlFlow::Break(())
            }
        });
        super::write_opt(delivered_out, n);
        b.last_error.status(r.map(|_| ()))
    }
}

/// The detail of the expectation listener's last failed call, or "" when none failed, as
/// ct_events_last_error for an entry listener. Returns NULL only for NULL. The string
/// belongs to the listener and lives until its next failure or ct_expect_events_close.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_events_last_error(
    events: *const ct_expect_events,
) -> *const c_char {
    ffi_fn! { super::cast_ref(events).map_or(std::ptr::null(), |b| b.last_error.message()) }
}

/// The errno of the expectation listener's last failed call (0 when none had one, or for
/// NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_expect_events_last_errno(events: *const ct_expect_events) -> i32 {
    ffi_fn! { super::cast_ref(events).map_or(0, |b| b.last_error.errno()) }
}

/// The listener's file descriptor, for the caller's poll/epoll loop; -1 for NULL.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_events_fd(events: *const ct_expect_events) -> i32 {
    ffi_fn! { super::cast_ref(events).map_or(-1, |b| b.l.fd()) }
}

/// Closes `events` and frees it. Passing NULL does nothing; closing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_events_close(events: *mut ct_expect_events) {
    ffi_fn! { free_c(events) }
}
