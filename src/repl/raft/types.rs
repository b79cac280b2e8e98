//! The Raft type configuration: what a log entry carries, what applying
//! it answers, how a node is addressed, what a snapshot is. Every openraft
//! type the rest of sealdb could see is named here and stays inside
//! `repl::raft`.

use std::fmt;

use crate::storage::WriteBatch;

/// A node's id in the cluster (also the id in its certificate).
pub type NodeId = u64;

/// How a cluster member is reached (openraft's node type).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// The address peers dial (for the in-memory network, any name).
    pub address: String,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// What one log entry asks every node to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Apply one committed transaction's write batch, if the data it read
    /// is still current: `base` is the index of the last write entry the
    /// transaction's snapshot included. If another write was applied since,
    /// every node refuses the entry the same way (a deterministic conflict
    /// check, so a transaction that read stale data never commits).
    Write {
        /// Log index of the last applied write the transaction read.
        base: u64,
        /// The puts and deletes.
        batch: WriteBatch,
    },
}

/// What applying one entry did, returned to the node that proposed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The write was applied; the data now includes it.
    Applied,
    /// The write was refused: the data it read changed (`base` was stale).
    Conflict,
    /// A blank or membership entry (nothing for a client).
    Meta,
}

openraft::declare_raft_types!(
    /// sealdb's Raft type configuration.
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = NodeId,
        Node = Member,
        SnapshotData = super::snapshot::SnapshotData,
);

pub(crate) type Raft = openraft::Raft<TypeConfig>;
pub(crate) type StorageError = openraft::StorageError<NodeId>;
pub(crate) type StoredMembershipOf = openraft::StoredMembership<NodeId, Member>;
pub(crate) type SnapshotMetaOf = openraft::SnapshotMeta<NodeId, Member>;

/// A storage failure as openraft wants it (openraft stops the node on
/// one: fail-stop, like the engine's poisoning).
pub(crate) fn storage_error(
    subject: openraft::ErrorSubject<NodeId>,
    verb: openraft::ErrorVerb,
    e: &crate::error::Error,
) -> StorageError {
    openraft::StorageIOError::new(subject, verb, openraft::AnyError::new(e)).into()
}
