//! Writes one SSTable from entries in internal-key order.
//!
//! In table format 3 the index and the filter are cut into partitions of
//! consecutive data blocks (a partition ends when its index reaches the
//! block size); the partitions are kept until the table is finished and
//! written after the data, so the data blocks stay one contiguous run.
//! Every user key of a partition's blocks is in its filter, also one whose
//! older versions began in the previous partition.
//!
//! A builder given the block cache ([`SstBuilder::warming`]) puts each
//! data block it writes there too, where the cache has room (evicting
//! nothing): a flush or compaction rewrites data readers were using, and
//! without it the first read of every block of the new table would go to
//! the file, decrypt, verify and decode what the writer just had in hand.
//! The block cached is decoded from the very payload written.

use std::sync::Arc;

use super::block::{Block, BlockBuilder};
use super::{
    filter, BlockMeta, BLOCK_CLEAN, FOOTER_LEN, META_FILTER, META_INDEX, META_TOP, SST_MAGIC,
    SST_MAGIC_V1, SST_MAGIC_V2,
};
use crate::error::Result;
use crate::storage::cache::BlockCache;
use crate::storage::key::{split, user_key, Kind};
use crate::storage::version::FileIdentity;
use crate::vfs::SealedWriter;

/// What a finished table holds (for the manifest).
#[derive(Clone, Debug)]
pub(crate) struct TableSummary {
    pub(crate) smallest: Vec<u8>,
    pub(crate) largest: Vec<u8>,
    pub(crate) entries: u64,
    pub(crate) size: u64,
    pub(crate) identity: FileIdentity,
}

pub(crate) struct SstBuilder {
    w: SealedWriter,
    block: BlockBuilder,
    index: BlockBuilder,
    hashes: Vec<u64>,
    last_user: Vec<u8>,
    smallest: Option<Vec<u8>>,
    entries: u64,
    blocks: u64,
    block_bytes: usize,
    bits_per_key: usize,
    /// The current block's facts for its index entry ([`BlockMeta`]).
    block_clean: bool,
    block_max_seq: u64,
    /// Scratch for an index value.
    index_value: Vec<u8>,
    /// Table format written: 1, 2 or 3.
    format: u32,
    /// Format 3: finished partitions, and data blocks in the current one.
    partitions: Vec<Partition>,
    part_blocks: u64,
    /// The cache its data blocks also go to, and the table's number.
    warm: Option<(Arc<BlockCache>, u64)>,
}

/// A finished partition of a format-3 table, written at the end.
struct Partition {
    last: Vec<u8>,
    index: Vec<u8>,
    filter: Vec<u8>,
    blocks: u64,
}

/// `body` as a metadata record's payload of `kind`.
fn meta_record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(super::META_PREFIX + body.len());
    out.extend_from_slice(&[0, 0, 0, 0, kind]);
    out.extend_from_slice(body);
    out
}

impl SstBuilder {
    pub(crate) fn new(w: SealedWriter, block_bytes: usize, bits_per_key: usize) -> SstBuilder {
        SstBuilder {
            w,
            block: BlockBuilder::new(),
            index: BlockBuilder::new(),
            hashes: Vec::new(),
            last_user: Vec::new(),
            smallest: None,
            entries: 0,
            blocks: 0,
            block_bytes,
            bits_per_key,
            block_clean: true,
            block_max_seq: 0,
            index_value: Vec::with_capacity(24),
            format: 3,
            partitions: Vec::new(),
            part_blocks: 0,
            warm: None,
        }
    }

    /// Also caches each data block written, as table `number`'s (see the
    /// module doc). A table that is not finished must then be dropped from
    /// the cache ([`BlockCache::evict_table`]).
    pub(crate) fn warming(mut self, cache: Arc<BlockCache>, number: u64) -> SstBuilder {
        self.warm = Some((cache, number));
        self
    }

    /// Writes table format `version` (`StorageOptions::table_format`: 1,
    /// 2, or else 3).
    pub(crate) fn with_format(mut self, version: u32) -> SstBuilder {
        self.format = if matches!(version, 1 | 2) { version } else { 3 };
        self
    }

    /// Adds an entry; internal keys must be strictly increasing.
    pub(crate) fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if self.smallest.is_none() {
            self.smallest = Some(ikey.to_vec());
        }
        let user = user_key(ikey);
        let repeated = self.entries > 0 && user == self.last_user.as_slice();
        // A partition's filter starts empty: its first key goes in even if
        // older versions of it ended the previous partition.
        if !repeated || self.hashes.is_empty() {
            self.hashes.push(filter::hash64(user));
        }
        if !repeated {
            self.last_user.clear();
            self.last_user.extend_from_slice(user);
        }
        // `last_user` outlives the block, so a key whose versions straddle
        // two blocks makes the second unclean.
        let (_, seq, kind) = split(ikey).unwrap_or((ikey, u64::MAX, Kind::Delete));
        if repeated || kind != Kind::Put {
            self.block_clean = false;
        }
        self.block_max_seq = self.block_max_seq.max(seq);
        self.block.add(ikey, value);
        self.entries += 1;
        if self.block.size() >= self.block_bytes {
            self.finish_block()?;
        }
        Ok(())
    }

    fn finish_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let last = self.block.last_key().to_vec();
        let meta = BlockMeta {
            entries: self.block.count(),
            max_seq: self.block_max_seq,
            flags: if self.block_clean { BLOCK_CLEAN } else { 0 },
        };
        let raw = self.block.finish();
        let off = self.w.append_record(&raw)?;
        if let Some((cache, number)) = &self.warm {
            if cache.has_room(*number, off, raw.len()) {
                let mut b = Block::empty();
                if b.refill(&raw) {
                    cache.insert_if_room(*number, off, &Arc::new(b));
                }
            }
        }
        self.index_value.clear();
        if self.format == 1 {
            self.index_value.extend_from_slice(&off.to_le_bytes());
        } else {
            meta.encode(off, &mut self.index_value);
        }
        self.index.add(&last, &self.index_value);
        self.blocks += 1;
        self.part_blocks += 1;
        self.block_clean = true;
        self.block_max_seq = 0;
        if self.format >= 3 && self.index.size() >= self.block_bytes {
            self.finish_partition();
        }
        Ok(())
    }

    /// Closes the current partition of a format-3 table.
    fn finish_partition(&mut self) {
        if self.part_blocks == 0 {
            return;
        }
        let last = self.index.last_key().to_vec();
        let index = self.index.finish();
        let filter = filter::build(&self.hashes, self.bits_per_key);
        self.hashes.clear();
        self.partitions.push(Partition {
            last,
            index,
            filter,
            blocks: std::mem::take(&mut self.part_blocks),
        });
    }

    /// Bytes written so far (approximate file size).
    pub(crate) fn size(&self) -> u64 {
        self.w.position() + self.block.size() as u64
    }

    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// The last internal key added.
    pub(crate) fn last_key(&self) -> Option<Vec<u8>> {
        if self.entries == 0 {
            return None;
        }
        Some(if !self.block.is_empty() {
            self.block.last_key().to_vec()
        } else if self.part_blocks > 0 {
            self.index.last_key().to_vec()
        } else {
            let last = self.partitions.last().map(|p| p.last.clone());
            last.unwrap_or_default()
        })
    }

    /// Writes filter, index and footer, and syncs the file.
    pub(crate) fn finish(mut self) -> Result<TableSummary> {
        let largest = self.last_key().unwrap_or_default();
        self.finish_block()?;
        let (first, second, magic) = if self.format >= 3 {
            self.finish_partition();
            let mut top = BlockBuilder::new();
            let mut value = Vec::with_capacity(24);
            for p in std::mem::take(&mut self.partitions) {
                let filter_off = self.w.append_record(&meta_record(META_FILTER, &p.filter))?;
                let index_off = self.w.append_record(&meta_record(META_INDEX, &p.index))?;
                value.clear();
                value.extend_from_slice(&index_off.to_le_bytes());
                value.extend_from_slice(&filter_off.to_le_bytes());
                crate::storage::key::put_varint(&mut value, p.blocks);
                top.add(&p.last, &value);
            }
            let parts = u64::from(top.count());
            let top_off = self
                .w
                .append_record(&meta_record(META_TOP, &top.finish()))?;
            (top_off, parts, SST_MAGIC)
        } else {
            let filter_off = self
                .w
                .append_record(&filter::build(&self.hashes, self.bits_per_key))?;
            let index_raw = self.index.finish();
            let index_off = self.w.append_record(&index_raw)?;
            let magic = if self.format == 1 {
                SST_MAGIC_V1
            } else {
                SST_MAGIC_V2
            };
            (index_off, filter_off, magic)
        };
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        for v in [first, second, self.entries, self.blocks, magic] {
            footer.extend_from_slice(&v.to_le_bytes());
        }
        self.w.append_record(&footer)?;
        self.w.sync()?;
        Ok(TableSummary {
            smallest: self.smallest.unwrap_or_default(),
            largest,
            entries: self.entries,
            size: self.w.position() + crate::vfs::HEADER_LEN,
            identity: FileIdentity {
                iv: self.w.header().iv,
                key_id: self.w.header().key_id,
                digest: self.w.last_tag(),
            },
        })
    }
}
