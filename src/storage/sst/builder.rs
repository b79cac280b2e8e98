//! Writes one SSTable from entries in internal-key order.

use super::block::BlockBuilder;
use super::{filter, BlockMeta, BLOCK_CLEAN, FOOTER_LEN, SST_MAGIC, SST_MAGIC_V1};
use crate::error::Result;
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
    /// Whether to write a version-1 table (index values without facts).
    v1: bool,
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
            v1: false,
        }
    }

    /// Writes table format `version` (`StorageOptions::table_format`: 1,
    /// or else 2).
    pub(crate) fn with_format(mut self, version: u32) -> SstBuilder {
        self.v1 = version == 1;
        self
    }

    /// Adds an entry; internal keys must be strictly increasing.
    pub(crate) fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if self.smallest.is_none() {
            self.smallest = Some(ikey.to_vec());
        }
        let user = user_key(ikey);
        let repeated = self.entries > 0 && user == self.last_user.as_slice();
        if !repeated {
            self.hashes.push(filter::hash64(user));
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
        self.index_value.clear();
        if self.v1 {
            self.index_value.extend_from_slice(&off.to_le_bytes());
        } else {
            meta.encode(off, &mut self.index_value);
        }
        self.index.add(&last, &self.index_value);
        self.blocks += 1;
        self.block_clean = true;
        self.block_max_seq = 0;
        Ok(())
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
        Some(if self.block.is_empty() {
            self.index.last_key().to_vec()
        } else {
            self.block.last_key().to_vec()
        })
    }

    /// Writes filter, index and footer, and syncs the file.
    pub(crate) fn finish(mut self) -> Result<TableSummary> {
        let largest = self.last_key().unwrap_or_default();
        self.finish_block()?;
        let filter_off = self
            .w
            .append_record(&filter::build(&self.hashes, self.bits_per_key))?;
        let index_raw = self.index.finish();
        let index_off = self.w.append_record(&index_raw)?;
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        let magic = if self.v1 { SST_MAGIC_V1 } else { SST_MAGIC };
        for v in [index_off, filter_off, self.entries, self.blocks, magic] {
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
