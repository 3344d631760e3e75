//! Dump and delete-matching over a set of filters (ct_filters), in one dump of the table.

use std::ffi::c_void;

use super::filterset::ct_filters;
use super::handle::{ct_handle, with_handle};
use super::ops::{ct_dump_cb, each_to_c};
use super::status::ct_status;
use super::write_opt;

/// Streams every entry that matches any filter of `set` to `cb`, in one dump of the table
/// whatever the number of filters, without keeping the table in memory. What all the
/// filters share (a zone, a mark, a family...) is filtered by the kernel where it can. An
/// empty set matches nothing: CT_OK without a dump. Otherwise as ct_dump.
#[no_mangle]
pub unsafe extern "C" fn ct_dump_any(
    h: *mut ct_handle,
    set: *const ct_filters,
    cb: ct_dump_cb,
    user_data: *mut c_void,
) -> ct_status {
    ffi_fn! {
        let cb = arg_cb!(cb);
        let s = arg_ref!(set);
        ok!(with_handle(h, |core| core.dump_any(s, each_to_c(h, cb, user_data))));
        ct_status::CT_OK
    }
}

/// Deletes every entry that matches any filter of `set`, in one dump of the table: the
/// deletes go out while the dump is read (through a second socket of the handle, in the
/// same namespace, made when first needed), so memory stays constant whatever the number of
/// matches. On CT_OK, `*deleted_out` (may be NULL) holds how many entries this call deleted:
/// entries gone meanwhile, or sent twice by the dump, are neither errors nor counted twice.
/// Every entry that matched when the dump saw it is gone on CT_OK; otherwise the error says
/// what failed (its message gives the count deleted). An empty set deletes nothing.
#[no_mangle]
pub unsafe extern "C" fn ct_delete_matching_any(
    h: *mut ct_handle,
    set: *const ct_filters,
    deleted_out: *mut u64,
) -> ct_status {
    ffi_fn! {
        let s = arg_ref!(set);
        let n = ok!(with_handle(h, |core| core.delete_matching_any(s)));
        write_opt(deleted_out, n);
        ct_status::CT_OK
    }
}
