//! The Raft log and vote, kept in the node's own log store: a second
//! sealdb storage engine in `<store>/raft/`, so every entry is encrypted
//! and authenticated under the node's own keys like any table, fsynced by
//! the engine's group commit, and recovered by its WAL.
//!
//! Why a second engine rather than sealed files of our own or keys in the
//! data engine: the engine already gives atomic, durable, encrypted
//! batches and ordered range reads (what a log needs: append, truncate a
//! suffix, purge a prefix, read a range); keeping the log out of the data
//! engine means a checkpoint or a snapshot of the data never carries the
//! log, and purging the log never creates tombstones among the tables.
//!
//! ```text
//!   key               value
//!   "v"               vote                    (codec::put_vote)
//!   "c"               committed log id        (opt_log_id)
//!   "p"               last purged log id      (opt_log_id)
//!   "l" index u64be   entry                   (codec::put_entry)
//! ```
//!
//! Invariants: the vote is durable before it is acknowledged (openraft
//! awaits `save_vote`); appended entries are durable before the flush
//! callback fires; entries at or below the purged id are gone or ignored;
//! the log is contiguous from purged + 1 to its last entry.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, Vote};

use super::codec::{self, Reader};
use super::types::{storage_error, NodeId, StorageError, TypeConfig};
use crate::error::{Error, Result};
use crate::storage::{Direction, Engine, WriteBatch};

const VOTE: &[u8] = b"v";
const COMMITTED: &[u8] = b"c";
const PURGED: &[u8] = b"p";
const LOG: u8 = b'l';

fn log_key(index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(LOG);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn corrupt(what: &str) -> Error {
    Error::corruption("raft log store", 0, what)
}

/// The log store (cheap to clone; clones share the engine).
#[derive(Clone)]
pub(crate) struct LogStore {
    engine: Arc<Engine>,
}

impl LogStore {
    pub(crate) fn new(engine: Arc<Engine>) -> LogStore {
        LogStore { engine }
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn read_opt_log_id(&self, key: &[u8]) -> Result<Option<LogId<NodeId>>> {
        match self.engine.get(key)? {
            None => Ok(None),
            Some(v) => {
                let mut r = Reader::new(&v);
                let id = codec::get_opt_log_id(&mut r).ok_or_else(|| corrupt("bad log id"))?;
                r.finish(id).ok_or_else(|| corrupt("bad log id"))
            }
        }
    }

    fn write_opt_log_id(&self, key: &[u8], id: &Option<LogId<NodeId>>) -> Result<()> {
        let mut v = Vec::new();
        codec::put_opt_log_id(&mut v, id);
        self.engine.put(key, &v)?;
        Ok(())
    }

    /// Entries with index in `[from, to)`.
    pub(crate) fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry<TypeConfig>>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let it = self
            .engine
            .iter(log_key(from)..log_key(to), Direction::Forward, None)?;
        for (expect, kv) in (from..).zip(it) {
            let (k, v) = kv?;
            let e = codec::decode_entry(&v).ok_or_else(|| corrupt("undecodable entry"))?;
            if k != log_key(e.log_id.index) || e.log_id.index != expect {
                return Err(corrupt("entry out of place"));
            }
            out.push(e);
        }
        Ok(out)
    }

    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>> {
        let mut it = self
            .engine
            .iter(log_key(0)..log_key(u64::MAX), Direction::Reverse, None)?;
        match it.next() {
            None => Ok(None),
            Some(kv) => {
                let (_, v) = kv?;
                let e = codec::decode_entry(&v).ok_or_else(|| corrupt("undecodable entry"))?;
                Ok(Some(e.log_id))
            }
        }
    }

    /// Deletes the entries with index in `[from, to)`.
    fn delete_range(&self, from: u64, to: u64) -> Result<()> {
        let mut b = WriteBatch::new();
        for kv in self
            .engine
            .iter(log_key(from)..log_key(to), Direction::Forward, None)?
        {
            let (k, _) = kv?;
            b.delete(k);
            if b.approximate_size() > 1 << 20 {
                self.engine.write(std::mem::take(&mut b))?;
            }
        }
        if !b.is_empty() {
            self.engine.write(b)?;
        }
        Ok(())
    }

    pub(crate) fn vote(&self) -> Result<Option<Vote<NodeId>>> {
        match self.engine.get(VOTE)? {
            None => Ok(None),
            Some(v) => {
                let mut r = Reader::new(&v);
                let vote = codec::get_vote(&mut r).ok_or_else(|| corrupt("bad vote"))?;
                r.finish(Some(vote)).ok_or_else(|| corrupt("bad vote"))
            }
        }
    }
}

fn range_bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let from = match range.start_bound() {
        Bound::Included(&x) => x,
        Bound::Excluded(&x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let to = match range.end_bound() {
        Bound::Included(&x) => x.saturating_add(1),
        Bound::Excluded(&x) => x,
        Bound::Unbounded => u64::MAX,
    };
    (from, to)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> std::result::Result<Vec<Entry<TypeConfig>>, StorageError> {
        let (from, to) = range_bounds(&range);
        self.entries(from, to)
            .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Read, &e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> std::result::Result<LogState<TypeConfig>, StorageError> {
        let err = |e: Error| storage_error(ErrorSubject::Logs, ErrorVerb::Read, &e);
        let purged = self.read_opt_log_id(PURGED).map_err(err)?;
        let last = self.last_entry_id().map_err(err)?.or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> std::result::Result<(), StorageError> {
        let mut v = Vec::new();
        codec::put_vote(&mut v, vote);
        self.engine
            .put(VOTE, &v)
            .map(|_| ())
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Write, &e))
    }

    async fn read_vote(&mut self) -> std::result::Result<Option<Vote<NodeId>>, StorageError> {
        self.vote()
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Read, &e))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> std::result::Result<(), StorageError> {
        self.write_opt_log_id(COMMITTED, &committed)
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Write, &e))
    }

    async fn read_committed(&mut self) -> std::result::Result<Option<LogId<NodeId>>, StorageError> {
        self.read_opt_log_id(COMMITTED)
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Read, &e))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> std::result::Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = WriteBatch::new();
        for e in entries {
            b.put(log_key(e.log_id.index), codec::encode_entry(&e));
        }
        // The engine's write returns once the batch is in its WAL (fsynced
        // in its full sync mode): the entries are durable.
        let r = if b.is_empty() {
            Ok(0)
        } else {
            self.engine.write(b)
        };
        match r {
            Ok(_) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let io = std::io::Error::other(e.to_string());
                callback.log_io_completed(Err(io));
                Err(storage_error(ErrorSubject::Logs, ErrorVerb::Write, &e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> std::result::Result<(), StorageError> {
        self.delete_range(log_id.index, u64::MAX)
            .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> std::result::Result<(), StorageError> {
        // The purged id first: a crash between the two leaves entries that
        // are ignored (below purged), never a gap that is believed present.
        let err = |e: Error| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, &e);
        self.write_opt_log_id(PURGED, &Some(log_id)).map_err(err)?;
        self.delete_range(0, log_id.index.saturating_add(1))
            .map_err(err)
    }
}
