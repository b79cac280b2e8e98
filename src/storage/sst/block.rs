//! SSTable blocks: sorted entries with prefix-compressed keys.
//!
//! ```text
//!   block = count u32le | count × entry
//!   entry = shared varint | unshared varint | vlen varint | key[shared..] | value
//! ```
//!
//! `shared` is the length of the prefix the key has in common with the
//! previous key of the block (0 for the first). A block is read whole (it is
//! one sealed record, authenticated as a unit) and decoded once into a
//! [`Block`] that the block cache keeps, so lookups binary-search decoded
//! keys without re-decoding.

use std::cmp::Ordering;

use crate::storage::key::{cmp_ikey, get_bytes, get_varint, put_varint, user_key};

/// Accumulates sorted entries into a block's bytes.
#[derive(Default)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    last: Vec<u8>,
    count: u32,
}

impl BlockBuilder {
    pub(crate) fn new() -> Self {
        BlockBuilder {
            buf: vec![0; 4],
            last: Vec::new(),
            count: 0,
        }
    }

    /// Adds an entry; keys must come in increasing order.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = self
            .last
            .iter()
            .zip(key)
            .take_while(|(a, b)| a == b)
            .count();
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last.clear();
        self.last.extend_from_slice(key);
        self.count += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entries added since the last finish.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// Bytes the block would take now.
    pub(crate) fn size(&self) -> usize {
        self.buf.len()
    }

    /// The last key added.
    pub(crate) fn last_key(&self) -> &[u8] {
        &self.last
    }

    /// Finishes the block, returns its bytes and resets the builder.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let count = self.count.to_le_bytes();
        self.buf[..4].copy_from_slice(&count);
        let out = std::mem::replace(&mut self.buf, vec![0; 4]);
        self.last.clear();
        self.count = 0;
        out
    }
}

/// A decoded block: keys rebuilt in full, values in place.
///
/// A point lookup in a cached block is bound by cache misses, not by
/// compares: each entry's search head sits beside its offsets (one line
/// holds both for the probe that ties and the value read after it), and
/// the shared prefix is read from the first key's bytes at the start of
/// `data`, not through the first entry.
pub(crate) struct Block {
    /// The keys and values, entry after entry, the first key at 0.
    data: Vec<u8>,
    /// Per entry, in key order.
    entries: Vec<Slot>,
    /// Length of the prefix every user key of the block shares.
    shared: usize,
}

/// What a cached block costs beyond its buffers' capacities, so that a
/// cache of N bytes holds N bytes: the `Arc`'s allocation (the block in an
/// 80-byte chunk), the allocator's headers and rounding of the two buffers
/// (~16 bytes each), and the cache's own entry for it (a hash-map bucket of
/// 33 bytes and a clock slot of 16, with their tables' slack ~70).
/// Counting 64 left the 64 MiB cache about 1.5 MB over.
const CACHED_BLOCK_OVERHEAD: usize = 192;

/// One entry of a decoded [`Block`].
#[derive(Clone, Copy)]
struct Slot {
    /// The 8 user-key bytes after the block's shared prefix (zero-padded),
    /// as a big-endian number: see [`Block::partition`].
    head: u64,
    /// Key start and length, value start and length, in `data`.
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
}

/// The 8 bytes of `user` from `from` (zero-padded) as a big-endian number.
/// For user keys that share their first `from` bytes, a smaller head means
/// a smaller key (a key that ends early is padded with zeros, below any
/// byte the other key has there), so a smaller head means an internal key
/// that sorts first whatever the trailers; equal heads decide nothing.
fn head(user: &[u8], from: usize) -> u64 {
    let tail = user.get(from..).unwrap_or_default();
    let n = tail.len().min(8);
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(b)
}

impl Block {
    /// A block of no entries (to [`Block::refill`]).
    pub(crate) fn empty() -> Block {
        Block {
            data: Vec::new(),
            entries: Vec::new(),
            shared: 0,
        }
    }

    /// Decodes block bytes; `None` if they are malformed.
    pub(crate) fn decode(raw: &[u8]) -> Option<Block> {
        let mut b = Block::empty();
        b.refill(raw).then_some(b)
    }

    /// Decodes another block's bytes into this one's allocations (a scan
    /// reading block after block makes no new ones); `false` if they are
    /// malformed, the block then empty.
    pub(crate) fn refill(&mut self, raw: &[u8]) -> bool {
        let ok = self.parse(raw).is_some() && self.check_and_index();
        if !ok {
            self.entries.clear();
        }
        ok
    }

    fn parse(&mut self, raw: &[u8]) -> Option<()> {
        let mut pos = 0;
        let count = u32::from_le_bytes(get_bytes(raw, &mut pos, 4)?.try_into().ok()?) as usize;
        if count > raw.len() {
            return None;
        }
        // The decoded size first (the lengths alone), so the keys and
        // values take one allocation of the right size: no growth and no
        // shrink, each a copy of the block.
        let mut size = 0usize;
        let mut at = pos;
        let mut prev_len = 0usize;
        for _ in 0..count {
            let shared = get_varint(raw, &mut at)? as usize;
            let unshared = get_varint(raw, &mut at)? as usize;
            let vlen = get_varint(raw, &mut at)? as usize;
            at = at.checked_add(unshared)?.checked_add(vlen)?;
            if at > raw.len() || shared > prev_len {
                return None;
            }
            prev_len = shared + unshared;
            size = size.checked_add(prev_len)?.checked_add(vlen)?;
        }
        let data = &mut self.data;
        data.clear();
        data.reserve_exact(size);
        let entries = &mut self.entries;
        entries.clear();
        entries.reserve_exact(count);
        let mut prev: (usize, usize) = (0, 0);
        for _ in 0..count {
            let shared = get_varint(raw, &mut pos)? as usize;
            let unshared = get_varint(raw, &mut pos)? as usize;
            let vlen = get_varint(raw, &mut pos)? as usize;
            if shared > prev.1 {
                return None;
            }
            let suffix = get_bytes(raw, &mut pos, unshared)?;
            let value = get_bytes(raw, &mut pos, vlen)?;
            let kstart = data.len();
            data.extend_from_within(prev.0..prev.0 + shared);
            data.extend_from_slice(suffix);
            let vstart = data.len();
            data.extend_from_slice(value);
            let klen = shared + unshared;
            entries.push(Slot {
                head: 0,
                key: kstart as u32,
                key_len: klen as u32,
                value: vstart as u32,
                value_len: vlen as u32,
            });
            prev = (kstart, klen);
        }
        (pos == raw.len()).then_some(())
    }

    /// Checks the keys' order and computes the search heads; `false` if
    /// the keys are out of order.
    fn check_and_index(&mut self) -> bool {
        // Keys must be strictly increasing: a block that is not sorted would
        // make lookups silently wrong.
        for i in 1..self.len() {
            if cmp_ikey(self.key(i - 1), self.key(i)) != Ordering::Less {
                return false;
            }
        }
        // Sorted keys: what the first and last user keys share, all share.
        self.shared = 0;
        if self.len() > 0 {
            let (first, last) = (user_key(self.key(0)), user_key(self.key(self.len() - 1)));
            self.shared = first.iter().zip(last).take_while(|(x, y)| x == y).count();
        }
        for i in 0..self.len() {
            self.entries[i].head = head(user_key(self.key(i)), self.shared);
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        &self.data[e.key as usize..(e.key + e.key_len) as usize]
    }

    pub(crate) fn value(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        &self.data[e.value as usize..(e.value + e.value_len) as usize]
    }

    /// Number of entries whose key compares with `target` as `before`
    /// says (`true` for a run of entries from the start, as the order
    /// makes it). The search compares the entries' heads and reads a full
    /// key only where a head ties with the target's: most steps touch one
    /// cache line of `entries`, not also a key's.
    fn partition(&self, target: &[u8], before: impl Fn(Ordering) -> bool) -> usize {
        let user = user_key(target);
        let n = self.entries.len();
        if n == 0 {
            return 0;
        }
        // A target outside the shared prefix is before or after all keys.
        // The first key starts `data` and its user key is at least
        // `shared` bytes long.
        let p = self.shared.min(user.len());
        match user[..p].cmp(&self.data[..p]) {
            Ordering::Less => return 0,
            Ordering::Greater => return n,
            // The target's user key is a proper prefix of every key's.
            Ordering::Equal if p < self.shared => return 0,
            Ordering::Equal => {}
        }
        let th = head(user, self.shared);
        let mut lo = 0;
        let mut hi = n;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let h = self.entries[mid].head;
            let o = if h != th {
                h.cmp(&th)
            } else {
                cmp_ikey(self.key(mid), target)
            };
            if before(o) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Index of the first entry with key `>= target` (internal order), or
    /// `len()` if none.
    pub(crate) fn lower_bound(&self, target: &[u8]) -> usize {
        self.partition(target, |o| o == Ordering::Less)
    }

    /// Index of the last entry with key `<= target`, or `None`.
    pub(crate) fn upper_bound_back(&self, target: &[u8]) -> Option<usize> {
        self.partition(target, |o| o != Ordering::Greater)
            .checked_sub(1)
    }

    /// Memory charged to the block cache: the block's two buffers and what
    /// a cached block costs besides them, [`CACHED_BLOCK_OVERHEAD`].
    pub(crate) fn charge(&self) -> usize {
        self.data.capacity()
            + self.entries.capacity() * std::mem::size_of::<Slot>()
            + CACHED_BLOCK_OVERHEAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::key::{make_ikey, Kind};

    #[test]
    fn build_decode_search() {
        let mut b = BlockBuilder::new();
        let keys: Vec<Vec<u8>> = (0..100u32)
            .map(|i| make_ikey(format!("key{i:05}").as_bytes(), 7, Kind::Put))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            b.add(k, format!("v{i}").as_bytes());
        }
        let raw = b.finish();
        let blk = Block::decode(&raw).expect("decode");
        assert_eq!(blk.len(), 100);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(blk.key(i), &k[..]);
            assert_eq!(blk.value(i), format!("v{i}").as_bytes());
            assert_eq!(blk.lower_bound(k), i);
            assert_eq!(blk.upper_bound_back(k), Some(i));
        }
        assert_eq!(blk.lower_bound(&make_ikey(b"zzz", 1, Kind::Put)), 100);
        assert_eq!(blk.upper_bound_back(&make_ikey(b"a", 1, Kind::Put)), None);
        for cut in 0..raw.len() {
            assert!(Block::decode(&raw[..cut]).is_none(), "cut {cut}");
        }
    }

    /// A block refilled from other bytes is the block those bytes decode
    /// to, whatever it held before; malformed bytes leave it empty and a
    /// later refill works.
    #[test]
    fn refill_reuses_and_matches_decode() {
        let raw = |n: u32, vlen: usize| {
            let mut b = BlockBuilder::new();
            for i in 0..n {
                let k = make_ikey(format!("key{:05}", i * 3).as_bytes(), 9, Kind::Put);
                b.add(&k, &vec![b'a' + (i % 26) as u8; vlen + i as usize]);
            }
            b.finish()
        };
        let same = |a: &Block, b: &Block| {
            assert_eq!(a.len(), b.len());
            for i in 0..a.len() {
                assert_eq!(a.key(i), b.key(i));
                assert_eq!(a.value(i), b.value(i));
                assert_eq!(a.lower_bound(a.key(i)), i);
            }
        };
        let mut blk = Block::empty();
        for (n, vlen) in [(50, 30), (3, 2), (80, 100), (1, 0), (20, 7)] {
            let bytes = raw(n, vlen);
            assert!(blk.refill(&bytes));
            same(&blk, &Block::decode(&bytes).expect("decode"));
        }
        let good = raw(10, 5);
        assert!(!blk.refill(&good[..good.len() - 1]));
        assert_eq!(blk.len(), 0);
        assert!(blk.refill(&good));
        same(&blk, &Block::decode(&good).expect("decode"));
    }

    /// The head search finds what a plain binary search over the full
    /// keys finds, for targets inside, around and outside the block's
    /// shared prefix, user keys that are prefixes of others, and several
    /// versions of a key.
    #[test]
    fn head_search_matches_full_compare() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..300 {
            let prefix: Vec<u8> = (0..rnd(6)).map(|_| b'a' + rnd(3) as u8).collect();
            let mut users: Vec<Vec<u8>> = (0..1 + rnd(40))
                .map(|_| {
                    let mut u = prefix.clone();
                    u.extend((0..rnd(12)).map(|_| [0u8, 1, b'a', b'b', 0xff][rnd(5) as usize]));
                    u
                })
                .collect();
            users.sort();
            users.dedup();
            let mut keys = Vec::new();
            for u in &users {
                for s in 0..1 + rnd(3) {
                    keys.push(make_ikey(u, 100 - s * 7, Kind::Put));
                }
            }
            keys.sort_by(|a, b| cmp_ikey(a, b));
            keys.dedup();
            let mut b = BlockBuilder::new();
            for k in &keys {
                b.add(k, b"");
            }
            let blk = Block::decode(&b.finish()).expect("decode");
            let mut targets: Vec<Vec<u8>> = Vec::new();
            let extra = [prefix.clone(), prefix[..prefix.len() / 2].to_vec()];
            for u in users.iter().chain(extra.iter()) {
                let mut longer = u.clone();
                longer.push(rnd(256) as u8);
                let mut shorter = u.clone();
                shorter.pop();
                for t in [u, &longer, &shorter] {
                    for seq in [0, 93, 100, 101, 200] {
                        targets.push(make_ikey(t, seq, Kind::Put));
                        targets.push(make_ikey(t, seq, Kind::Delete));
                    }
                }
            }
            targets.push(make_ikey(b"", 5, Kind::Put));
            targets.push(make_ikey(b"\xff\xff\xff\xff\xff\xff\xff", 5, Kind::Put));
            for t in &targets {
                let lb = keys.partition_point(|k| cmp_ikey(k, t) == Ordering::Less);
                let ub = keys.partition_point(|k| cmp_ikey(k, t) != Ordering::Greater);
                assert_eq!(blk.lower_bound(t), lb, "round {round} target {t:?}");
                assert_eq!(blk.upper_bound_back(t), ub.checked_sub(1), "round {round}");
            }
        }
    }
}
