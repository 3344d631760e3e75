//! Generates the C header with cbindgen and checks it against include/conntrack.h, the
//! committed copy. A stale header fails the build; `CT_UPDATE_HEADER=1` rewrites it.
//! Also gives the shared library its SONAME (libconntrack.so.MAJOR).

use std::env;
use std::path::PathBuf;

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

    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let versions = format!(
        "\n/** Version of the library this header belongs to. */\n\
         #define CT_VERSION_MAJOR {major}\n#define CT_VERSION_MINOR {minor}\n#define CT_VERSION_PATCH {patch}\n"
    );
    // Only the boundary is parsed (cbindgen follows its `mod` items): the core's constants
    // and types are not part of the C API.
    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/ffi/mod.rs"));
    let bindings = builder
        .with_after_include(versions)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);

    let committed_path = dir.join("include/conntrack.h");
    let committed = std::fs::read(&committed_path).unwrap_or_default();
    if committed != fresh {
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
