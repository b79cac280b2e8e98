//! SSTables: immutable sorted files of internal keys → values.
//!
//! ```text
//!   sealed file (kind Sstable), records (table format 3, written now):
//!   data block │ … │ (filter partition │ index partition) × P │ top index │ footer
//!   index partition = 0u32 | 2u8 | a block: last internal key of each of
//!                     its data blocks → offset u64le | entries varint
//!                     | max seq varint | flags u8
//!   filter partition = 0u32 | 1u8 | bloom filter over the user keys of
//!                     the partition's data blocks (filter.rs)
//!   top index       = 0u32 | 3u8 | a block: last internal key of each
//!                     partition → index offset u64le | filter offset
//!                     u64le | data blocks varint
//!   footer = top offset u64le | partitions u64le | entries u64le
//!            | data blocks u64le | magic u64le "SEALSST3"   (40 bytes, last record)
//! ```
//!
//! A partition covers consecutive data blocks until its index reaches the
//! table's block size, so the first lookup in a table reads and decodes the
//! small top index, one index partition and one filter partition, not the
//! index and filter of the whole table (issue 19: opening a store and
//! answering its first query). Metadata records begin with a zero count,
//! which no data block has (a data block holds at least one entry): a
//! reader that only streams records (a checkpoint rebuilt under another
//! framing) tells data from metadata without the footer.
//!
//! Older formats stay readable and writable (`StorageOptions::table_format`):
//!
//! ```text
//!   format 2: data block │ … │ filter │ index │ footer   magic "SEALSST2"
//!     index  = a block: last internal key of each data block → offset u64le
//!              | entries varint | max seq varint | flags u8
//!     filter = bloom filter over all user keys
//!     footer = index offset u64le | filter offset u64le | entries u64le
//!              | data blocks u64le | magic u64le
//!   format 1: as format 2, index values the offset alone, magic "SEALSST1"
//! ```
//!
//! The per-block facts ([`BlockMeta`], formats 2 and 3) let a count pass a
//! block by without reading it; they are authenticated with the index
//! record, and a block that is read is checked against them.
//!
//! Each block is one sealed record, so it is decrypted and MAC-checked as a
//! unit. The footer has a fixed size, so its record's offset follows from
//! the body length and the cipher.

pub(crate) mod block;
pub(crate) mod builder;
pub(crate) mod filter;
pub(crate) mod reader;

/// Footer payload length.
pub(crate) const FOOTER_LEN: usize = 40;
/// Footer magic of a version-1 table ("SEALSST1" little-endian): index
/// values are the block offset alone.
pub(crate) const SST_MAGIC_V1: u64 = u64::from_le_bytes(*b"SEALSST1");
/// Footer magic of a version-2 table ("SEALSST2"): index values carry a
/// [`BlockMeta`] after the offset; one index and one filter.
pub(crate) const SST_MAGIC_V2: u64 = u64::from_le_bytes(*b"SEALSST2");
/// Footer magic of a version-3 table ("SEALSST3"), the one written now:
/// partitioned index and filter under a top index.
pub(crate) const SST_MAGIC: u64 = u64::from_le_bytes(*b"SEALSST3");

/// Kinds of a version-3 metadata record, the byte after its zero count.
pub(crate) const META_FILTER: u8 = 1;
pub(crate) const META_INDEX: u8 = 2;
pub(crate) const META_TOP: u8 = 3;
/// Length of a metadata record's prefix (zero count, kind).
pub(crate) const META_PREFIX: usize = 5;

/// The kind of a version-3 metadata record (`None` for anything else, such
/// as a data block, which never starts with a zero count).
pub(crate) fn meta_kind(payload: &[u8]) -> Option<u8> {
    match payload {
        [0, 0, 0, 0, k, ..] if (META_FILTER..=META_TOP).contains(k) => Some(*k),
        _ => None,
    }
}

/// A table footer's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Footer {
    /// Index offset (formats 1, 2) or top index offset (format 3).
    pub(crate) index: u64,
    /// Filter offset (formats 1, 2) or number of partitions (format 3).
    pub(crate) second: u64,
    pub(crate) entries: u64,
    pub(crate) blocks: u64,
    /// 1, 2 or 3.
    pub(crate) version: u8,
}

impl Footer {
    /// Parses a footer payload; `None` if it is not one.
    pub(crate) fn decode(payload: &[u8]) -> Option<Footer> {
        if payload.len() != FOOTER_LEN {
            return None;
        }
        let mut pos = 0;
        let mut f = [0u64; 5];
        for v in f.iter_mut() {
            *v = crate::storage::key::get_u64(payload, &mut pos)?;
        }
        let version = match f[4] {
            SST_MAGIC_V1 => 1,
            SST_MAGIC_V2 => 2,
            SST_MAGIC => 3,
            _ => return None,
        };
        Some(Footer {
            index: f[0],
            second: f[1],
            entries: f[2],
            blocks: f[3],
            version,
        })
    }
}

/// Block flag: every entry is a put and no user key occurs twice in the
/// block, nor is its first user key the previous block's last (of the same
/// table). So each entry is the only version of its key in the table.
pub(crate) const BLOCK_CLEAN: u8 = 1;

/// What a version-2 index entry says about its data block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockMeta {
    /// Number of entries.
    pub(crate) entries: u32,
    /// Largest sequence number of an entry.
    pub(crate) max_seq: u64,
    /// [`BLOCK_CLEAN`] or 0.
    pub(crate) flags: u8,
}

impl BlockMeta {
    /// Whether the block is [`BLOCK_CLEAN`].
    pub(crate) fn clean(&self) -> bool {
        self.flags & BLOCK_CLEAN != 0
    }

    /// Appends the index value of a block at body offset `off`.
    pub(crate) fn encode(&self, off: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&off.to_le_bytes());
        crate::storage::key::put_varint(out, u64::from(self.entries));
        crate::storage::key::put_varint(out, self.max_seq);
        out.push(self.flags);
    }

    /// Parses the part of a version-2 index value after the offset; `None`
    /// if it is malformed (trailing bytes, unknown flags, no entries).
    pub(crate) fn decode(value: &[u8]) -> Option<BlockMeta> {
        let mut pos = 8;
        let entries = crate::storage::key::get_varint(value, &mut pos)?;
        let max_seq = crate::storage::key::get_varint(value, &mut pos)?;
        let flags = *value.get(pos)?;
        let entries = u32::try_from(entries).ok().filter(|&n| n > 0)?;
        (pos + 1 == value.len() && flags & !BLOCK_CLEAN == 0).then_some(BlockMeta {
            entries,
            max_seq,
            flags,
        })
    }
}

/// File name of table `number`.
pub(crate) fn table_name(number: u64) -> String {
    format!("{number:06}.sst")
}
