//! The block cache: decoded, authenticated SSTable blocks, bounded in bytes.
//!
//! Keyed by (table number, block offset). Eviction is CLOCK (second chance)
//! per shard: a hit sets the entry's reference bit; the hand clears bits and
//! evicts the first unreferenced entry. Sixteen shards keep lock hold times
//! short under concurrent readers. Only decrypted, MAC-checked blocks enter
//! the cache, so a hit never needs checking again. A scan's blocks after
//! its first enter only where there is room ([`BlockCache::insert_if_room`]):
//! a scan does not evict.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use super::key_hash::KeyHash;
use super::sst::block::Block;

const SHARDS: usize = 16;

struct Entry {
    block: Arc<Block>,
    referenced: bool,
}

struct Shard {
    map: HashMap<(u64, u64), Entry, KeyHash>,
    clock: VecDeque<(u64, u64)>,
    bytes: usize,
    /// Counted under the shard's lock, not in atomics shared by every
    /// reader (one line written by all threads on every hit).
    hits: u64,
    misses: u64,
}

/// A shard alone in its cache lines: the background thread filling one
/// shard does not steal the line of the shard a reader locks.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// A size-bounded cache of decoded blocks.
pub(crate) struct BlockCache {
    shards: Vec<Padded>,
    shard_capacity: usize,
}

impl BlockCache {
    pub(crate) fn new(capacity_bytes: usize) -> BlockCache {
        let hash = KeyHash::random();
        let shard = || Shard {
            map: HashMap::with_hasher(hash),
            clock: VecDeque::new(),
            bytes: 0,
            hits: 0,
            misses: 0,
        };
        BlockCache {
            shards: (0..SHARDS).map(|_| Padded(Mutex::new(shard()))).collect(),
            shard_capacity: capacity_bytes / SHARDS,
        }
    }

    fn shard(&self, key: (u64, u64)) -> &Mutex<Shard> {
        let h =
            key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        &self.shards[(h >> 60) as usize % SHARDS].0
    }

    pub(crate) fn get(&self, table: u64, offset: u64) -> Option<Arc<Block>> {
        let mut guard = self.shard((table, offset)).lock();
        let s = &mut *guard;
        match s.map.get_mut(&(table, offset)) {
            Some(e) => {
                // Written only when it changes: a hit leaves the entry's
                // line clean (readers on other cores keep their copies).
                if !e.referenced {
                    e.referenced = true;
                }
                s.hits += 1;
                Some(e.block.clone())
            }
            None => {
                s.misses += 1;
                None
            }
        }
    }

    pub(crate) fn insert(&self, table: u64, offset: u64, block: Arc<Block>) {
        let charge = block.charge();
        if charge > self.shard_capacity {
            return;
        }
        let mut s = self.shard((table, offset)).lock();
        if s.map.contains_key(&(table, offset)) {
            return;
        }
        while s.bytes + charge > self.shard_capacity {
            let Some(k) = s.clock.pop_front() else { break };
            let second_chance = match s.map.get_mut(&k) {
                Some(e) if e.referenced => {
                    e.referenced = false;
                    true
                }
                Some(_) => false,
                None => continue,
            };
            if second_chance {
                s.clock.push_back(k);
            } else if let Some(e) = s.map.remove(&k) {
                s.bytes -= e.block.charge();
            }
        }
        s.bytes += charge;
        s.clock.push_back((table, offset));
        s.map.insert(
            (table, offset),
            Entry {
                block,
                referenced: false,
            },
        );
    }

    /// Caches `block` only if it fits without evicting anything; whether
    /// it did. A scan's blocks go in this way: a scan of more than the
    /// cache holds would otherwise evict every block others use, each
    /// eviction a probe of cold entries and a free of a cold block, to
    /// keep blocks it reads once.
    pub(crate) fn insert_if_room(&self, table: u64, offset: u64, block: &Arc<Block>) -> bool {
        let charge = block.charge();
        let mut s = self.shard((table, offset)).lock();
        if s.bytes + charge > self.shard_capacity || s.map.contains_key(&(table, offset)) {
            return false;
        }
        s.bytes += charge;
        s.clock.push_back((table, offset));
        s.map.insert(
            (table, offset),
            Entry {
                block: block.clone(),
                referenced: false,
            },
        );
        true
    }

    /// Whether a block of about `bytes` at (`table`, `offset`) would go in
    /// now without evicting (a hint, to skip decoding one that would not:
    /// [`BlockCache::insert_if_room`] decides).
    pub(crate) fn has_room(&self, table: u64, offset: u64, bytes: usize) -> bool {
        self.shard((table, offset)).lock().bytes + bytes <= self.shard_capacity
    }

    /// Drops every block of `table` (after the table is deleted).
    pub(crate) fn evict_table(&self, table: u64) {
        for shard in &self.shards {
            let mut s = shard.0.lock();
            let mut freed = 0;
            s.map.retain(|k, e| {
                if k.0 == table {
                    freed += e.block.charge();
                    false
                } else {
                    true
                }
            });
            s.bytes -= freed;
            s.clock.retain(|k| k.0 != table);
        }
    }

    pub(crate) fn hits(&self) -> u64 {
        self.shards.iter().map(|s| s.0.lock().hits).sum()
    }

    pub(crate) fn misses(&self) -> u64 {
        self.shards.iter().map(|s| s.0.lock().misses).sum()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::storage::key::{make_ikey, Kind};
    use crate::storage::sst::block::BlockBuilder;

    fn block(n: u32) -> Arc<Block> {
        let mut b = BlockBuilder::new();
        for i in 0..n {
            b.add(
                &make_ikey(format!("k{i:04}").as_bytes(), 1, Kind::Put),
                &[7; 40],
            );
        }
        Arc::new(Block::decode(&b.finish()).unwrap())
    }

    /// `insert_if_room` fills free room and never evicts; `insert` evicts.
    #[test]
    fn insert_if_room_never_evicts() {
        let b = block(8);
        // One shard's capacity holds three such blocks.
        let cache = BlockCache::new(b.charge() * 3 * SHARDS + SHARDS);
        let same_shard: Vec<u64> = (0..10_000u64)
            .filter(|&off| std::ptr::eq(cache.shard((1, off)), cache.shard((1, 0))))
            .take(5)
            .collect();
        for &off in &same_shard[..3] {
            assert!(cache.insert_if_room(1, off, &b));
        }
        assert!(
            !cache.insert_if_room(1, same_shard[0], &b),
            "already cached"
        );
        assert!(!cache.insert_if_room(1, same_shard[3], &b), "full: refused");
        for &off in &same_shard[..3] {
            assert!(cache.get(1, off).is_some(), "nothing evicted");
        }
        assert!(cache.get(1, same_shard[3]).is_none());
        cache.insert(1, same_shard[4], b.clone());
        assert!(cache.get(1, same_shard[4]).is_some());
        let kept = same_shard[..3]
            .iter()
            .filter(|&&off| cache.get(1, off).is_some())
            .count();
        assert_eq!(kept, 2, "insert evicted one");
        assert!(cache.bytes() <= b.charge() * 3);
    }
}
