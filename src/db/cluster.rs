//! [`Cluster`]: the replication controls of a database opened with
//! [`Options::replication`]: status, membership changes, leader transfer.

use std::sync::Arc;

use crate::error::Result;
use crate::repl::raft::node::RaftNode;
use crate::repl::raft::{ClusterStatus, NodeId};

use super::*;

/// A handle on this node's view of its Raft cluster (from [`Db::cluster`]).
/// Membership changes and leader transfer run on the leader; elsewhere
/// they fail with [`Error::NotLeader`] naming it.
#[derive(Clone)]
pub struct Cluster {
    pub(super) node: Arc<RaftNode>,
}

impl Cluster {
    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.node.id()
    }

    /// What this node knows: its role, the leader, indexes, members.
    pub fn status(&self) -> ClusterStatus {
        self.node.status()
    }

    /// Adds a non-voting replica (an edge read replica) and waits until it
    /// holds the log (or a snapshot).
    pub fn add_learner(&self, node_id: NodeId, address: &str) -> Result<()> {
        self.node.add_learner(node_id, address)
    }

    /// Adds a voter: it joins as a learner, catches up, then votes.
    pub fn add_voter(&self, node_id: NodeId, address: &str) -> Result<()> {
        self.node.add_voter(node_id, address)
    }

    /// Removes a voter or a learner.
    pub fn remove(&self, node_id: NodeId) -> Result<()> {
        self.node.remove(node_id)
    }

    /// Makes `node_id` (a voter) the leader; returns once it leads.
    pub fn transfer_leadership(&self, node_id: NodeId) -> Result<()> {
        self.node.transfer_leadership(node_id)
    }
}

impl Db {
    /// The cluster this database replicates in; [`Error::InvalidArgument`]
    /// for a database opened without [`Options::replication`].
    pub fn cluster(&self) -> Result<Cluster> {
        match &self.inner.node {
            Some(node) => Ok(Cluster { node: node.clone() }),
            None => Err(Error::InvalidArgument {
                what: "this database is not replicated (open it with Options::replication)".into(),
            }),
        }
    }
}
