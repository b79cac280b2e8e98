//! Replays every file of `fuzz/corpus/c_abi/` and `fuzz/corpus/c_abi_batch/`
//! (seeds, and every input the fuzzer found that crashed, as a regression)
//! through the C ABI's fuzz entry points in the normal test run; and runs
//! a short mutation campaign from the batch seeds (`SEALDB_FUZZ_ITERS`
//! inputs, 300 by default), so the batch calls meet bad arrays in every
//! `cargo test` even where AFL is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|f| {
            let data = std::fs::read(&f).unwrap();
            (f, data)
        })
        .collect()
}

fn replay(target: &str, run: fn(&[u8])) {
    for (f, data) in corpus(target) {
        let r = std::panic::catch_unwind(|| run(&data));
        assert!(r.is_ok(), "{} panics", f.display());
    }
}

#[test]
fn every_c_abi_corpus_file_runs_cleanly() {
    replay("c_abi", sealdb_ffi::fuzz::c_abi);
}

#[test]
fn every_c_abi_batch_corpus_file_runs_cleanly() {
    replay("c_abi_batch", sealdb_ffi::fuzz::c_abi_batch);
}

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn batch_calls_survive_mutated_inputs() {
    let seeds: Vec<Vec<u8>> = corpus("c_abi_batch").into_iter().map(|(_, d)| d).collect();
    let iters: usize = std::env::var("SEALDB_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(0x5EA1_DB0B_A7C4_0019);
    for i in 0..iters {
        let mut input = seeds[rng.below(seeds.len())].clone();
        // Mutate after the SQL (its 0x00), mostly: flip, overwrite, insert
        // or drop bytes.
        let start = input.iter().position(|&b| b == 0).map_or(0, |p| p + 1);
        for _ in 0..1 + rng.below(8) {
            let len = input.len();
            let at = start + rng.below((len - start).max(1));
            match rng.below(4) {
                0 if at < len => input[at] ^= 1 << rng.below(8),
                1 if at < len => input[at] = rng.next() as u8,
                2 => input.insert(at.min(len), rng.next() as u8),
                _ if at < len => {
                    input.remove(at);
                }
                _ => input.push(rng.next() as u8),
            }
        }
        let r = std::panic::catch_unwind(|| sealdb_ffi::fuzz::c_abi_batch(&input));
        assert!(r.is_ok(), "mutated input {i} panics: {input:?}");
    }
}
