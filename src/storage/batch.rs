//! Write batches: a group of puts and deletes applied atomically.
//!
//! A batch is also the unit of the write-ahead log: one WAL record holds one
//! batch (or several batches merged by group commit) with the sequence
//! number of its first operation; operation `i` gets `seq + i`.
//!
//! ```text
//!   WAL record payload = seq u64le | count u32le | count × op
//!   op                 = kind u8 | klen varint | key | (put: vlen varint | value)
//! ```

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

/// The record's first 12 bytes: its sequence number and operation count.
fn record_head(seq: u64, batches: &[&WriteBatch]) -> [u8; 12] {
    let count: usize = batches.iter().map(|b| b.len()).sum();
    let mut h = [0u8; 12];
    h[..8].copy_from_slice(&seq.to_le_bytes());
    h[8..].copy_from_slice(&(count as u32).to_le_bytes());
    h
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
    out[..12].copy_from_slice(&record_head(seq, batches));
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
    sink.put(&record_head(seq, batches));
    let mut scratch = Vec::new();
    encode_ops_streamed(batches.iter().flat_map(|b| &b.ops), sink, &mut scratch);
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
    const GROUP: usize = 4096;
    sink.put(&record_head(seq, &[&*batch]));
    let mut scratch = Vec::new();
    for start in (0..batch.ops.len()).step_by(GROUP) {
        let end = (start + GROUP).min(batch.ops.len());
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

/// Decodes a WAL record: the first sequence number and the operations.
pub(crate) fn decode_record(buf: &[u8]) -> Option<(u64, WriteBatch)> {
    let mut pos = 0;
    let seq = get_u64(buf, &mut pos)?;
    let count = u32::from_le_bytes(get_bytes(buf, &mut pos, 4)?.try_into().ok()?);
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
    (pos == buf.len()).then_some((seq, b))
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
        let (seq, got) = decode_record(&buf).expect("decode");
        assert_eq!(seq, 42);
        let mut want = a.clone();
        want.append(&b);
        assert_eq!(got.ops, want.ops);
        for cut in 0..buf.len() {
            assert!(decode_record(&buf[..cut]).is_none());
        }
    }
}
