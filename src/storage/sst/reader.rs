//! Reads one SSTable: checks on open that the file is the one the
//! manifest recorded (length, IV, key id, last bytes: a header and one
//! short read), and reads the footer and the (top) index the first time a
//! lookup or scan needs them, a format-3 table's index and filter
//! partitions when a lookup first reaches them, blocks on demand through
//! the block cache. Opening a store thus costs a few reads per table,
//! however large the tables are, and its first lookup in a table reads one
//! partition of each, not the whole index and filter; a damaged footer,
//! index or filter is reported as [`Error::Corruption`] when first read,
//! like a damaged block.
//!
//! A table of format 1 or 2 is read as one partition: its index and filter
//! are the whole table's.

use std::sync::{Arc, OnceLock};

use super::block::Block;
use super::{
    filter, meta_kind, table_name, BlockMeta, Footer, FOOTER_LEN, META_FILTER, META_INDEX,
    META_PREFIX, META_TOP,
};
use crate::error::{Error, Result};
use crate::storage::cache::BlockCache;
use crate::storage::key::{cmp_ikey, get_u64, get_varint, split, Kind};
use crate::storage::memtable::Lookup;
use crate::storage::version::FileMeta;
use crate::vfs::{FileKind, SealedDir, SealedReader, HEADER_LEN};

/// How many bytes of a table a compaction has read before it releases
/// them ([`SstReader::release_before`]): one `madvise` per megabyte.
const RELEASE_STEP: u64 = 1 << 20;

pub(crate) struct SstReader {
    pub(crate) number: u64,
    file: SealedReader,
    /// Smallest and largest internal keys (the manifest's record), so a
    /// scan can pass tables by without reading their index.
    smallest: Vec<u8>,
    largest: Vec<u8>,
    /// Footer and top index, read on first use.
    parts: OnceLock<Parts>,
    cache: Arc<BlockCache>,
}

/// What a lookup needs besides the blocks.
struct Parts {
    /// Format 3: the last internal key of each partition, in order (its
    /// values are not used after they are parsed into `partitions`).
    top: Option<Block>,
    partitions: Vec<Partition>,
    /// Format 3: per data block, its partition (a count passes thousands
    /// of blocks by, asking for each block's facts: a search among the
    /// partitions each time doubled its time).
    part_of: Vec<u32>,
    /// Data blocks in the table.
    blocks: usize,
    /// 1, 2 or 3.
    version: u8,
}

/// Consecutive data blocks with their index and filter, read on first use.
struct Partition {
    /// Table-wide number of its first data block.
    first: usize,
    /// Its number of data blocks (format 3: from the top index; checked
    /// against its index when read).
    blocks: usize,
    index_off: u64,
    filter_off: u64,
    index: OnceLock<PartIndex>,
    filter: OnceLock<Vec<u8>>,
}

/// A partition's index: per data block its last key and body offset, and
/// in formats 2 and 3 what it holds.
struct PartIndex {
    index: Block,
    /// Empty in a format-1 table.
    meta: Vec<BlockMeta>,
}

/// What [`SstReader::find`] found: the value's block and position in it,
/// a tombstone, or nothing.
pub(crate) enum Hit {
    Value(Arc<Block>, usize),
    Deleted,
    Absent,
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

    /// Footer and top index, read and checked on first use.
    fn parts(&self) -> Result<&Parts> {
        if let Some(p) = self.parts.get() {
            return Ok(p);
        }
        let p = self.read_parts()?;
        // Two threads may both read them; either result is the same.
        Ok(self.parts.get_or_init(move || p))
    }

    fn bad(&self, off: u64, what: &str) -> Error {
        Error::corruption(self.file.path(), HEADER_LEN + off, what.to_string())
    }

    /// The payload of the record at `off`, `what` naming it in errors.
    fn record(&self, off: u64, what: &str) -> Result<Vec<u8>> {
        let (raw, _) = self
            .file
            .read_record(off)?
            .ok_or_else(|| self.bad(off, &format!("missing {what}")))?;
        Ok(raw)
    }

    /// The body of the format-3 metadata record of `kind` at `off`.
    fn meta_record(&self, off: u64, kind: u8, what: &str) -> Result<Vec<u8>> {
        let mut raw = self.record(off, what)?;
        if meta_kind(&raw) != Some(kind) {
            return Err(self.bad(off, &format!("{what} is not one")));
        }
        raw.drain(..META_PREFIX);
        Ok(raw)
    }

    fn read_parts(&self) -> Result<Parts> {
        let file = &self.file;
        let footer_len = file.record_len(FOOTER_LEN);
        let footer_off = file
            .body_len()
            .checked_sub(footer_len)
            .ok_or_else(|| self.bad(0, "table too short for its footer"))?;
        let footer = self.record(footer_off, "footer")?;
        let f = Footer::decode(&footer).ok_or_else(|| self.bad(footer_off, "bad table footer"))?;
        let blocks =
            usize::try_from(f.blocks).map_err(|_| self.bad(footer_off, "bad table footer"))?;
        if f.version < 3 {
            // One partition; its index is read now, for its block count.
            let index = self.read_index(f.index, f.version)?;
            let part = Partition {
                first: 0,
                blocks: index.index.len(),
                index_off: f.index,
                filter_off: f.second,
                index: OnceLock::from(index),
                filter: OnceLock::new(),
            };
            return Ok(Parts {
                top: None,
                blocks: part.blocks,
                partitions: vec![part],
                part_of: Vec::new(),
                version: f.version,
            });
        }
        let top_off = f.index;
        let bad_top = || self.bad(top_off, "malformed top index");
        let top = Block::decode(&self.meta_record(top_off, META_TOP, "top index")?)
            .ok_or_else(bad_top)?;
        if top.len() as u64 != f.second {
            return Err(bad_top());
        }
        let mut partitions = Vec::with_capacity(top.len());
        let mut first = 0usize;
        for i in 0..top.len() {
            let value = top.value(i);
            let mut pos = 0;
            let index_off = get_u64(value, &mut pos).ok_or_else(bad_top)?;
            let filter_off = get_u64(value, &mut pos).ok_or_else(bad_top)?;
            let n = get_varint(value, &mut pos)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0 && pos == value.len())
                .ok_or_else(bad_top)?;
            partitions.push(Partition {
                first,
                blocks: n,
                index_off,
                filter_off,
                index: OnceLock::new(),
                filter: OnceLock::new(),
            });
            first = first.checked_add(n).ok_or_else(bad_top)?;
        }
        // Each data block is a record of at least a count and one entry: a
        // table that claims more than its length holds is damaged (and must
        // not make the block map below huge).
        let most = self.file.body_len() / self.file.record_len(7);
        if first != blocks || blocks as u64 > most || u32::try_from(partitions.len()).is_err() {
            return Err(bad_top());
        }
        let mut part_of = Vec::with_capacity(blocks);
        for (p, part) in partitions.iter().enumerate() {
            part_of.resize(part_of.len() + part.blocks, p as u32);
        }
        Ok(Parts {
            top: Some(top),
            partitions,
            part_of,
            blocks,
            version: 3,
        })
    }

    /// Reads and checks a partition's index.
    fn read_index(&self, off: u64, version: u8) -> Result<PartIndex> {
        let raw = if version < 3 {
            self.record(off, "index block")?
        } else {
            self.meta_record(off, META_INDEX, "index partition")?
        };
        let index = Block::decode(&raw).ok_or_else(|| self.bad(off, "malformed index block"))?;
        let mut meta = Vec::with_capacity(if version >= 2 { index.len() } else { 0 });
        for i in 0..index.len() {
            let value = index.value(i);
            if version >= 2 {
                meta.push(
                    BlockMeta::decode(value)
                        .ok_or_else(|| self.bad(off, "malformed index entry"))?,
                );
            } else if value.len() != 8 {
                return Err(self.bad(off, "malformed index entry"));
            }
        }
        Ok(PartIndex { index, meta })
    }

    /// Partition `p`'s index, read on first use; in a format-3 table it
    /// must hold as many blocks as the top index says, ending in the key
    /// the top index gives the partition.
    fn part_index<'a>(&self, parts: &'a Parts, p: usize) -> Result<&'a PartIndex> {
        let part = &parts.partitions[p];
        if let Some(i) = part.index.get() {
            return Ok(i);
        }
        let i = self.read_index(part.index_off, parts.version)?;
        let n = i.index.len();
        let ends_right = match &parts.top {
            Some(top) => n > 0 && i.index.key(n - 1) == top.key(p),
            None => true,
        };
        if n != part.blocks || !ends_right {
            return Err(self.bad(
                part.index_off,
                "index partition does not match the top index",
            ));
        }
        Ok(part.index.get_or_init(move || i))
    }

    /// Partition `p`'s filter, read on first use.
    fn part_filter<'a>(&self, parts: &'a Parts, p: usize) -> Result<&'a [u8]> {
        let part = &parts.partitions[p];
        if let Some(f) = part.filter.get() {
            return Ok(f);
        }
        let f = if parts.version < 3 {
            self.record(part.filter_off, "filter block")?
        } else {
            self.meta_record(part.filter_off, META_FILTER, "filter partition")?
        };
        Ok(part.filter.get_or_init(move || f))
    }

    /// The partition holding data block `i` (`i` < the table's blocks) and
    /// the block's number inside it.
    fn locate(parts: &Parts, i: usize) -> (usize, usize) {
        let p = parts.part_of.get(i).map_or(0, |&p| p as usize);
        (p, i - parts.partitions[p].first)
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
        Ok(self.parts()?.blocks)
    }

    /// The index of the partition holding data block `i` and the block's
    /// number in it; `None` past the last block.
    fn index_of(&self, i: usize) -> Result<Option<(&PartIndex, usize)>> {
        let parts = self.parts()?;
        if i >= parts.blocks {
            return Ok(None);
        }
        let (p, j) = Self::locate(parts, i);
        Ok(Some((self.part_index(parts, p)?, j)))
    }

    /// Data block `i`, from the cache or the file (decrypted, verified).
    pub(crate) fn block(&self, i: usize) -> Result<Arc<Block>> {
        let (index, j) = self.located(i)?;
        self.block_in(index, j)
    }

    /// Releases the file's bytes from `from` up to data block `i`'s start
    /// once they are [`RELEASE_STEP`] or more (see [`ReadFile::release`]):
    /// a compaction reading the table front to back keeps few of its
    /// pages resident. Returns where the released bytes now end.
    ///
    /// [`ReadFile::release`]: crate::vfs::ReadFile::release
    pub(crate) fn release_before(&self, i: usize, from: u64) -> Result<u64> {
        let (index, j) = self.located(i)?;
        let to = Self::block_offset(index, j);
        if to != u64::MAX && to >= from.saturating_add(RELEASE_STEP) {
            self.file.release(from, to - from);
            return Ok(to);
        }
        Ok(from)
    }

    /// Releases the file's bytes from `from` to its end (a compaction is
    /// done with the table).
    pub(crate) fn release_rest(&self, from: u64) {
        self.file
            .release(from, self.file.body_len().saturating_sub(from));
    }

    /// [`Self::index_of`] for a block that must exist.
    fn located(&self, i: usize) -> Result<(&PartIndex, usize)> {
        self.index_of(i)?.ok_or_else(|| {
            Error::corruption(self.file.path(), 0, "block number past the table's index")
        })
    }

    /// The file offset of block `j` of a partition whose index is `index`.
    fn block_offset(index: &PartIndex, j: usize) -> u64 {
        let mut pos = 0;
        get_u64(index.index.value(j), &mut pos).unwrap_or(u64::MAX)
    }

    /// Data block `i` for a scan that read the block before it (`spare`,
    /// which it no longer needs): see [`Self::load_block`]. Cached only
    /// if the cache has room (see [`BlockCache::insert_if_room`]), so a
    /// scan of more than the cache holds neither evicts what lookups use
    /// nor allocates per block.
    pub(crate) fn next_block(
        &self,
        i: usize,
        spare: Option<Arc<Block>>,
        raw: &mut Vec<u8>,
    ) -> Result<(Arc<Block>, Option<BlockMeta>)> {
        let (index, j) = self.located(i)?;
        let meta = index.meta.get(j).copied();
        Ok((self.load_block(index, j, spare, raw, true)?, meta))
    }

    /// Data block `j` of a partition whose index is `index`.
    fn block_in(&self, index: &PartIndex, j: usize) -> Result<Arc<Block>> {
        self.load_block(index, j, None, &mut Vec::new(), false)
    }

    /// Data block `j` of a partition whose index is `index`: from the
    /// cache, or read from the file through `raw` (decrypted, verified),
    /// decoded into `spare`'s allocations when nobody else holds it, and
    /// cached (`scan`: only where there is room, evicting nothing).
    fn load_block(
        &self,
        index: &PartIndex,
        j: usize,
        spare: Option<Arc<Block>>,
        raw: &mut Vec<u8>,
        scan: bool,
    ) -> Result<Arc<Block>> {
        let off = Self::block_offset(index, j);
        if let Some(b) = self.cache.get(self.number, off) {
            return Ok(b);
        }
        let bad = |what: &str| Error::corruption(self.file.path(), HEADER_LEN + off, what);
        if self.file.read_record_into(off, raw)?.is_none() {
            return Err(bad("block offset past the end"));
        }
        // A spare held elsewhere too (cached, or by another reader) is not
        // ours to refill: a new block then.
        let mut block = spare
            .filter(|b| Arc::strong_count(b) == 1 && Arc::weak_count(b) == 0)
            .unwrap_or_else(|| Arc::new(Block::empty()));
        let b = Arc::get_mut(&mut block).ok_or_else(|| bad("block shared while being read"))?;
        if !b.refill(raw) || b.len() == 0 || b.key(b.len() - 1) != index.index.key(j) {
            return Err(bad("malformed data block"));
        }
        if scan {
            self.cache.insert_if_room(self.number, off, &block);
        } else {
            self.cache.insert(self.number, off, block.clone());
        }
        Ok(block)
    }

    /// What the index says of data block `i` (`None` in a version-1
    /// table, or past the last block).
    pub(crate) fn block_meta(&self, i: usize) -> Result<Option<BlockMeta>> {
        Ok(self
            .index_of(i)?
            .and_then(|(index, j)| index.meta.get(j).copied()))
    }

    /// The last internal key of data block `i` (its index key; empty past
    /// the last block).
    pub(crate) fn block_last_key(&self, i: usize) -> Result<&[u8]> {
        Ok(self
            .index_of(i)?
            .map_or(&[][..], |(index, j)| index.index.key(j)))
    }

    /// The table's first internal key (the manifest's record).
    pub(crate) fn smallest(&self) -> &[u8] {
        &self.smallest
    }

    /// The table's last internal key (the manifest's record).
    pub(crate) fn largest(&self) -> &[u8] {
        &self.largest
    }

    /// The partition that holds the first key `>= ikey`, if any.
    fn partition_ge(parts: &Parts, ikey: &[u8]) -> Option<usize> {
        let p = parts.top.as_ref().map_or(0, |top| top.lower_bound(ikey));
        (p < parts.partitions.len()).then_some(p)
    }

    /// Index of the first block whose last key is `>= ikey`.
    pub(crate) fn block_ge(&self, ikey: &[u8]) -> Result<usize> {
        let parts = self.parts()?;
        let Some(p) = Self::partition_ge(parts, ikey) else {
            return Ok(parts.blocks);
        };
        let j = self.part_index(parts, p)?.index.lower_bound(ikey);
        Ok(parts.partitions[p].first + j)
    }

    /// Newest version of `user` at the snapshot of `target`, its seek key
    /// (`seek_key(user, seq)`, made once for all tables), in this table.
    pub(crate) fn get(&self, user: &[u8], target: &[u8]) -> Result<Lookup> {
        Ok(match self.find(user, target)? {
            Hit::Value(block, i) => Lookup::Found(block.value(i).to_vec()),
            Hit::Deleted => Lookup::Deleted,
            Hit::Absent => Lookup::Absent,
        })
    }

    /// [`SstReader::get`] that lends the value where it lies, in its
    /// cached block, instead of copying it out.
    pub(crate) fn find(&self, user: &[u8], target: &[u8]) -> Result<Hit> {
        let parts = self.parts()?;
        let Some(p) = Self::partition_ge(parts, target) else {
            return Ok(Hit::Absent);
        };
        if !filter::may_contain(self.part_filter(parts, p)?, filter::hash64(user)) {
            return Ok(Hit::Absent);
        }
        let index = self.part_index(parts, p)?;
        let j = index.index.lower_bound(target);
        if j >= index.index.len() {
            return Ok(Hit::Absent);
        }
        let block = self.block_in(index, j)?;
        let i = block.lower_bound(target);
        if i >= block.len() {
            return Ok(Hit::Absent);
        }
        match split(block.key(i)) {
            Some((u, _, kind)) if u == user => Ok(match kind {
                Kind::Put => Hit::Value(block, i),
                Kind::Delete => Hit::Deleted,
            }),
            Some(_) => Ok(Hit::Absent),
            None => Err(Error::corruption(
                self.file.path(),
                0,
                "malformed key in data block",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KeyBytes, MemoryKeyProvider, UnencryptedKeyProvider};
    use crate::storage::key::{make_ikey, seek_key, user_key};
    use crate::storage::sst::builder::SstBuilder;
    use crate::storage::version::FileIdentity;
    use crate::vfs::{KeyOptions, MemVfs, Vfs};

    /// (internal key, value) in internal-key order: 300 user keys with
    /// one to three versions (some tombstones), and one key with 90
    /// versions, long enough to span several blocks and partitions.
    fn entries() -> Vec<(Vec<u8>, Vec<u8>, Kind)> {
        let mut out = Vec::new();
        for i in 0..300u64 {
            let user = format!("key{:05}", i * 2).into_bytes();
            let versions: u64 = if i == 150 { 90 } else { 1 + i % 3 };
            for v in (0..versions).rev() {
                let seq = 10 + v * 7 + i % 5;
                let kind = if (i + v) % 7 == 3 {
                    Kind::Delete
                } else {
                    Kind::Put
                };
                let value = match kind {
                    Kind::Put => format!("v{i}-{v}").into_bytes(),
                    Kind::Delete => Vec::new(),
                };
                out.push((make_ikey(&user, seq, kind), value, kind));
            }
        }
        out
    }

    /// The newest version of `user` at `seq`, as a table lookup answers.
    fn model(entries: &[(Vec<u8>, Vec<u8>, Kind)], user: &[u8], seq: u64) -> Lookup {
        let found = entries
            .iter()
            .find(|(k, _, _)| split(k).is_some_and(|(u, s, _)| u == user && s <= seq));
        match found {
            Some((_, v, Kind::Put)) => Lookup::Found(v.clone()),
            Some((_, _, Kind::Delete)) => Lookup::Deleted,
            None => Lookup::Absent,
        }
    }

    fn table(format: u32, key: Option<u8>) -> Result<(SstReader, usize)> {
        let vfs: Arc<dyn Vfs> = Arc::new(MemVfs::new());
        let provider: Arc<dyn crate::crypto::KeyProvider> = match key {
            Some(b) => Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[b; 32]))?),
            None => Arc::new(UnencryptedKeyProvider::dangerous_new()),
        };
        let dir = SealedDir::open(vfs, "/t", provider, KeyOptions::default())?;
        let w = dir.create_file(&table_name(7), FileKind::Sstable)?;
        let mut b = SstBuilder::new(w, 96, 10).with_format(format);
        let all = entries();
        for (k, v, _) in &all {
            b.add(k, v)?;
        }
        let s = b.finish()?;
        let meta = FileMeta {
            number: 7,
            size: s.size,
            entries: s.entries,
            smallest: s.smallest,
            largest: s.largest,
            identity: FileIdentity { ..s.identity },
        };
        let r = SstReader::open(&dir, &meta, Arc::new(BlockCache::new(1 << 20)))?;
        Ok((r, all.len()))
    }

    /// Every format, encrypted or not, answers every lookup at every
    /// snapshot as the entries say, and its blocks hold the entries in
    /// order, each block where `block_ge` and its index entry put it.
    #[test]
    fn every_format_reads_back_what_was_written() -> Result<()> {
        let all = entries();
        for format in [1, 2, 3] {
            for key in [None, Some(3)] {
                let (r, n) = table(format, key)?;
                let ctx = format!("format {format}, key {key:?}");
                let mut seen = Vec::new();
                for i in 0..r.num_blocks()? {
                    let b = r.block(i)?;
                    assert_eq!(r.block_last_key(i)?, b.key(b.len() - 1), "{ctx}");
                    match r.block_meta(i)? {
                        Some(m) => assert_eq!(m.entries as usize, b.len(), "{ctx}"),
                        None => assert_eq!(format, 1, "{ctx}"),
                    }
                    for j in 0..b.len() {
                        assert_eq!(r.block_ge(b.key(j))?, i, "{ctx}: block_ge");
                        seen.push((b.key(j).to_vec(), b.value(j).to_vec()));
                    }
                }
                assert_eq!(seen.len(), n, "{ctx}");
                assert!(seen.iter().zip(&all).all(|(a, b)| a.0 == b.0 && a.1 == b.1));
                assert_eq!(r.block_ge(&seek_key(b"zzz", 1))?, r.num_blocks()?);
                assert!(r.block_last_key(r.num_blocks()?)?.is_empty());
                for i in 0..601u64 {
                    let user = format!("key{i:05}").into_bytes();
                    for seq in [0, 12, 20, 31, 200, 400, 700, u64::MAX >> 8] {
                        assert_eq!(
                            r.get(&user, &seek_key(&user, seq))?,
                            model(&all, &user, seq),
                            "{ctx}: key {i} at {seq}"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// A format-3 table is cut into partitions, and its first lookup reads
    /// one index partition and one filter partition, not all of them.
    #[test]
    fn a_first_lookup_reads_one_partition() -> Result<()> {
        let (r, _) = table(3, Some(5))?;
        let user = b"key00300";
        assert!(matches!(
            r.get(user, &seek_key(user, 1000))?,
            Lookup::Found(_)
        ));
        let parts = r.parts()?;
        assert!(
            parts.partitions.len() >= 10,
            "{} partitions",
            parts.partitions.len()
        );
        let read = |f: fn(&Partition) -> bool| parts.partitions.iter().filter(|p| f(p)).count();
        assert_eq!(read(|p| p.index.get().is_some()), 1);
        assert_eq!(read(|p| p.filter.get().is_some()), 1);
        // The key with 90 versions spans partitions; every version is
        // found through the filter of the partition that holds it.
        let all = entries();
        let long = format!("key{:05}", 300).into_bytes();
        for (k, _, _) in all
            .iter()
            .filter(|(k, _, _)| user_key(k) == long.as_slice())
        {
            let (_, seq, _) = split(k).ok_or_else(|| Error::corruption("t", 0, "key"))?;
            assert_eq!(
                r.get(&long, &seek_key(&long, seq))?,
                model(&all, &long, seq)
            );
        }
        let spanned = parts
            .partitions
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let first = r
                    .block_last_key(parts.partitions[*i].first)
                    .unwrap_or_default();
                user_key(first) == long.as_slice()
            })
            .count();
        assert!(spanned >= 2, "the long key spans {spanned} partitions");
        Ok(())
    }

    /// A format-3 table written by hand: one data block, then a filter and
    /// an index partition, a top index whose entry claims `claimed` blocks,
    /// and a footer saying `footer_blocks`.
    fn forged(claimed: u64, footer_blocks: u64) -> Result<SstReader> {
        use crate::storage::sst::block::BlockBuilder;
        use crate::storage::sst::{META_FILTER, META_INDEX, META_TOP, SST_MAGIC};
        let vfs: Arc<dyn Vfs> = Arc::new(MemVfs::new());
        let provider = Arc::new(UnencryptedKeyProvider::dangerous_new());
        let dir = SealedDir::open(vfs, "/t", provider, KeyOptions::default())?;
        let mut w = dir.create_file(&table_name(9), FileKind::Sstable)?;
        let key = make_ikey(b"a", 1, Kind::Put);
        let mut data = BlockBuilder::new();
        data.add(&key, b"v");
        let off = w.append_record(&data.finish())?;
        let meta = |kind: u8, body: &[u8]| [&[0, 0, 0, 0, kind][..], body].concat();
        let filter_off = w.append_record(&meta(
            META_FILTER,
            &filter::build(&[filter::hash64(b"a")], 10),
        ))?;
        let mut index = BlockBuilder::new();
        let mut value = Vec::new();
        BlockMeta {
            entries: 1,
            max_seq: 1,
            flags: 1,
        }
        .encode(off, &mut value);
        index.add(&key, &value);
        let index_off = w.append_record(&meta(META_INDEX, &index.finish()))?;
        let mut top = BlockBuilder::new();
        let mut value = Vec::new();
        value.extend_from_slice(&index_off.to_le_bytes());
        value.extend_from_slice(&filter_off.to_le_bytes());
        crate::storage::key::put_varint(&mut value, claimed);
        top.add(&key, &value);
        let top_off = w.append_record(&meta(META_TOP, &top.finish()))?;
        let mut footer = Vec::new();
        for v in [top_off, 1, 1, footer_blocks, SST_MAGIC] {
            footer.extend_from_slice(&v.to_le_bytes());
        }
        w.append_record(&footer)?;
        w.sync()?;
        let meta = FileMeta {
            number: 9,
            size: w.position() + HEADER_LEN,
            entries: 1,
            smallest: key.clone(),
            largest: key,
            identity: FileIdentity {
                iv: w.header().iv,
                key_id: w.header().key_id,
                digest: w.last_tag(),
            },
        };
        SstReader::open(&dir, &meta, Arc::new(BlockCache::new(1 << 20)))
    }

    /// A table whose partitions disagree with its footer or its index, or
    /// that claims more blocks than its length can hold (a crafted
    /// plaintext file passes every CRC), is `Corruption` when read, never
    /// a wrong answer or a huge allocation.
    #[test]
    fn partitions_that_disagree_are_corruption() -> Result<()> {
        let t = forged(1, 1)?;
        assert_eq!(
            t.get(b"a", &seek_key(b"a", 5))?,
            Lookup::Found(b"v".to_vec())
        );
        for (claimed, footer) in [(1 << 40, 1 << 40), (2, 1), (2, 2), (1, 2)] {
            let t = forged(claimed, footer)?;
            let e = t
                .get(b"a", &seek_key(b"a", 5))
                .and_then(|_| t.block(0).map(|_| ()))
                .expect_err("forged table read");
            assert!(
                matches!(e, Error::Corruption { .. }),
                "{claimed}/{footer}: {e}"
            );
        }
        Ok(())
    }
}
