//! Removing obsolete files while other threads flush and compact: a table
//! that is being installed must never be taken for garbage. Writers make
//! the background thread flush tiny memtables while other threads call
//! `compact` and `flush` (each cleans up after itself) and a reader scans;
//! every read must succeed, and the store must reopen with every key.
//!
//! The race this guards against: the cleaner took the set of installed
//! tables, a flush then installed its table and unmarked it as pending,
//! and the cleaner, reading the pending set only now, found the new table
//! in neither and removed it (seen as `open … NotFound` on a later read
//! or on reopen).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use sealdb::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider};
use sealdb::storage::{Direction, Engine, StorageOptions};
use sealdb::vfs::{KeyOptions, MemVfs, Vfs};

fn opts() -> StorageOptions {
    StorageOptions {
        memtable_bytes: 1024,
        block_bytes: 256,
        target_file_bytes: 2048,
        level_base_bytes: 8192,
        l0_compaction_trigger: 2,
        block_cache_bytes: 16 << 10,
        ..StorageOptions::default()
    }
}

fn open(vfs: &MemVfs, provider: &Arc<dyn KeyProvider>) -> Engine {
    let v: Arc<dyn Vfs> = Arc::new(vfs.clone());
    Engine::open(
        v,
        Path::new("/db"),
        provider.clone(),
        KeyOptions::default(),
        opts(),
    )
    .expect("open")
}

fn key(i: u32) -> Vec<u8> {
    format!("k{:06}", i % 3000).into_bytes()
}

#[test]
fn tables_being_installed_are_never_removed() {
    let rounds: u32 = std::env::var("SEALDB_CLEANUP_RACE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    for round in 0..rounds {
        let vfs = MemVfs::new();
        let provider: Arc<dyn KeyProvider> =
            Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[7u8; 32])).unwrap());
        let engine = Arc::new(open(&vfs, &provider));
        let done = Arc::new(AtomicBool::new(false));
        let mut helpers = Vec::new();
        // Threads that compact and flush, each removing what it made
        // obsolete, against the background thread's flushes.
        for which in 0..2 {
            let e = engine.clone();
            let done = done.clone();
            helpers.push(thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if which == 0 {
                        e.compact().expect("compact");
                    } else {
                        e.flush().expect("flush");
                    }
                }
            }));
        }
        let reader = {
            let e = engine.clone();
            let done = done.clone();
            thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let n = e.count(.., None, &[]).expect("count while tables change");
                    let mut scanned = 0u64;
                    for entry in e.iter(.., Direction::Forward, None).expect("scan") {
                        entry.expect("scan step");
                        scanned += 1;
                    }
                    assert!(n <= 3000 && scanned <= 3000, "{n} {scanned}");
                }
            })
        };
        for i in 0..6000u32 {
            let value = format!("value-{round}-{i}-{}", "x".repeat(24));
            engine.put(&key(i), value.as_bytes()).expect("put");
            if i % 97 == 0 {
                assert!(engine.get(&key(i)).expect("get").is_some());
            }
        }
        done.store(true, Ordering::Relaxed);
        for h in helpers {
            h.join().expect("helper");
        }
        reader.join().expect("reader");
        let engine = Arc::into_inner(engine).expect("sole owner");
        engine.close().expect("close");
        let engine = open(&vfs, &provider);
        for i in 3000..6000u32 {
            let want = format!("value-{round}-{i}-{}", "x".repeat(24));
            assert_eq!(
                engine.get(&key(i)).expect("get after reopen").as_deref(),
                Some(want.as_bytes()),
                "round {round}: key {i} after reopen"
            );
        }
    }
}

/// Files a crash left behind that nothing refers to (tables and log
/// segments numbered below what the store has handed out, an older
/// manifest) are removed when the store opens: the open's own listing of
/// the directory, taken before recovery, is what its cleanup goes
/// through. Everything live stays readable, and the store reopens again.
#[test]
fn leftovers_below_the_live_numbers_are_removed_at_open() {
    let vfs = MemVfs::new();
    let provider: Arc<dyn KeyProvider> =
        Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 32])).unwrap());
    let engine = open(&vfs, &provider);
    for i in 0..3000u32 {
        engine
            .put(&key(i), format!("v{i}").as_bytes())
            .expect("put");
    }
    engine.flush().expect("flush");
    engine.compact().expect("compact");
    engine.close().expect("close");
    let dir = Path::new("/db");
    let number = |name: &str, ext: &str| -> Option<u64> { name.strip_suffix(ext)?.parse().ok() };
    let names = vfs.list(dir).unwrap();
    let tables: Vec<u64> = names.iter().filter_map(|n| number(n, ".sst")).collect();
    let logs: Vec<u64> = names.iter().filter_map(|n| number(n, ".wal")).collect();
    let manifests: Vec<u64> = names
        .iter()
        .filter_map(|n| n.strip_prefix("MANIFEST-")?.parse().ok())
        .collect();
    let (oldest_log, manifest) = (
        *logs.iter().min().unwrap(),
        *manifests.iter().max().unwrap(),
    );
    let live_table = names.iter().find(|n| n.ends_with(".sst")).unwrap().clone();
    // Numbers handed out before and no longer used: a table and a log
    // segment a crash left, and the manifest before the live one.
    let free: Vec<u64> = (1..oldest_log)
        .filter(|n| !tables.contains(n) && !manifests.contains(n))
        .collect();
    assert!(free.len() >= 2, "{names:?}");
    let planted = [
        format!("{:06}.sst", free[0]),
        format!("{:06}.wal", free[1]),
        format!("MANIFEST-{:06}", manifest - 1),
    ];
    assert!(
        planted.iter().all(|p| !names.contains(p)),
        "{planted:?} in {names:?}"
    );
    let bytes = vfs.read_all(&dir.join(&live_table)).unwrap();
    for p in &planted {
        vfs.put_file(&dir.join(p), &bytes);
    }
    let engine = open(&vfs, &provider);
    let after = vfs.list(dir).unwrap();
    for p in &planted {
        assert!(!after.contains(p), "{p} left: {after:?}");
    }
    // (Live tables may go too: the reopened store compacts in the
    // background. The reads below are what must hold.)
    for i in 0..3000u32 {
        assert_eq!(
            engine.get(&key(i)).expect("get").as_deref(),
            Some(format!("v{i}").as_bytes()),
            "key {i}"
        );
    }
    engine.close().expect("close");
    let engine = open(&vfs, &provider);
    assert_eq!(
        engine.get(&key(7)).expect("get").as_deref(),
        Some(&b"v7"[..])
    );
}
