//! Fuzz target encode_entry_filter: see targets.rs.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};

macro_rules! fuzz_derive {
    ($($item:tt)*) => { #[derive(arbitrary::Arbitrary)] $($item)* };
}

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let input = targets::EncodeInput::arbitrary(&mut Unstructured::new(data))
        .expect("fixed-size fields never run out of bytes");
    // tests/fuzz_corpus.rs replays corpus files without the arbitrary crate, through
    // EncodeInput::from_bytes: both must read the same input from the same bytes.
    assert_eq!(
        input,
        targets::EncodeInput::from_bytes(data),
        "replay reads another input"
    );
    targets::encode_entry_filter(&input);
});
