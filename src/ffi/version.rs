//! The library's version.

use std::ffi::c_char;

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(v) => v,
    Err(_) => c"unknown",
};

/// The library's version as text ("0.1.0"); the header's CT_VERSION_* give the version it
/// was compiled against. Returns a static string; do not free it.
#[no_mangle]
pub extern "C" fn ct_version() -> *const c_char {
    ffi_fn! { VERSION.as_ptr() }
}
