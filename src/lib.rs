//! Linux connection tracking through ctnetlink: list, get, create, update, delete and flush
//! conntrack entries, listen to the table's events, read its statistics and expectations,
//! in the caller's or any named network namespace.
//!
//! The same library is exported as a C ABI (`libconntrack.so`, `conntrack.h`); this crate is
//! its Rust side, and the C functions are a thin layer over what is here. Start from
//! [`Handle`] (a socket in one namespace) and [`Entry`] (one connection):
//!
//! ```no_run
//! use conntrack::{Dir, Entry, Filter, Handle, Protocol, Side};
//!
//! # fn main() -> conntrack::Result<()> {
//! let mut h = Handle::open_netns("blue")?; // or Handle::open() for this namespace
//!
//! // Zone 10, as `conntrack -L -w 10` lists it.
//! let mut zone10 = Filter::new();
//! zone10.set_zone(10)?;
//! for e in h.list(Some(&zone10))? {
//!     println!("{}", conntrack::format::format_entry(&e, 0));
//! }
//!
//! // Delete the UDP entry 1.1.1.1:4 -> 2.2.2.2:5 of zone 10.
//! let mut e = Entry::new();
//! e.set_protocol(Protocol::Udp)?;
//! e.set_addr(Dir::Orig, Side::Src, "1.1.1.1".parse().unwrap())?;
//! e.set_addr(Dir::Orig, Side::Dst, "2.2.2.2".parse().unwrap())?;
//! e.set_port(Dir::Orig, Side::Src, 4)?;
//! e.set_port(Dir::Orig, Side::Dst, 5)?;
//! e.set_zone(10)?;
//! match h.delete(&e) {
//!     Err(err) if err.kind == conntrack::Kind::NotFound => println!("already gone"),
//!     r => r?,
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every operation needs CAP_NET_ADMIN in the namespace. Errors are [`Error`] values whose
//! [`Kind`] is what a caller acts on (the C API's status codes are the same kinds).
//!
//! Callbacks, in every language the library serves, say whether to go on, each in its own
//! form and mapped the same way:
//!
//! | language | go on | stop |
//! | --- | --- | --- |
//! | Rust (dumps, [`Listener::receive`], [`Mirror::step`]) | `ControlFlow::Continue(())` | `ControlFlow::Break(())` |
//! | C | return 0 | return non-zero |
//! | Go | `true` | `false` |
//! | Python | `None` (no return) or `True` | `False` |
//!
//! Iterators (Rust's [`Entries`], Python's) stop when the loop does.
//!
//! Modules marked hidden in these docs (`codec`, `receive`, `ffi`, ...) are the library's
//! internals, public only for its tests and fuzz targets; they may change in any release.
#![deny(missing_docs)]

/// Declares a struct whose fields are the crate's own: `pub(crate)`, so that users go
/// through the accessors and setters (which check what they are given). With the
/// `internals` feature (the project's fuzz targets and tests, never a stable API) the
/// fields are public and hidden from the docs, so a fuzz target can build the shapes a
/// kernel message may decode to, which the setters refuse.
macro_rules! crate_fields {
    ($(#[$m:meta])* $v:vis struct $name:ident {
        $($(#[$fm:meta])* pub $f:ident: $t:ty,)*
    }) => {
        #[cfg(not(feature = "internals"))]
        $(#[$m])* $v struct $name { $($(#[$fm])* pub(crate) $f: $t,)* }
        #[cfg(feature = "internals")]
        $(#[$m])* pub struct $name { $($(#[$fm])* #[doc(hidden)] pub $f: $t,)* }
    };
}

pub mod batch;
#[doc(hidden)]
pub mod codec;
#[doc(hidden)]
pub mod cursor;
pub mod entry;
pub mod error;
pub mod events;
pub mod expect;
pub mod expect_events;
#[doc(hidden)]
pub mod ffi;
pub mod filter;
pub mod filterset;
pub mod format;
pub mod handle;
pub mod kernel;
pub mod labels;
pub mod mirror;
pub mod nat;
#[doc(hidden)]
pub mod ops;
mod overlap;
#[doc(hidden)]
pub mod receive;
pub mod stats;
mod sys;
pub mod types;

pub use batch::{Batch, Op};
pub use cursor::Entries;
pub use entry::{Dir, Entry, Field, Side, Tuple};
pub use error::{Error, Kind, Result};
pub use events::Listener;
pub use expect::Expectation;
pub use expect_events::ExpectListener;
pub use filter::{Cidr, Filter};
pub use handle::Handle;
pub use kernel::Kernel;
pub use labels::LabelMap;
pub use mirror::Mirror;
pub use stats::{CpuStats, ExpectCpuStats};
pub use types::{DccpState, EventType, Protocol, SctpState, Status, TcpState};

/// The README's Rust example, compiled by `cargo test` (extracted by build.rs).
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("OUT_DIR"), "/readme_rust.md"))]
struct ReadmeFromRust;
