//! The operations on the table: dump, list, get, create, update, delete, flush.

use std::ffi::c_void;
use std::ops::ControlFlow;

use super::entry::ct_entry;
use super::filter::ct_filter;
use super::handle::{ct_handle, run, with_handle};
use super::list::ct_entry_list;
use super::status::ct_status;
use super::{cast_ref, give, write_opt};
use crate::Entry;

/// Called for each entry of a dump. `entry` is valid until the callback returns (keep a
/// copy with ct_entry_clone); `user_data` is what the caller passed to ct_dump. Return 0
/// to go on, anything else to stop the dump.
pub type ct_dump_cb =
    Option<unsafe extern "C" fn(entry: *const ct_entry, user_data: *mut c_void) -> i32>;

/// The dump callback that hands each entry to the C callback `cb`: the dump goes on while
/// `cb` answers 0 and has not closed the handle `h` (then the rest is of no use).
pub(crate) fn each_to_c(
    h: *mut ct_handle,
    cb: unsafe extern "C" fn(entry: *const ct_entry, user_data: *mut c_void) -> i32,
    user_data: *mut c_void,
) -> impl FnMut(&Entry) -> ControlFlow<()> {
    move |e| {
        // SAFETY: the entry lives until the callback returns, as documented; `h` is the
        // handle the dump runs on, alive until the call that runs it returns.
        let rc = unsafe { cb(e as *const Entry as *const ct_entry, user_data) };
        if rc == 0 && !unsafe { cast_ref(h) }.is_some_and(|b| b.state.free_pending()) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }
}

/// Streams every entry matching `filter` (NULL: every entry) to `cb`, without keeping the
/// table in memory. Filters the kernel cannot apply are applied by the library, with the
/// same result on every kernel. Returns CT_OK when the dump ended or the callback stopped
/// it; CT_ERR_DUMP_INTERRUPTED if the kernel flagged the dump as inconsistent (entries
/// already delivered stand; run it again for a complete view).
#[no_mangle]
pub unsafe extern "C" fn ct_dump(
    h: *mut ct_handle,
    filter: *const ct_filter,
    cb: ct_dump_cb,
    user_data: *mut c_void,
) -> ct_status {
    ffi_fn! {
        let cb = arg_cb!(cb);
        let f = cast_ref(filter);
        ok!(with_handle(h, |core| core.dump_entries(f, each_to_c(h, cb, user_data))));
        ct_status::CT_OK
    }
}

/// Collects every entry matching `filter` (NULL: every entry). On CT_OK, `*list_out` is a
/// new list owned by the caller; free it with ct_entry_list_free. On error it is unchanged.
/// A dump is not a snapshot: when entries die or the table resizes while it runs, the kernel
/// can send an entry twice, and ct_list drops such repeats (same id, tuple and zone); an
/// entry created or moved during the dump can still be missed, by any dump (ct_dump passes
/// repeats on as they come).
#[no_mangle]
pub unsafe extern "C" fn ct_list(
    h: *mut ct_handle,
    filter: *const ct_filter,
    list_out: *mut *mut ct_entry_list,
) -> ct_status {
    ffi_fn! {
        arg_out!(list_out);
        let f = cast_ref(filter);
        let v = ok!(with_handle(h, |core| core.list(f)));
        give::<ct_entry_list>(list_out, "list_out", v)
    }
}

/// Reads the entry whose original tuple (or, when `key` has only a reply tuple, reply
/// tuple) and zone (0 when unset) are those of `key`. CT_ERR_NOT_FOUND when there is none.
/// On CT_OK, `*entry_out` is a new entry owned by the caller; free it with ct_entry_free.
#[no_mangle]
pub unsafe extern "C" fn ct_get(
    h: *mut ct_handle,
    key: *const ct_entry,
    entry_out: *mut *mut ct_entry,
) -> ct_status {
    ffi_fn! {
        let k = arg_ref!(key);
        arg_out!(entry_out);
        let e = ok!(with_handle(h, |core| core.get(k)));
        give::<ct_entry>(entry_out, "entry_out", e)
    }
}

/// Creates `entry`. It needs the original tuple (addresses, protocol, ports or ICMP type,
/// code and id) and a timeout; the reply tuple defaults to the inverse of the original.
/// CT_ERR_EXISTS when the tuple is taken in that zone; CT_ERR_TABLE_FULL when the kernel
/// has no room for it (nf_conntrack_max reached).
#[no_mangle]
pub unsafe extern "C" fn ct_create(h: *mut ct_handle, entry: *const ct_entry) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        run(h, |core| core.create(e))
    }
}

/// Updates the entry with `entry`'s tuple and zone: the timeout, mark, status, labels and
/// protocol state that `entry` holds. CT_ERR_NOT_FOUND when there is no such entry.
#[no_mangle]
pub unsafe extern "C" fn ct_update(h: *mut ct_handle, entry: *const ct_entry) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        run(h, |core| core.update(e))
    }
}

/// Deletes the entry with `entry`'s tuple and zone (0 when unset); when `entry` holds an
/// id, only an entry with that id. CT_ERR_NOT_FOUND when there is none.
#[no_mangle]
pub unsafe extern "C" fn ct_delete(h: *mut ct_handle, entry: *const ct_entry) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        run(h, |core| core.delete(e))
    }
}

/// Deletes the entry whose kernel id is `id` (it is looked up by a dump first).
/// CT_ERR_NOT_FOUND when there is none.
#[no_mangle]
pub unsafe extern "C" fn ct_delete_by_id(h: *mut ct_handle, id: u32) -> ct_status {
    ffi_fn! {
        run(h, |core| core.delete_by_id(id))
    }
}

/// Deletes every entry matching `filter` (which must not be NULL: use ct_flush for all).
/// On CT_OK, `*deleted_out` (may be NULL) holds how many entries this call deleted.
#[no_mangle]
pub unsafe extern "C" fn ct_delete_matching(
    h: *mut ct_handle,
    filter: *const ct_filter,
    deleted_out: *mut u64,
) -> ct_status {
    ffi_fn! {
        let f = arg_ref!(filter);
        let n = ok!(with_handle(h, |core| core.delete_matching(f)));
        write_opt(deleted_out, n);
        ct_status::CT_OK
    }
}

/// Empties the whole table of the handle's namespace (IPv4 and IPv6, every zone).
#[no_mangle]
pub unsafe extern "C" fn ct_flush(h: *mut ct_handle) -> ct_status {
    ffi_fn! {
        run(h, |core| core.flush())
    }
}

/// Flushes every entry matching `filter` (not NULL), by the fastest means that removes
/// exactly the matching entries on the running kernel: one filtered flush request where the
/// kernel supports it for every field of the filter (6.12 and later; not for address prefixes
/// or ports without a protocol), otherwise a dump of what matches and batched deletes. It never
/// sends a request whose meaning differs on an older kernel. On CT_OK, `*flushed_out` (may be
/// NULL) holds how many entries went, or CT_COUNT_UNKNOWN when the kernel flushed them itself
/// (use ct_delete_matching when the count matters).
#[no_mangle]
pub unsafe extern "C" fn ct_flush_matching(
    h: *mut ct_handle,
    filter: *const ct_filter,
    flushed_out: *mut u64,
) -> ct_status {
    ffi_fn! {
        let f = arg_ref!(filter);
        let n = ok!(with_handle(h, |core| core.flush_matching(f)));
        write_opt(flushed_out, n.unwrap_or(CT_COUNT_UNKNOWN));
        ct_status::CT_OK
    }
}

/// The count ct_flush_matching reports when the kernel removed the entries itself and did
/// not say how many.
pub const CT_COUNT_UNKNOWN: u64 = u64::MAX;
