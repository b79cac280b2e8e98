//! Snapshots: a consistent copy of a node's replicated data, streamed to a
//! node whose log has fallen behind what the leader still keeps.
//!
//! Every node encrypts under its own keys, so no file crosses the network:
//! the sender reads its data at one engine snapshot (a fixed sequence
//! number; compaction keeps what it needs) and streams the key/value pairs
//! in key order inside the authenticated transport; the receiver stages
//! the stream in a sealed file under *its* keys, checks the SHA-256 digest
//! the sender computed over the whole stream, and installs it.
//!
//! ```text
//!   stream  = "SEALSNP1" | header_len u32le | header | entry… | 0x00 | count u64le
//!   header  = opt_log_id last applied | stored membership | snapshot id | last write index
//!   entry   = 0x01 | key (len-prefixed) | value (len-prefixed)     keys strictly ascending
//! ```
//!
//! Install replaces the receiver's replicated keys with the stream's by a
//! merge of the two sorted sequences (delete what the stream lacks, put
//! what it has). It is made crash-atomic by redo: a marker naming the
//! staged file is written first and deleted in the same batch as the new
//! applied state; a node that finds the marker at open runs the install
//! again from the staged file. New transactions wait while an install
//! runs (`TxnManager::exclusive`), so no reader sees half of it.
//!
//! The snapshot source is a seam: [`LocalSnapshot`] is this logical dump;
//! the online checkpoint of the backup work can take its place behind the
//! same `SnapshotData` without touching the Raft glue.
//!
//! Node-local keys (the Raft state machine's own bookkeeping, the audit
//! chain head and the audit log's key record) are never sent and never
//! replaced: [`is_node_local`].

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::codec::{self, put_blob, Reader};
use super::types::{SnapshotMetaOf, StoredMembershipOf};
use crate::error::{Error, Result};
use crate::storage::{Direction, Engine, Snapshot, WriteBatch};
use crate::txn::TxnManager;
use crate::vfs::{FileKind, SealedDir};

/// Keys under this prefix belong to the Raft state machine of this node.
pub(crate) const REPL_PREFIX: &[u8] = b"\x00r/";
/// The audit chain head and the audit log's last-seen data key: each node
/// keeps its own audit log under its own keys.
const AUDIT_PREFIX: &[u8] = b"\x00s/audit_";

/// Whether `key` is this node's own and never replicated.
pub(crate) fn is_node_local(key: &[u8]) -> bool {
    key.starts_with(REPL_PREFIX) || key.starts_with(AUDIT_PREFIX)
}

const MAGIC: &[u8; 8] = b"SEALSNP1";
const TAG_ENTRY: u8 = 1;
const TAG_END: u8 = 0;

/// What a snapshot says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotHeader {
    pub(crate) meta: SnapshotMetaOf,
    /// Index of the last write entry applied (for the conflict check).
    pub(crate) last_write: u64,
}

impl SnapshotHeader {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        codec::put_opt_log_id(&mut out, &self.meta.last_log_id);
        codec::put_stored_membership(&mut out, &self.meta.last_membership);
        put_blob(&mut out, self.meta.snapshot_id.as_bytes());
        crate::storage::key::put_varint(&mut out, self.last_write);
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Option<SnapshotHeader> {
        let mut r = Reader::new(buf);
        let last_log_id = codec::get_opt_log_id(&mut r)?;
        let last_membership: StoredMembershipOf = codec::get_stored_membership(&mut r)?;
        let snapshot_id = String::from_utf8(r.blob()?.to_vec()).ok()?;
        let last_write = r.varint()?;
        r.finish(SnapshotHeader {
            meta: SnapshotMetaOf {
                last_log_id,
                last_membership,
                snapshot_id,
            },
            last_write,
        })
    }
}

/// A snapshot as openraft handles it.
pub enum SnapshotData {
    /// This node's data at one point: what it sends.
    Local(Arc<LocalSnapshot>),
    /// A stream received from the leader, verified and staged in a sealed
    /// file of this node's log store: what it installs.
    Staged(StagedSnapshot),
}

impl std::fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotData::Local(l) => write!(f, "Local({})", l.header.meta.snapshot_id),
            SnapshotData::Staged(s) => write!(f, "Staged({})", s.file),
        }
    }
}

/// A consistent view of this node's data: an engine snapshot and the
/// applied state as of it.
pub struct LocalSnapshot {
    pub(crate) engine: Arc<Engine>,
    pub(crate) snap: Snapshot,
    pub(crate) header: SnapshotHeader,
}

/// A received, verified snapshot stream in a sealed file.
pub struct StagedSnapshot {
    pub(crate) file: String,
    pub(crate) header: SnapshotHeader,
}

/// Produces the stream of a [`LocalSnapshot`] in chunks, without holding
/// an iterator between chunks (the sender awaits the network in between).
pub(crate) struct StreamCursor {
    snap: Arc<LocalSnapshot>,
    /// Stream bytes produced so far.
    offset: u64,
    /// Last key sent (the next chunk starts after it).
    after: Option<Vec<u8>>,
    started: bool,
    done: bool,
    count: u64,
    hasher: Sha256,
}

impl StreamCursor {
    pub(crate) fn new(snap: Arc<LocalSnapshot>) -> StreamCursor {
        StreamCursor {
            snap,
            offset: 0,
            after: None,
            started: false,
            done: false,
            count: 0,
            hasher: Sha256::new(),
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The digest of the whole stream (valid once done).
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// The next chunk of about `max` bytes (whole entries; at least one).
    pub(crate) fn next_chunk(&mut self, max: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.extend_from_slice(MAGIC);
            let h = self.snap.header.encode();
            out.extend_from_slice(&(h.len() as u32).to_le_bytes());
            out.extend_from_slice(&h);
        }
        if !self.done {
            let lower = match self.after.take() {
                Some(mut k) => {
                    // The smallest key after `k`.
                    k.push(0);
                    std::ops::Bound::Included(k)
                }
                None => std::ops::Bound::Unbounded,
            };
            let it = self.snap.engine.iter(
                (lower, std::ops::Bound::Unbounded),
                Direction::Forward,
                Some(&self.snap.snap),
            )?;
            let mut last = None;
            let mut finished = true;
            for kv in it {
                let (k, v) = kv?;
                if is_node_local(&k) {
                    continue;
                }
                out.push(TAG_ENTRY);
                put_blob(&mut out, &k);
                put_blob(&mut out, &v);
                self.count += 1;
                last = Some(k);
                if out.len() >= max {
                    finished = false;
                    break;
                }
            }
            if finished {
                out.push(TAG_END);
                out.extend_from_slice(&self.count.to_le_bytes());
                self.done = true;
            } else {
                self.after = last;
            }
        }
        self.hasher.update(&out);
        self.offset += out.len() as u64;
        Ok(out)
    }

    /// Produces and drops chunks until `offset` is reached (resuming a
    /// transfer the receiver partly holds). `false` if `offset` is not a
    /// chunk boundary of this stream.
    pub(crate) fn skip_to(&mut self, offset: u64, max: usize) -> Result<bool> {
        while self.offset < offset && !self.done {
            self.next_chunk(max)?;
        }
        Ok(self.offset == offset)
    }
}

/// Parses a stream incrementally (the receiver installs from its staged
/// file record by record). Refuses keys out of order, node-local keys,
/// a count that does not match, bytes after the end.
pub(crate) struct StreamParser {
    buf: Vec<u8>,
    pos: usize,
    header: Option<SnapshotHeader>,
    last_key: Option<Vec<u8>>,
    count: u64,
    ended: bool,
}

fn bad_stream(what: &str) -> Error {
    Error::corruption("snapshot stream", 0, what)
}

impl StreamParser {
    pub(crate) fn new() -> StreamParser {
        StreamParser {
            buf: Vec::new(),
            pos: 0,
            header: None,
            last_key: None,
            count: 0,
            ended: false,
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The header, once parsed.
    pub(crate) fn header(&mut self) -> Result<Option<&SnapshotHeader>> {
        if self.header.is_none() {
            let rest = &self.buf[self.pos..];
            if rest.len() < 12 {
                return Ok(None);
            }
            if &rest[..8] != MAGIC {
                return Err(bad_stream("not a sealdb snapshot stream"));
            }
            let len = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
            if rest.len() < 12 + len {
                return Ok(None);
            }
            let h = SnapshotHeader::decode(&rest[12..12 + len])
                .ok_or_else(|| bad_stream("bad snapshot header"))?;
            self.pos += 12 + len;
            self.header = Some(h);
        }
        Ok(self.header.as_ref())
    }

    /// The next complete entry, `Ok(None)` if more bytes are needed or the
    /// stream ended (see [`Self::ended`]).
    pub(crate) fn next_entry(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        if self.header()?.is_none() || self.ended {
            return Ok(None);
        }
        let rest = &self.buf[self.pos..];
        let mut r = Reader::new(rest);
        match r.u8() {
            None => Ok(None),
            Some(TAG_END) => {
                let Some(c) = r.bytes(8) else {
                    return Ok(None);
                };
                let count = u64::from_le_bytes(c.try_into().map_err(|_| bad_stream("count"))?);
                if count != self.count {
                    return Err(bad_stream("entry count does not match"));
                }
                if rest.len() != 9 {
                    return Err(bad_stream("bytes after the end of the stream"));
                }
                self.pos += 9;
                self.ended = true;
                Ok(None)
            }
            Some(TAG_ENTRY) => {
                let (Some(k), Some(v)) = (r.blob(), r.blob()) else {
                    return Ok(None);
                };
                let used = rest.len() - r.remaining();
                let (k, v) = (k.to_vec(), v.to_vec());
                if is_node_local(&k) {
                    return Err(bad_stream("a node-local key in a snapshot"));
                }
                if self.last_key.as_ref().is_some_and(|l| *l >= k) {
                    return Err(bad_stream("keys out of order"));
                }
                self.last_key = Some(k.clone());
                self.count += 1;
                self.pos += used;
                Ok(Some((k, v)))
            }
            Some(_) => Err(bad_stream("bad entry tag")),
        }
    }

    pub(crate) fn ended(&self) -> bool {
        self.ended && self.pos == self.buf.len()
    }
}

/// A stream being received into a sealed file under this node's keys.
pub(crate) struct Staging {
    pub(crate) id: String,
    pub(crate) file: String,
    writer: crate::vfs::SealedWriter,
    pub(crate) len: u64,
    hasher: Sha256,
    /// The first bytes until the header is known.
    head: StreamParser,
}

/// File name of a staged snapshot (ids are made safe for a file name).
fn staging_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("snapshot-{safe}.stage")
}

impl Staging {
    pub(crate) fn create(dir: &SealedDir, id: &str) -> Result<Staging> {
        let file = staging_name(id);
        if dir.vfs().exists(&dir.dir().join(&file))? {
            dir.vfs().remove(&dir.dir().join(&file))?;
        }
        let writer = dir.create_file(&file, FileKind::Temp)?;
        Ok(Staging {
            id: id.to_string(),
            file,
            writer,
            len: 0,
            hasher: Sha256::new(),
            head: StreamParser::new(),
        })
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if self.head.header.is_none() {
            self.head.feed(bytes);
            self.head.header()?;
        }
        self.writer.append_record(bytes)?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Checks the digest and makes the file durable.
    pub(crate) fn finish(mut self, digest: &[u8]) -> Result<StagedSnapshot> {
        let got: [u8; 32] = self.hasher.clone().finalize().into();
        if got.as_slice() != digest {
            return Err(bad_stream(
                "the snapshot digest does not match what was received",
            ));
        }
        let header = self
            .head
            .header
            .take()
            .ok_or_else(|| bad_stream("the snapshot has no header"))?;
        self.writer.sync()?;
        Ok(StagedSnapshot {
            file: self.file,
            header,
        })
    }
}

/// Replaces the replicated keys of `engine` with the staged stream's and
/// writes `applied` (the state machine's record of what it holds) in the
/// same batch as the last changes. The caller holds the exclusive
/// transaction gate and has written the redo marker.
pub(crate) fn install_staged(
    mgr: &Arc<TxnManager>,
    dir: &SealedDir,
    staged: &StagedSnapshot,
    finish: WriteBatch,
) -> Result<()> {
    let engine = mgr.engine();
    let reader = dir.open_file(&staged.file, FileKind::Temp)?;
    let mut parser = StreamParser::new();
    let view = engine.snapshot();
    let mut mine = engine
        .iter(.., Direction::Forward, Some(&view))?
        .filter(|kv| !matches!(kv, Ok((k, _)) if is_node_local(k)))
        .peekable();
    let mut batch = WriteBatch::new();
    let flush = |batch: &mut WriteBatch| -> Result<()> {
        if batch.approximate_size() > 4 << 20 {
            engine.write(std::mem::take(batch))?;
        }
        Ok(())
    };
    let mut records = reader.records();
    loop {
        let next = parser.next_entry()?;
        let (k, v) = match next {
            Some(kv) => kv,
            None if parser.ended() => break,
            None => match records.next() {
                Some(r) => {
                    let (_, bytes) = r?;
                    parser.feed(&bytes);
                    continue;
                }
                None => return Err(bad_stream("the staged snapshot ends early")),
            },
        };
        // Delete every key of mine before `k`.
        while let Some(m) = mine.peek() {
            let mk = match m {
                Ok((mk, _)) => mk,
                Err(_) => {
                    if let Some(Err(e)) = mine.next() {
                        return Err(e);
                    }
                    continue;
                }
            };
            if *mk < k {
                batch.delete(mk.clone());
                mine.next();
            } else {
                break;
            }
        }
        let same = matches!(mine.peek(), Some(Ok((mk, mv))) if *mk == k && *mv == v);
        if matches!(mine.peek(), Some(Ok((mk, _))) if *mk == k) {
            mine.next();
        }
        if !same {
            batch.put(k, v);
        }
        flush(&mut batch)?;
    }
    if records.next().is_some() {
        return Err(bad_stream("bytes after the end of the staged snapshot"));
    }
    for m in mine {
        let (mk, _) = m?;
        batch.delete(mk);
        flush(&mut batch)?;
    }
    for (k, v) in finish.ops {
        match v {
            Some(v) => batch.put(k, v),
            None => batch.delete(k),
        };
    }
    engine.write(batch)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_local_keys_cover_the_audit_state() {
        assert!(is_node_local(crate::audit::HEAD_KEY));
        assert!(is_node_local(b"\x00s/audit_key"));
        assert!(!is_node_local(b"\x00s/auth"));
        assert!(!is_node_local(crate::catalog::CATALOG_PREFIX));
    }

    #[test]
    fn parser_refuses_bad_streams() {
        let header = SnapshotHeader {
            meta: SnapshotMetaOf::default(),
            last_write: 3,
        };
        let mut good = MAGIC.to_vec();
        let h = header.encode();
        good.extend_from_slice(&(h.len() as u32).to_le_bytes());
        good.extend_from_slice(&h);
        let mut body = good.clone();
        for k in [b"a".as_slice(), b"b"] {
            body.push(TAG_ENTRY);
            put_blob(&mut body, k);
            put_blob(&mut body, b"v");
        }
        body.push(TAG_END);
        body.extend_from_slice(&2u64.to_le_bytes());
        // Fed byte by byte, it parses.
        let mut p = StreamParser::new();
        let mut got = Vec::new();
        for b in &body {
            p.feed(&[*b]);
            while let Some(kv) = p.next_entry().expect("ok") {
                got.push(kv);
            }
        }
        assert!(p.ended());
        assert_eq!(got.len(), 2);
        assert_eq!(p.header().expect("ok"), Some(&header));

        // Out of order.
        let mut bad = good.clone();
        for k in [b"b".as_slice(), b"a"] {
            bad.push(TAG_ENTRY);
            put_blob(&mut bad, k);
            put_blob(&mut bad, b"v");
        }
        let mut p = StreamParser::new();
        p.feed(&bad);
        assert!(p.next_entry().is_ok());
        assert!(p.next_entry().is_err());

        // A node-local key.
        let mut bad = good.clone();
        bad.push(TAG_ENTRY);
        put_blob(&mut bad, b"\x00r/applied");
        put_blob(&mut bad, b"v");
        let mut p = StreamParser::new();
        p.feed(&bad);
        assert!(p.next_entry().is_err());

        // Wrong count.
        let mut bad = good.clone();
        bad.push(TAG_END);
        bad.extend_from_slice(&5u64.to_le_bytes());
        let mut p = StreamParser::new();
        p.feed(&bad);
        assert!(p.next_entry().is_err());

        // Not a stream.
        let mut p = StreamParser::new();
        p.feed(b"SQLite format 3\0");
        assert!(p.next_entry().is_err());
    }
}
