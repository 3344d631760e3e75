//! ct_filters: a set of filters, matched in one dump (entries that match any of them); and
//! the NAT condition of a filter.

use std::ffi::{c_char, c_void, CStr};
use std::ops::ControlFlow;

use super::entry::ct_entry;
use super::filter::ct_filter;
use super::handle::{ct_handle, with_handle};
use super::ops::ct_dump_cb;
use super::status::ct_status;
use super::{cast_ref, free_c, give, status_of, write_opt, Castable};
use crate::error::Error;
use crate::filterset::FilterSet;
use crate::nat::{Nat, NatKind};
use crate::Entry;

/// Source NAT, for ct_filter_set_nat (`conntrack --src-nat`).
pub const CT_NAT_SRC: u32 = 1;
/// Destination NAT, for ct_filter_set_nat (`conntrack --dst-nat`).
pub const CT_NAT_DST: u32 = 2;
/// Source or destination NAT, for ct_filter_set_nat (`conntrack --any-nat`).
pub const CT_NAT_ANY: u32 = 3;

/// Matches only NATed entries, as conntrack(8)'s --src-nat, --dst-nat and --any-nat do:
/// `kind` CT_NAT_SRC matches entries the kernel source-NATed (the reply destination differs
/// from the original source, in address or port), CT_NAT_DST destination-NATed ones (the
/// reply source differs from the original destination), CT_NAT_ANY either. `addr_port`
/// (copied; NULL or "" for any) is "ADDR", "ADDR:PORT", "[ADDR6]:PORT" or ":PORT": the
/// address and port translated to (the reply destination for source NAT, the reply source for
/// destination NAT). Matched by the library on every kernel. CT_ERR_INVALID_ARGUMENT for
/// another kind, text of another form, or an address whose family differs from the filter's.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_nat(
    filter: *mut ct_filter,
    kind: u32,
    addr_port: *const c_char,
) -> ct_status {
    ffi_fn! {
        let text = if addr_port.is_null() {
            None
        } else {
            match CStr::from_ptr(addr_port).to_str() {
                Ok(t) => Some(t),
                Err(_) => return status_of(Err(Error::invalid("argument 'addr_port' is not UTF-8"))),
            }
        };
        let f = arg_mut!(filter);
        status_of((|| {
            let kind = match kind {
                CT_NAT_SRC => NatKind::Src,
                CT_NAT_DST => NatKind::Dst,
                CT_NAT_ANY => NatKind::Any,
                k => {
                    return Err(Error::invalid(format!(
                        "NAT kind {k} is not CT_NAT_SRC, CT_NAT_DST or CT_NAT_ANY"
                    )))
                }
            };
            let n = Nat::parse(kind, text)?;
            f.set_nat(n)
        })())
    }
}

/// A set of filters: the entries that match any of them. Plain data owned by the caller; an
/// empty set matches nothing. Adding copies the filter, so the filter may be changed or
/// freed afterwards.
pub struct ct_filters {
    _private: [u8; 0],
}

impl Castable for ct_filters {
    type Rust = FilterSet;
}

/// Makes an empty set (matches nothing). On CT_OK, `*set_out` is a new set owned by the
/// caller; free it with ct_filters_free.
#[no_mangle]
pub unsafe extern "C" fn ct_filters_new(set_out: *mut *mut ct_filters) -> ct_status {
    ffi_fn! { give::<ct_filters>(set_out, "set_out", FilterSet::new()) }
}

/// Frees `set`. Passing NULL does nothing; freeing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_filters_free(set: *mut ct_filters) {
    ffi_fn! { free_c(set) }
}

/// Adds a copy of `filter` to `set`. Matching costs about the same for 10 or 10,000
/// filters when each pins an exact address, port, zone or protocol (the set is indexed by
/// them); filters pinning none of these are tried one by one. CT_ERR_INVALID_ARGUMENT for
/// a filter that cannot match any entry (a family that contradicts one of its addresses);
/// CT_ERR_INTERNAL when memory runs out. On error the set is unchanged.
#[no_mangle]
pub unsafe extern "C" fn ct_filters_add(
    set: *mut ct_filters,
    filter: *const ct_filter,
) -> ct_status {
    ffi_fn! {
        let f = arg_ref!(filter);
        status_of(arg_mut!(set).add(f))
    }
}

/// Removes every filter from `set` (which then matches nothing).
#[no_mangle]
pub unsafe extern "C" fn ct_filters_clear(set: *mut ct_filters) -> ct_status {
    ffi_fn! {
        arg_mut!(set).clear();
        ct_status::CT_OK
    }
}

/// The number of filters in `set` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_filters_len(set: *const ct_filters) -> usize {
    ffi_fn! { cast_ref(set).map_or(0, FilterSet::len) }
}

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
        let closing = || cast_ref(h).is_some_and(|b| b.state.free_pending());
        ok!(with_handle(h, |core| {
            core.dump_any(s, |e| {
                // SAFETY: the entry lives until the callback returns, as documented.
                let rc = cb(e as *const Entry as *const ct_entry, user_data);
                // The callback closed the handle: the rest of the dump is of no use.
                if rc == 0 && !closing() {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            })
        }));
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
