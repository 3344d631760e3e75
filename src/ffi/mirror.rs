//! ct_mirror: a live copy of one namespace's conntrack table that repairs itself.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void};
use std::time::Duration;

use super::entry::ct_entry;
use super::filter::ct_filter;
use super::status::ct_status;
use super::{cast_ref, fail, give, null_arg, write_opt, Castable, Guard, LastError};
use crate::error::{Error, Kind};
use crate::mirror::{Change, ChangeKind, Mirror};
use crate::Entry;

/// The content of one network namespace's conntrack table (or of the entries a filter
/// matches), held in memory: loaded by a dump, kept current from events, and repaired by a
/// new dump after the kernel dropped events. Events must exist for every entry: where
/// net.netfilter.nf_conntrack_events is 2, entries made before the first listener report
/// none (set it to 1, or call ct_mirror_request_repair on a schedule). The caller drives it: ct_mirror_step from its
/// own loop (ct_mirror_fd for poll/epoll), each change reaching its callback. Used by one
/// thread at a time; from inside its callback, only ct_mirror_close may be called on it.
pub struct ct_mirror {
    _private: [u8; 0],
}

/// The Rust side of a ct_mirror: the mirror, the state word that lets a close from the
/// mirror's own callback wait until the step returns, and the detail of its last error
/// (readable from any thread, so a caller that changed threads still finds it).
pub(crate) struct MirrorBox {
    state: Guard,
    mirror: UnsafeCell<Mirror>,
    last_error: LastError,
}

impl MirrorBox {
    /// Records `e` for the thread and the mirror; returns its status.
    fn fail(&self, e: &Error) -> ct_status {
        self.last_error.record(e);
        fail(e)
    }
}

impl Castable for ct_mirror {
    type Rust = MirrorBox;
}

/// Change kind: an entry appeared in the mirror.
pub const CT_MIRROR_NEW: u32 = 1;
/// Change kind: an entry of the mirror changed.
pub const CT_MIRROR_UPDATE: u32 = 2;
/// Change kind: an entry left the mirror.
pub const CT_MIRROR_DESTROY: u32 = 4;
/// Flag OR-ed into a change found by a repair (the first load included) rather than
/// reported by an event.
pub const CT_MIRROR_REPAIR: u32 = 0x100;

/// Called for each change of the mirror: `change` is one CT_MIRROR_NEW, _UPDATE or _DESTROY,
/// with CT_MIRROR_REPAIR when a repair found it; `entry` is the entry as the mirror now holds
/// it (for a destroy: as it held it last), valid until the callback returns. An update is
/// reported when a field the mirror compares changed (id, mark, status, reply tuple, protocol
/// state, labels, helper); the others (timeout, counters, reference count) are refreshed
/// silently. Return 0 to go on, anything else to end the step early (a repair still
/// completes first, its changes delivered).
pub type ct_mirror_cb = Option<
    unsafe extern "C" fn(change: u32, entry: *const ct_entry, user_data: *mut c_void) -> i32,
>;

/// A mirror's counters, as ct_mirror_stats reads them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ct_mirror_counters {
    /// Events received and applied.
    pub events: u64,
    /// Times the kernel reported dropped events.
    pub overruns: u64,
    /// Repairs run (dumps compared with the mirror), the first load included.
    pub repairs: u64,
    /// Changes the repairs found.
    pub repaired_entries: u64,
    /// Milliseconds the mirror was known to be stale, summed (so far, when it still is).
    pub stale_ms: u64,
    /// Milliseconds the last repair took, from its dump's request to its end.
    pub last_repair_ms: u64,
    /// 1 while the mirror is known to be stale (events lost since the last clean repair).
    pub stale: u32,
    /// Zero.
    pub reserved: u32,
}

/// Opens a mirror of the network namespace `netns` (a name under /run/netns or a path such
/// as /proc/PID/ns/net; NULL: the caller's), of the entries `filter` matches (NULL: all;
/// copied). It subscribes to events at once and is loaded by the first ct_mirror_step. On
/// CT_OK, `*mirror_out` is a new mirror owned by the caller; close it with ct_mirror_close.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_open(
    netns: *const c_char,
    filter: *const ct_filter,
    mirror_out: *mut *mut ct_mirror,
) -> ct_status {
    ffi_fn! {
        arg_out!(mirror_out);
        let filter = cast_ref(filter).cloned();
        let m = if netns.is_null() {
            ok!(Mirror::open(filter))
        } else {
            let name = arg_str!(netns);
            ok!(Mirror::open_netns(name, filter))
        };
        let b = MirrorBox {
            state: Guard::new(),
            mirror: UnsafeCell::new(m),
            last_error: LastError::default(),
        };
        give::<ct_mirror>(mirror_out, "mirror_out", b)
    }
}

/// Closes `mirror` and frees it. Passing NULL does nothing; closing twice is undefined.
/// Called from the mirror's own callback, it takes effect when ct_mirror_step returns, and
/// no further change reaches the callback.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_close(mirror: *mut ct_mirror) {
    ffi_fn! {
        if let Some(b) = cast_ref(mirror as *const ct_mirror) {
            if b.state.take_for_free() {
                super::free_c(mirror);
            }
        }
    }
}

/// Runs `f` on the mirror when no other call holds it (CT_ERR_BUSY otherwise), recording
/// its failure for the thread and the mirror before letting the mirror go (a close from the
/// callback frees it then).
unsafe fn with_mirror<T>(
    mirror: *mut ct_mirror,
    f: impl FnOnce(&mut Mirror, &Guard) -> crate::Result<T>,
) -> Result<T, ct_status> {
    let Some(b) = cast_ref(mirror as *const ct_mirror) else {
        return Err(null_arg("mirror"));
    };
    if !b.state.take() {
        b.fail(&Error::new(
            Kind::Internal,
            "the mirror is in use (from inside its callback, only ct_mirror_close may be called)",
        ));
        return Err(ct_status::CT_ERR_BUSY);
    }
    // SAFETY: holding the state makes this the only reference to the mirror.
    let r = f(&mut *b.mirror.get(), &b.state).map_err(|e| b.fail(&e));
    if b.state.give_back() {
        // Closed from the callback meanwhile.
        super::free_c(mirror);
    }
    r
}

/// CT_OK, or the status of a failure [`with_mirror`] recorded.
fn done(r: Result<(), ct_status>) -> ct_status {
    r.map_or_else(|s| s, |()| ct_status::CT_OK)
}

/// Runs what is due: the first load or a repair, then the events that arrive within
/// `timeout_ms` milliseconds (0: only those already queued; -1: wait until some arrive or a
/// repair is due). Each change goes to `cb` (see ct_mirror_cb); `*changes_out` (may be NULL)
/// receives how many were delivered. Call it when ct_mirror_fd is readable and at the latest
/// after ct_mirror_next_timeout milliseconds. An overrun is not an error: the mirror counts
/// it, knows itself stale, and repairs itself in a later step. A repair's dump runs on a
/// short-lived thread of the library's while this call applies its rows and the events; the
/// callback is always called on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_step(
    mirror: *mut ct_mirror,
    timeout_ms: i32,
    cb: ct_mirror_cb,
    user_data: *mut c_void,
    changes_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let cb = arg_cb!(cb);
        let r = with_mirror(mirror, |m, state| {
            m.step_while(timeout_ms, |c: Change, e: &Entry| {
                if state.free_pending() {
                    // Closed from an earlier callback: the caller hears nothing more.
                    return false;
                }
                let kind = match c.kind {
                    ChangeKind::New => CT_MIRROR_NEW,
                    ChangeKind::Update => CT_MIRROR_UPDATE,
                    ChangeKind::Destroy => CT_MIRROR_DESTROY,
                } | if c.repair { CT_MIRROR_REPAIR } else { 0 };
                // SAFETY: the entry lives until the callback returns, as documented.
                cb(kind, e as *const Entry as *const ct_entry, user_data) == 0
            })
        });
        done(r.map(|n| write_opt(changes_out, n)))
    }
}

/// The descriptor to poll for the mirror's events (readable: call ct_mirror_step). -1 for
/// NULL. It belongs to the mirror: do not close it or read from it.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_fd(mirror: *const ct_mirror) -> i32 {
    ffi_fn! {
        // SAFETY: reading the descriptor number only.
        cast_ref(mirror).map_or(-1, |b| (*b.mirror.get()).fd())
    }
}

/// Milliseconds until a repair is due (0: now), or -1 when none waits: the longest a caller
/// may wait on ct_mirror_fd before calling ct_mirror_step. -1 for NULL.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_next_timeout(mirror: *mut ct_mirror) -> i32 {
    ffi_fn! {
        let ms = with_mirror(mirror, |m, _| Ok(m.next_timeout_ms())).unwrap_or(-1);
        i32::try_from(ms).unwrap_or(i32::MAX)
    }
}

/// Sets the event socket's receive buffer to about `bytes` (256 MiB by default, four times a listener's: a mirror does more per event). A smaller
/// buffer loses events under bursts, which the mirror then repairs.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_set_receive_buffer(
    mirror: *mut ct_mirror,
    bytes: usize,
) -> ct_status {
    ffi_fn! {
        done(with_mirror(mirror, |m, _| m.set_receive_buffer(bytes).map(|_| ())))
    }
}

/// Sets the delay before a repair after an overrun: `min_ms` at first, doubling with each
/// overrun up to `max_ms`, and `min_ms` again after a repair that saw no loss (defaults: 10
/// and 2000).
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_set_backoff(
    mirror: *mut ct_mirror,
    min_ms: u32,
    max_ms: u32,
) -> ct_status {
    ffi_fn! {
        done(with_mirror(mirror, |m, _| {
            m.set_backoff(
                Duration::from_millis(u64::from(min_ms)),
                Duration::from_millis(u64::from(max_ms)),
            );
            Ok(())
        }))
    }
}

/// Asks for a repair (a dump compared with the mirror) at the next ct_mirror_step: for
/// callers that refresh on a schedule, for example where net.netfilter.nf_conntrack_events is
/// 2 and entries made before the first listener report no events at all.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_request_repair(mirror: *mut ct_mirror) -> ct_status {
    ffi_fn! {
        done(with_mirror(mirror, |m, _| {
            m.request_repair();
            Ok(())
        }))
    }
}

/// How many entries the mirror holds (0 for NULL or while a call holds it).
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_count(mirror: *mut ct_mirror) -> usize {
    ffi_fn! { with_mirror(mirror, |m, _| Ok(m.len())).unwrap_or(0) }
}

/// Looks up the entry with `key`'s original tuple and zone (unset: zone 0). On CT_OK,
/// `*entry_out` is the mirror's entry, valid until the next ct_mirror_step or
/// ct_mirror_close (copy it with ct_entry_clone to keep it). CT_ERR_NOT_FOUND when the
/// mirror has none.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_get(
    mirror: *mut ct_mirror,
    key: *const ct_entry,
    entry_out: *mut *const ct_entry,
) -> ct_status {
    ffi_fn! {
        let key = arg_ref!(key);
        arg_out!(entry_out);
        lookup(mirror, entry_out, |m| m.get(key).map(|e| e as *const Entry))
    }
}

/// Looks up the entry with the kernel id `id` (the newest where two share it: the kernel's ids
/// are 32-bit hashes, so two live entries can);
/// otherwise as ct_mirror_get.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_get_by_id(
    mirror: *mut ct_mirror,
    id: u32,
    entry_out: *mut *const ct_entry,
) -> ct_status {
    ffi_fn! {
        arg_out!(entry_out);
        lookup(mirror, entry_out, |m| m.get_by_id(id).map(|e| e as *const Entry))
    }
}

unsafe fn lookup(
    mirror: *mut ct_mirror,
    entry_out: *mut *const ct_entry,
    f: impl FnOnce(&Mirror) -> Option<*const Entry>,
) -> ct_status {
    let r = with_mirror(mirror, |m, _| {
        f(m).ok_or_else(|| Error::new(Kind::NotFound, "the mirror holds no such entry"))
    });
    done(r.map(|e| entry_out.write(e as *const ct_entry)))
}

/// Passes every entry of the mirror to `cb` (as a dump callback: return 0 to go on), in no
/// particular order. Each entry is valid until the callback returns.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_each(
    mirror: *mut ct_mirror,
    cb: super::ops::ct_dump_cb,
    user_data: *mut c_void,
) -> ct_status {
    ffi_fn! {
        let cb = arg_cb!(cb);
        done(with_mirror(mirror, |m, state| {
            for e in m.iter() {
                if state.free_pending() || cb(e as *const Entry as *const ct_entry, user_data) != 0 {
                    break;
                }
            }
            Ok(())
        }))
    }
}

/// Copies the mirror's counters into `*stats_out`.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_stats(
    mirror: *mut ct_mirror,
    stats_out: *mut ct_mirror_counters,
) -> ct_status {
    ffi_fn! {
        arg_out!(stats_out);
        match with_mirror(mirror, |m, _| Ok(m.stats())) {
            Ok(s) => {
                stats_out.write(ct_mirror_counters {
                    events: s.events,
                    overruns: s.overruns,
                    repairs: s.repairs,
                    repaired_entries: s.repaired_entries,
                    stale_ms: s.stale_ms,
                    last_repair_ms: s.last_repair_ms,
                    stale: u32::from(s.stale),
                    reserved: 0,
                });
                ct_status::CT_OK
            }
            Err(s) => s,
        }
    }
}

/// The detail of the last error of a call on `mirror` (the same text as
/// ct_last_error_message gave on the thread that made the call), or "" when none failed,
/// as ct_handle_last_error for a handle. Returns NULL only for NULL. The string belongs to
/// `mirror` and stays valid until its next failed call.
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_last_error(mirror: *const ct_mirror) -> *const c_char {
    ffi_fn! { cast_ref(mirror).map_or(std::ptr::null(), |b| b.last_error.message()) }
}

/// The errno of the last failed call on `mirror` (0 when none, or for NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_mirror_last_errno(mirror: *const ct_mirror) -> i32 {
    ffi_fn! { cast_ref(mirror).map_or(0, |b| b.last_error.errno()) }
}
