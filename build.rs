//! Generates the C header with cbindgen and checks it against include/conntrack.h, the
//! committed copy. A stale header fails the build; `CT_UPDATE_HEADER=1` rewrites it.
//! Also gives the shared library its SONAME (libconntrack.so.MAJOR) and its symbol versions.
//!
//! The header reads in the order a newcomer learns the API: conventions, status codes, the
//! handle, the entry, the filter, the operations, then batches, events, statistics,
//! expectations and labels. cbindgen puts constants before types before functions, so each
//! concept is generated on its own (one run per source file of src/ffi) and the sections are
//! joined in that order.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The header's sections: a title, what it is about, and the files of src/ffi it holds. A
/// file of src/ffi that is missing is skipped; one not listed here goes into a last section
/// (and the build warns, so it gets its place).
const SECTIONS: &[(&str, &str, &[&str])] = &[
    (
        "Status codes and errors",
        "Every fallible function returns a ct_status. The detail of a failure (errno, and the\n \
         * kernel's extended-ack text) is kept per thread and per handle.",
        &["status", "version"],
    ),
    (
        "Handle",
        "A ctnetlink socket in one network namespace, and what its kernel supports.",
        &["handle"],
    ),
    (
        "Entry",
        "A conntrack entry: make it, set and read its fields, write it as text.",
        &["entry"],
    ),
    (
        "Filter",
        "Which entries a dump, delete, flush or event listener concerns.",
        &["filter", "filterset"],
    ),
    (
        "Operations",
        "Dump, list, read one entry at a time, get, create, update, delete and flush.",
        &["ops", "filterset_ops", "list", "cursor"],
    ),
    (
        "Batches",
        "Many creates, updates and deletes sent together, with an outcome per request.",
        &["batch"],
    ),
    (
        "Flat entry views",
        "An entry as one fixed-layout struct, read and written in blocks: what bindings use.",
        &["view"],
    ),
    (
        "Events",
        "A subscription to the table's changes.",
        &["events"],
    ),
    (
        "Mirror",
        "A live copy of the table, loaded by a dump, kept by events, repaired after loss.",
        &["mirror"],
    ),
    (
        "Statistics",
        "The table's size and per-CPU counters (conntrack -C, conntrack -S).",
        &["stats"],
    ),
    (
        "Expectations",
        "The expectation table: connections a helper (FTP, SIP, ...) expects.",
        &["expect"],
    ),
    (
        "Labels",
        "Label names from connlabel.conf, to set and show labels by name.",
        &["labels"],
    ),
];

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libconntrack.so.{major}");
    // Every exported symbol gets the version node LIBCONNTRACK_0 (conntrack.map).
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        dir.join("conntrack.map").display()
    );
    println!("cargo:rerun-if-changed=conntrack.map");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=include/conntrack.h");
    println!("cargo:rerun-if-env-changed=CT_UPDATE_HEADER");

    readme_example(&dir);
    let fresh = header(&dir, &major, &minor, &patch);
    let committed_path = dir.join("include/conntrack.h");
    let committed = std::fs::read(&committed_path).unwrap_or_default();
    if committed != fresh.as_bytes() {
        if env::var("CT_UPDATE_HEADER").as_deref() == Ok("1") {
            std::fs::write(&committed_path, &fresh).expect("write include/conntrack.h");
        } else {
            let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("conntrack.h");
            std::fs::write(&out, &fresh).ok();
            panic!(
                "include/conntrack.h is stale (fresh copy: {}); run `make header` \
                 (CT_UPDATE_HEADER=1 cargo build) and commit it",
                out.display()
            );
        }
    }
}

/// The README's Rust example, as a doc comment `cargo test` compiles (src/lib.rs).
fn readme_example(dir: &Path) {
    println!("cargo:rerun-if-changed=README.md");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
    let code = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or("");
    // Run it would need root and a kernel: compiling it is the test.
    let doc = format!("```no_run\n{code}```\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("readme_rust.md");
    std::fs::write(out, doc).expect("write the README example");
}

/// The whole header: cbindgen.toml's preamble and guard around the sections.
fn header(dir: &Path, major: &str, minor: &str, patch: &str) -> String {
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let guard = config.include_guard.clone().expect("include_guard");
    let mut h = String::new();
    if let Some(preamble) = &config.header {
        writeln!(h, "{preamble}").unwrap();
    }
    writeln!(h, "\n#ifndef {guard}\n#define {guard}\n").unwrap();
    for inc in &config.sys_includes {
        writeln!(h, "#include <{inc}>").unwrap();
    }
    writeln!(
        h,
        "\n/** Version of the library this header belongs to. */\n\
         #define CT_VERSION_MAJOR {major}\n#define CT_VERSION_MINOR {minor}\n\
         #define CT_VERSION_PATCH {patch}"
    )
    .unwrap();

    let ffi = dir.join("src/ffi");
    let mut listed = Vec::new();
    for (title, about, files) in SECTIONS {
        let present: Vec<&str> = files
            .iter()
            .copied()
            .filter(|f| ffi.join(format!("{f}.rs")).exists())
            .collect();
        listed.extend(files.iter().copied());
        section(&mut h, &config, &ffi, title, about, &present);
    }
    let mut others: Vec<String> = std::fs::read_dir(&ffi)
        .expect("src/ffi")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".rs")?.to_string();
            (stem != "mod" && !listed.contains(&stem.as_str())).then_some(stem)
        })
        .collect();
    others.sort();
    if !others.is_empty() {
        println!(
            "cargo:warning=src/ffi/{{{}}}.rs have no section of the header: add them to \
             SECTIONS in build.rs",
            others.join(",")
        );
        let files: Vec<&str> = others.iter().map(String::as_str).collect();
        section(&mut h, &config, &ffi, "More", "", &files);
    }
    writeln!(h, "\n#endif  /* {guard} */").unwrap();
    h
}

/// Appends one section: a title banner, then what cbindgen makes of `files`.
fn section(
    h: &mut String,
    config: &cbindgen::Config,
    ffi: &Path,
    title: &str,
    about: &str,
    files: &[&str],
) {
    if files.is_empty() {
        return;
    }
    let mut c = config.clone();
    c.header = None;
    c.include_guard = None;
    c.no_includes = true;
    c.sys_includes = Vec::new();
    // The status enum's type is int32_t in C before C23: the section names it explicitly.
    c.export.include = vec!["ct_status".to_string()];
    c.autogen_warning = None;
    let mut b = cbindgen::Builder::new().with_config(c);
    for f in files {
        b = b.with_src(ffi.join(format!("{f}.rs")));
    }
    let mut out = Vec::new();
    b.generate()
        .unwrap_or_else(|e| panic!("cbindgen could not generate the {title} section: {e}"))
        .write(&mut out);
    let text = String::from_utf8(out).expect("UTF-8 header");
    let rule = "=".repeat(74 - title.len());
    write!(h, "\n/* {title} {rule}").unwrap();
    if !about.is_empty() {
        write!(h, "\n * {about}").unwrap();
    }
    writeln!(h, " */\n{}", text.trim_matches('\n')).unwrap();
}
