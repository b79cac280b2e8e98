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

use crate::storage::key::{cmp_ikey, get_bytes, get_varint, put_varint};

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
pub(crate) struct Block {
    data: Vec<u8>,
    /// (key start, key len, value start, value len) into `data`.
    entries: Vec<(u32, u32, u32, u32)>,
}

impl Block {
    /// Decodes block bytes; `None` if they are malformed.
    pub(crate) fn decode(raw: &[u8]) -> Option<Block> {
        let mut pos = 0;
        let count = u32::from_le_bytes(get_bytes(raw, &mut pos, 4)?.try_into().ok()?) as usize;
        if count > raw.len() {
            return None;
        }
        let mut data = Vec::with_capacity(raw.len() * 2);
        let mut entries = Vec::with_capacity(count);
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
            entries.push((kstart as u32, klen as u32, vstart as u32, vlen as u32));
            prev = (kstart, klen);
        }
        if pos != raw.len() {
            return None;
        }
        // Keys must be strictly increasing: a block that is not sorted would
        // make lookups silently wrong.
        data.shrink_to_fit();
        let b = Block { data, entries };
        for i in 1..b.len() {
            if cmp_ikey(b.key(i - 1), b.key(i)) != Ordering::Less {
                return None;
            }
        }
        Some(b)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let (k, kl, _, _) = self.entries[i];
        &self.data[k as usize..(k + kl) as usize]
    }

    pub(crate) fn value(&self, i: usize) -> &[u8] {
        let (_, _, v, vl) = self.entries[i];
        &self.data[v as usize..(v + vl) as usize]
    }

    /// Index of the first entry with key `>= target` (internal order), or
    /// `len()` if none.
    pub(crate) fn lower_bound(&self, target: &[u8]) -> usize {
        self.entries.partition_point(|&(k, kl, _, _)| {
            cmp_ikey(&self.data[k as usize..(k + kl) as usize], target) == Ordering::Less
        })
    }

    /// Index of the last entry with key `<= target`, or `None`.
    pub(crate) fn upper_bound_back(&self, target: &[u8]) -> Option<usize> {
        let n = self.entries.partition_point(|&(k, kl, _, _)| {
            cmp_ikey(&self.data[k as usize..(k + kl) as usize], target) != Ordering::Greater
        });
        n.checked_sub(1)
    }

    /// Memory charged to the block cache.
    pub(crate) fn charge(&self) -> usize {
        self.data.capacity() + self.entries.capacity() * 16 + 64
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
}
