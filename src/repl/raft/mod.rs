//! Replication: a Raft cluster of sealdb nodes (consensus by openraft).
//!
//! The unit of replication is one committed transaction's write batch: the
//! leader proposes it as a log entry, a quorum makes the entry durable in
//! their own encrypted log stores, and every node applies it to its own
//! engine in log order. No SQL text (non-deterministic functions, session
//! state) and no file bytes (every node encrypts under its own keys) cross
//! the network.
//!
//! ```text
//!  Session ─commit─► Txn ─Committer─► RaftNode::propose ──► openraft (leader)
//!                                              │ append to the log store (raft/, sealed, fsynced)
//!                                              │ replicate to followers over ClusterTransport
//!                                              ▼ committed by a quorum
//!                     StateMachine::apply ◄────┘ on every node, in log order:
//!                       base check → engine.write(batch + applied record)
//!                       → reload schema / security caches if touched
//! ```
//!
//! Files: [`types`] (the openraft type configuration), [`codec`] (entries,
//! votes, membership as bytes), [`log_store`], [`state_machine`],
//! [`snapshot`] (the logical snapshot stream), [`network`] (the transport
//! seam and messages), [`mem_network`] (the in-memory network with a
//! seeded fault router), [`quic_network`] (the transport over QUIC with
//! mutual TLS), [`node`] (one node: open, propose, reads, membership,
//! leader transfer).
//!
//! Invariants (the rest of sealdb relies on them):
//! - a commit returns success only after its entry is committed by a
//!   quorum and applied on this node; a transaction that read data changed
//!   since is refused on every node alike ([`crate::Error::Conflict`]);
//! - an outcome that cannot be known is reported as
//!   [`crate::Error::CommitUnknown`], never as success or failure;
//! - no openraft type appears in sealdb's public API: only the types of
//!   this file, [`network::ClusterTransport`], [`mem_network`] and
//!   [`quic_network`].

pub(crate) mod codec;
pub(crate) mod log_store;
pub mod mem_network;
pub mod network;
pub(crate) mod node;
pub mod quic_network;
pub(crate) mod snapshot;
pub(crate) mod state_machine;
pub(crate) mod types;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use mem_network::{Faults, MemNetwork};
pub use network::{BoxFuture, ClusterTransport, Lane, RequestHandler};
pub use quic_network::{QuicTransport, QuicTransportStats};
pub use types::NodeId;

/// What a follower does with a transaction that wants to commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowerWrites {
    /// Send the transaction's write batch to the leader and wait for it to
    /// be committed (the transaction ran on this node's data; if that was
    /// behind, the commit fails with a retryable conflict).
    Forward,
    /// Refuse with [`crate::Error::NotLeader`] naming the leader.
    Refuse,
}

/// How fresh the data a session reads must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Whatever this node has applied. With `max_staleness`, refuse with
    /// [`crate::Error::Stale`] unless this node heard from a leader (and
    /// applied what it had committed) within that time.
    Local {
        /// The oldest acceptable data, if bounded.
        max_staleness: Option<Duration>,
    },
    /// Only on the node that believes it is the leader (fresh unless a
    /// newer leader was elected in a partition it cannot see).
    Leader,
    /// Linearizable: the read sees every write committed before it began
    /// (ReadIndex: the leader confirms its leadership with a quorum, and
    /// this node waits until it has applied up to the leader's commit).
    Linearizable,
}

impl fmt::Display for ReadConsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadConsistency::Local {
                max_staleness: None,
            } => f.write_str("local"),
            ReadConsistency::Local {
                max_staleness: Some(d),
            } => write!(f, "local {}ms", d.as_millis()),
            ReadConsistency::Leader => f.write_str("leader"),
            ReadConsistency::Linearizable => f.write_str("linearizable"),
        }
    }
}

impl ReadConsistency {
    /// Parses `local`, `local 500ms`, `leader`, `linearizable` (the value
    /// of `SET read_consistency`).
    pub fn parse(text: &str) -> Option<ReadConsistency> {
        let t = text.trim().to_ascii_lowercase();
        let mut words = t.split_whitespace();
        let first = words.next()?;
        let second = words.next();
        if words.next().is_some() {
            return None;
        }
        match (first, second) {
            ("local", None) => Some(ReadConsistency::Local {
                max_staleness: None,
            }),
            ("local", Some(d)) => {
                let ms: u64 = d.strip_suffix("ms").unwrap_or(d).parse().ok()?;
                Some(ReadConsistency::Local {
                    max_staleness: Some(Duration::from_millis(ms)),
                })
            }
            ("leader", None) => Some(ReadConsistency::Leader),
            ("linearizable", None) => Some(ReadConsistency::Linearizable),
            _ => None,
        }
    }
}

/// How a database joins a Raft cluster (set [`crate::Options::replication`]).
#[derive(Clone)]
pub struct ReplicationOptions {
    /// This node's id (unique in the cluster, never reused).
    pub node_id: NodeId,
    /// The address other nodes reach this one at.
    pub address: String,
    /// How nodes talk (the in-memory network, or QUIC with mutual TLS).
    pub transport: Arc<dyn ClusterTransport>,
    /// Voters to form the cluster with when this node's log is empty
    /// (`(id, address)`; give every founding node the same list, or give
    /// one node only itself and add the others later). Ignored once the
    /// node belongs to a cluster.
    pub initial_members: Vec<(NodeId, String)>,
    /// What a follower does with writes.
    pub follower_writes: FollowerWrites,
    /// Sessions' read consistency until they `SET read_consistency`.
    pub read_consistency: ReadConsistency,
    /// Leader heartbeat interval (default 100 ms).
    pub heartbeat: Duration,
    /// Election timeout range (default 500..1000 ms); the upper bound is
    /// also the leader lease followers honour.
    pub election_timeout: (Duration, Duration),
    /// Build a snapshot after this many applied entries (default 5000).
    pub snapshot_every: u64,
    /// Entries kept in the log below the last snapshot (default 1000), so
    /// a follower that is slightly behind catches up from the log.
    pub keep_log: u64,
    /// Bytes per snapshot chunk (default 256 KiB).
    pub snapshot_chunk_bytes: usize,
    /// How long a commit, a read barrier or a membership change waits
    /// before giving up (default 10 s).
    pub timeout: Duration,
    /// The tokio runtime to run on (default: a runtime of the node's own).
    pub runtime: Option<tokio::runtime::Handle>,
    /// A leader that is closed hands leadership to an up-to-date voter
    /// first, so the cluster does not wait an election timeout (default
    /// true; it delays the close by about one election timeout).
    pub transfer_on_close: bool,
}

impl ReplicationOptions {
    /// Options for node `node_id` at `address` over `transport`, with the
    /// defaults above: follower writes forwarded, local reads.
    pub fn new(
        node_id: NodeId,
        address: impl Into<String>,
        transport: Arc<dyn ClusterTransport>,
    ) -> ReplicationOptions {
        ReplicationOptions {
            node_id,
            address: address.into(),
            transport,
            initial_members: Vec::new(),
            follower_writes: FollowerWrites::Forward,
            read_consistency: ReadConsistency::Local {
                max_staleness: None,
            },
            heartbeat: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(500), Duration::from_millis(1000)),
            snapshot_every: 5000,
            keep_log: 1000,
            snapshot_chunk_bytes: 256 << 10,
            timeout: Duration::from_secs(10),
            runtime: None,
            transfer_on_close: true,
        }
    }
}

/// A node's role in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Accepts writes and replicates them.
    Leader,
    /// A voter following the leader.
    Follower,
    /// A voter running an election.
    Candidate,
    /// A non-voting replica (edge read replica).
    Learner,
    /// Stopped.
    Shutdown,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Learner => "learner",
            Role::Shutdown => "shutdown",
        })
    }
}

/// One member as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its id.
    pub node_id: NodeId,
    /// Where it is reached.
    pub address: String,
    /// A voter (else a learner).
    pub voter: bool,
    /// The highest log index known to be on it (known on the leader only).
    pub matched_index: Option<u64>,
}

/// What [`crate::Cluster::status`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterStatus {
    /// This node's id.
    pub node_id: NodeId,
    /// This node's role.
    pub role: Role,
    /// The current term.
    pub term: u64,
    /// The leader this node knows, if any.
    pub leader: Option<NodeId>,
    /// The last index in this node's log.
    pub last_log_index: Option<u64>,
    /// The last index applied to this node's data.
    pub applied_index: Option<u64>,
    /// The last index covered by this node's snapshot.
    pub snapshot_index: Option<u64>,
    /// Entries up to this index were purged from this node's log.
    pub purged_index: Option<u64>,
    /// Every voter and learner.
    pub members: Vec<MemberStatus>,
}
