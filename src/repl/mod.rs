//! Replication: sealdb nodes forming a Raft cluster.
//!
//! ```text
//!   raft   consensus on openraft: the log store, the state machine that
//!          applies committed write batches, snapshots, the transport seam
//!          and the in-memory network, one node's API
//! ```

pub mod raft;
