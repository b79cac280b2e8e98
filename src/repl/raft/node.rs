//! One Raft node: opens the log store and the state machine, starts
//! openraft, serves the other nodes' requests, and gives the database what
//! it needs: proposing a commit, read barriers, membership changes, leader
//! transfer, status.
//!
//! The database's API is synchronous; openraft is async. A node runs on a
//! tokio runtime (its own, or one given in the options) and the database
//! calls in through [`RaftNode::block`], which hands the future to the
//! runtime and waits on a channel (never `block_on` inside the runtime).
//!
//! Commit outcomes are exact: openraft answers `ForwardToLeader` only for
//! an entry that was not appended or was truncated (so it can never
//! commit) — that is safe to retry elsewhere; a timeout or a lost answer
//! after the entry may have been appended is [`Error::CommitUnknown`].
//!
//! Leader transfer (openraft 0.9 has none): the leader stops taking
//! writes, waits until the target holds its whole log, asks the other
//! voters to hold their elections, stops heartbeats until the followers'
//! leader lease ran out, then tells the target to campaign. The target's
//! log is at least as new as everyone's, so it wins unless a node it
//! could not reach competes; the result is checked, not assumed.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, InitializeError, RaftError};
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use parking_lot::Mutex;

use super::log_store::LogStore;
use super::network::{
    decode_ack, decode_forward_reply, decode_read_index_reply, decode_request, encode_ack,
    encode_append_reply, encode_failure, encode_forward_reply, encode_read_index_reply,
    encode_request, encode_snapshot_reply, encode_vote_reply, BoxFuture, ClusterTransport,
    ForwardReply, Lane, Network, ReadIndexReply, Request, RequestHandler, SnapshotChunk,
    SnapshotReply, K_HOLD, K_TIMEOUT_NOW,
};
use super::snapshot::{SnapshotData, Staging};
use super::state_machine::{last_write_at, ApplyHook, StateMachine};
use super::types::{Command, Member, NodeId, Outcome, Raft};
use super::{
    ClusterStatus, FollowerWrites, MemberStatus, ReadConsistency, ReplicationOptions, Role,
};
use crate::crypto::KeyProvider;
use crate::error::{Error, Result};
use crate::storage::{Engine, Snapshot, StorageOptions, SyncMode, WriteBatch};
use crate::txn::{Committer, TxnManager};
use crate::vfs::{KeyOptions, Vfs};

/// The directory of a store that holds its Raft log store.
pub(crate) const RAFT_DIR: &str = "raft";

/// What the request handler and the node share.
struct Shared {
    id: NodeId,
    raft: Raft,
    sm: StateMachine,
    /// The snapshot being received, if any.
    staging: tokio::sync::Mutex<Option<Staging>>,
    /// When this node last accepted an append from a leader, and the
    /// leader's commit index it carried (for bounded-staleness reads).
    fresh: Mutex<Option<(Instant, u64)>>,
    /// Generation of election holds (a newer hold outlives older ones).
    hold_gen: AtomicU64,
    timeout: Duration,
}

/// A running node.
pub(crate) struct RaftNode {
    shared: Arc<Shared>,
    transport: Arc<dyn ClusterTransport>,
    log: LogStore,
    opts: ReplicationOptions,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    /// A leader transfer is running: new writes are refused.
    transferring: AtomicBool,
    closed: AtomicBool,
}

fn unavailable(what: impl Into<String>) -> Error {
    Error::Unavailable { what: what.into() }
}

impl RaftNode {
    /// Opens the node of the store at `dir` (its log store in
    /// `dir/raft`, under the same key provider) and starts it.
    pub(crate) fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        provider: Arc<dyn KeyProvider>,
        keys: KeyOptions,
        mgr: Arc<TxnManager>,
        opts: ReplicationOptions,
    ) -> Result<Arc<RaftNode>> {
        let (runtime, handle) = match &opts.runtime {
            Some(h) => (None, h.clone()),
            None => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("sealdb-raft")
                    .enable_all()
                    .build()
                    .map_err(|e| Error::io("start the replication runtime for", dir, e))?;
                let h = rt.handle().clone();
                (Some(rt), h)
            }
        };
        let log_engine = Arc::new(Engine::open(
            vfs,
            dir.join(RAFT_DIR),
            provider,
            keys,
            StorageOptions {
                sync: SyncMode::Full,
                memtable_bytes: 4 << 20,
                block_cache_bytes: 4 << 20,
                ..StorageOptions::default()
            },
        )?);
        let h = handle.clone();
        let node = run_on(&handle, async move {
            Self::start(log_engine, mgr, opts, h).await
        })?;
        match node {
            Ok(node) => {
                *node.runtime.lock() = runtime;
                Ok(node)
            }
            Err(e) => {
                if let Some(rt) = runtime {
                    rt.shutdown_background();
                }
                Err(e)
            }
        }
    }

    /// Starts a node over an open log store engine (async: tests drive it
    /// on their own runtime).
    pub(crate) async fn start(
        log_engine: Arc<Engine>,
        mgr: Arc<TxnManager>,
        opts: ReplicationOptions,
        handle: tokio::runtime::Handle,
    ) -> Result<Arc<RaftNode>> {
        let log = LogStore::new(log_engine.clone());
        let sm = StateMachine::open(mgr, log_engine)?;
        let config = Config {
            cluster_name: "sealdb".into(),
            heartbeat_interval: opts.heartbeat.as_millis() as u64,
            election_timeout_min: opts.election_timeout.0.as_millis() as u64,
            election_timeout_max: opts.election_timeout.1.as_millis() as u64,
            install_snapshot_timeout: opts.timeout.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(opts.snapshot_every),
            max_in_snapshot_log_to_keep: opts.keep_log,
            ..Config::default()
        }
        .validate()
        .map_err(|e| Error::InvalidArgument {
            what: format!("replication options: {e}"),
        })?;
        let network = Network {
            transport: opts.transport.clone(),
            chunk_bytes: opts.snapshot_chunk_bytes.max(1024),
        };
        let id = opts.node_id;
        let raft = Raft::new(id, Arc::new(config), network, log.clone(), sm.clone())
            .await
            .map_err(|e| unavailable(format!("starting Raft: {e}")))?;
        let shared = Arc::new(Shared {
            id,
            raft,
            sm,
            staging: tokio::sync::Mutex::new(None),
            fresh: Mutex::new(None),
            hold_gen: AtomicU64::new(0),
            timeout: opts.timeout,
        });
        opts.transport.serve(Arc::new(Service {
            shared: Arc::downgrade(&shared),
        }))?;
        let node = Arc::new(RaftNode {
            shared,
            transport: opts.transport.clone(),
            log,
            opts,
            runtime: Mutex::new(None),
            handle,
            transferring: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        if !node.opts.initial_members.is_empty() {
            let members: BTreeMap<NodeId, Member> = node
                .opts
                .initial_members
                .iter()
                .map(|(id, a)| (*id, Member { address: a.clone() }))
                .collect();
            match node.shared.raft.initialize(members).await {
                Ok(()) => {}
                // Already part of a cluster: the options only found one.
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(unavailable(format!("forming the cluster: {e}"))),
            }
        }
        Ok(node)
    }

    pub(crate) fn id(&self) -> NodeId {
        self.shared.id
    }

    pub(crate) fn default_read(&self) -> ReadConsistency {
        self.opts.read_consistency
    }

    pub(crate) fn set_hook(&self, hook: Weak<dyn ApplyHook>) {
        self.shared.sm.set_hook(hook);
    }

    /// The log store's engine (key rotation rewrites it too).
    pub(crate) fn log_engine(&self) -> &Arc<Engine> {
        self.log.engine()
    }

    /// Runs `f` on the node's runtime and waits for it.
    pub(crate) fn block<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        run_on(&self.handle, f)
    }

    fn raft(&self) -> Raft {
        self.shared.raft.clone()
    }

    fn leader(&self) -> Option<NodeId> {
        self.shared.raft.metrics().borrow().current_leader
    }

    fn address_of(&self, id: NodeId) -> Option<String> {
        let m = self
            .shared
            .raft
            .metrics()
            .borrow()
            .membership_config
            .clone();
        m.membership().get_node(&id).map(|n| n.address.clone())
    }

    fn not_leader(&self, leader: Option<NodeId>) -> Error {
        let leader = leader.filter(|l| *l != self.id());
        Error::NotLeader {
            leader,
            leader_address: leader.and_then(|l| self.address_of(l)),
        }
    }

    /// Proposes one commit and waits until it is applied here.
    pub(crate) fn propose(self: &Arc<Self>, cmd: Command) -> Result<u64> {
        let node = self.clone();
        self.block(async move { node.propose_async(cmd).await })?
    }

    pub(crate) async fn propose_async(self: Arc<Self>, cmd: Command) -> Result<u64> {
        let deadline = Instant::now() + self.opts.timeout;
        let limit = self.transport.max_request(Lane::Append);
        if limit != usize::MAX {
            let mut encoded = Vec::new();
            super::codec::put_command(&mut encoded, &cmd);
            // Room for the message and entry headers around the command.
            if encoded.len() + 1024 > limit {
                return Err(Error::InvalidArgument {
                    what: format!(
                        "a transaction's write batch of {} bytes exceeds the replication \
                         limit of {} bytes (the transport's append frame limit); \
                         commit in smaller transactions",
                        encoded.len(),
                        limit - 1024
                    ),
                });
            }
        }
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(unavailable("the node is shut down"));
            }
            if self.transferring.load(Ordering::Acquire) {
                return Err(unavailable("a leader transfer is in progress"));
            }
            let leader = self.leader();
            if leader == Some(self.id()) {
                match write_here(&self.shared, cmd.clone()).await {
                    Err(Error::NotLeader { .. }) if Instant::now() < deadline => {
                        // Not appended: safe to try again where the leader is.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                    r => return r,
                }
            }
            let Some(leader) = leader else {
                if Instant::now() >= deadline {
                    return Err(unavailable("no leader was elected in time"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            if self.opts.follower_writes == FollowerWrites::Refuse {
                return Err(self.not_leader(Some(leader)));
            }
            let address = self.address_of(leader).unwrap_or_default();
            let call = self.transport.call(
                leader,
                &address,
                Lane::Append,
                encode_request(&Request::Forward(cmd.clone())),
            );
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = match tokio::time::timeout(left, call).await {
                Ok(Ok(bytes)) => decode_forward_reply(&bytes, leader),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(unavailable("the leader did not answer in time")),
            };
            match reply {
                Ok(ForwardReply::Applied { index }) => {
                    // Read your writes: wait until this node has it too.
                    let left = deadline.saturating_duration_since(Instant::now());
                    let _ = self
                        .shared
                        .raft
                        .wait(Some(left.max(Duration::from_millis(1))))
                        .applied_index_at_least(Some(index), "forwarded commit")
                        .await;
                    return Ok(index);
                }
                Ok(ForwardReply::Conflict) => return Err(Error::Conflict),
                Ok(ForwardReply::NotLeader { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Ok(ForwardReply::NotLeader { leader }) => return Err(self.not_leader(leader)),
                Ok(ForwardReply::Unavailable(m)) => return Err(unavailable(m)),
                Ok(ForwardReply::Unknown(m)) => return Err(Error::CommitUnknown { what: m }),
                Err(e) => {
                    return Err(Error::CommitUnknown {
                        what: format!("forwarding to the leader (node {leader}) failed: {e}"),
                    })
                }
            }
        }
    }

    /// Refuses a write early on a follower that refuses writes.
    pub(crate) fn check_can_write(&self) -> Result<()> {
        if self.opts.follower_writes == FollowerWrites::Refuse {
            let leader = self.leader();
            if leader != Some(self.id()) {
                return Err(self.not_leader(leader));
            }
        }
        Ok(())
    }

    /// Waits as `level` requires before a read starts.
    pub(crate) fn read_barrier(&self, level: ReadConsistency) -> Result<()> {
        match level {
            ReadConsistency::Local {
                max_staleness: None,
            } => Ok(()),
            ReadConsistency::Local {
                max_staleness: Some(max),
            } => {
                let m = self.shared.raft.metrics().borrow().clone();
                let age = if m.state == ServerState::Leader {
                    m.millis_since_quorum_ack
                        .map(Duration::from_millis)
                        .unwrap_or(Duration::MAX)
                } else {
                    match *self.shared.fresh.lock() {
                        None => Duration::MAX,
                        Some((at, commit)) => {
                            let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
                            if applied >= commit {
                                at.elapsed()
                            } else {
                                // Not applied yet what the leader had
                                // committed then: give the apply a moment.
                                let raft = self.raft();
                                let wait = max.min(Duration::from_millis(500));
                                let _ = self.block(async move {
                                    raft.wait(Some(wait))
                                        .applied_index_at_least(Some(commit), "staleness")
                                        .await
                                });
                                let applied = self
                                    .shared
                                    .raft
                                    .metrics()
                                    .borrow()
                                    .last_applied
                                    .map(|l| l.index)
                                    .unwrap_or(0);
                                if applied >= commit {
                                    at.elapsed()
                                } else {
                                    Duration::MAX
                                }
                            }
                        }
                    }
                };
                if age <= max {
                    Ok(())
                } else {
                    Err(Error::Stale {
                        max_ms: max.as_millis() as u64,
                        age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                    })
                }
            }
            ReadConsistency::Leader => {
                let leader = self.leader();
                if leader == Some(self.id()) {
                    Ok(())
                } else {
                    Err(self.not_leader(leader))
                }
            }
            ReadConsistency::Linearizable => {
                let shared = self.shared.clone();
                let transport = self.transport.clone();
                let timeout = self.opts.timeout;
                let leader = self.leader();
                let leader_address = leader.and_then(|l| self.address_of(l));
                self.block(async move {
                    linearizable_barrier(&shared, &*transport, leader, leader_address, timeout)
                        .await
                })?
            }
        }
    }

    /// What this node knows of the cluster.
    pub(crate) fn status(&self) -> ClusterStatus {
        let m = self.shared.raft.metrics().borrow().clone();
        let role = match m.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, n)| MemberStatus {
                node_id: *id,
                address: n.address.clone(),
                voter: voters.contains(id),
                matched_index: m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten())
                    .map(|l| l.index)
                    .or_else(|| {
                        (*id == m.id && role == Role::Leader)
                            .then_some(m.last_log_index)
                            .flatten()
                    }),
            })
            .collect();
        ClusterStatus {
            node_id: m.id,
            role,
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index,
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            members,
        }
    }

    fn ensure_leader(&self) -> Result<()> {
        let leader = self.leader();
        if leader == Some(self.id()) {
            Ok(())
        } else {
            Err(self.not_leader(leader))
        }
    }

    /// Adds a learner (a non-voting replica) and waits until it caught up.
    pub(crate) fn add_learner(&self, id: NodeId, address: &str) -> Result<()> {
        self.ensure_leader()?;
        let raft = self.raft();
        let member = Member {
            address: address.to_string(),
        };
        let timeout = self.opts.timeout;
        self.block(async move {
            match tokio::time::timeout(timeout, raft.add_learner(id, member, true)).await {
                Ok(r) => r.map(|_| ()).map_err(membership_error),
                Err(_) => Err(unavailable(format!("node {id} did not catch up in time"))),
            }
        })?
    }

    /// Adds a voter: as a learner first (it catches up), then promoted.
    pub(crate) fn add_voter(&self, id: NodeId, address: &str) -> Result<()> {
        self.add_learner(id, address)?;
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
    }

    /// Removes a voter or a learner from the cluster.
    pub(crate) fn remove(&self, id: NodeId) -> Result<()> {
        self.ensure_leader()?;
        let m = self
            .shared
            .raft
            .metrics()
            .borrow()
            .membership_config
            .clone();
        let is_voter = m.membership().voter_ids().any(|v| v == id);
        let known = m.membership().get_node(&id).is_some();
        if !known {
            return Err(Error::InvalidArgument {
                what: format!("node {id} is not a member of the cluster"),
            });
        }
        if is_voter {
            self.change(ChangeMembers::RemoveVoters(BTreeSet::from([id])))?;
        }
        let still = self
            .shared
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .is_some();
        if still {
            self.change(ChangeMembers::RemoveNodes(BTreeSet::from([id])))?;
        }
        Ok(())
    }

    fn change(&self, change: ChangeMembers<NodeId, Member>) -> Result<()> {
        let raft = self.raft();
        let timeout = self.opts.timeout;
        self.block(async move {
            match tokio::time::timeout(timeout, raft.change_membership(change, false)).await {
                Ok(r) => r.map(|_| ()).map_err(membership_error),
                Err(_) => Err(Error::CommitUnknown {
                    what: "the membership change did not complete in time".into(),
                }),
            }
        })?
    }

    /// Hands leadership to `to` (see the module comment).
    pub(crate) fn transfer_leadership(self: &Arc<Self>, to: NodeId) -> Result<()> {
        if to == self.id() {
            return self.ensure_leader();
        }
        self.ensure_leader()?;
        let m = self
            .shared
            .raft
            .metrics()
            .borrow()
            .membership_config
            .clone();
        let voters: Vec<NodeId> = m.membership().voter_ids().collect();
        if !voters.contains(&to) {
            return Err(Error::InvalidArgument {
                what: format!("node {to} is not a voter; only a voter can lead"),
            });
        }
        if self.transferring.swap(true, Ordering::AcqRel) {
            return Err(unavailable("a leader transfer is already in progress"));
        }
        let node = self.clone();
        let r = self.block(async move { node.transfer_async(to, voters).await });
        self.shared.raft.runtime_config().heartbeat(true);
        self.transferring.store(false, Ordering::Release);
        r?
    }

    async fn transfer_async(self: Arc<Self>, to: NodeId, voters: Vec<NodeId>) -> Result<()> {
        let deadline = Instant::now() + self.opts.timeout;
        let lease = self.opts.election_timeout.1;
        // 1. The target holds the whole log.
        loop {
            let m = self.shared.raft.metrics().borrow().clone();
            if m.current_leader != Some(self.id()) {
                return Err(self.not_leader(m.current_leader));
            }
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&to).cloned().flatten())
                .map(|l| l.index);
            if matched.is_some() && matched == m.last_log_index {
                break;
            }
            if Instant::now() >= deadline {
                return Err(unavailable(format!("node {to} did not catch up in time")));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // 2. The other voters hold their elections for a while.
        let hold = (lease * 3).as_millis() as u64;
        for v in voters.iter().filter(|v| **v != to && **v != self.id()) {
            let address = self.address_of(*v).unwrap_or_default();
            let call = self.transport.call(
                *v,
                &address,
                Lane::Urgent,
                encode_request(&Request::Hold { millis: hold }),
            );
            let _ = tokio::time::timeout(lease, call).await;
        }
        // 3. Silence until the followers' lease ran out, then campaign.
        self.shared.raft.runtime_config().heartbeat(false);
        self.shared.raft.runtime_config().elect(false);
        tokio::time::sleep(lease + self.opts.heartbeat).await;
        let term = self.shared.raft.metrics().borrow().current_term;
        let address = self.address_of(to).unwrap_or_default();
        let call = self.transport.call(
            to,
            &address,
            Lane::Urgent,
            encode_request(&Request::TimeoutNow { term }),
        );
        let told = tokio::time::timeout(lease, call).await;
        let r = match told {
            Ok(Ok(bytes)) => decode_ack(&bytes, K_TIMEOUT_NOW, to),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unavailable(format!("node {to} did not answer"))),
        };
        let outcome = match r {
            Err(e) => Err(e),
            Ok(()) => {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(lease * 2);
                let won = self
                    .shared
                    .raft
                    .wait(Some(left))
                    .metrics(|m| m.current_leader == Some(to), "transfer")
                    .await;
                match won {
                    Ok(_) => Ok(()),
                    Err(_) => Err(unavailable(format!(
                        "node {to} did not become leader; current leader: {:?}",
                        self.leader()
                    ))),
                }
            }
        };
        self.shared.raft.runtime_config().elect(true);
        outcome
    }

    /// A linearizable read barrier, for callers already on the runtime.
    #[cfg(test)]
    pub(crate) async fn linearizable_async(&self) -> Result<()> {
        let leader = self.leader();
        let leader_address = leader.and_then(|l| self.address_of(l));
        linearizable_barrier(
            &self.shared,
            &*self.transport,
            leader,
            leader_address,
            self.opts.timeout,
        )
        .await
    }

    /// The openraft handle (tests watch its metrics).
    #[cfg(test)]
    pub(crate) fn raft_handle(&self) -> Raft {
        self.raft()
    }

    /// The applied index the state machine holds in its store (tests).
    #[cfg(test)]
    pub(crate) fn stored_applied(&self) -> Option<u64> {
        self.shared.sm.applied().last.map(|l| l.index)
    }

    /// Entries of this node's log with index in `[from, to)` (tests).
    #[cfg(test)]
    pub(crate) fn log_entries(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<openraft::Entry<super::types::TypeConfig>>> {
        self.log.entries(from, to)
    }

    /// Stops the node from inside the runtime (tests).
    #[cfg(test)]
    pub(crate) async fn shutdown_async(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.transport.shutdown();
        let _ = self.shared.raft.shutdown().await;
    }

    /// Stops the node: transport first (no more requests), then openraft.
    pub(crate) fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.transport.shutdown();
        let raft = self.raft();
        let _ = self.block(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), raft.shutdown()).await;
        });
    }
}

impl RaftNode {
    /// On a clean close of the leader: hands leadership to the voter that
    /// holds the most of the log (best effort; a failure only means the
    /// cluster elects after a timeout, as after a crash).
    fn hand_over(&self) {
        if !self.opts.transfer_on_close || self.closed.load(Ordering::Acquire) {
            return;
        }
        let m = self.shared.raft.metrics().borrow().clone();
        if m.current_leader != Some(self.id()) {
            return;
        }
        let best = m
            .membership_config
            .membership()
            .voter_ids()
            .filter(|v| *v != self.id())
            .max_by_key(|v| {
                m.replication
                    .as_ref()
                    .and_then(|r| r.get(v).cloned().flatten())
                    .map(|l| l.index)
            });
        let Some(to) = best else {
            return;
        };
        let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
        if self.transferring.swap(true, Ordering::AcqRel) {
            return;
        }
        // `transfer_async` needs an Arc of the node; this one is being
        // dropped, so run the steps on a stand-in sharing its parts.
        let stand_in = Arc::new(RaftNode {
            shared: self.shared.clone(),
            transport: self.transport.clone(),
            log: self.log.clone(),
            opts: ReplicationOptions {
                timeout: self.opts.timeout.min(Duration::from_secs(3)),
                transfer_on_close: false,
                ..self.opts.clone()
            },
            runtime: Mutex::new(None),
            handle: self.handle.clone(),
            transferring: AtomicBool::new(true),
            closed: AtomicBool::new(true),
        });
        let _ = self.block(async move { stand_in.transfer_async(to, voters).await });
    }
}

impl Drop for RaftNode {
    fn drop(&mut self) {
        self.hand_over();
        self.shutdown();
        if let Some(rt) = self.runtime.lock().take() {
            rt.shutdown_background();
        }
    }
}

/// The node as the transaction layer's committer (held weakly: the node
/// holds the transaction manager through its state machine).
pub(crate) struct NodeCommitter {
    pub(crate) node: Weak<RaftNode>,
    pub(crate) engine: Arc<Engine>,
}

impl Committer for NodeCommitter {
    fn commit(&self, batch: WriteBatch, read_at: &Snapshot) -> Result<u64> {
        let node = self
            .node
            .upgrade()
            .ok_or_else(|| unavailable("the node is shut down"))?;
        let base = last_write_at(&self.engine, read_at)?;
        node.propose(Command::Write { base, batch })
    }
}

fn membership_error(e: RaftError<NodeId, ClientWriteError<NodeId, Member>>) -> Error {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::NotLeader {
            leader: f.leader_id,
            leader_address: f.leader_node.map(|n| n.address),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => Error::InvalidArgument {
            what: format!("membership change refused: {c}"),
        },
        RaftError::Fatal(f) => unavailable(format!("the node stopped: {f}")),
    }
}

/// Runs `f` on `handle` and waits for its result on this thread.
fn run_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread {
            return Err(Error::InvalidArgument {
                what: "a replicated database's blocking calls cannot run inside a \
                       single-threaded async runtime; call them from a plain thread"
                    .into(),
            });
        }
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv()
        .map_err(|_| unavailable("the replication runtime stopped"))
}

/// Writes on this node as leader.
async fn write_here(shared: &Shared, cmd: Command) -> Result<u64> {
    let fut = shared.raft.client_write(cmd);
    match tokio::time::timeout(shared.timeout, fut).await {
        Err(_) => Err(Error::CommitUnknown {
            what: "the commit was not confirmed in time".into(),
        }),
        Ok(Ok(resp)) => match resp.data {
            Outcome::Applied => Ok(resp.log_id.index),
            Outcome::Conflict => Err(Error::Conflict),
            Outcome::Meta => Err(Error::CommitUnknown {
                what: "the commit's entry was answered as a meta entry".into(),
            }),
        },
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
            Err(Error::NotLeader {
                leader: f.leader_id,
                leader_address: f.leader_node.map(|n| n.address),
            })
        }
        Ok(Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(c)))) => {
            Err(unavailable(format!("unexpected membership error: {c}")))
        }
        Ok(Err(RaftError::Fatal(f))) => Err(Error::CommitUnknown {
            what: format!("the node stopped: {f}"),
        }),
    }
}

/// The leader's side of a read-index request: confirms leadership with a
/// quorum and returns the index a linearizable read must wait for.
async fn read_index_here(shared: &Shared) -> ReadIndexReply {
    let fut = shared.raft.get_read_log_id();
    match tokio::time::timeout(shared.timeout, fut).await {
        Err(_) => ReadIndexReply::Unavailable("a quorum did not confirm the leader in time".into()),
        Ok(Ok((read, _applied))) => ReadIndexReply::Index(read.map(|l| l.index).unwrap_or(0)),
        Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
            ReadIndexReply::NotLeader {
                leader: f.leader_id,
            }
        }
        Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)))) => {
            ReadIndexReply::Unavailable(format!("no quorum: {q}"))
        }
        Ok(Err(RaftError::Fatal(f))) => ReadIndexReply::Unavailable(format!("stopped: {f}")),
    }
}

async fn linearizable_barrier(
    shared: &Shared,
    transport: &dyn ClusterTransport,
    leader: Option<NodeId>,
    leader_address: Option<String>,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let (mut leader, mut leader_address) = (leader, leader_address);
    // A read is idempotent: on a leader change, ask again (the new leader)
    // until the deadline.
    let index = loop {
        let reply = match leader {
            None => ReadIndexReply::Unavailable("no leader is known".into()),
            Some(l) if l == shared.id => read_index_here(shared).await,
            Some(l) => {
                let call = transport.call(
                    l,
                    leader_address.as_deref().unwrap_or_default(),
                    Lane::Urgent,
                    encode_request(&Request::ReadIndex),
                );
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, call).await {
                    Ok(Ok(bytes)) => decode_read_index_reply(&bytes, l)
                        .unwrap_or_else(|e| ReadIndexReply::Unavailable(e.to_string())),
                    Ok(Err(e)) => ReadIndexReply::Unavailable(e.to_string()),
                    Err(_) => ReadIndexReply::Unavailable("the leader did not answer".into()),
                }
            }
        };
        match reply {
            ReadIndexReply::Index(i) => break i,
            ReadIndexReply::NotLeader { .. } | ReadIndexReply::Unavailable(_)
                if Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let m = shared.raft.metrics().borrow().clone();
                leader = m.current_leader;
                leader_address = leader.and_then(|l| {
                    m.membership_config
                        .membership()
                        .get_node(&l)
                        .map(|n| n.address.clone())
                });
            }
            ReadIndexReply::NotLeader { leader } => {
                return Err(Error::NotLeader {
                    leader,
                    leader_address: None,
                })
            }
            ReadIndexReply::Unavailable(m) => {
                return Err(unavailable(format!("linearizable read: {m}")))
            }
        }
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    shared
        .raft
        .wait(Some(left))
        .applied_index_at_least(Some(index), "linearizable read")
        .await
        .map(|_| ())
        .map_err(|_| unavailable("this node did not apply up to the read index in time"))
}

/// Answers other nodes' requests (held weakly: a stopped node answers
/// nothing).
struct Service {
    shared: Weak<Shared>,
}

impl RequestHandler for Service {
    fn handle(&self, from: NodeId, _lane: Lane, request: Vec<u8>) -> BoxFuture<Result<Vec<u8>>> {
        let shared = self.shared.upgrade();
        Box::pin(async move {
            let Some(shared) = shared else {
                return Ok(encode_failure("the node is shut down"));
            };
            let Some(req) = decode_request(&request) else {
                return Err(Error::InvalidArgument {
                    what: format!("node {from} sent a malformed request"),
                });
            };
            Ok(serve(&shared, from, req).await)
        })
    }
}

async fn serve(shared: &Arc<Shared>, from: NodeId, req: Request) -> Vec<u8> {
    let impostor = |claimed: Option<NodeId>| {
        encode_failure(&format!(
            "node {from} sent a message claiming to be from node {claimed:?}"
        ))
    };
    match req {
        Request::Append(a) => {
            if a.vote.leader_id.voted_for != Some(from) {
                return impostor(a.vote.leader_id.voted_for);
            }
            let commit = a.leader_commit.map(|l| l.index).unwrap_or(0);
            match shared.raft.append_entries(a).await {
                Ok(resp) => {
                    if resp.is_success() {
                        *shared.fresh.lock() = Some((Instant::now(), commit));
                    }
                    encode_append_reply(&resp)
                }
                Err(e) => encode_failure(&e.to_string()),
            }
        }
        Request::Vote(v) => {
            if v.vote.leader_id.voted_for != Some(from) {
                return impostor(v.vote.leader_id.voted_for);
            }
            match shared.raft.vote(v).await {
                Ok(resp) => encode_vote_reply(&resp),
                Err(e) => encode_failure(&e.to_string()),
            }
        }
        Request::Snapshot(c) => {
            if c.vote.leader_id.voted_for != Some(from) {
                return impostor(c.vote.leader_id.voted_for);
            }
            match receive_chunk(shared, c).await {
                Ok(reply) => encode_snapshot_reply(&reply),
                Err(e) => encode_failure(&e.to_string()),
            }
        }
        Request::Forward(cmd) => {
            let reply = match write_here(shared, cmd).await {
                Ok(index) => ForwardReply::Applied { index },
                Err(Error::Conflict) => ForwardReply::Conflict,
                Err(Error::NotLeader { leader, .. }) => ForwardReply::NotLeader { leader },
                Err(Error::CommitUnknown { what }) => ForwardReply::Unknown(what),
                Err(e) => ForwardReply::Unavailable(e.to_string()),
            };
            encode_forward_reply(&reply)
        }
        Request::ReadIndex => encode_read_index_reply(&read_index_here(shared).await),
        Request::TimeoutNow { term } => {
            let m = shared.raft.metrics().borrow().clone();
            // Only the current term's leader may ask (a stale request from
            // an old leader must not start an election).
            if m.current_term != term || m.current_leader != Some(from) {
                return encode_failure("a stale leader-transfer request");
            }
            match shared.raft.trigger().elect().await {
                Ok(()) => encode_ack(K_TIMEOUT_NOW),
                Err(e) => encode_failure(&e.to_string()),
            }
        }
        Request::Hold { millis } => {
            let m = shared.raft.metrics().borrow().clone();
            if m.current_leader != Some(from) {
                return encode_failure("only the leader may hold elections");
            }
            let millis = millis.min(60_000);
            let gen = shared.hold_gen.fetch_add(1, Ordering::AcqRel) + 1;
            shared.raft.runtime_config().elect(false);
            let s = shared.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                if s.hold_gen.load(Ordering::Acquire) == gen {
                    s.raft.runtime_config().elect(true);
                }
            });
            encode_ack(K_HOLD)
        }
    }
}

/// Takes one chunk of a snapshot stream; installs it after the last.
async fn receive_chunk(shared: &Arc<Shared>, c: SnapshotChunk) -> Result<SnapshotReply> {
    let mut staging = shared.staging.lock().await;
    if staging.as_ref().map(|s| s.id.as_str()) != Some(c.id.as_str()) {
        if c.offset != 0 {
            // A chunk of a stream this node does not hold: start over.
            return Ok(SnapshotReply::Progress { have: 0 });
        }
        *staging = Some(Staging::create(shared.sm.stage_dir(), &c.id)?);
    }
    let Some(st) = staging.as_mut() else {
        return Ok(SnapshotReply::Progress { have: 0 });
    };
    if c.offset != st.len {
        return Ok(SnapshotReply::Progress { have: st.len });
    }
    if !c.data.is_empty() {
        st.append(&c.data)?;
    }
    let Some(digest) = c.digest else {
        return Ok(SnapshotReply::Progress { have: st.len });
    };
    let Some(st) = staging.take() else {
        return Ok(SnapshotReply::Progress { have: 0 });
    };
    let staged = st.finish(&digest)?;
    let meta = staged.header.meta.clone();
    let snapshot = openraft::Snapshot {
        meta,
        snapshot: Box::new(SnapshotData::Staged(staged)),
    };
    let resp = shared
        .raft
        .install_full_snapshot(c.vote, snapshot)
        .await
        .map_err(|e| unavailable(format!("installing the snapshot: {e}")))?;
    Ok(SnapshotReply::Done { vote: resp.vote })
}
