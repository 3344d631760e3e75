//! ct_batch: many creates, updates and deletes sent together, an outcome per request.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use super::entry::ct_entry;
use super::handle::{ct_handle, with_handle};
use super::status::ct_status;
use super::{cast_ref, fail, free_c, give, write_opt, Castable};
use crate::batch::{Batch, Op};

/// A batch of requests. Plain data owned by the caller; it may be sent on any handle and
/// reused (ct_batch_clear, or adding after a send starts a new batch).
pub struct ct_batch {
    _private: [u8; 0],
}

/// The Rust side of a ct_batch: the batch, and the text of the last outcome message asked
/// for (kept so the pointer handed out stays valid).
pub(crate) struct BatchBox {
    batch: Batch,
    message: RefCell<CString>,
}

impl Castable for ct_batch {
    type Rust = BatchBox;
}

/// Makes an empty batch. On CT_OK, `*batch_out` is a new batch owned by the caller; free it
/// with ct_batch_free.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_new(batch_out: *mut *mut ct_batch) -> ct_status {
    ffi_fn! {
        let b = BatchBox {
            batch: Batch::new(),
            message: RefCell::new(CString::default()),
        };
        give::<ct_batch>(batch_out, "batch_out", b)
    }
}

/// Frees `batch`. Passing NULL does nothing; freeing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_free(batch: *mut ct_batch) {
    ffi_fn! { free_c(batch) }
}

/// The batch inside a checked ct_batch, for the C layer's other modules (views).
pub(crate) fn batch_mut(b: &mut BatchBox) -> &mut crate::batch::Batch {
    &mut b.batch
}

/// Queues `op` on `entry`.
fn add(b: &mut BatchBox, e: &crate::Entry, op: Op) -> ct_status {
    b.batch.add(op, e);
    ct_status::CT_OK
}

/// Queues the creation of `entry` (copied; the caller keeps it). The request takes the next
/// index (0, 1, ...). An entry lacking what a create needs still takes its index, and its
/// outcome after ct_batch_send is the reason (CT_ERR_INVALID_ARGUMENT); it is never sent.
/// Adding to a batch that was sent starts a new batch.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_add_create(
    batch: *mut ct_batch,
    entry: *const ct_entry,
) -> ct_status {
    ffi_fn! { add(arg_mut!(batch), arg_ref!(entry), Op::Create) }
}

/// Queues an update of the entry with `entry`'s tuple and zone (see ct_update); indexes and
/// refused entries as for ct_batch_add_create.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_add_update(
    batch: *mut ct_batch,
    entry: *const ct_entry,
) -> ct_status {
    ffi_fn! { add(arg_mut!(batch), arg_ref!(entry), Op::Update) }
}

/// Queues the deletion of the entry with `entry`'s tuple and zone, and id when set (see
/// ct_delete); indexes and refused entries as for ct_batch_add_create.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_add_delete(
    batch: *mut ct_batch,
    entry: *const ct_entry,
) -> ct_status {
    ffi_fn! { add(arg_mut!(batch), arg_ref!(entry), Op::Delete) }
}

/// The number of requests in `batch` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_batch_len(batch: *const ct_batch) -> usize {
    ffi_fn! { cast_ref(batch).map_or(0, |b| b.batch.len()) }
}

/// Removes every request and outcome from `batch`, keeping its memory for reuse.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_clear(batch: *mut ct_batch) -> ct_status {
    ffi_fn! {
        arg_mut!(batch).batch.clear();
        ct_status::CT_OK
    }
}

/// Sends every request of `batch` on `h`, packed into as few sendmsg calls as the socket's
/// receive buffer can answer, and records each request's outcome (read them with
/// ct_batch_result). Requests are independent: one failing does not stop the others, and
/// they are applied in order. Returns CT_OK when every request was sent and answered, even
/// if some failed; `*failed_out` (may be NULL) then holds how many failed. Another status
/// means the batch could not be sent as a whole (the outcomes of requests already answered
/// stand; the rest read CT_ERR_OVERRUN or are unknown).
#[no_mangle]
pub unsafe extern "C" fn ct_batch_send(
    h: *mut ct_handle,
    batch: *mut ct_batch,
    failed_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let b = arg_mut!(batch);
        ok!(with_handle(h, |core| core.send_batch("batch", &mut b.batch)));
        write_opt(failed_out, b.batch.failed());
        ct_status::CT_OK
    }
}

/// The outcome of request `index` of a sent batch: `*status_out` is CT_OK or the request's
/// error (CT_ERR_EXISTS, CT_ERR_NOT_FOUND, CT_ERR_TABLE_FULL for a create the kernel had no
/// room for, CT_ERR_OVERRUN when its answer was lost, ...)
/// and `*errno_out` (may be NULL) its errno or 0. Returns CT_ERR_INVALID_ARGUMENT when
/// `index` is out of range or the batch has not been sent; after a ct_batch_send that failed
/// as a whole, the batch counts as not sent (the requests answered before the failure took
/// effect in the kernel; dump to learn the state).
#[no_mangle]
pub unsafe extern "C" fn ct_batch_result(
    batch: *const ct_batch,
    index: usize,
    status_out: *mut ct_status,
    errno_out: *mut i32,
) -> ct_status {
    ffi_fn! {
        let b = arg_ref!(batch);
        arg_out!(status_out);
        let Some(o) = b.batch.outcome(index) else {
            return fail(&crate::Error::invalid(format!(
                "no outcome for request {index}: out of range or not sent"
            )));
        };
        let (status, errno) = match o {
            Ok(()) => (ct_status::CT_OK, 0),
            Err(e) => (ct_status::from_kind(e.kind), e.errno.unwrap_or(0)),
        };
        write_opt(errno_out, errno);
        status_out.write(status);
        ct_status::CT_OK
    }
}

/// The error message of request `index` of a sent batch, or NULL when it succeeded, is out
/// of range or the batch was not sent. The string belongs to `batch` and stays valid until
/// the next call of this function on it, or until it is cleared, changed or freed.
#[no_mangle]
pub unsafe extern "C" fn ct_batch_result_message(
    batch: *const ct_batch,
    index: usize,
) -> *const c_char {
    ffi_fn! {
        let Some(b) = cast_ref(batch) else {
            return std::ptr::null();
        };
        match b.batch.outcome(index) {
            Some(Err(e)) => {
                let text = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
                let mut m = b.message.borrow_mut();
                *m = text;
                m.as_ptr()
            }
            _ => std::ptr::null(),
        }
    }
}
