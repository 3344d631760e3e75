//! ct_filter: which entries a dump, delete or flush concerns.

use std::ffi::c_char;

use super::entry::selector;
use super::status::ct_status;
use super::{free_c, give, status_of, Castable};
use crate::filter::{slot, Cidr, Source};
use crate::Filter;

/// A filter: every field left unset matches everything. Plain data owned by the caller.
pub struct ct_filter {
    _private: [u8; 0],
}

impl Castable for ct_filter {
    type Rust = Filter;
}

/// Runs a change on a copy of `filter`, so a refused value leaves it as it was.
fn update(filter: &mut Filter, f: impl FnOnce(&mut Filter) -> crate::Result<()>) -> ct_status {
    let mut copy = filter.clone();
    let r = f(&mut copy);
    if r.is_ok() {
        *filter = copy;
    }
    status_of(r)
}

/// Makes an empty filter (matches every entry). On CT_OK, `*filter_out` is a new filter
/// owned by the caller; free it with ct_filter_free.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_new(filter_out: *mut *mut ct_filter) -> ct_status {
    ffi_fn! { give::<ct_filter>(filter_out, "filter_out", Filter::new()) }
}

/// Frees `filter`. Passing NULL does nothing; freeing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_free(filter: *mut ct_filter) {
    ffi_fn! { free_c(filter) }
}

/// Matches only entries of `family` (CT_FAMILY_IPV4 or CT_FAMILY_IPV6); the kernel filters it.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_family(filter: *mut ct_filter, family: u8) -> ct_status {
    ffi_fn! { update(arg_mut!(filter), |f| f.set_family(family)) }
}

/// Matches only entries of layer-4 protocol `proto`.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_proto(filter: *mut ct_filter, proto: u8) -> ct_status {
    ffi_fn! {
        arg_mut!(filter).proto = Some(proto);
        ct_status::CT_OK
    }
}

/// Matches only entries of zone `zone` (0..65535; entries without a zone are in zone 0).
/// The kernel filters it from 6.8 on; the library checks it on every kernel.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_zone(filter: *mut ct_filter, zone: u32) -> ct_status {
    ffi_fn! { update(arg_mut!(filter), |f| f.set_zone(zone)) }
}

/// Matches entries whose mark ANDed with `mask` equals `mark` ANDed with `mask` (mask
/// 0xffffffff: the exact mark). The kernel filters it.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_mark(
    filter: *mut ct_filter,
    mark: u32,
    mask: u32,
) -> ct_status {
    ffi_fn! {
        arg_mut!(filter).mark = Some((mark, mask));
        ct_status::CT_OK
    }
}

/// Matches entries whose status bits ANDed with `mask` equal `status` ANDed with `mask`.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_status(
    filter: *mut ct_filter,
    status: u32,
    mask: u32,
) -> ct_status {
    ffi_fn! {
        arg_mut!(filter).status = Some((status, mask));
        ct_status::CT_OK
    }
}

/// Matches entries whose address selected by `which` (CT_ORIG_SRC, ...) is `addr`, an
/// address ("10.0.0.1") or a prefix ("10.0.0.0/8", "fe80::/64"). `addr` is copied.
/// CT_ERR_INVALID_ARGUMENT for text that is neither, or a family other than the filter's.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_addr(
    filter: *mut ct_filter,
    which: u32,
    addr: *const c_char,
) -> ct_status {
    ffi_fn! {
        let text = arg_str!(addr);
        update(arg_mut!(filter), |f| {
            let (d, s) = selector(which)?;
            f.set_addr(d, s, Cidr::parse(text)?)
        })
    }
}

/// Matches entries whose port selected by `which` is `port` (host order).
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_port(
    filter: *mut ct_filter,
    which: u32,
    port: u16,
) -> ct_status {
    ffi_fn! {
        update(arg_mut!(filter), |f| {
            let (d, s) = selector(which)?;
            f.ports[slot(d, s)] = Some(port);
            Ok(())
        })
    }
}

/// With `enabled` false, nothing is asked of the kernel and every field is matched in the
/// library: the fallback path of older kernels, for tests and benchmarks. Default true.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_kernel_filtering(
    filter: *mut ct_filter,
    enabled: bool,
) -> ct_status {
    ffi_fn! {
        arg_mut!(filter).userspace_only = !enabled;
        ct_status::CT_OK
    }
}

/// Source of ct_filter_set_source: the table (the default).
pub const CT_SOURCE_TABLE: u32 = 0;
/// Source: the table, zeroing each entry's counters as the dump reads it (`conntrack -L -z`).
pub const CT_SOURCE_TABLE_ZERO_COUNTERS: u32 = 1;
/// Source: the entries being destroyed (`conntrack -L dying`).
pub const CT_SOURCE_DYING: u32 = 2;
/// Source: the entries not yet confirmed (`conntrack -L unconfirmed`).
pub const CT_SOURCE_UNCONFIRMED: u32 = 3;

/// What dumps with this filter read (ct_dump, ct_list, ct_cursor_open): CT_SOURCE_TABLE,
/// CT_SOURCE_TABLE_ZERO_COUNTERS, CT_SOURCE_DYING or CT_SOURCE_UNCONFIRMED (the kernel
/// filters nothing of the last two; the library matches every field). Deletes and flushes
/// always work on the table. CT_ERR_INVALID_ARGUMENT for another number.
#[no_mangle]
pub unsafe extern "C" fn ct_filter_set_source(filter: *mut ct_filter, source: u32) -> ct_status {
    ffi_fn! {
        update(arg_mut!(filter), |f| {
            f.source = match source {
                CT_SOURCE_TABLE => Source::Table,
                CT_SOURCE_TABLE_ZERO_COUNTERS => Source::TableZeroCounters,
                CT_SOURCE_DYING => Source::Dying,
                CT_SOURCE_UNCONFIRMED => Source::Unconfirmed,
                _ => {
                    return Err(crate::Error::invalid(format!(
                        "dump source {source} is unknown"
                    )))
                }
            };
            Ok(())
        })
    }
}
