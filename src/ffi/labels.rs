//! ct_labelmap: label names of connlabel.conf, to set and show labels by name.

use std::ffi::{c_char, CString};

use super::entry::ct_entry;
use super::status::ct_status;
use super::{cast_ref, copy_text, free_c, give, status_of, write_opt, Castable};
use crate::labels::{LabelMap, DEFAULT_PATH};

/// The names of the 128 label bits, read from a connlabel.conf file. Plain data owned by the
/// caller; read-only use may be shared between threads.
pub struct ct_labelmap {
    _private: [u8; 0],
}

/// The Rust side: the map and its names as C strings (handed out by ct_labelmap_name).
pub(crate) struct LabelMapBox {
    map: LabelMap,
    c_names: Vec<Option<CString>>,
}

impl Castable for ct_labelmap {
    type Rust = LabelMapBox;
}

/// Reads label names from `path` (NULL: /etc/xtables/connlabel.conf, where `conntrack -l`
/// looks). CT_ERR_NOT_FOUND when the file does not exist. On CT_OK, `*map_out` is a new map
/// owned by the caller; free it with ct_labelmap_free.
#[no_mangle]
pub unsafe extern "C" fn ct_labelmap_open(
    path: *const c_char,
    map_out: *mut *mut ct_labelmap,
) -> ct_status {
    ffi_fn! {
        let p = if path.is_null() { DEFAULT_PATH } else { arg_str!(path) };
        arg_out!(map_out);
        let map = ok!(LabelMap::load(p));
        let c_names = (0..128)
            .map(|b| map.name(b).and_then(|n| CString::new(n).ok()))
            .collect();
        give::<ct_labelmap>(map_out, "map_out", LabelMapBox { map, c_names })
    }
}

/// Frees `map`. Passing NULL does nothing; freeing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn ct_labelmap_free(map: *mut ct_labelmap) {
    ffi_fn! { free_c(map) }
}

/// The bit named `name` into `*bit_out`. CT_ERR_NOT_FOUND when no bit has that name.
#[no_mangle]
pub unsafe extern "C" fn ct_labelmap_bit(
    map: *const ct_labelmap,
    name: *const c_char,
    bit_out: *mut u32,
) -> ct_status {
    ffi_fn! {
        let m = arg_ref!(map);
        let bit = ok!(m.map.bit_named(arg_str!(name)));
        arg_out!(bit_out);
        bit_out.write(bit);
        ct_status::CT_OK
    }
}

/// The name of label bit `bit`, or NULL when it has none (or `map` is NULL). The string
/// belongs to `map` and lives until ct_labelmap_free(map).
#[no_mangle]
pub unsafe extern "C" fn ct_labelmap_name(map: *const ct_labelmap, bit: u32) -> *const c_char {
    ffi_fn! {
        cast_ref(map)
            .and_then(|m| m.c_names.get(bit as usize))
            .and_then(|n| n.as_ref())
            .map_or(std::ptr::null(), |n| n.as_ptr())
    }
}

/// Sets (`on` true) or clears the label named `name` on `entry`, as ct_entry_set_label does
/// for a bit. CT_ERR_NOT_FOUND when `map` has no such name; the entry is then unchanged.
#[no_mangle]
pub unsafe extern "C" fn ct_entry_set_label_name(
    entry: *mut ct_entry,
    map: *const ct_labelmap,
    name: *const c_char,
    on: bool,
) -> ct_status {
    ffi_fn! {
        let m = arg_ref!(map);
        let bit = ok!(m.map.bit_named(arg_str!(name)));
        status_of(arg_mut!(entry).set_label(bit, on))
    }
}

/// Like ct_entry_format, then the labels as `conntrack -L -o labels` prints them with the
/// names of `map` (` labels=a,b`; bits without a name are left out, as the tool does).
#[no_mangle]
pub unsafe extern "C" fn ct_entry_format_labels(
    entry: *const ct_entry,
    map: *const ct_labelmap,
    flags: u32,
    buf: *mut c_char,
    len: usize,
    needed_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let e = arg_ref!(entry);
        let m = arg_ref!(map);
        ok!(super::entry::check_format_flags(flags));
        let mut text = String::with_capacity(256);
        crate::format::write_entry_with_labels(&mut text, e, flags, &m.map.names());
        write_opt(needed_out, text.len());
        copy_text(&text, buf, len)
    }
}
