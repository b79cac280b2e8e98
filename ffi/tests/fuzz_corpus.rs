//! Replays every file of `fuzz/corpus/c_abi/` (seeds, and every input the
//! fuzzer found that crashed, as a regression) through the C ABI's fuzz
//! entry point in the normal test run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

#[test]
fn every_c_abi_corpus_file_runs_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
        .join("corpus")
        .join("c_abi");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(|| sealdb_ffi::fuzz::c_abi(&data));
        assert!(r.is_ok(), "{} panics", f.display());
    }
}
