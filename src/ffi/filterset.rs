//! ct_filters: a set of filters (entries that match any of them); and the NAT condition of
//! a filter. The operations on a set are in `filterset_ops`.

use std::ffi::{c_char, CStr};

use super::filter::ct_filter;
use super::status::ct_status;
use super::{cast_ref, free_c, give, status_of, Castable};
use crate::error::Error;
use crate::filterset::FilterSet;
use crate::nat::{Nat, NatKind};

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
/// (copied; NULL or "" for any) is "ADDR", "ADDR:PORT", `"[ADDR6]:PORT"` or ":PORT": the
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
