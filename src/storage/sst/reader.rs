//! Reads one SSTable: footer, index and filter on open; blocks on demand
//! through the block cache.

use std::sync::Arc;

use super::block::Block;
use super::{filter, table_name, FOOTER_LEN, SST_MAGIC};
use crate::error::{Error, Result};
use crate::storage::cache::BlockCache;
use crate::storage::key::{get_u64, seek_key, split, Kind};
use crate::storage::memtable::Lookup;
use crate::storage::version::FileMeta;
use crate::vfs::{FileKind, SealedDir, SealedReader, HEADER_LEN};

pub(crate) struct SstReader {
    pub(crate) number: u64,
    file: SealedReader,
    index: Block,
    filter: Vec<u8>,
    cache: Arc<BlockCache>,
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
        if magic != SST_MAGIC || footer.len() != FOOTER_LEN {
            return Err(bad(footer_off, "bad table footer"));
        }
        let (index_raw, _) = file
            .read_record(index_off)?
            .ok_or_else(|| bad(index_off, "missing index block"))?;
        let index =
            Block::decode(&index_raw).ok_or_else(|| bad(index_off, "malformed index block"))?;
        for i in 0..index.len() {
            if index.value(i).len() != 8 {
                return Err(bad(index_off, "malformed index entry"));
            }
        }
        let (filter, _) = file
            .read_record(filter_off)?
            .ok_or_else(|| bad(filter_off, "missing filter block"))?;
        Ok(SstReader {
            number,
            file,
            index,
            filter,
            cache,
        })
    }

    /// The sealed file underneath (a checkpoint streams its records).
    pub(crate) fn file(&self) -> &SealedReader {
        &self.file
    }

    /// Number of data blocks.
    pub(crate) fn num_blocks(&self) -> usize {
        self.index.len()
    }

    fn block_offset(&self, i: usize) -> u64 {
        let mut pos = 0;
        get_u64(self.index.value(i), &mut pos).unwrap_or(u64::MAX)
    }

    /// Data block `i`, from the cache or the file (decrypted, verified).
    pub(crate) fn block(&self, i: usize) -> Result<Arc<Block>> {
        let off = self.block_offset(i);
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
            .filter(|b| b.len() > 0 && b.key(b.len() - 1) == self.index.key(i))
            .ok_or_else(|| {
                Error::corruption(self.file.path(), HEADER_LEN + off, "malformed data block")
            })?;
        let block = Arc::new(block);
        self.cache.insert(self.number, off, block.clone());
        Ok(block)
    }

    /// Index of the first block whose last key is `>= ikey`.
    pub(crate) fn block_ge(&self, ikey: &[u8]) -> usize {
        self.index.lower_bound(ikey)
    }

    /// Newest version of `user` at `seq` in this table.
    pub(crate) fn get(&self, user: &[u8], seq: u64) -> Result<Lookup> {
        if !filter::may_contain(&self.filter, filter::hash64(user)) {
            return Ok(Lookup::Absent);
        }
        let target = seek_key(user, seq);
        let bi = self.block_ge(&target);
        if bi >= self.num_blocks() {
            return Ok(Lookup::Absent);
        }
        let block = self.block(bi)?;
        let i = block.lower_bound(&target);
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
