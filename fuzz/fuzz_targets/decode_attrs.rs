//! Fuzz target decode_attrs: see targets.rs.
#![no_main]

// No derive for the decoding targets (the encode input is unused here).
macro_rules! fuzz_derive {
    ($($item:tt)*) => { $($item)* };
}

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::decode_attrs(data));
