//! The write-ahead log: every committed batch is appended here before it
//! reaches the memtable, so a crash loses nothing that was acknowledged.
//!
//! One WAL segment (`000123.wal`, a sealed file of kind Wal) per memtable.
//! A segment is created, its header synced and its name made durable before
//! any write goes into it; each commit group is one record (batch.rs has the
//! payload). A segment is never appended to after a restart: recovery
//! replays it into a memtable that is flushed at once, and a new segment
//! takes the new writes, so no (key, IV, offset) is ever written twice.
//!
//! Recovery reads segments in order and stops at a torn final record
//! ([`Error::Truncated`]); damage anywhere else is an error. Sequence numbers
//! must continue without a gap from one record to the next, which catches a
//! lost segment in the middle.

use crate::error::{Error, Result};
use crate::vfs::{FileKind, SealedDir, SealedWriter};

use super::batch::{decode_record, encode_record, WriteBatch};
use super::memtable::Memtable;

pub(crate) fn wal_name(number: u64) -> String {
    format!("{number:06}.wal")
}

/// The segment being appended to.
pub(crate) struct WalWriter {
    w: SealedWriter,
    buf: Vec<u8>,
    pub(crate) bytes: u64,
}

impl WalWriter {
    pub(crate) fn create(dir: &SealedDir, number: u64) -> Result<WalWriter> {
        let mut w = dir.create_file(&wal_name(number), FileKind::Wal)?;
        w.sync()?;
        dir.vfs().sync_dir(dir.dir())?;
        Ok(WalWriter {
            w,
            buf: Vec::new(),
            bytes: 0,
        })
    }

    /// Appends one commit group as one record and hands it to the OS.
    pub(crate) fn append(&mut self, seq: u64, batches: &[&WriteBatch]) -> Result<()> {
        encode_record(seq, batches, &mut self.buf);
        self.w.append_record(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        self.w.flush()
    }

    /// Makes everything appended durable.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.w.sync()
    }

    /// The segment's length in bytes: every record appended so far has
    /// been handed to the file (`append` flushes), so this is where a
    /// reader opened now finds the end.
    pub(crate) fn file_len(&self) -> u64 {
        crate::vfs::HEADER_LEN + self.w.position()
    }
}

/// Replays segment `number` into `mem`. `next_seq` is the sequence number
/// the first record must have (if known); it is advanced past the last
/// record. Returns the number of records applied.
pub(crate) fn replay(
    dir: &SealedDir,
    number: u64,
    mem: &Memtable,
    next_seq: &mut Option<u64>,
) -> Result<u64> {
    let reader = match dir.open_file(&wal_name(number), FileKind::Wal) {
        Ok(r) => r,
        // Records are appended only after the header is synced, so a
        // segment whose header is incomplete never held a record.
        Err(Error::Truncated { offset: 0, .. }) => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut applied = 0;
    let mut next_offset = 0;
    for item in reader.records() {
        let (offset, payload) = match item {
            Ok(r) => r,
            Err(Error::Truncated { .. }) => break,
            // Space appended but never synced may read back as zeros after
            // a crash; such a tail was never acknowledged. Any other damage
            // is an error.
            Err(e) if e.is_corruption() && reader.tail_is_zero(next_offset)? => break,
            Err(e) => return Err(e),
        };
        let (seq, batch) = decode_record(&payload)
            .ok_or_else(|| Error::corruption(reader.path(), offset, "malformed log record"))?;
        if let Some(want) = *next_seq {
            if seq != want {
                return Err(Error::corruption(
                    reader.path(),
                    offset,
                    format!("log record has sequence {seq}, expected {want}: part of the log is missing"),
                ));
            }
        }
        mem.apply(seq, &batch);
        next_offset = offset + reader.record_len(payload.len());
        *next_seq = Some(seq + batch.len() as u64);
        applied += 1;
    }
    Ok(applied)
}
