//! The state machine: committed log entries applied to the node's data
//! engine, in log order, the same way on every node.
//!
//! ```text
//!   "\x00r/applied" = opt_log_id last applied | stored membership | last write index
//!   "\x00r/install" = staged file name | snapshot header     (present only mid-install)
//! ```
//!
//! Invariants:
//! - idempotent by log index: the applied record is written in the same
//!   engine batch as the changes of the entries it covers, so after a
//!   crash the node holds exactly the entries up to it, and an entry at or
//!   below it is skipped if offered again;
//! - deterministic: a write entry applies only if its `base` equals the
//!   last applied write index, otherwise it is refused on every node alike
//!   (the transaction read stale data) and only the applied record moves;
//! - after applying changes to the catalog or the security catalog, the
//!   database's caches are reloaded before the proposer is answered
//!   ([`ApplyHook`]).

use std::sync::{Arc, Weak};

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder,
    Snapshot as RaftSnapshot, SnapshotMeta, StoredMembership,
};
use parking_lot::Mutex;

use super::codec::{self, put_blob, Reader};
use super::snapshot::{
    install_staged, LocalSnapshot, SnapshotData, SnapshotHeader, StagedSnapshot,
};
use super::types::{storage_error, Command, Member, NodeId, Outcome, StorageError, TypeConfig};
use crate::error::{Error, Result};
use crate::storage::{Engine, WriteBatch};
use crate::txn::TxnManager;
use crate::vfs::SealedDir;

const APPLIED: &[u8] = b"\x00r/applied";
const INSTALL: &[u8] = b"\x00r/install";

/// Told about applied changes, to refresh what is cached from the data.
pub(crate) trait ApplyHook: Send + Sync {
    /// Whether a change to `key` makes [`ApplyHook::reload`] necessary.
    fn watches(&self, key: &[u8]) -> bool;
    /// Re-reads the cached state from the engine.
    fn reload(&self);
}

/// What the state machine holds, as recorded under `APPLIED`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) last: Option<LogId<NodeId>>,
    pub(crate) membership: StoredMembership<NodeId, Member>,
    pub(crate) last_write: u64,
}

impl Applied {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        codec::put_opt_log_id(&mut out, &self.last);
        codec::put_stored_membership(&mut out, &self.membership);
        crate::storage::key::put_varint(&mut out, self.last_write);
        out
    }

    fn decode(buf: &[u8]) -> Option<Applied> {
        let mut r = Reader::new(buf);
        let last = codec::get_opt_log_id(&mut r)?;
        let membership = codec::get_stored_membership(&mut r)?;
        let last_write = r.varint()?;
        r.finish(Applied {
            last,
            membership,
            last_write,
        })
    }
}

fn corrupt(what: &str) -> Error {
    Error::corruption("replication state", 0, what)
}

/// The last write index visible in `snap` (0 before any write).
pub(crate) fn last_write_at(engine: &Engine, snap: &crate::storage::Snapshot) -> Result<u64> {
    match engine.get_at(APPLIED, snap)? {
        None => Ok(0),
        Some(v) => Ok(Applied::decode(&v)
            .ok_or_else(|| corrupt("bad applied record"))?
            .last_write),
    }
}

pub(crate) struct Shared {
    mgr: Arc<TxnManager>,
    /// The log store's directory: staged snapshots live there, sealed
    /// under this node's keys.
    stage_dir: Arc<Engine>,
    applied: Mutex<Applied>,
    current: Mutex<Option<Arc<LocalSnapshot>>>,
    hook: Mutex<Option<Weak<dyn ApplyHook>>>,
    built: std::sync::atomic::AtomicU64,
}

/// The state machine handle openraft drives (cheap to clone).
#[derive(Clone)]
pub(crate) struct StateMachine {
    pub(crate) shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state machine over `mgr`'s engine, finishing an install
    /// that a crash interrupted.
    pub(crate) fn open(mgr: Arc<TxnManager>, log_engine: Arc<Engine>) -> Result<StateMachine> {
        let engine = mgr.engine().clone();
        let shared = Arc::new(Shared {
            mgr,
            stage_dir: log_engine,
            applied: Mutex::new(Applied::default()),
            current: Mutex::new(None),
            hook: Mutex::new(None),
            built: Default::default(),
        });
        let sm = StateMachine { shared };
        if let Some(marker) = engine.get(INSTALL)? {
            let mut r = Reader::new(&marker);
            let file = r
                .blob()
                .and_then(|b| String::from_utf8(b.to_vec()).ok())
                .ok_or_else(|| corrupt("bad install marker"))?;
            let header = r
                .blob()
                .and_then(SnapshotHeader::decode)
                .ok_or_else(|| corrupt("bad install marker"))?;
            sm.install(&StagedSnapshot { file, header })?;
        }
        let applied = match engine.get(APPLIED)? {
            None => Applied::default(),
            Some(v) => Applied::decode(&v).ok_or_else(|| corrupt("bad applied record"))?,
        };
        *sm.shared.applied.lock() = applied;
        sm.remove_stale_staging()?;
        Ok(sm)
    }

    fn sdir(&self) -> &SealedDir {
        self.shared.stage_dir.sealed_dir()
    }

    fn remove_stale_staging(&self) -> Result<()> {
        let dir = self.sdir();
        for name in dir.vfs().list(dir.dir())? {
            if name.starts_with("snapshot-") && name.ends_with(".stage") {
                dir.vfs().remove(&dir.dir().join(&name))?;
            }
        }
        Ok(())
    }

    pub(crate) fn set_hook(&self, hook: Weak<dyn ApplyHook>) {
        *self.shared.hook.lock() = Some(hook);
    }

    fn reload(&self) {
        let hook = self.shared.hook.lock().clone();
        if let Some(h) = hook.and_then(|w| w.upgrade()) {
            h.reload();
        }
    }

    fn watches(&self, key: &[u8]) -> bool {
        let hook = self.shared.hook.lock().clone();
        hook.and_then(|w| w.upgrade())
            .is_some_and(|h| h.watches(key))
    }

    /// What the state machine holds.
    pub(crate) fn applied(&self) -> Applied {
        self.shared.applied.lock().clone()
    }

    fn apply_entries(&self, entries: Vec<Entry<TypeConfig>>) -> Result<Vec<Outcome>> {
        let mut state = self.shared.applied.lock().clone();
        let mut batch = WriteBatch::new();
        let mut out = Vec::with_capacity(entries.len());
        let mut reload = false;
        for e in entries {
            if state.last.is_some_and(|l| e.log_id.index <= l.index) {
                // Already applied (a replay after restart).
                out.push(Outcome::Meta);
                continue;
            }
            state.last = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => out.push(Outcome::Meta),
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(e.log_id), m);
                    out.push(Outcome::Meta);
                }
                EntryPayload::Normal(Command::Write { base, batch: b }) => {
                    if base != state.last_write {
                        out.push(Outcome::Conflict);
                        continue;
                    }
                    for (k, v) in b.ops {
                        if super::snapshot::is_node_local(&k) {
                            // Never from a correct proposer; refuse to let
                            // a replicated entry touch node-local state.
                            continue;
                        }
                        reload = reload || self.watches(&k);
                        match v {
                            Some(v) => batch.put(k, v),
                            None => batch.delete(k),
                        };
                    }
                    state.last_write = e.log_id.index;
                    out.push(Outcome::Applied);
                }
            }
        }
        batch.put(APPLIED.to_vec(), state.encode());
        self.shared.mgr.engine().write(batch)?;
        *self.shared.applied.lock() = state;
        if reload {
            self.reload();
        }
        Ok(out)
    }

    fn build(&self) -> Result<Arc<LocalSnapshot>> {
        let engine = self.shared.mgr.engine().clone();
        // openraft purges the log below a snapshot once it is built: what
        // the snapshot covers must be durable first, whatever the data
        // engine's sync mode (a flush writes the memtable to a table).
        engine.flush()?;
        let snap = engine.snapshot();
        let applied = match engine.get_at(APPLIED, &snap)? {
            None => Applied::default(),
            Some(v) => Applied::decode(&v).ok_or_else(|| corrupt("bad applied record"))?,
        };
        let n = self
            .shared
            .built
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = match applied.last {
            Some(l) => format!("{}-{}-{n}", l.leader_id.term, l.index),
            None => format!("0-0-{n}"),
        };
        let header = SnapshotHeader {
            meta: SnapshotMeta {
                last_log_id: applied.last,
                last_membership: applied.membership.clone(),
                snapshot_id: id,
            },
            last_write: applied.last_write,
        };
        let local = Arc::new(LocalSnapshot {
            engine,
            snap,
            header,
        });
        *self.shared.current.lock() = Some(local.clone());
        Ok(local)
    }

    /// Installs a staged snapshot (also the redo after a crash).
    fn install(&self, staged: &StagedSnapshot) -> Result<()> {
        let engine = self.shared.mgr.engine().clone();
        let mut marker = Vec::new();
        put_blob(&mut marker, staged.file.as_bytes());
        put_blob(&mut marker, &staged.header.encode());
        engine.put(INSTALL, &marker)?;
        let applied = Applied {
            last: staged.header.meta.last_log_id,
            membership: staged.header.meta.last_membership.clone(),
            last_write: staged.header.last_write,
        };
        let mut finish = WriteBatch::new();
        finish.put(APPLIED.to_vec(), applied.encode());
        finish.delete(INSTALL.to_vec());
        {
            let _no_new_transactions = self.shared.mgr.exclusive();
            install_staged(&self.shared.mgr, self.sdir(), staged, finish)?;
            *self.shared.applied.lock() = applied;
        }
        let dir = self.sdir();
        dir.vfs().remove(&dir.dir().join(&staged.file))?;
        self.reload();
        Ok(())
    }

    /// The staging directory (the log store's sealed directory).
    pub(crate) fn stage_dir(&self) -> &SealedDir {
        self.sdir()
    }
}

fn sm_err(e: Error) -> StorageError {
    storage_error(ErrorSubject::StateMachine, ErrorVerb::Write, &e)
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(
        &mut self,
    ) -> std::result::Result<RaftSnapshot<TypeConfig>, StorageError> {
        let local = self
            .build()
            .map_err(|e| storage_error(ErrorSubject::Snapshot(None), ErrorVerb::Read, &e))?;
        Ok(RaftSnapshot {
            meta: local.header.meta.clone(),
            snapshot: Box::new(SnapshotData::Local(local)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> std::result::Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Member>), StorageError>
    {
        let a = self.applied();
        Ok((a.last, a.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> std::result::Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.apply_entries(entries.into_iter().collect())
            .map_err(sm_err)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> std::result::Result<Box<SnapshotData>, StorageError> {
        // Snapshots arrive through the node's own chunked receiver
        // (network.rs) and are handed over staged; openraft's chunked
        // path is not used with generic snapshot data.
        Err(sm_err(Error::InvalidArgument {
            what: "snapshots are received by the replication service, not openraft".into(),
        }))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Member>,
        snapshot: Box<SnapshotData>,
    ) -> std::result::Result<(), StorageError> {
        let staged = match *snapshot {
            SnapshotData::Staged(s) => s,
            SnapshotData::Local(_) => {
                return Err(sm_err(Error::InvalidArgument {
                    what: "only a received snapshot can be installed".into(),
                }))
            }
        };
        if staged.header.meta != *meta {
            return Err(sm_err(corrupt(
                "snapshot metadata does not match its stream",
            )));
        }
        self.install(&staged).map_err(sm_err)?;
        self.build().map_err(sm_err)?;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> std::result::Result<Option<RaftSnapshot<TypeConfig>>, StorageError> {
        let cur = self.shared.current.lock().clone();
        let local = match cur {
            Some(l) => l,
            // None kept (a fresh start): a view of the data as it is now is
            // as good a snapshot as any, and covers every purged entry.
            None => {
                if self.applied().last.is_none() {
                    return Ok(None);
                }
                self.build()
                    .map_err(|e| storage_error(ErrorSubject::Snapshot(None), ErrorVerb::Read, &e))?
            }
        };
        Ok(Some(RaftSnapshot {
            meta: local.header.meta.clone(),
            snapshot: Box::new(SnapshotData::Local(local)),
        }))
    }
}
