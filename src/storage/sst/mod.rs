//! SSTables: immutable sorted files of internal keys → values.
//!
//! ```text
//!   sealed file (kind Sstable), records:
//!   data block │ data block │ … │ filter │ index │ footer
//!   index  = a block: last internal key of each data block → its body offset (u64le)
//!   filter = bloom filter over the user keys (filter.rs)
//!   footer = index offset u64le | filter offset u64le | entries u64le
//!            | data blocks u64le | magic u64le "SEALSST1"      (40 bytes, last record)
//! ```
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
/// Footer magic ("SEALSST1" little-endian).
pub(crate) const SST_MAGIC: u64 = u64::from_le_bytes(*b"SEALSST1");

/// File name of table `number`.
pub(crate) fn table_name(number: u64) -> String {
    format!("{number:06}.sst")
}
