//! The memtable: recent writes, ordered, readable while being written.
//!
//! A lock-free skip list (crossbeam-skiplist) of internal key → value, so
//! readers never wait for the writer. Only the group-commit leader inserts,
//! so inserts are never concurrent with each other. Entries are immutable
//! once inserted; a memtable that is full is frozen (no more inserts) and
//! flushed to an SSTable by the background thread while a new one takes
//! the writes.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;

use super::batch::WriteBatch;
use super::key::{make_ikey, seek_key, split, IKey, Kind};

/// A memtable plus the WAL segment whose records it holds.
pub(crate) struct Memtable {
    map: SkipMap<IKey, Vec<u8>>,
    bytes: AtomicUsize,
    max_seq: AtomicU64,
    /// Number of the WAL segment that holds this memtable's writes.
    pub(crate) wal_number: u64,
}

/// Result of a point lookup in one layer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The newest visible version is a value.
    Found(Vec<u8>),
    /// The newest visible version is a tombstone.
    Deleted,
    /// This layer has no visible version.
    Absent,
}

impl Memtable {
    pub(crate) fn new(wal_number: u64) -> Memtable {
        Memtable {
            map: SkipMap::new(),
            bytes: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
            wal_number,
        }
    }

    /// Inserts the batch's operations with sequence numbers `seq, seq+1, …`.
    pub(crate) fn apply(&self, seq: u64, batch: &WriteBatch) {
        for (i, (kind, k, v)) in batch.ops.iter().enumerate() {
            self.map
                .insert(IKey(make_ikey(k, seq + i as u64, *kind)), v.clone());
        }
        self.bytes
            .fetch_add(batch.approximate_size(), Ordering::Relaxed);
        if !batch.is_empty() {
            self.max_seq
                .fetch_max(seq + batch.len() as u64 - 1, Ordering::Relaxed);
        }
    }

    /// Highest sequence number inserted (0 if none).
    pub(crate) fn max_seq(&self) -> u64 {
        self.max_seq.load(Ordering::Relaxed)
    }

    /// Approximate bytes held.
    pub(crate) fn size(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The newest version of `key` with sequence number `<= seq`.
    pub(crate) fn get(&self, key: &[u8], seq: u64) -> Lookup {
        let start = IKey(seek_key(key, seq));
        if let Some(e) = self
            .map
            .range((Bound::Included(start), Bound::Unbounded))
            .next()
        {
            if let Some((user, _, kind)) = split(&e.key().0) {
                if user == key {
                    return match kind {
                        Kind::Put => Lookup::Found(e.value().clone()),
                        Kind::Delete => Lookup::Deleted,
                    };
                }
            }
        }
        Lookup::Absent
    }

    /// The entries from the first internal key `>= from` (or the start), in
    /// internal-key order, while `keep` holds for their internal keys
    /// (entries are copied out only once `keep` passed them).
    pub(crate) fn range_from<'a>(
        &'a self,
        from: Option<&[u8]>,
        keep: impl FnMut(&[u8]) -> bool + 'a,
    ) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
        let lo = match from {
            Some(k) => Bound::Included(IKey(k.to_vec())),
            None => Bound::Unbounded,
        };
        let mut keep = keep;
        self.map
            .range((lo, Bound::Unbounded))
            .take_while(move |e| keep(&e.key().0))
            .map(|e| (e.key().0.clone(), e.value().clone()))
    }

    /// The entries up to the last internal key `<= to` (or the end), in
    /// reverse internal-key order, while `keep` holds for their keys.
    pub(crate) fn range_back_from<'a>(
        &'a self,
        to: Option<&[u8]>,
        keep: impl FnMut(&[u8]) -> bool + 'a,
    ) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
        let hi = match to {
            Some(k) => Bound::Included(IKey(k.to_vec())),
            None => Bound::Unbounded,
        };
        let mut keep = keep;
        self.map
            .range((Bound::Unbounded, hi))
            .rev()
            .take_while(move |e| keep(&e.key().0))
            .map(|e| (e.key().0.clone(), e.value().clone()))
    }
}
