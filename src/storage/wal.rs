//! The write-ahead log: every committed batch is appended here before it
//! reaches the memtable, so a crash loses nothing that was acknowledged.
//!
//! One WAL segment (`000123.wal`, a sealed file of kind Wal) per memtable.
//! A segment is created, its header and its start record synced and its
//! name made durable before any write goes into it; each commit group is
//! one record (batch.rs has the payload), or several consecutive records
//! when it is larger than the record limit, which recovery applies only
//! when the last of them is there. A segment is never appended to
//! after a restart: recovery replays it into memory and a new segment takes
//! the new writes, so no (key, IV, offset) is ever written twice.
//!
//! ```text
//!   segment = start record | commit group | commit group | ...
//!   start   = "SEALWAL2" | number u64le | prev number u64le | prev IV [16, BE]
//!             | prev length u64le | prev end of records u64le
//!             (prev number 0: no previous segment)
//! ```
//!
//! The start record chains the segments: each names its own number (so a
//! segment copied under another name is refused) and the number, IV and
//! exact length of the segment before it, which was synced and complete
//! when the new one was made. Every segment but the newest is therefore
//! bound whole; only the newest one's tail is not (a cut there looks exactly
//! like a crash before the sync, and nothing on the same disk can tell).
//!
//! Recovery reads segments in order. A torn final record
//! ([`Error::Truncated`], or a tail of zeros) ends a segment; in the newest
//! segment that is a crash before the sync; in an older one it must be the
//! very tail the next segment recorded when it was made (a crash before the
//! open that made it), byte for byte in length and in where the records
//! end, otherwise it is an error. Any other damage is an error. Sequence
//! numbers must continue without a gap from one record to the next. A
//! split commit whose last record is missing at a segment's end (a crash
//! while it was written: never acknowledged) is dropped whole, and the
//! next segment's first record takes its sequence numbers.

use crate::error::{Error, Result};
use crate::vfs::{FileKind, RecordSink, SealedDir, SealedWriter, HEADER_LEN, MAX_RECORD};

use super::batch::{
    decode_record, encode_part_streamed, encode_record, encode_record_streamed,
    encode_sorted_part_streamed, encode_sorted_streamed, parts, record_len, Gap, LogChain, Part,
    WriteBatch,
};
use super::key::get_u64;
use super::memtable::Memtable;

pub(crate) fn wal_name(number: u64) -> String {
    format!("{number:06}.wal")
}

const START_MAGIC: &[u8; 8] = b"SEALWAL2";
const START_LEN: usize = 8 + 8 + 8 + 16 + 8 + 8;

/// Records from this size on are streamed (`vfs::sealed::stream`): the
/// size the writer flushes at, so a streamed record's chunks are the
/// writes a record built whole would have been split into anyway.
const STREAM_FROM: usize = 256 * 1024;

/// Which segment file this is: what the next segment records about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentId {
    pub(crate) number: u64,
    pub(crate) iv: u128,
    /// Exact file length.
    pub(crate) len: u64,
    /// File offset where its complete records end (= `len` unless a
    /// crash left a torn tail).
    pub(crate) end: u64,
}

/// The start record of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StartRecord {
    pub(crate) number: u64,
    pub(crate) prev: Option<SegmentId>,
}

impl StartRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(START_LEN);
        out.extend_from_slice(START_MAGIC);
        out.extend_from_slice(&self.number.to_le_bytes());
        let p = self.prev.unwrap_or(SegmentId {
            number: 0,
            iv: 0,
            len: 0,
            end: 0,
        });
        out.extend_from_slice(&p.number.to_le_bytes());
        out.extend_from_slice(&p.iv.to_be_bytes());
        out.extend_from_slice(&p.len.to_le_bytes());
        out.extend_from_slice(&p.end.to_le_bytes());
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Option<StartRecord> {
        if buf.len() != START_LEN || &buf[..8] != START_MAGIC {
            return None;
        }
        let mut pos = 8;
        let number = get_u64(buf, &mut pos)?;
        let prev_number = get_u64(buf, &mut pos)?;
        let iv = u128::from_be_bytes(buf.get(pos..pos + 16)?.try_into().ok()?);
        pos += 16;
        let len = get_u64(buf, &mut pos)?;
        let end = get_u64(buf, &mut pos)?;
        let prev = (prev_number != 0).then_some(SegmentId {
            number: prev_number,
            iv,
            len,
            end,
        });
        Some(StartRecord { number, prev })
    }
}

/// The segment being appended to.
pub(crate) struct WalWriter {
    w: SealedWriter,
    number: u64,
    pub(crate) bytes: u64,
}

impl WalWriter {
    /// Creates segment `number`, chained to `prev` (the segment before it,
    /// complete and synced), and makes it and its name durable. On failure
    /// the partial file is removed (best effort).
    pub(crate) fn create(
        dir: &SealedDir,
        number: u64,
        prev: Option<SegmentId>,
    ) -> Result<WalWriter> {
        let name = wal_name(number);
        let made = (|| {
            let mut w = dir.create_file(&name, FileKind::Wal)?;
            let start = StartRecord { number, prev };
            w.append_record(&start.encode())?;
            w.sync()?;
            dir.vfs().sync_dir(dir.dir())?;
            Ok(w)
        })();
        match made {
            Ok(w) => Ok(WalWriter {
                w,
                number,
                bytes: 0,
            }),
            Err(e) => {
                super::remove_partial(dir, &name);
                Err(e)
            }
        }
    }

    /// This segment as the next one will record it: call after [`Self::sync`].
    pub(crate) fn id(&self) -> SegmentId {
        let len = HEADER_LEN + self.w.position();
        SegmentId {
            number: self.number,
            iv: self.w.header().iv,
            len,
            end: len,
        }
    }

    /// Appends one commit group as one record and hands it to the OS.
    /// A record larger than the writer's buffer (a bulk load's commit) is
    /// encoded, sealed and written a chunk at a time, not built whole; one
    /// larger than `limit` bytes is split over several records (see
    /// `batch::parts`).
    pub(crate) fn append(&mut self, seq: u64, batches: &[&WriteBatch], limit: usize) -> Result<()> {
        let len = record_len(batches);
        if len > limit {
            let mut ops = batches.iter().flat_map(|b| &b.ops);
            return self.append_split(&parts(batches, limit), |p, more, sink| {
                let first = seq + p.ops.start as u64;
                encode_part_streamed(first, ops.by_ref(), p.ops.len(), more, sink)
            });
        }
        if len >= STREAM_FROM {
            self.w
                .append_record_streamed(len, |sink| encode_record_streamed(seq, batches, sink))?;
        } else {
            self.w.append_record_in_place(len, |slot| {
                let (body, rest) = slot.split_at_mut(len);
                encode_record(seq, batches, body);
                rest[..4].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
                Ok(())
            })?;
        }
        self.appended(len)
    }

    /// [`Self::append`] of one sorted batch that becomes a memtable of its
    /// own (`Memtable::sorted_internal`): once it is logged its keys are
    /// internal keys (sequence numbers from `seq`), made in the pass that
    /// encodes them (see `batch::encode_sorted_streamed`). On failure the
    /// batch is of no further use (the commit fails).
    pub(crate) fn append_sorted(
        &mut self,
        seq: u64,
        batch: &mut WriteBatch,
        limit: usize,
    ) -> Result<()> {
        let len = record_len(&[&*batch]);
        if len > limit {
            let parts = parts(&[&*batch], limit);
            return self.append_split(&parts, |p, more, sink| {
                encode_sorted_part_streamed(seq, batch, p.ops.clone(), more, sink)
            });
        }
        if len < STREAM_FROM {
            // Small enough to stay in the cache for a second pass.
            self.append(seq, &[&*batch], limit)?;
            batch.make_internal(seq, 0..batch.len());
            return Ok(());
        }
        self.w
            .append_record_streamed(len, |sink| encode_sorted_streamed(seq, batch, sink))?;
        self.appended(len)
    }

    /// Appends a commit split into `parts` (see `batch::parts`), each
    /// record encoded by `fill` (the part, whether more follow, the sink),
    /// after checking that every part fits a record: a part refused only
    /// at its turn would leave the ones before it in the segment, and the
    /// next commit, taking the same sequence numbers, would follow them
    /// there (the log would not replay).
    fn append_split(
        &mut self,
        parts: &[Part],
        mut fill: impl FnMut(&Part, bool, &mut RecordSink<'_>),
    ) -> Result<()> {
        if let Some(p) = parts.iter().find(|p| p.len > MAX_RECORD) {
            return Err(Error::InvalidArgument {
                what: format!(
                    "an operation of the commit needs a log record of {} bytes, over the 1 GiB limit",
                    p.len
                ),
            });
        }
        for (i, p) in parts.iter().enumerate() {
            let more = i + 1 < parts.len();
            self.w
                .append_record_streamed(p.len, |sink| fill(p, more, sink))?;
        }
        self.appended(parts.iter().map(|p| p.len).sum())
    }

    /// Counts a record of `len` payload bytes appended and hands what is
    /// buffered to the OS.
    fn appended(&mut self, len: usize) -> Result<()> {
        self.bytes += len as u64;
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

    /// Whether a write to the segment failed (see
    /// `SealedWriter::is_failed`): an append that failed without it left
    /// the segment as it was.
    pub(crate) fn is_failed(&self) -> bool {
        self.w.is_failed()
    }
}

/// What replaying one segment found.
pub(crate) struct Replayed {
    pub(crate) id: SegmentId,
    pub(crate) start: StartRecord,
    /// Commit groups applied.
    pub(crate) commits: u64,
}

/// Replays segment `number` into `mem`. `next_seq` is the sequence number
/// the first record must have (if known); it is advanced past the last
/// record. A torn tail ends the segment (the caller checks it against the
/// next segment's start record, see the module doc). `newest` says whether
/// this is the newest segment. `Ok(None)`: the newest segment's header or
/// start record was never completed (a crash while it was being made), so
/// it never held a commit.
pub(crate) fn replay(
    dir: &SealedDir,
    number: u64,
    mem: &Memtable,
    next_seq: &mut Option<u64>,
    newest: bool,
) -> Result<Option<Replayed>> {
    let reader = match dir.open_file(&wal_name(number), FileKind::Wal) {
        Ok(r) => r,
        Err(Error::Truncated { offset: 0, .. }) if newest => return Ok(None),
        Err(e) => return Err(e),
    };
    let torn_ok = |e: &Error, at: u64| -> Result<bool> {
        // A record cut short by the end of the file, or space appended but
        // never synced that reads back as zeros after a crash: never
        // acknowledged. Any other damage is an error.
        Ok(matches!(e, Error::Truncated { .. })
            || (e.is_corruption() && reader.tail_is_zero(at)?))
    };
    let mut records = reader.records();
    let start = match records.next() {
        Some(Ok((_, payload))) => StartRecord::decode(&payload).ok_or_else(|| {
            Error::corruption(
                reader.path(),
                HEADER_LEN,
                "malformed log segment start record",
            )
        })?,
        Some(Err(e)) if newest && torn_ok(&e, 0)? => return Ok(None),
        Some(Err(e)) => return Err(e),
        None if newest => return Ok(None),
        None => {
            return Err(Error::corruption(
                reader.path(),
                HEADER_LEN,
                "log segment has no start record",
            ))
        }
    };
    if start.number != number {
        return Err(Error::corruption(
            reader.path(),
            HEADER_LEN,
            format!(
                "this is log segment {}, not {number}: a segment was copied over another",
                start.number
            ),
        ));
    }
    let mut commits = 0;
    let mut next_offset = reader.record_len(START_LEN);
    let mut chain = LogChain::new(*next_seq);
    for item in records {
        let (offset, payload) = match item {
            Ok(r) => r,
            Err(e) if torn_ok(&e, next_offset)? => break,
            Err(e) => return Err(e),
        };
        let record = decode_record(&payload)
            .ok_or_else(|| Error::corruption(reader.path(), offset, "malformed log record"))?;
        match chain.push(record) {
            Err(Gap { seq, want }) => {
                return Err(Error::corruption(
                    reader.path(),
                    offset,
                    format!(
                    "log record has sequence {seq}, expected {want}: part of the log is missing"
                ),
                ))
            }
            Ok(Some(whole)) => {
                for (seq, batch) in &whole {
                    mem.apply(*seq, batch);
                }
                commits += 1;
            }
            Ok(None) => {}
        }
        next_offset = offset + reader.record_len(payload.len());
    }
    // A commit the segment ends inside was being written when the store
    // stopped (never acknowledged): dropped, and the next segment's first
    // commit takes its sequence numbers.
    chain.end_segment();
    *next_seq = chain.next_seq();
    Ok(Some(Replayed {
        id: SegmentId {
            number,
            iv: reader.header().iv,
            len: HEADER_LEN + reader.body_len(),
            end: HEADER_LEN + next_offset,
        },
        start,
        commits,
    }))
}
