//! ct_events: a subscription to the conntrack table's events.

use std::ffi::{c_char, c_void};

use super::entry::ct_entry;
use super::filter::ct_filter;
use super::status::ct_status;
use super::{cast_ref, free_c, give, write_opt, Castable, LastError};
use crate::events::Listener;
use crate::Entry;

/// A subscription to conntrack events in one network namespace. Used by one thread at a
/// time; separate listeners are independent.
///
/// Loss: the kernel queues events in the socket's receive buffer (64 MiB by default, set with
/// ct_events_set_receive_buffer) and drops them when it is full. The next ct_events_receive
/// then returns CT_ERR_OVERRUN and ct_events_overruns counts it; the listener keeps working.
/// The report comes ahead of the events still queued from before the loss: drain them, then
/// dump the table to resynchronise. With ct_events_set_reliable the kernel instead keeps destroy
/// events it could not deliver and retries them (new and update events are still dropped,
/// silently), and no overrun is reported.
///
/// net.netfilter.nf_conntrack_events = 2 (the default of a new namespace on some kernels
/// between 5.19 and 6.10) means the kernel records events only while a listener exists:
/// entries created before the first listener subscribed never report events, not even their
/// destroy. Dump after subscribing to learn about them. Kernels without that mode (5.10, for
/// example) refuse 2 (EINVAL) and keep 1: every entry reports its events there, so a listener
/// also hears the destroy of an entry created before it subscribed.
pub struct ct_events {
    _private: [u8; 0],
}

impl Castable for ct_events {
    type Rust = EventsBox;
}

/// The Rust side of a ct_events: the listener, and the detail of its last error.
pub(crate) struct EventsBox {
    l: Listener,
    last_error: LastError,
}

fn boxed(l: Listener) -> EventsBox {
    EventsBox {
        l,
        last_error: LastError::default(),
    }
}

/// Event type: a new entry.
pub const CT_EVENT_NEW: u32 = 1;
/// Event type: an entry changed (state, mark, timeout refresh by the tool, ...).
pub const CT_EVENT_UPDATE: u32 = 2;
/// Event type: an entry was destroyed.
pub const CT_EVENT_DESTROY: u32 = 4;
/// Every event type.
pub const CT_EVENT_ALL: u32 = 7;

/// Called for each event: `type` is one CT_EVENT_* value; `entry` is valid until the
/// callback returns (keep a copy with ct_entry_clone); `user_data` is what the caller passed.
/// Return 0 to go on, anything else to stop this receive call.
pub type ct_event_cb = Option<
    unsafe extern "C" fn(event_type: u32, entry: *const ct_entry, user_data: *mut c_void) -> i32,
>;

/// Subscribes, in the caller's network namespace, to the event types in `types` (an OR of
/// CT_EVENT_*). On CT_OK, `*events_out` is a new listener owned by the caller; close it with
/// ct_events_close.
#[no_mangle]
pub unsafe extern "C" fn ct_events_open(types: u32, events_out: *mut *mut ct_events) -> ct_status {
    ffi_fn! {
        arg_out!(events_out);
        let l = ok!(Listener::open(types));
        give::<ct_events>(events_out, "events_out", boxed(l))
    }
}

/// Subscribes inside the network namespace `netns` (a name under /run/netns or a path such as
/// /proc/PID/ns/net); the calling thread never changes namespace. Otherwise as ct_events_open.
#[no_mangle]
pub unsafe extern "C" fn ct_events_open_netns(
    netns: *const c_char,
    types: u32,
    events_out: *mut *mut ct_events,
) -> ct_status {
    ffi_fn! {
        let name = arg_str!(netns);
        arg_out!(events_out);
        let l = ok!(Listener::open_netns(name, types));
        give::<ct_events>(events_out, "events_out", boxed(l))
    }
}

/// Closes `events` and frees it. Passing NULL does nothing; closing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_events_close(events: *mut ct_events) {
    ffi_fn! { free_c(events) }
}

/// The listener's file descriptor, for the caller's poll/epoll loop (readable means events
/// are queued; call ct_events_receive with timeout 0). -1 for NULL. The descriptor belongs to
/// the listener: do not close it or read from it.
#[no_mangle]
pub unsafe extern "C" fn ct_events_fd(events: *const ct_events) -> i32 {
    ffi_fn! { cast_ref(events).map_or(-1, |b| b.l.fd()) }
}

/// Delivers only events whose entry matches `filter` (copied; NULL delivers all). The
/// kernel drops, through a socket filter, the events whose family, zone, mark or protocol
/// cannot match, so they take no buffer space; the library checks every field of every event
/// that gets through (ct_filter_set_kernel_filtering(f, false) leaves it all to the library).
#[no_mangle]
pub unsafe extern "C" fn ct_events_set_filter(
    events: *mut ct_events,
    filter: *const ct_filter,
) -> ct_status {
    ffi_fn! {
        let b = arg_mut!(events);
        b.last_error.status(b.l.set_filter(cast_ref(filter).cloned()))
    }
}

/// Sets the receive buffer to about `bytes` (the kernel doubles it; without CAP_NET_ADMIN,
/// net.core.rmem_max caps it). The default, 64 MiB, holds a burst of about 100,000 events.
#[no_mangle]
pub unsafe extern "C" fn ct_events_set_receive_buffer(
    events: *mut ct_events,
    bytes: usize,
) -> ct_status {
    ffi_fn! {
        let b = arg_mut!(events);
        b.last_error.status(b.l.set_receive_buffer(bytes).map(|_| ()))
    }
}

/// Reliable mode on (`on` true) or off (the default): see ct_events for what it changes.
/// CT_ERR_UNSUPPORTED when the kernel lacks the socket options.
#[no_mangle]
pub unsafe extern "C" fn ct_events_set_reliable(events: *mut ct_events, on: bool) -> ct_status {
    ffi_fn! {
        let b = arg_mut!(events);
        b.last_error.status(b.l.set_reliable(on))
    }
}

/// Waits up to `timeout_ms` milliseconds (0: do not wait; -1: wait forever) for events, then
/// passes every event already queued to `cb`, until none is left, a bounded number was read
/// (so a busy stream still returns), or `cb` returns non-zero (the events after it stay queued
/// for the next call). `*delivered_out` (may be NULL) receives how many events were passed to
/// `cb`: 0 on timeout, when a signal interrupted the wait, or when every event that arrived was
/// filtered out. CT_ERR_OVERRUN when the kernel dropped events: the kernel reports the loss
/// ahead of the events still queued from before it, so the next calls can deliver events older
/// than the gap before newer ones; after draining them, dump the table to resynchronise.
#[no_mangle]
pub unsafe extern "C" fn ct_events_receive(
    events: *mut ct_events,
    timeout_ms: i32,
    cb: ct_event_cb,
    user_data: *mut c_void,
    delivered_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let b = arg_mut!(events);
        let cb = arg_cb!(cb);
        let mut n = 0usize;
        let r = b.l.receive_sender_while(timeout_ms, |kind, e, sender| {
            n += 1;
            EVENT_SENDER.with(|s| s.set(sender));
            // SAFETY: the entry lives until the callback returns, as documented.
            let go_on = cb(kind, e as *const Entry as *const ct_entry, user_data) == 0;
            EVENT_SENDER.with(|s| s.set(0));
            go_on
        });
        write_opt(delivered_out, n);
        b.last_error.status(r.map(|_| ()))
    }
}

thread_local! {
    /// The sender of the event a ct_events_receive callback on this thread is handling.
    static EVENT_SENDER: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Inside a ct_events_receive callback, on the thread running it: the netlink port id of the
/// socket whose request caused the event being delivered (a process's create, update or
/// delete; `conntrack -E` prints it as `"[USERSPACE] portid=N"`), 0 when the kernel itself
/// caused it (a packet, a timeout). 0 outside a callback.
#[no_mangle]
pub extern "C" fn ct_events_sender() -> u32 {
    ffi_fn! { EVENT_SENDER.with(|s| s.get()) }
}

/// How many overruns (each: one or more events dropped by the kernel) the listener has
/// reported since it was opened. 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn ct_events_overruns(events: *const ct_events) -> u64 {
    ffi_fn! { cast_ref(events).map_or(0, |b| b.l.overruns) }
}

/// The detail of the last error of a call on `events` (the same text as
/// ct_last_error_message gave on the thread that made the call), or "" when none failed,
/// as ct_handle_last_error for a handle. Returns NULL only for NULL. The string belongs to
/// `events` and stays valid until its next failed call.
#[no_mangle]
pub unsafe extern "C" fn ct_events_last_error(events: *const ct_events) -> *const c_char {
    ffi_fn! { cast_ref(events).map_or(std::ptr::null(), |b| b.last_error.message()) }
}

/// The errno of the last failed call on `events` (0 when none, or for NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_events_last_errno(events: *const ct_events) -> i32 {
    ffi_fn! { cast_ref(events).map_or(0, |b| b.last_error.errno()) }
}
