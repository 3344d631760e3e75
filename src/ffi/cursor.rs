//! ct_cursor: a dump read one entry at a time.

use std::cell::UnsafeCell;
use std::ffi::c_char;

use super::entry::ct_entry;
use super::filter::ct_filter;
use super::handle::{acquire, ct_handle, release, HandleBox, Held};
use super::status::ct_status;
use super::{cast_ref, fail, free_c, give, set_last_error, Castable, Guard, LastError};
use crate::cursor::Cursor;
use crate::error::{Error, Kind};
use crate::Entry;

/// A dump in progress, read one entry at a time with ct_cursor_next. It holds its handle:
/// until the dump ends (ct_cursor_next gives NULL or an error) or the cursor is freed, other
/// calls on the handle answer CT_ERR_BUSY. A cursor is used by one thread at a time (a
/// second thread's ct_cursor_next gets CT_ERR_BUSY).
pub struct ct_cursor {
    _private: [u8; 0],
}

/// The Rust side of a ct_cursor.
pub(crate) struct CursorBox {
    /// The handle; held (acquired) while the cursor is Some.
    handle: *mut ct_handle,
    /// Held by a running ct_cursor_next (a second thread gets CT_ERR_BUSY); a ct_cursor_free
    /// meanwhile waits for it.
    state: Guard,
    /// The dump; None once it ended and the handle was let go. Used only by whoever moved
    /// `state` from IDLE to BUSY.
    cursor: UnsafeCell<Option<Cursor>>,
    /// The detail of the cursor's last failed call (ct_cursor_last_error).
    pub(crate) last_error: LastError,
}

impl Castable for ct_cursor {
    type Rust = CursorBox;
}

/// Ends the cursor's dump, lets its handle go and frees it.
///
/// # Safety
/// The caller holds the cursor's state (took it, or gave it back to find a free pending);
/// nothing uses `cursor` after this.
unsafe fn free_now(cursor: *mut ct_cursor) {
    let c = &*(cursor as *const CursorBox);
    finish(c.handle, &mut *c.cursor.get(), Ok(()));
    free_c(cursor);
}

/// Ends the dump of `cursor` if it still runs (reading and dropping what is left) and gives
/// `handle` back, recording `r`'s error on it.
///
/// # Safety
/// `cursor` belongs to `handle`, which it holds while it is Some.
unsafe fn finish(
    handle: *mut ct_handle,
    cursor: &mut Option<Cursor>,
    r: crate::Result<()>,
) -> ct_status {
    let Some(c) = cursor.take() else {
        return r.map_or_else(|e| fail(&e), |()| ct_status::CT_OK);
    };
    // SAFETY: held since ct_cursor_open, so the only reference to the core handle.
    let core = &mut *(*(handle as *const HandleBox)).core_ptr();
    core.cursor_close(c);
    release(handle, r).map_or_else(|s| s, |()| ct_status::CT_OK)
}

/// Starts a dump of every entry matching `filter` (NULL: every entry), to be read with
/// ct_cursor_next: memory stays that of one datagram's entries whatever the table's size,
/// and the caller reads at its own pace. Like ct_dump (and unlike ct_list), an entry the
/// kernel sends twice is passed on twice. On CT_OK, `*cursor_out` is a new cursor owned by
/// the caller; free it with ct_cursor_free. CT_ERR_BUSY when the handle is in use.
/// `filter` is borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_open(
    h: *mut ct_handle,
    filter: *const ct_filter,
    cursor_out: *mut *mut ct_cursor,
) -> ct_status {
    ffi_fn! {
        arg_out!(cursor_out);
        let core = ok!(acquire(h));
        let held = Held::new(h);
        let r = core.cursor(cast_ref(filter));
        held.disarm();
        match r {
            Ok(cursor) => {
                let b = CursorBox {
                    handle: h,
                    state: Guard::new(),
                    cursor: UnsafeCell::new(Some(cursor)),
                    last_error: LastError::default(),
                };
                give::<ct_cursor>(cursor_out, "cursor_out", b)
            }
            Err(e) => release::<()>(h, Err(e)).map_or_else(|s| s, |()| ct_status::CT_OK),
        }
    }
}

/// Reads the next entry of the dump into `*entry_out`, or NULL at its end. The entry
/// belongs to the cursor and lives until the next ct_cursor_next or ct_cursor_free (copy it
/// with ct_entry_clone to keep it). At the end, or on an error, the cursor lets its handle
/// go (the handle serves other calls again) and every later call gives NULL with CT_OK.
/// CT_ERR_DUMP_INTERRUPTED when the kernel flagged the dump as inconsistent: run it again.
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_next(
    cursor: *mut ct_cursor,
    entry_out: *mut *const ct_entry,
) -> ct_status {
    ffi_fn! {
        let c = arg_ref!(cursor);
        arg_out!(entry_out);
        let mut next = std::ptr::null();
        let status = next_each(cursor, c, 1, |e| {
            next = e as *const Entry as *const ct_entry;
            true
        });
        // Freed by another thread during the call (CT_ERR_BUSY): the entry went with it.
        entry_out.write(if status == ct_status::CT_ERR_BUSY {
            std::ptr::null()
        } else {
            next
        });
        status
    }
}

/// The detail of the cursor's last failed call (its dump's errors, which its handle also
/// records, and CT_ERR_BUSY when another thread was using it), or "" when none failed, as
/// ct_handle_last_error for a handle. A call during which another thread freed the cursor
/// has no cursor left to record on: its detail is the thread's only. Returns NULL only for
/// NULL. The string belongs to the cursor and lives until its next failure or
/// ct_cursor_free.
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_last_error(cursor: *const ct_cursor) -> *const c_char {
    ffi_fn! { cast_ref(cursor).map_or(std::ptr::null(), |c| c.last_error.message()) }
}

/// The errno of the cursor's last failed call (0 when none had one, or for NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_last_errno(cursor: *const ct_cursor) -> i32 {
    ffi_fn! { cast_ref(cursor).map_or(0, |c| c.last_error.errno()) }
}

/// The entry the last read of the cursor ended on (the last of ct_cursor_next_views'
/// block, or ct_cursor_next's entry), into `*entry_out`; NULL once the dump has ended. The
/// entry belongs to the cursor and lives until its next read or ct_cursor_free.
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_last(
    cursor: *mut ct_cursor,
    entry_out: *mut *const ct_entry,
) -> ct_status {
    ffi_fn! {
        let c = arg_ref!(cursor);
        arg_out!(entry_out);
        let mut last = std::ptr::null();
        let status = holding(cursor, c, |state| {
            last = state
                .as_ref()
                .and_then(|cur| cur.last())
                .map_or(std::ptr::null(), |e| e as *const Entry as *const ct_entry);
            ct_status::CT_OK
        });
        // Freed by another thread during the call (CT_ERR_BUSY): the entry went with it.
        entry_out.write(if status == ct_status::CT_ERR_BUSY {
            std::ptr::null()
        } else {
            last
        });
        status
    }
}

fn busy(c: &CursorBox) -> ct_status {
    let e = Error::new(
        Kind::Internal,
        "the cursor is in use by another thread (a ct_cursor serves one thread at a time)",
    );
    set_last_error(&e);
    c.last_error.record(&e);
    ct_status::CT_ERR_BUSY
}

/// Passes up to `max` next entries of the dump of `cursor` (whose Rust side is `c`) to `f`,
/// which must not keep them past the next call on the cursor, and stops early when `f`
/// answers false. At the end, or on an error, the cursor lets its handle go.
///
/// # Safety
/// `c` is the live cursor `cursor` points to.
pub(crate) unsafe fn next_each(
    cursor: *mut ct_cursor,
    c: &CursorBox,
    max: usize,
    mut f: impl FnMut(&Entry) -> bool,
) -> ct_status {
    holding(cursor, c, |state| {
        let mut n = 0;
        while n < max {
            let Some(cur) = state.as_mut() else {
                break;
            };
            // SAFETY: the handle is held by this cursor.
            let core = &mut *(*(c.handle as *const HandleBox)).core_ptr();
            match core.cursor_next(cur) {
                Ok(Some(e)) => {
                    n += 1;
                    if !f(e) {
                        break;
                    }
                }
                Ok(None) => return finish(c.handle, state, Ok(())),
                Err(e) => {
                    c.last_error.record(&e);
                    return finish(c.handle, state, Err(e));
                }
            }
        }
        ct_status::CT_OK
    })
}

/// Runs `f` on the cursor's state, holding the cursor (another thread's call meanwhile gets
/// CT_ERR_BUSY). When ct_cursor_free came from another thread during `f`, the cursor goes
/// now, with what `f` read from it, and the call answers CT_ERR_BUSY.
///
/// # Safety
/// `c` is the live cursor `cursor` points to.
unsafe fn holding(
    cursor: *mut ct_cursor,
    c: &CursorBox,
    f: impl FnOnce(&mut Option<Cursor>) -> ct_status,
) -> ct_status {
    if !c.state.take() {
        return busy(c);
    }
    // SAFETY: the busy flag makes this the only live reference to the cursor's state.
    let status = f(&mut *c.cursor.get());
    if !c.state.give_back() {
        return status;
    }
    free_now(cursor);
    set_last_error(&Error::new(
        Kind::Internal,
        "the cursor was freed by another thread during the call",
    ));
    ct_status::CT_ERR_BUSY
}

/// Frees `cursor`, ending its dump if it is still running (what is left is read and
/// dropped) and letting its handle go. Passing NULL does nothing; freeing twice is undefined.
/// Freed while another thread is in ct_cursor_next on it, it goes when that call returns
/// (which then gives NULL and CT_ERR_BUSY).
#[no_mangle]
pub unsafe extern "C" fn ct_cursor_free(cursor: *mut ct_cursor) {
    ffi_fn! {
        if let Some(c) = cast_ref(cursor) {
            if c.state.take_for_free() {
                free_now(cursor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_cursor_in_use_records_busy_on_itself() {
        // A cursor whose dump has ended: it holds no handle.
        let b = CursorBox {
            handle: std::ptr::null_mut(),
            state: Guard::new(),
            cursor: UnsafeCell::new(None),
            last_error: LastError::default(),
        };
        let p = Box::into_raw(Box::new(b)) as *mut ct_cursor;
        unsafe {
            let c = cast_ref(p as *const ct_cursor).unwrap();
            assert!(c.state.take(), "another thread's call, as it were");
            let mut e = std::ptr::null();
            assert_eq!(ct_cursor_next(p, &mut e), ct_status::CT_ERR_BUSY);
            let mine = CStr::from_ptr(ct_cursor_last_error(p)).to_str().unwrap();
            assert!(mine.contains("in use by another thread"), "{mine}");
            assert_eq!(
                mine,
                CStr::from_ptr(super::super::last_error_ptr())
                    .to_str()
                    .unwrap()
            );
            assert!(!c.state.give_back());
            ct_cursor_free(p);
        }
    }
}
