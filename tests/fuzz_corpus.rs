//! Replays every file of the fuzz corpora (fuzz/corpus/<target>/) and of the fuzz regressions
//! (fuzz/regressions/<target>/) through the fuzz targets' own bodies (fuzz/targets.rs), so a
//! regression shows up in an ordinary `cargo test`, without cargo-fuzz or a nightly compiler.
//!
//! `cargo test --features internals --test fuzz_corpus -- --ignored write_encode_seeds` rewrites the hand-made
//! seeds of encode_entry_filter (targets::encode_seeds).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

// The test has no `arbitrary` crate: the encode input is read through targets::replay.
macro_rules! fuzz_derive {
    ($($item:tt)*) => { $($item)* };
}

#[allow(dead_code)]
#[path = "../fuzz/targets.rs"]
mod targets;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; None when it does not exist.
fn files(dir: &Path) -> Option<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).ok()?;
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("read a corpus directory").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Some(v)
}

/// Runs target `target` on every file, and names every file that panicked.
fn replay(target: &str, files: &[PathBuf]) -> Vec<String> {
    let mut failed = Vec::new();
    for f in files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if catch_unwind(AssertUnwindSafe(|| targets::run(target, &data))).is_err() {
            failed.push(format!("{target}: {}", f.display()));
        }
    }
    failed
}

#[test]
fn every_corpus_replays_without_a_panic() {
    let mut failed = Vec::new();
    let mut total = 0;
    for target in targets::TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let files =
            files(&dir).unwrap_or_else(|| panic!("corpus directory {} is missing", dir.display()));
        assert!(
            !files.is_empty(),
            "corpus directory {} is empty",
            dir.display()
        );
        total += files.len();
        failed.extend(replay(target, &files));
    }
    assert!(
        failed.is_empty(),
        "inputs that panic:\n{}",
        failed.join("\n")
    );
    eprintln!("replayed {total} corpus files");
}

#[test]
fn every_regression_replays_without_a_panic() {
    let root = fuzz_dir().join("regressions");
    let Some(dirs) = std::fs::read_dir(&root).ok() else {
        return; // No regression found yet.
    };
    let mut failed = Vec::new();
    for d in dirs {
        let d = d.expect("read fuzz/regressions").path();
        if !d.is_dir() {
            continue;
        }
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let target = targets::TARGETS
            .into_iter()
            .find(|t| *t == name)
            .unwrap_or_else(|| panic!("{}: no fuzz target of that name", d.display()));
        failed.extend(replay(target, &files(&d).unwrap_or_default()));
    }
    assert!(
        failed.is_empty(),
        "regressions that panic:\n{}",
        failed.join("\n")
    );
}

#[test]
fn encode_seeds_read_back_and_are_in_the_corpus() {
    let dir = fuzz_dir().join("corpus/encode_entry_filter");
    for (name, input) in targets::encode_seeds() {
        let bytes = input.to_bytes();
        assert_eq!(targets::EncodeInput::from_bytes(&bytes), input, "{name}");
        // Short input reads as zeroes, as with arbitrary.
        assert_eq!(
            targets::EncodeInput::from_bytes(&[]),
            targets::EncodeInput::default()
        );
        let stored = std::fs::read(dir.join(name)).unwrap_or_default();
        assert_eq!(
            stored, bytes,
            "{name} is stale: run `cargo test --features internals --test fuzz_corpus -- --ignored write_encode_seeds`"
        );
    }
}

#[test]
#[ignore = "writes the encode_entry_filter seeds into fuzz/corpus"]
fn write_encode_seeds() {
    let dir = fuzz_dir().join("corpus/encode_entry_filter");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, input) in targets::encode_seeds() {
        std::fs::write(dir.join(name), input.to_bytes()).unwrap();
    }
}
