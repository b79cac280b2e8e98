//! Reads one SSTable: checks on open that the file is the one the
//! manifest recorded (length, IV, key id, last bytes: a header and one
//! short read), and reads footer, index and filter the first time a
//! lookup or scan needs them, blocks on demand through the block cache.
//! Opening a store thus costs a few reads per table, however large the
//! tables are; a damaged footer, index or filter is reported as
//! [`Error::Corruption`] when first read, like a damaged block.

use std::sync::{Arc, OnceLock};

use super::block::Block;
use super::{filter, table_name, BlockMeta, FOOTER_LEN, SST_MAGIC, SST_MAGIC_V1};
use crate::error::{Error, Result};
use crate::storage::cache::BlockCache;
use crate::storage::key::{cmp_ikey, get_u64, split, Kind};
use crate::storage::memtable::Lookup;
use crate::storage::version::FileMeta;
use crate::vfs::{FileKind, SealedDir, SealedReader, HEADER_LEN};

pub(crate) struct SstReader {
    pub(crate) number: u64,
    file: SealedReader,
    /// Smallest and largest internal keys (the manifest's record), so a
    /// scan can pass tables by without reading their index.
    smallest: Vec<u8>,
    largest: Vec<u8>,
    /// Index and filter, read on first use.
    parts: OnceLock<Parts>,
    cache: Arc<BlockCache>,
}

/// What a lookup needs besides the blocks.
struct Parts {
    index: Block,
    filter: Vec<u8>,
    /// Per data block, what a version-2 index says of it (empty for a
    /// version-1 table).
    meta: Vec<BlockMeta>,
}

impl SstReader {
    /// Opens the table `meta` describes; a file that is not that table (its
    /// IV, key id, length or last 16 bytes differ from the manifest's
    /// record of it) is [`Error::Corruption`], however valid it is.
    pub(crate) fn open(
        dir: &SealedDir,
        meta: &FileMeta,
        cache: Arc<BlockCache>,
    ) -> Result<SstReader> {
        let number = meta.number;
        let file = dir.open_immutable(&table_name(number), FileKind::Sstable)?;
        let id = &meta.identity;
        let actual_len = file.body_len() + HEADER_LEN;
        let mismatch = if actual_len != meta.size {
            Some(format!(
                "is {actual_len} bytes long, the manifest recorded {}",
                meta.size
            ))
        } else if file.header().iv != id.iv {
            Some("has another IV than the manifest recorded".to_string())
        } else if file.header().key_id != id.key_id {
            Some(format!(
                "is under data key {}, the manifest recorded {}",
                file.header().key_id,
                id.key_id
            ))
        } else if file.last_tag()? != id.digest {
            Some("ends in other bytes than the manifest recorded".to_string())
        } else {
            None
        };
        if let Some(why) = mismatch {
            return Err(Error::corruption(
                file.path(),
                0,
                format!("not the table the manifest lists: the file {why} (an older or foreign file put in its place?)"),
            ));
        }
        Ok(SstReader {
            number,
            file,
            smallest: meta.smallest.clone(),
            largest: meta.largest.clone(),
            parts: OnceLock::new(),
            cache,
        })
    }

    /// Footer, index and filter, read and checked on first use.
    fn parts(&self) -> Result<&Parts> {
        if let Some(p) = self.parts.get() {
            return Ok(p);
        }
        let p = self.read_parts()?;
        // Two threads may both read them; either result is the same.
        Ok(self.parts.get_or_init(move || p))
    }

    fn read_parts(&self) -> Result<Parts> {
        let file = &self.file;
        let footer_len = file.record_len(FOOTER_LEN);
        let bad = |off: u64, what: &str| {
            Error::corruption(file.path(), HEADER_LEN + off, what.to_string())
        };
        let footer_off = file
            .body_len()
            .checked_sub(footer_len)
            .ok_or_else(|| bad(0, "table too short for its footer"))?;
        let (footer, _) = file
            .read_record(footer_off)?
            .ok_or_else(|| bad(footer_off, "missing footer"))?;
        let mut pos = 0;
        let mut f = [0u64; 5];
        for v in f.iter_mut() {
            *v = get_u64(&footer, &mut pos).ok_or_else(|| bad(footer_off, "short footer"))?;
        }
        let [index_off, filter_off, _entries, _blocks, magic] = f;
        let v2 = magic == SST_MAGIC;
        if !(v2 || magic == SST_MAGIC_V1) || footer.len() != FOOTER_LEN {
            return Err(bad(footer_off, "bad table footer"));
        }
        let (index_raw, _) = file
            .read_record(index_off)?
            .ok_or_else(|| bad(index_off, "missing index block"))?;
        let index =
            Block::decode(&index_raw).ok_or_else(|| bad(index_off, "malformed index block"))?;
        let mut meta = Vec::with_capacity(if v2 { index.len() } else { 0 });
        for i in 0..index.len() {
            let value = index.value(i);
            if v2 {
                meta.push(
                    BlockMeta::decode(value)
                        .ok_or_else(|| bad(index_off, "malformed index entry"))?,
                );
            } else if value.len() != 8 {
                return Err(bad(index_off, "malformed index entry"));
            }
        }
        let (filter, _) = file
            .read_record(filter_off)?
            .ok_or_else(|| bad(filter_off, "missing filter block"))?;
        Ok(Parts {
            index,
            filter,
            meta,
        })
    }

    /// Whether the table holds an internal key `>= ikey`.
    pub(crate) fn ends_at_or_after(&self, ikey: &[u8]) -> bool {
        cmp_ikey(&self.largest, ikey) != std::cmp::Ordering::Less
    }

    /// Whether the table's first internal key is `> ikey`.
    pub(crate) fn starts_after(&self, ikey: &[u8]) -> bool {
        cmp_ikey(&self.smallest, ikey) == std::cmp::Ordering::Greater
    }

    /// The sealed file underneath (a checkpoint streams its records).
    pub(crate) fn file(&self) -> &SealedReader {
        &self.file
    }

    /// Number of data blocks.
    pub(crate) fn num_blocks(&self) -> Result<usize> {
        Ok(self.parts()?.index.len())
    }

    /// Data block `i`, from the cache or the file (decrypted, verified).
    pub(crate) fn block(&self, i: usize) -> Result<Arc<Block>> {
        let index = &self.parts()?.index;
        if i >= index.len() {
            return Err(Error::corruption(
                self.file.path(),
                0,
                "block number past the table's index",
            ));
        }
        let mut pos = 0;
        let off = get_u64(index.value(i), &mut pos).unwrap_or(u64::MAX);
        if let Some(b) = self.cache.get(self.number, off) {
            return Ok(b);
        }
        let (raw, _) = self.file.read_record(off)?.ok_or_else(|| {
            Error::corruption(
                self.file.path(),
                HEADER_LEN + off,
                "block offset past the end",
            )
        })?;
        let block = Block::decode(&raw)
            .filter(|b| b.len() > 0 && b.key(b.len() - 1) == index.key(i))
            .ok_or_else(|| {
                Error::corruption(self.file.path(), HEADER_LEN + off, "malformed data block")
            })?;
        let block = Arc::new(block);
        self.cache.insert(self.number, off, block.clone());
        Ok(block)
    }

    /// What the index says of data block `i` (`None` in a version-1
    /// table, or past the last block).
    pub(crate) fn block_meta(&self, i: usize) -> Result<Option<BlockMeta>> {
        Ok(self.parts()?.meta.get(i).copied())
    }

    /// The last internal key of data block `i` (its index key; empty past
    /// the last block).
    pub(crate) fn block_last_key(&self, i: usize) -> Result<&[u8]> {
        let index = &self.parts()?.index;
        Ok(if i < index.len() { index.key(i) } else { &[] })
    }

    /// The table's first internal key (the manifest's record).
    pub(crate) fn smallest(&self) -> &[u8] {
        &self.smallest
    }

    /// Index of the first block whose last key is `>= ikey`.
    pub(crate) fn block_ge(&self, ikey: &[u8]) -> Result<usize> {
        Ok(self.parts()?.index.lower_bound(ikey))
    }

    /// Newest version of `user` at the snapshot of `target`, its seek key
    /// (`seek_key(user, seq)`, made once for all tables), in this table.
    pub(crate) fn get(&self, user: &[u8], target: &[u8]) -> Result<Lookup> {
        let parts = self.parts()?;
        if !filter::may_contain(&parts.filter, filter::hash64(user)) {
            return Ok(Lookup::Absent);
        }
        let bi = parts.index.lower_bound(target);
        if bi >= parts.index.len() {
            return Ok(Lookup::Absent);
        }
        let block = self.block(bi)?;
        let i = block.lower_bound(target);
        if i >= block.len() {
            return Ok(Lookup::Absent);
        }
        match split(block.key(i)) {
            Some((u, _, kind)) if u == user => Ok(match kind {
                Kind::Put => Lookup::Found(block.value(i).to_vec()),
                Kind::Delete => Lookup::Deleted,
            }),
            Some(_) => Ok(Lookup::Absent),
            None => Err(Error::corruption(
                self.file.path(),
                0,
                "malformed key in data block",
            )),
        }
    }
}
