//! SSTables: immutable sorted files of internal keys → values.
//!
//! ```text
//!   sealed file (kind Sstable), records:
//!   data block │ data block │ … │ filter │ index │ footer
//!   index  = a block: last internal key of each data block → its body offset (u64le)
//!            and, in a version-2 table, what the block holds:
//!            offset u64le | entries varint | max seq varint | flags u8
//!   filter = bloom filter over the user keys (filter.rs)
//!   footer = index offset u64le | filter offset u64le | entries u64le
//!            | data blocks u64le | magic u64le "SEALSST2"      (40 bytes, last record)
//! ```
//!
//! A version-1 table (magic "SEALSST1", written before issue 19) has index
//! values of the offset alone; it stays readable. The version-2 facts let a
//! count pass a block by without reading it ([`BlockMeta`]); they are
//! authenticated with the index record, and a block that is read is checked
//! against them.
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
/// Footer magic of a version-2 table ("SEALSST2"), the one written now:
/// index values carry a [`BlockMeta`] after the offset.
pub(crate) const SST_MAGIC: u64 = u64::from_le_bytes(*b"SEALSST2");

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
