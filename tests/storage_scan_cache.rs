//! Scans of more data than the block cache holds: every entry comes back
//! in order (blocks read into the scan's own reused buffers when the
//! cache is full), and the scan neither evicts the blocks lookups cached
//! nor grows the cache past its bound. Tables that a flush or compaction
//! writes are in the cache as written, where it has room: reading them
//! right after reads no block from the file, and reads the same entries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sealdb::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider};
use sealdb::storage::{Direction, Engine, EngineIter, StorageOptions};
use sealdb::vfs::{KeyOptions, MemVfs, Vfs};

const CACHE: usize = 64 << 10;

fn open(vfs: &MemVfs) -> Engine {
    open_with_cache(vfs, CACHE)
}

fn open_with_cache(vfs: &MemVfs, cache: usize) -> Engine {
    let v: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let provider: Arc<dyn KeyProvider> =
        Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[7u8; 32])).unwrap());
    Engine::open(
        v,
        Path::new("/db"),
        provider,
        KeyOptions::default(),
        StorageOptions {
            memtable_bytes: 32 << 10,
            block_bytes: 256,
            target_file_bytes: 16 << 10,
            block_cache_bytes: cache,
            // Compactions only when asked: one the background thread ran
            // on its own between two readings of the cache's counters
            // would replace the tables the probes cached (it flaked under
            // load).
            auto_compaction: false,
            ..StorageOptions::default()
        },
    )
    .unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(30 + (i as usize * 7) % 50, b'a' + (i % 26) as u8);
    v
}

/// A store of `n` keys (every third one overwritten, every seventh
/// deleted, across several flushes), compacted into tables; its model.
fn filled(vfs: &MemVfs, n: u32) -> (Engine, BTreeMap<Vec<u8>, Vec<u8>>) {
    let db = open(vfs);
    let mut model = BTreeMap::new();
    for i in 0..n {
        db.put(&key(i), &value(i)).unwrap();
        model.insert(key(i), value(i));
    }
    db.flush().unwrap();
    for i in (0..n).step_by(3) {
        let v = value(i + n);
        db.put(&key(i), &v).unwrap();
        model.insert(key(i), v);
    }
    for i in (0..n).step_by(7) {
        db.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    db.flush().unwrap();
    db.compact().unwrap();
    (db, model)
}

fn drain(it: &mut EngineIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.map(|r| r.unwrap()).collect()
}

#[test]
fn scans_larger_than_the_cache_return_every_entry() {
    let vfs = MemVfs::new();
    let (db, model) = filled(&vfs, 12000);
    let stats = db.stats();
    let table_bytes: u64 = stats.levels.iter().map(|l| l.bytes).sum();
    assert!(
        table_bytes > 8 * CACHE as u64,
        "tables of {table_bytes} bytes"
    );
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
    for round in 0..2 {
        let fwd = drain(&mut db.iter(.., Direction::Forward, None).unwrap());
        assert_eq!(fwd, want, "forward scan, round {round}");
        let mut back = drain(&mut db.iter(.., Direction::Reverse, None).unwrap());
        back.reverse();
        assert_eq!(back, want, "reverse scan, round {round}");
    }
    // Bounded ranges starting and ending inside blocks.
    for (lo, hi) in [(17u32, 2900u32), (1234, 1240), (11990, 12000), (0, 1)] {
        let got = drain(&mut db.iter(key(lo)..key(hi), Direction::Forward, None).unwrap());
        let exp: Vec<_> = model
            .range(key(lo)..key(hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, exp, "range {lo}..{hi}");
        let mut got = drain(&mut db.iter(key(lo)..key(hi), Direction::Reverse, None).unwrap());
        got.reverse();
        assert_eq!(got, exp, "reverse range {lo}..{hi}");
    }
    // Three scans stepped in turn: each reads into its own buffers.
    let mut a = db.iter(.., Direction::Forward, None).unwrap();
    let mut b = db.iter(key(3000).., Direction::Forward, None).unwrap();
    let mut c = db.iter(.., Direction::Reverse, None).unwrap();
    let (mut ga, mut gb, mut gc) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let na = a.next().map(|r| r.unwrap());
        let nb = b.next().map(|r| r.unwrap());
        let nc = c.next().map(|r| r.unwrap());
        if na.is_none() && nb.is_none() && nc.is_none() {
            break;
        }
        ga.extend(na);
        gb.extend(nb);
        gc.extend(nc);
    }
    gc.reverse();
    assert_eq!(ga, want);
    assert_eq!(gc, want);
    let exp_b: Vec<_> = model
        .range(key(3000)..)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(gb, exp_b);
    assert!(db.stats().cache_bytes <= CACHE, "the cache stays bounded");
}

#[test]
fn a_long_scan_does_not_evict_what_lookups_cached() {
    let vfs = MemVfs::new();
    let (db, model) = filled(&vfs, 12000);
    let probes: Vec<u32> = vec![1, 6500, 11999];
    for &i in &probes {
        assert_eq!(db.get(&key(i)).unwrap().as_ref(), model.get(&key(i)));
    }
    // Now cached: read again, they hit.
    let before = db.stats();
    for &i in &probes {
        db.get(&key(i)).unwrap();
    }
    let after = db.stats();
    assert_eq!(
        after.cache_misses, before.cache_misses,
        "the probes' blocks are cached"
    );
    // Full scans both ways, many times the cache's size.
    for dir in [Direction::Forward, Direction::Reverse] {
        let n = drain(&mut db.iter(.., dir, None).unwrap()).len();
        assert_eq!(n, model.len());
    }
    let before = db.stats();
    for &i in &probes {
        assert_eq!(db.get(&key(i)).unwrap().as_ref(), model.get(&key(i)));
    }
    let after = db.stats();
    assert_eq!(
        after.cache_misses, before.cache_misses,
        "a scan evicted blocks the lookups had cached"
    );
    assert_eq!(after.cache_hits, before.cache_hits + probes.len() as u64);
}

#[test]
fn tables_just_written_are_read_from_the_cache() {
    let vfs = MemVfs::new();
    let db = open_with_cache(&vfs, 4 << 20);
    let mut model = BTreeMap::new();
    let check = |db: &Engine, model: &BTreeMap<Vec<u8>, Vec<u8>>, what: &str| {
        let before = db.stats();
        for i in 0..3000 {
            assert_eq!(
                db.get(&key(i)).unwrap().as_ref(),
                model.get(&key(i)),
                "{what} {i}"
            );
        }
        let all = drain(&mut db.iter(.., Direction::Forward, None).unwrap());
        assert_eq!(all, model.clone().into_iter().collect::<Vec<_>>(), "{what}");
        let after = db.stats();
        assert_eq!(
            after.cache_misses, before.cache_misses,
            "{what}: a block was read"
        );
        assert!(after.cache_hits > before.cache_hits, "{what}");
    };
    for i in 0..3000 {
        db.put(&key(i), &value(i)).unwrap();
        model.insert(key(i), value(i));
    }
    db.flush().unwrap();
    check(&db, &model, "flushed");
    for i in (0..3000).step_by(4) {
        db.put(&key(i), &value(i + 7)).unwrap();
        model.insert(key(i), value(i + 7));
    }
    for i in (0..3000).step_by(9) {
        db.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    db.flush().unwrap();
    db.compact().unwrap();
    check(&db, &model, "compacted");
    assert!(db.stats().cache_bytes <= 4 << 20);
    // The same entries from the file, cold.
    drop(db);
    let db = open_with_cache(&vfs, 4 << 20);
    let all = drain(&mut db.iter(.., Direction::Forward, None).unwrap());
    assert_eq!(all, model.into_iter().collect::<Vec<_>>(), "reopened");
    assert!(db.stats().cache_misses > 0);
}
