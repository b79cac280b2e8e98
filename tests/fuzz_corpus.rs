//! Replays every file of the fuzz corpora (`fuzz/corpus/<target>/`, kept in
//! the repository: seeds from a real store, and every input the fuzzer
//! found that crashed a decoder, as a regression) through the same entry
//! points the fuzzer drives (`sealdb::fuzzing`). A panic here is a decoder
//! that panics on bad input.
//!
//! `cargo test --test fuzz_corpus -- --ignored` rewrites the seed files
//! from a freshly written store (after a format change).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use sealdb::fuzzing::{seeds, TARGETS};

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
}

#[test]
fn every_corpus_file_decodes_or_fails_cleanly() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let dir = corpus_root().join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus {name} is empty");
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let r = std::panic::catch_unwind(|| target(&data));
            assert!(r.is_ok(), "{name}: {} panics", f.display());
            total += 1;
        }
    }
    println!("{total} corpus files replayed");
}

#[test]
#[ignore = "writes the seed files of fuzz/corpus; run after a format change"]
fn write_seed_corpora() {
    let seeds = seeds().unwrap();
    for (name, _) in TARGETS {
        let dir = corpus_root().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
    let mut n = std::collections::HashMap::new();
    for (target, bytes) in seeds {
        let i = n.entry(target).or_insert(0);
        *i += 1;
        let p = corpus_root().join(target).join(format!("seed-{:03}", *i));
        std::fs::write(p, bytes).unwrap();
    }
}
