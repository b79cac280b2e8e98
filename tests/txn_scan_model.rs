//! Model test of transaction scans in both directions against a
//! `BTreeMap` oracle: committed data spread over the memtable and tables
//! (flushes, compactions), a transaction's own uncommitted puts and
//! deletes layered over it (shadowing stored keys, deleting them,
//! re-inserting deleted ones), statement rollbacks to a mark, and range
//! scans with every kind of bound, forwards and backwards. A reverse scan
//! must give exactly the forward scan's entries in the opposite order;
//! an ORDER BY ... DESC read through a rowid range or an index relies on it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use sealdb::crypto::{KeyProvider, UnencryptedKeyProvider};
use sealdb::storage::{Direction, Engine, StorageOptions};
use sealdb::txn::{SortedKeysBuilder, TxnManager};
use sealdb::vfs::{KeyOptions, MemVfs, Vfs};

#[derive(Clone, Debug)]
enum Op {
    /// A committed put.
    Put(u16, u8),
    /// A committed delete.
    Delete(u16),
    Flush,
    Compact,
    /// Commit the open transaction (its writes join the committed model).
    Commit,
    /// An uncommitted put in the open transaction.
    TxnPut(u16, u8),
    /// An uncommitted delete in the open transaction.
    TxnDelete(u16),
    /// Uncommitted puts of empty values through `Txn::put_fresh` (as an
    /// index build writes): `n` keys from `a`, `s` apart (0: one key
    /// repeated), declared to lie
    /// in `[k(a), k(last + 1))`, or, when the flag says so, a range that
    /// leaves the last key out (the call must then fall back to plain
    /// puts). One undo entry when the range holds none of the
    /// transaction's writes yet. An even `n` goes through
    /// `Txn::put_fresh_sorted` (keys handed over shuffled, sorted by a
    /// `SortedKeysBuilder`).
    TxnPutFresh(u16, u8, u8, bool),
    /// Take a mark (a statement start).
    Mark,
    /// Roll the transaction back to the last mark.
    RollbackToMark,
    /// Forget how to undo the writes so far (`Txn::settle`, a session
    /// between statements with no savepoint): every mark is dropped, and
    /// marks taken later still roll back to themselves.
    Settle,
    /// Scan: lower key, upper key, bound kinds (0 included, 1 excluded,
    /// 2 unbounded), reverse.
    Scan(u16, u16, u8, u8, bool),
    /// Scan a few entries only, then drop the iterator (LIMIT).
    ScanPrefix(u16, bool, u8),
    /// The largest key of one of a few fixed ranges (`Txn::last_key`,
    /// which keeps its answer between calls: asked again and again for
    /// the same ranges, as inserts ask for a table's largest rowid).
    LastKey(u8),
}

/// The ranges [`Op::LastKey`] asks about: `[lower, upper)`.
const LAST_KEY_RANGES: [(u16, u16); 3] = [(10, 60), (0, 120), (40, 41)];

fn op() -> impl Strategy<Value = Op> {
    let key = 0u16..120;
    prop_oneof![
        20 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => key.clone().prop_map(Op::Delete),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        2 => Just(Op::Commit),
        20 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Op::TxnPut(k, v)),
        10 => key.clone().prop_map(Op::TxnDelete),
        4 => (key.clone(), 0u8..12, 0u8..4, any::<bool>())
            .prop_map(|(a, n, s, t)| Op::TxnPutFresh(a, n, s, t)),
        2 => Just(Op::Mark),
        2 => Just(Op::RollbackToMark),
        2 => Just(Op::Settle),
        12 => (key.clone(), key.clone(), 0u8..3, 0u8..3, any::<bool>())
            .prop_map(|(a, b, l, u, r)| Op::Scan(a, b, l, u, r)),
        4 => (key, any::<bool>(), 1u8..12).prop_map(|(a, r, n)| Op::ScanPrefix(a, r, n)),
        12 => (0u8..3).prop_map(Op::LastKey),
    ]
}

fn k(i: u16) -> Vec<u8> {
    format!("k{i:04}").into_bytes()
}

fn v(i: u16, x: u8) -> Vec<u8> {
    let mut v = format!("v{i}-{x}-").into_bytes();
    v.resize(8 + (x as usize % 40), x);
    v
}

fn open(vfs: &MemVfs) -> Arc<Engine> {
    let fs: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let provider: Arc<dyn KeyProvider> = Arc::new(UnencryptedKeyProvider::dangerous_new());
    let opts = StorageOptions {
        memtable_bytes: 1024,
        block_bytes: 128,
        target_file_bytes: 1024,
        level_base_bytes: 4096,
        l0_compaction_trigger: 3,
        block_cache_bytes: 8 << 10,
        ..StorageOptions::default()
    };
    Arc::new(
        Engine::open(fs, Path::new("/db"), provider, KeyOptions::default(), opts).expect("open"),
    )
}

fn bound(kind: u8, key: Vec<u8>) -> Bound<Vec<u8>> {
    match kind {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A transaction's own writes: `None` for a delete.
type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The view of the transaction: committed data with its writes applied.
fn txn_view(committed: &Model, own: &Writes) -> Model {
    let mut m = committed.clone();
    for (key, val) in own {
        match val {
            Some(val) => m.insert(key.clone(), val.clone()),
            None => m.remove(key),
        };
    }
    m
}

/// Whether `(lo, hi)` is a range `BTreeMap::range` accepts (it panics on
/// an inverted or empty-excluded one; the engine is never asked for one).
fn valid_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l <= h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => l < h,
        _ => true,
    }
}

fn run(ops: Vec<Op>) {
    let vfs = MemVfs::new();
    let engine = open(&vfs);
    let mgr = TxnManager::new(engine.clone());
    let mut committed: Model = BTreeMap::new();
    let mut txn = mgr.begin();
    let mut own: Writes = BTreeMap::new();
    // Each mark with the write set it restores.
    let mut marks: Vec<(sealdb::txn::Mark, Writes)> = Vec::new();
    let timeout = std::time::Duration::from_secs(1);
    for op in ops {
        match op {
            // Committed writes go straight to the engine; the open
            // transaction keeps its snapshot, so restart it if it has not
            // written (a writer would conflict, as in the database).
            Op::Put(i, _) | Op::Delete(i) if own.is_empty() => {
                drop(txn);
                match op {
                    Op::Put(..) => {
                        engine.put(&k(i), &v(i, x_of(&op))).unwrap();
                        committed.insert(k(i), v(i, x_of(&op)));
                    }
                    _ => {
                        engine.delete(&k(i)).unwrap();
                        committed.remove(&k(i));
                    }
                }
                txn = mgr.begin();
                marks.clear();
            }
            Op::Put(..) | Op::Delete(..) => {}
            Op::Flush => engine.flush().unwrap(),
            Op::Compact => engine.compact().unwrap(),
            Op::Commit => {
                txn.commit().unwrap();
                committed = txn_view(&committed, &own);
                own.clear();
                marks.clear();
                txn = mgr.begin();
            }
            Op::TxnPut(i, x) => {
                txn.ensure_writer(timeout).unwrap();
                txn.put(k(i), v(i, x));
                own.insert(k(i), Some(v(i, x)));
            }
            Op::TxnDelete(i) => {
                txn.ensure_writer(timeout).unwrap();
                txn.delete(k(i));
                own.insert(k(i), None);
            }
            Op::TxnPutFresh(a, n, s, tight) => {
                let keys: Vec<u16> = (0..u16::from(n))
                    .map(|i| a + i * u16::from(s))
                    .filter(|&i| i < 120)
                    .collect();
                let last = keys.last().copied().unwrap_or(a);
                let upper = if tight { k(last) } else { k(last + 1) };
                txn.ensure_writer(timeout).unwrap();
                if n % 2 == 0 {
                    // As an index build writes: through a SortedKeys
                    // (shuffled first; a step of 0 repeats one key).
                    let mut b = SortedKeysBuilder::new(b"k");
                    for &i in keys.iter().rev() {
                        assert!(b.push(k(i)));
                    }
                    txn.put_fresh_sorted(&k(a), &upper, b.finish());
                } else {
                    txn.put_fresh(&k(a), &upper, keys.iter().map(|&i| k(i)).collect());
                }
                for i in keys {
                    own.insert(k(i), Some(Vec::new()));
                }
            }
            Op::Mark => marks.push((txn.mark(), own.clone())),
            Op::RollbackToMark => {
                if let Some((m, saved)) = marks.pop() {
                    txn.rollback_to(m);
                    own = saved;
                }
            }
            Op::Settle => {
                let before = txn.write_count();
                txn.settle();
                assert_eq!(txn.write_count(), before, "settling keeps the count");
                marks.clear();
            }
            Op::Scan(a, b, l, u, rev) => {
                let lo = bound(l, k(a.min(b)));
                let hi = bound(u, k(a.max(b)));
                if !valid_range(&lo, &hi) {
                    continue;
                }
                let dir = if rev {
                    Direction::Reverse
                } else {
                    Direction::Forward
                };
                let got: Vec<_> = txn
                    .scan(lo.clone(), hi.clone(), dir)
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let view = txn_view(&committed, &own);
                let mut want: Vec<_> = view
                    .range((lo.clone(), hi.clone()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if rev {
                    want.reverse();
                }
                assert_eq!(got, want, "scan {lo:?}..{hi:?} rev={rev}");
            }
            Op::ScanPrefix(a, rev, n) => {
                let (lo, hi, dir) = if rev {
                    (Bound::Unbounded, Bound::Included(k(a)), Direction::Reverse)
                } else {
                    (Bound::Included(k(a)), Bound::Unbounded, Direction::Forward)
                };
                // Through the cursor interface, as the executor reads.
                let mut it = txn.scan(lo.clone(), hi.clone(), dir).unwrap();
                let mut got = Vec::new();
                while got.len() < usize::from(n) && it.step().unwrap() {
                    got.push((it.key().to_vec(), it.value().to_vec()));
                }
                let view = txn_view(&committed, &own);
                let range = view.range((lo, hi)).map(|(k, v)| (k.clone(), v.clone()));
                let want: Vec<_> = if rev {
                    range.rev().take(usize::from(n)).collect()
                } else {
                    range.take(usize::from(n)).collect()
                };
                assert_eq!(got, want, "first {n} from {a} rev={rev}");
            }
            Op::LastKey(r) => {
                let (a, b) = LAST_KEY_RANGES[usize::from(r)];
                let got = txn.last_key(k(a), k(b)).unwrap();
                let view = txn_view(&committed, &own);
                let want = view.range(k(a)..k(b)).next_back().map(|(k, _)| k.clone());
                assert_eq!(got, want, "last key of {a}..{b}");
            }
        }
    }
    // Everything, both ways, before and after the commit.
    for round in 0..2 {
        let view = txn_view(&committed, &own);
        let fwd: Vec<_> = txn
            .scan(Bound::Unbounded, Bound::Unbounded, Direction::Forward)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut back: Vec<_> = txn
            .scan(Bound::Unbounded, Bound::Unbounded, Direction::Reverse)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        back.reverse();
        let want: Vec<_> = view.into_iter().collect();
        assert_eq!(fwd, want, "final forward, round {round}");
        assert_eq!(back, want, "final reverse, round {round}");
        txn.commit().unwrap();
        committed = txn_view(&committed, &own);
        own.clear();
        txn = mgr.begin();
    }
}

fn x_of(op: &Op) -> u8 {
    match op {
        Op::Put(_, x) => *x,
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn txn_scans_match_model(ops in prop::collection::vec(op(), 1..300)) {
        run(ops);
    }
}

/// Reverse scans over a transaction whose own writes interleave with
/// stored keys at both ends of the range: the case an ORDER BY ... DESC
/// LIMIT inside a transaction meets.
#[test]
fn reverse_scan_interleaves_own_writes() {
    let vfs = MemVfs::new();
    let engine = open(&vfs);
    for i in (0..100u16).step_by(2) {
        engine.put(&k(i), &v(i, 1)).unwrap();
    }
    engine.flush().unwrap();
    for i in (50..100u16).step_by(4) {
        engine.delete(&k(i)).unwrap();
    }
    let mgr = TxnManager::new(engine);
    let mut txn = mgr.begin();
    txn.ensure_writer(std::time::Duration::from_secs(1))
        .unwrap();
    txn.put(k(99), v(99, 2)); // new, above every stored key
    txn.put(k(98), v(98, 2)); // shadows a stored key
    txn.delete(k(96)); // already deleted in storage
    txn.delete(k(94)); // deletes a stored key
    txn.put(k(92), v(92, 3)); // a key stored, kept, and now changed
    txn.put(k(90), v(90, 3)); // re-inserts a key deleted in storage
                              // 88 is stored; 86 was deleted in storage, 84 not.
    let got: Vec<Vec<u8>> = txn
        .scan(Bound::Included(k(84)), Bound::Unbounded, Direction::Reverse)
        .unwrap()
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(got, vec![k(99), k(98), k(92), k(90), k(88), k(84)]);
}
