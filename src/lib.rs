//! libconntrack: Linux connection tracking (ctnetlink) operations, with a C ABI.
//!
//! The safe core (`Handle`, `Entry`, `Filter`, the operations in `ops`, the text form in
//! `format`) knows nothing of C; `ffi` is the thin boundary that exports it.

pub mod batch;
pub mod codec;
pub mod cursor;
pub mod entry;
pub mod error;
pub mod events;
pub mod expect;
pub mod ffi;
pub mod filter;
pub mod format;
pub mod handle;
pub mod kernel;
pub mod labels;
pub mod ops;
pub mod receive;
pub mod stats;
mod sys;

pub use entry::Entry;
pub use error::{Error, Kind, Result};
pub use filter::Filter;
pub use handle::Handle;
