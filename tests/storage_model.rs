//! Model-based test of the storage engine against a `BTreeMap` oracle:
//! random puts, deletes, batches, snapshots, range scans in both directions,
//! with flushes, compactions and reopens mixed in. Tiny memtables and tables
//! make every path (flush, L0 compaction, multi-level, bloom, block cache)
//! run often.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use sealdb::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider, UnencryptedKeyProvider};
use sealdb::storage::{Direction, Engine, StorageOptions, WriteBatch};
use sealdb::vfs::{KeyOptions, MemVfs, Vfs};

#[derive(Clone, Debug)]
enum Op {
    Put(u16, u8),
    Delete(u16),
    Batch(Vec<(u16, Option<u8>)>),
    Flush,
    Compact,
    Reopen,
    Snapshot,
    CheckSnapshot,
    Scan(u16, u16, bool),
    Get(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u16..300;
    prop_oneof![
        30 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        10 => key.clone().prop_map(Op::Delete),
        8 => prop::collection::vec((key.clone(), prop::option::of(any::<u8>())), 1..20).prop_map(Op::Batch),
        // Distinct keys in order (a bulk load), often half a memtable or
        // more: committed as a memtable of its own (`Memtable::sorted`).
        4 => prop::collection::btree_map(key.clone(), prop::option::of(any::<u8>()), 10..40)
            .prop_map(|m| Op::Batch(m.into_iter().collect())),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        2 => Just(Op::Snapshot),
        2 => Just(Op::CheckSnapshot),
        4 => (key.clone(), key.clone(), any::<bool>()).prop_map(|(a, b, r)| Op::Scan(a, b, r)),
        10 => key.prop_map(Op::Get),
    ]
}

fn k(i: u16) -> Vec<u8> {
    // Every fifth key longer than a point read's seek key buffer on the
    // stack (64 bytes with its 8-byte trailer).
    let mut key = format!("key{i:05}").into_bytes();
    if i.is_multiple_of(5) {
        key.resize(57 + usize::from(i % 3), b'-');
    }
    key
}

fn v(i: u16, x: u8) -> Vec<u8> {
    let mut v = format!("value-{i}-{x}-").into_bytes();
    v.resize(20 + (x as usize % 50), x);
    v
}

fn opts() -> StorageOptions {
    StorageOptions {
        memtable_bytes: 2048,
        block_bytes: 256,
        target_file_bytes: 2048,
        level_base_bytes: 8192,
        l0_compaction_trigger: 3,
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

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn run(ops: Vec<Op>, provider: Arc<dyn KeyProvider>) {
    let vfs = MemVfs::new();
    let mut db = open(&vfs, &provider);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut snap: Option<(sealdb::storage::Snapshot, Model)> = None;
    for op in ops {
        match op {
            Op::Put(i, x) => {
                db.put(&k(i), &v(i, x)).unwrap();
                model.insert(k(i), v(i, x));
            }
            Op::Delete(i) => {
                db.delete(&k(i)).unwrap();
                model.remove(&k(i));
            }
            Op::Batch(ops) => {
                let mut b = WriteBatch::new();
                for (i, x) in ops {
                    match x {
                        Some(x) => {
                            b.put(k(i), v(i, x));
                            model.insert(k(i), v(i, x));
                        }
                        None => {
                            b.delete(k(i));
                            model.remove(&k(i));
                        }
                    }
                }
                db.write(b).unwrap();
            }
            Op::Flush => db.flush().unwrap(),
            Op::Compact => db.compact().unwrap(),
            Op::Reopen => {
                snap = None;
                db.close().unwrap();
                db = open(&vfs, &provider);
            }
            Op::Snapshot => snap = Some((db.snapshot(), model.clone())),
            Op::CheckSnapshot => {
                if let Some((s, m)) = &snap {
                    let got: Vec<_> = db
                        .iter(.., Direction::Forward, Some(s))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let want: Vec<_> = m.clone().into_iter().collect();
                    assert_eq!(got, want, "snapshot view");
                    // Backwards, newer versions and deletions hidden too.
                    let mut back: Vec<_> = db
                        .iter(.., Direction::Reverse, Some(s))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    back.reverse();
                    assert_eq!(back, want, "snapshot view, reverse");
                    for key in m.keys().take(5) {
                        assert_eq!(db.get_at(key, s).unwrap().as_ref(), m.get(key));
                        let lent = db.get_at_with(key, s, <[u8]>::to_vec).unwrap();
                        assert_eq!(lent.as_ref(), m.get(key));
                    }
                }
            }
            Op::Scan(a, b, rev) => {
                let (lo, hi) = (k(a.min(b)), k(a.max(b)));
                let range = (Bound::Included(lo.clone()), Bound::Excluded(hi.clone()));
                let dir = if rev {
                    Direction::Reverse
                } else {
                    Direction::Forward
                };
                let got: Vec<_> = db
                    .iter(range.clone(), dir, None)
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let mut want: Vec<_> = model
                    .range(range)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if rev {
                    want.reverse();
                }
                assert_eq!(got, want, "scan {a}..{b} rev={rev}");
            }
            Op::Get(i) => {
                assert_eq!(db.get(&k(i)).unwrap(), model.get(&k(i)).cloned(), "get {i}");
                // The value lent where it lies is the same value.
                let now = db.snapshot();
                let lent = db.get_at_with(&k(i), &now, <[u8]>::to_vec).unwrap();
                assert_eq!(lent, model.get(&k(i)).cloned(), "get_at_with {i}");
            }
        }
    }
    // Full check, both directions, then once more after a reopen.
    for round in 0..2 {
        let all: Vec<_> = db
            .iter(.., Direction::Forward, None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            all,
            model.clone().into_iter().collect::<Vec<_>>(),
            "final forward, round {round}"
        );
        let mut back: Vec<_> = db
            .iter(.., Direction::Reverse, None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        back.reverse();
        assert_eq!(back, all, "final reverse, round {round}");
        drop(snap.take());
        db.close().unwrap();
        db = open(&vfs, &provider);
    }
}

proptest! {
    // PROPTEST_CASES overrides the short default for long runs.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn model_encrypted(ops in prop::collection::vec(op(), 1..400)) {
        let p: Arc<dyn KeyProvider> = Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[7u8; 32])).unwrap());
        run(ops, p);
    }

    #[test]
    fn model_plaintext(ops in prop::collection::vec(op(), 1..200)) {
        run(ops, Arc::new(UnencryptedKeyProvider::dangerous_new()));
    }
}

#[test]
fn many_keys_across_levels() {
    let p: Arc<dyn KeyProvider> =
        Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 16])).unwrap());
    let vfs = MemVfs::new();
    let db = open(&vfs, &p);
    let mut model = BTreeMap::new();
    for round in 0..4u16 {
        for i in 0..2000u16 {
            let key = k(i.wrapping_mul(7919) % 2000);
            let val = v(i, round as u8);
            db.put(&key, &val).unwrap();
            model.insert(key, val);
        }
        for i in (0..2000u16).step_by(3 + round as usize) {
            db.delete(&k(i)).unwrap();
            model.remove(&k(i));
        }
    }
    db.flush().unwrap();
    let stats = db.stats();
    assert!(
        stats.levels.iter().skip(1).any(|l| l.files > 0),
        "compaction reached level 1+: {stats:?}"
    );
    let now = db.snapshot();
    for i in 0..2000u16 {
        let key = k(i);
        let lent = db.get_at_with(&key, &now, <[u8]>::to_vec).unwrap();
        assert_eq!(lent.as_ref(), model.get(&key), "get_at_with {i}");
    }
    for (key, val) in &model {
        assert_eq!(db.get(key).unwrap().as_ref(), Some(val));
    }
    let all: Vec<_> = db
        .iter(.., Direction::Forward, None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all, model.into_iter().collect::<Vec<_>>());
}
