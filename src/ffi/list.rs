//! ct_entry_list: the entries ct_list collected.

use super::entry::ct_entry;
use super::{cast_ref, free_c, Castable};
use crate::Entry;

/// A list of entries made by ct_list and owned by the caller. Its entries belong to it.
pub struct ct_entry_list {
    _private: [u8; 0],
}

impl Castable for ct_entry_list {
    type Rust = Vec<Entry>;
}

/// The number of entries in `list` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_list_len(list: *const ct_entry_list) -> usize {
    ffi_fn! { cast_ref(list).map_or(0, |v| v.len()) }
}

/// Entry `index` of `list`, or NULL when `index` is out of range or `list` is NULL. The
/// entry belongs to `list` and lives until ct_entry_list_free(list); do not free it (copy
/// it with ct_entry_clone to keep it longer).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_list_get(
    list: *const ct_entry_list,
    index: usize,
) -> *const ct_entry {
    ffi_fn! {
        cast_ref(list)
            .and_then(|v| v.get(index))
            .map_or(std::ptr::null(), |e| e as *const Entry as *const ct_entry)
    }
}

/// Frees `list` and its entries. Passing NULL does nothing; freeing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_list_free(list: *mut ct_entry_list) {
    ffi_fn! { free_c(list) }
}
