//! Write batches: a group of puts and deletes applied atomically.
//!
//! A batch is also the unit of the write-ahead log: one WAL record holds one
//! batch (or several batches merged by group commit) with the sequence
//! number of its first operation; operation `i` gets `seq + i`.
//!
//! ```text
//!   WAL record payload = seq u64le | more:1 count:31 (u32le) | count × op
//!   op                 = kind u8 | klen varint | key | (put: vlen varint | value)
//! ```
//!
//! A commit larger than the log's record limit
//! (`StorageOptions::log_record_bytes`, at most the sealed file's 1 GiB)
//! is split between operations into several records ([`parts`]), each
//! with the sequence number of its own first operation; every record but
//! the last has the `more` bit. Recovery, restore and backup verification
//! ([`LogChain`]) apply such a commit only when its last record is there:
//! all of it or none. Writers before the bit existed never set it (a
//! record's count stays far below 2^31), so their logs read the same; they
//! refuse a log holding a split commit as malformed.

use super::key::{get_bytes, get_u64, get_varint, trailer, varint_len, write_varint, Kind};
use crate::vfs::RecordSink;

/// One operation of a batch: a key and its new value, `None` to delete
/// it. The shape of a transaction's write set entries, so a large write
/// set becomes a batch without a copy (see [`WriteBatch::from_sorted`]).
pub(crate) type Op = (Vec<u8>, Option<Vec<u8>>);

/// The kind of an operation whose value is `v`.
pub(crate) fn kind_of<V>(v: &Option<V>) -> Kind {
    if v.is_some() {
        Kind::Put
    } else {
        Kind::Delete
    }
}

/// Puts and deletes to apply together, all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub(crate) ops: Vec<Op>,
    pub(crate) bytes: usize,
    /// The keys are strictly ascending by construction (see
    /// [`WriteBatch::mark_sorted`]), so `Memtable::can_sort` need not walk
    /// them again; any later put or delete clears it.
    pub(crate) sorted: bool,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// An empty batch with room for `n` operations.
    pub fn with_capacity(n: usize) -> Self {
        WriteBatch {
            ops: Vec::with_capacity(n),
            bytes: 0,
            sorted: false,
        }
    }

    /// Records that the keys were added strictly ascending: the batch was
    /// made from a transaction's write set in key order (each key once).
    /// After the index build's sort the keys lie scattered in memory, and
    /// walking them once more to check the order is a cache miss a key
    /// (5% of CREATE INDEX). Debug builds check it anyway.
    pub(crate) fn mark_sorted(&mut self) {
        debug_assert!(self.ops.windows(2).all(|w| w[0].0 < w[1].0));
        self.sorted = true;
    }

    /// The batch of `ops`, whose keys are strictly ascending (each once):
    /// a transaction's write set, taken as it is (a bulk load's is
    /// hundreds of thousands of operations; a new vector for them was
    /// fresh memory, a page fault every few dozen). Marked sorted.
    pub(crate) fn from_sorted(ops: Vec<Op>) -> WriteBatch {
        let bytes = ops.iter().map(|(k, v)| op_size(k, v.as_deref())).sum();
        let mut b = WriteBatch {
            ops,
            bytes,
            sorted: false,
        };
        b.mark_sorted();
        b
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        let (k, v) = (key.into(), value.into());
        self.bytes += op_size(&k, Some(&v));
        self.ops.push((k, Some(v)));
        self.sorted = false;
        self
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        let k = key.into();
        self.bytes += op_size(&k, None);
        self.ops.push((k, None));
        self.sorted = false;
        self
    }

    /// Turns the user keys of operations `range` into internal keys, with
    /// sequence numbers `seq + i` for operation `i` (for the memtable the
    /// batch becomes whole: `Memtable::sorted_internal`). Each key's own
    /// buffer grows by the trailer (the key encoders leave room for it).
    pub(crate) fn make_internal(&mut self, seq: u64, range: std::ops::Range<usize>) {
        let start = range.start;
        for (i, (k, v)) in self.ops[range].iter_mut().enumerate() {
            let t = trailer(seq + (start + i) as u64, kind_of(v));
            k.extend_from_slice(&t.to_be_bytes());
        }
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Approximate size in bytes (for memtable accounting).
    pub fn approximate_size(&self) -> usize {
        self.bytes
    }

    /// Appends all of `other`'s operations.
    #[cfg(test)]
    pub(crate) fn append(&mut self, other: &WriteBatch) {
        self.ops.extend(other.ops.iter().cloned());
        self.bytes += other.bytes;
    }
}

/// What an operation adds to [`WriteBatch::approximate_size`].
fn op_size(k: &[u8], v: Option<&[u8]>) -> usize {
    k.len() + v.map_or(0, <[u8]>::len) + 16
}

/// Length of the WAL record [`encode_record`] makes of `batches`.
pub(crate) fn record_len(batches: &[&WriteBatch]) -> usize {
    12 + batches
        .iter()
        .flat_map(|b| &b.ops)
        .map(|(k, v)| op_len(k, v.as_deref()))
        .sum::<usize>()
}

/// Encoded length of one operation.
#[inline(always)]
fn op_len(k: &[u8], v: Option<&[u8]>) -> usize {
    let mut n = 1 + varint_len(k.len() as u64) + k.len();
    if let Some(v) = v {
        n += varint_len(v.len() as u64) + v.len();
    }
    n
}

/// The bit of a record's count that says the commit goes on in the next
/// record.
const MORE: u32 = 1 << 31;

/// The record's first 12 bytes: its sequence number, operation count and
/// whether the commit goes on in the next record.
fn record_head(seq: u64, count: usize, more: bool) -> [u8; 12] {
    // A record of at most 1 GiB holds fewer than 2^30 operations (each
    // takes two bytes or more), so the count never reaches the bit.
    debug_assert!(count < MORE as usize);
    let mut h = [0u8; 12];
    h[..8].copy_from_slice(&seq.to_le_bytes());
    let word = count as u32 | if more { MORE } else { 0 };
    h[8..].copy_from_slice(&word.to_le_bytes());
    h
}

/// Operations in `batches` (all of them, in order).
fn op_count(batches: &[&WriteBatch]) -> usize {
    batches.iter().map(|b| b.len()).sum()
}

/// One record of a commit split over several: which of the commit's
/// operations it holds (indices in the order of `batches`' operations)
/// and its payload's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) ops: std::ops::Range<usize>,
    pub(crate) len: usize,
}

/// Cuts the operations of `batches` into records of at most `limit`
/// payload bytes, in order; an operation larger than that alone gets a
/// record of its own (the sealed file refuses it if it is over 1 GiB).
pub(crate) fn parts(batches: &[&WriteBatch], limit: usize) -> Vec<Part> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut len = 12;
    for (i, (k, v)) in batches.iter().flat_map(|b| &b.ops).enumerate() {
        let n = op_len(k, v.as_deref());
        if i > start && len + n > limit {
            out.push(Part { ops: start..i, len });
            start = i;
            len = 12;
        }
        len += n;
    }
    out.push(Part {
        ops: start..op_count(batches),
        len,
    });
    out
}

/// Encodes one operation at `out[*pos..]` (which has room for it).
///
/// The kind byte and the lengths are stored in place, not copied in from
/// a scratch buffer: a large commit has hundreds of thousands of
/// operations, and a copy call per byte or two cost more than the keys.
#[inline(always)]
fn encode_op(out: &mut [u8], pos: &mut usize, k: &[u8], v: Option<&[u8]>) {
    out[*pos] = kind_of(&v) as u8;
    *pos += 1;
    write_varint(out, pos, k.len() as u64);
    out[*pos..*pos + k.len()].copy_from_slice(k);
    *pos += k.len();
    if let Some(v) = v {
        write_varint(out, pos, v.len() as u64);
        out[*pos..*pos + v.len()].copy_from_slice(v);
        *pos += v.len();
    }
}

/// Encodes `batches` (applied in order) as one WAL record starting at
/// `seq` into `out`, which is [`record_len`] bytes long: the log writer
/// hands out that slot of its own buffer, so a large commit's operations
/// are copied once on their way to the file.
pub(crate) fn encode_record(seq: u64, batches: &[&WriteBatch], out: &mut [u8]) {
    out[..12].copy_from_slice(&record_head(seq, op_count(batches), false));
    let mut pos = 12;
    for (k, v) in batches.iter().flat_map(|b| &b.ops) {
        encode_op(out, &mut pos, k, v.as_deref());
    }
    debug_assert_eq!(pos, out.len());
}

/// [`encode_record`] through a sink that seals and writes the record a
/// chunk at a time (`vfs::sealed::stream`). The operations that fit in the
/// chunk's room are encoded there in place, in a loop as tight as
/// [`encode_record`]'s (an index build's keys lie scattered: the CPU must
/// keep several of their cache misses in flight); one that does not fit
/// goes through `scratch`, copied across the chunk's end.
pub(crate) fn encode_record_streamed(seq: u64, batches: &[&WriteBatch], sink: &mut RecordSink<'_>) {
    let ops = batches.iter().flat_map(|b| &b.ops);
    encode_part_streamed(seq, ops, op_count(batches), false, sink);
}

/// One record of `count` operations taken from `ops`, the first with
/// sequence number `seq`, through the sink (see [`encode_record_streamed`]);
/// `more`: the commit goes on in the next record (see [`parts`]).
pub(crate) fn encode_part_streamed<'a>(
    seq: u64,
    ops: impl Iterator<Item = &'a Op>,
    count: usize,
    more: bool,
    sink: &mut RecordSink<'_>,
) {
    sink.put(&record_head(seq, count, more));
    let mut scratch = Vec::new();
    encode_ops_streamed(ops.take(count), sink, &mut scratch);
}

/// [`encode_record_streamed`] of one sorted batch that is to become a
/// memtable of its own, which also turns each user key into its internal
/// key (sequence number `seq + i`) a group of operations at a time, right
/// after encoding them: the keys are then still in the CPU cache (after an
/// index build's sort they lie scattered, and a pass of its own over them
/// was a cache miss a key). On return every key is internal, written or
/// not (if the record failed, so did the commit, and the batch is
/// dropped).
pub(crate) fn encode_sorted_streamed(seq: u64, batch: &mut WriteBatch, sink: &mut RecordSink<'_>) {
    let all = 0..batch.ops.len();
    encode_sorted_part_streamed(seq, batch, all, false, sink);
}

/// [`encode_sorted_streamed`] of the operations `range` of the batch as
/// one record of a split commit (see [`parts`]): `seq` is the commit's
/// first sequence number, so operation `i` gets `seq + i` wherever its
/// record starts.
pub(crate) fn encode_sorted_part_streamed(
    seq: u64,
    batch: &mut WriteBatch,
    range: std::ops::Range<usize>,
    more: bool,
    sink: &mut RecordSink<'_>,
) {
    const GROUP: usize = 4096;
    sink.put(&record_head(seq + range.start as u64, range.len(), more));
    let mut scratch = Vec::new();
    for start in range.clone().step_by(GROUP) {
        let end = (start + GROUP).min(range.end);
        encode_ops_streamed(batch.ops[start..end].iter(), sink, &mut scratch);
        batch.make_internal(seq, start..end);
    }
}

/// The operations part of [`encode_record_streamed`].
fn encode_ops_streamed<'a>(
    ops: impl Iterator<Item = &'a Op>,
    sink: &mut RecordSink<'_>,
    scratch: &mut Vec<u8>,
) {
    let mut ops = ops.peekable();
    while ops.peek().is_some() {
        let room = sink.room();
        let mut pos = 0;
        while let Some((k, v)) = ops.next_if(|(k, v)| pos + op_len(k, v.as_deref()) <= room.len()) {
            encode_op(room, &mut pos, k, v.as_deref());
        }
        sink.advance(pos);
        if pos == 0 {
            if let Some((k, v)) = ops.next() {
                scratch.clear();
                scratch.resize(op_len(k, v.as_deref()), 0);
                encode_op(scratch, &mut 0, k, v.as_deref());
                sink.put(scratch);
            }
        }
    }
}

/// A decoded WAL record.
pub(crate) struct LogRecord {
    /// Sequence number of its first operation.
    pub(crate) seq: u64,
    pub(crate) batch: WriteBatch,
    /// The commit goes on in the next record: apply nothing before the
    /// record without it arrives.
    pub(crate) more: bool,
}

/// Decodes a WAL record.
pub(crate) fn decode_record(buf: &[u8]) -> Option<LogRecord> {
    let mut pos = 0;
    let seq = get_u64(buf, &mut pos)?;
    let word = u32::from_le_bytes(get_bytes(buf, &mut pos, 4)?.try_into().ok()?);
    let (count, more) = (word & !MORE, word & MORE != 0);
    let mut b = WriteBatch::new();
    for _ in 0..count {
        let kind = Kind::from_u8(*get_bytes(buf, &mut pos, 1)?.first()?)?;
        let klen = get_varint(buf, &mut pos)? as usize;
        let key = get_bytes(buf, &mut pos, klen)?.to_vec();
        match kind {
            Kind::Put => {
                let vlen = get_varint(buf, &mut pos)? as usize;
                let v = get_bytes(buf, &mut pos, vlen)?.to_vec();
                b.put(key, v);
            }
            Kind::Delete => {
                b.delete(key);
            }
        }
    }
    (pos == buf.len()).then_some(LogRecord {
        seq,
        batch: b,
        more,
    })
}

/// A log's records in order, as recovery, restore and backup verification
/// read them: sequence numbers continue without a gap from one record to
/// the next, and a split commit's records are held until its last one,
/// then released together.
#[derive(Default)]
pub(crate) struct LogChain {
    next: Option<u64>,
    parts: Vec<(u64, WriteBatch)>,
}

/// A record whose sequence number is not the one the chain expected: part
/// of the log is missing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) seq: u64,
    pub(crate) want: u64,
}

impl LogChain {
    /// A chain whose first record must have sequence number `next`, if
    /// known.
    pub(crate) fn new(next: Option<u64>) -> LogChain {
        LogChain {
            next,
            parts: Vec::new(),
        }
    }

    /// The sequence number the next record must have, if known: one past
    /// the last record taken, or the first of a commit abandoned at a
    /// segment's end.
    pub(crate) fn next_seq(&self) -> Option<u64> {
        self.next
    }

    /// Takes the next record; returns the whole commit's parts (sequence
    /// number, operations) once its last record has come.
    pub(crate) fn push(&mut self, r: LogRecord) -> Result<Option<Vec<(u64, WriteBatch)>>, Gap> {
        if let Some(want) = self.next {
            if r.seq != want {
                return Err(Gap { seq: r.seq, want });
            }
        }
        self.next = Some(r.seq + r.batch.len() as u64);
        self.parts.push((r.seq, r.batch));
        Ok((!r.more).then(|| std::mem::take(&mut self.parts)))
    }

    /// Whether a commit's last record has yet to come.
    pub(crate) fn is_pending(&self) -> bool {
        !self.parts.is_empty()
    }

    /// A log segment ended. A commit whose last record has not come was
    /// being written when the store stopped, never acknowledged: its parts
    /// are dropped and the next segment's first commit takes its sequence
    /// numbers.
    pub(crate) fn end_segment(&mut self) {
        if let Some((seq, _)) = self.parts.first() {
            self.next = Some(*seq);
        }
        self.parts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch marked sorted stops being so at its next put or delete
    /// (the memtable then checks its keys itself).
    #[test]
    fn a_put_or_delete_clears_the_sorted_mark() {
        let mut b = WriteBatch::new();
        b.put("a", "1").put("b", "2");
        b.mark_sorted();
        assert!(b.sorted);
        b.put("a", "3");
        assert!(!b.sorted);
        let mut d = WriteBatch::new();
        d.put("a", "1");
        d.mark_sorted();
        d.delete("0");
        assert!(!d.sorted);
    }

    /// A record encoded through the log's chunked sink is the record
    /// [`encode_record`] makes: operations far smaller and far larger than
    /// a chunk, many of them across chunk ends.
    #[test]
    fn a_streamed_record_encodes_as_one_built_whole() -> crate::error::Result<()> {
        use crate::crypto::UnencryptedKeyProvider;
        use crate::vfs::{FileKind, KeyOptions, MemVfs, SealedDir};
        let d = SealedDir::open(
            std::sync::Arc::new(MemVfs::new()),
            "/d",
            std::sync::Arc::new(UnencryptedKeyProvider::dangerous_new()),
            KeyOptions::default(),
        )?;
        let mut a = WriteBatch::new();
        for i in 0..40_000u32 {
            let k = format!("key{i:07}").into_bytes();
            match i % 5 {
                0 => a.delete(k),
                1 => a.put(k, vec![i as u8; (i % 700) as usize]),
                _ => a.put(k, Vec::new()),
            };
        }
        let mut b = WriteBatch::new();
        b.put(vec![1u8; 300_000], vec![2u8; 600_000])
            .put("z", "last");
        for (i, batches) in [vec![&a], vec![&a, &b], vec![&b, &a]]
            .into_iter()
            .enumerate()
        {
            let name = format!("r{i}");
            let mut want = vec![0; record_len(&batches)];
            encode_record(7, &batches, &mut want);
            let mut w = d.create_file(&name, FileKind::Wal)?;
            w.append_record_streamed(want.len(), |sink| encode_record_streamed(7, &batches, sink))?;
            w.sync()?;
            let r = d.open_file(&name, FileKind::Wal)?;
            let (got, _) = r.read_record(0)?.expect("a record");
            assert!(got == want, "records differ");
        }
        // One sorted batch logged for a memtable of its own: the same
        // record, and every key made internal, across many groups.
        let mut one = a.clone();
        let mut want = vec![0; record_len(&[&one])];
        encode_record(40, &[&one], &mut want);
        let mut w = d.create_file("sorted", FileKind::Wal)?;
        w.append_record_streamed(want.len(), |sink| {
            encode_sorted_streamed(40, &mut one, sink)
        })?;
        w.sync()?;
        let (got, _) = d
            .open_file("sorted", FileKind::Wal)?
            .read_record(0)?
            .expect("a record");
        assert!(got == want, "sorted records differ");
        for (i, ((k, v), (user, _))) in one.ops.iter().zip(&a.ops).enumerate() {
            let kind = kind_of(v);
            assert_eq!(
                k,
                &crate::storage::key::make_ikey(user, 40 + i as u64, kind),
                "{i}"
            );
        }
        Ok(())
    }

    /// A commit cut by [`parts`] and logged record by record reads back as
    /// the commit: records within the limit (but for an operation larger
    /// than it), in order, each with its first operation's sequence number,
    /// the `more` bit on all but the last, released whole by
    /// [`LogChain`] at the last; a sorted run's keys made internal with
    /// the commit's numbers whichever record they went to.
    #[test]
    fn a_commit_split_over_records_reads_back_as_the_commit() -> crate::error::Result<()> {
        use crate::crypto::MemoryKeyProvider;
        use crate::vfs::{FileKind, KeyOptions, MemVfs, SealedDir};
        let d = SealedDir::open(
            std::sync::Arc::new(MemVfs::new()),
            "/d",
            std::sync::Arc::new(MemoryKeyProvider::new(crate::KeyBytes::from_slice(
                &[3; 32],
            ))?),
            KeyOptions::default(),
        )?;
        let mut a = WriteBatch::new();
        for i in 0..600u32 {
            let k = format!("key{i:07}").into_bytes();
            match i % 7 {
                0 => a.delete(k),
                // One operation larger than every limit but the last.
                3 if i == 304 => a.put(k, vec![9u8; 3000]),
                _ => a.put(k, vec![i as u8; (i % 90) as usize]),
            };
        }
        for (n, limit) in [256usize, 1000, 5000].into_iter().enumerate() {
            let ps = parts(&[&a], limit);
            assert!(ps.len() > 1, "limit {limit}");
            assert_eq!(ps[0].ops.start, 0);
            assert_eq!(ps[ps.len() - 1].ops.end, a.len());
            for (i, p) in ps.iter().enumerate() {
                if i > 0 {
                    assert_eq!(ps[i - 1].ops.end, p.ops.start);
                }
                let ops = &a.ops[p.ops.clone()];
                let len = 12
                    + ops
                        .iter()
                        .map(|(k, v)| op_len(k, v.as_deref()))
                        .sum::<usize>();
                assert_eq!(p.len, len);
                assert!(p.len <= limit || ops.len() == 1, "limit {limit}: {p:?}");
            }
            for sorted in [false, true] {
                let name = format!("f{n}{sorted}");
                let mut one = a.clone();
                let mut w = d.create_file(&name, FileKind::Wal)?;
                let mut ops = a.ops.iter();
                for (i, p) in ps.iter().enumerate() {
                    let more = i + 1 < ps.len();
                    w.append_record_streamed(p.len, |sink| {
                        if sorted {
                            encode_sorted_part_streamed(50, &mut one, p.ops.clone(), more, sink)
                        } else {
                            let first = 50 + p.ops.start as u64;
                            encode_part_streamed(first, ops.by_ref(), p.ops.len(), more, sink)
                        }
                    })?;
                }
                w.sync()?;
                let r = d.open_file(&name, FileKind::Wal)?;
                let mut commit = LogChain::new(Some(50));
                let mut got = Vec::new();
                for (i, item) in r.records().enumerate() {
                    let rec = decode_record(&item?.1).expect("a record");
                    let p = &ps[i];
                    assert_eq!(rec.seq, 50 + p.ops.start as u64);
                    assert_eq!(rec.more, i + 1 < ps.len());
                    assert_eq!(rec.batch.ops, a.ops[p.ops.clone()], "part {i}");
                    assert_eq!(commit.is_pending(), i > 0);
                    if let Some(whole) = commit.push(rec).expect("in sequence") {
                        assert_eq!(i + 1, ps.len(), "released before the last record");
                        got = whole;
                    }
                }
                assert_eq!(got.len(), ps.len());
                assert!(!commit.is_pending());
                assert_eq!(commit.next_seq(), Some(50 + a.len() as u64));
                if sorted {
                    for (i, ((k, v), (user, _))) in one.ops.iter().zip(&a.ops).enumerate() {
                        let want = crate::storage::key::make_ikey(user, 50 + i as u64, kind_of(v));
                        assert_eq!(k, &want, "{i}");
                    }
                }
            }
        }
        // A log that ends inside a commit: abandoned, its first number
        // handed on to the next segment's first record; a record out of
        // sequence is a gap.
        let record = |seq: u64, more: bool| {
            let mut buf = vec![0; record_len(&[&a])];
            encode_record(seq, &[&a], &mut buf);
            let mut r = decode_record(&buf).expect("a record");
            r.more = more;
            r
        };
        let n = a.len() as u64;
        let mut chain = LogChain::new(None);
        assert!(chain.push(record(9, false)).expect("first").is_some());
        assert!(chain.push(record(9 + n, true)).expect("next").is_none());
        assert!(chain.is_pending());
        chain.end_segment();
        assert!(!chain.is_pending());
        assert_eq!(chain.next_seq(), Some(9 + n));
        chain.end_segment();
        assert_eq!(chain.next_seq(), Some(9 + n));
        assert_eq!(
            chain.push(record(9 + 2 * n, false)).err(),
            Some(Gap {
                seq: 9 + 2 * n,
                want: 9 + n
            })
        );
        assert!(chain.push(record(9 + n, false)).expect("again").is_some());
        Ok(())
    }

    /// A batch taken whole from sorted operations is the batch their puts
    /// and deletes make, size included, and is marked sorted.
    #[test]
    fn a_batch_from_sorted_ops_is_the_batch_of_their_puts_and_deletes() {
        let ops: Vec<Op> = (0..50u8)
            .map(|i| (vec![b'k', i], (i % 3 != 0).then(|| vec![i; usize::from(i)])))
            .collect();
        let mut want = WriteBatch::new();
        for (k, v) in &ops {
            match v {
                Some(v) => want.put(k.clone(), v.clone()),
                None => want.delete(k.clone()),
            };
        }
        let got = WriteBatch::from_sorted(ops);
        assert!(got.sorted);
        assert_eq!(got.ops, want.ops);
        assert_eq!(got.approximate_size(), want.approximate_size());
        assert_eq!(kind_of(&got.ops[0].1), Kind::Delete);
        assert_eq!(kind_of(&got.ops[1].1), Kind::Put);
    }

    #[test]
    fn record_round_trip() {
        let mut a = WriteBatch::new();
        a.put("k1", "v1").delete("k2");
        let mut b = WriteBatch::new();
        b.put(vec![0u8; 300], vec![1u8; 1000]);
        let mut buf = vec![0; record_len(&[&a, &b])];
        encode_record(42, &[&a, &b], &mut buf);
        let r = decode_record(&buf).expect("decode");
        assert_eq!((r.seq, r.more), (42, false));
        let got = r.batch;
        let mut want = a.clone();
        want.append(&b);
        assert_eq!(got.ops, want.ops);
        for cut in 0..buf.len() {
            assert!(decode_record(&buf[..cut]).is_none());
        }
    }
}
