//! Replication's lower half: who a node is, and how nodes talk.
//!
//! This module is the transport the Raft replication of a later issue runs
//! on. It does not know about `Db` or SQL; it moves opaque byte messages
//! between nodes that proved who they are.
//!
//! ```text
//!   cert        sealdb cert: make a cluster CA, node and client certificates,
//!               revoke (a CRL signed by the CA), list
//!   node_config a standalone node's configuration file (TOML)
//!   identity    what a certificate says: `sealdb://<cluster>/node/<id>` or
//!               `sealdb://<cluster>/user/<name>`, EKUs, validity, serial
//!   revocation  crl: the CRL set with its freshness rule (grace period)
//!               ocsp: our own OCSP client and verifier (off / lax / strict)
//!   refusal     why a peer was refused; the hook and sinks that hear it
//!   transport   QUIC + mutual TLS 1.3 endpoints, the frame protocol,
//!               admission of a peer, reload, closing revoked peers
//!   raft        replication itself: consensus on openraft, the log store,
//!               the state machine that applies committed write batches,
//!               snapshots, the transport seam, the in-memory network and
//!               the QUIC one (quic_network),
//!               one node's API (docs/replication.md)
//! ```
//!
//! Invariants, all failing closed:
//! - a connection carries requests only after both sides checked the other's
//!   certificate chain (cluster CA), validity, EKUs, CRLs and OCSP (by mode),
//!   and the node id in the certificate equals the id the peer claims;
//! - a revocation seen later (a reloaded CRL, an OCSP answer) closes the live
//!   connections of that peer, not only new ones;
//! - every refusal reaches the refusal hook and the attached sinks (a
//!   replicated database's audit log) with a typed reason, or is counted;
//! - no frame is read without a length limit; bad bytes end the connection
//!   with [`crate::Error::Protocol`], never a panic.

pub mod cert;
pub mod identity;
pub mod node_config;
pub mod raft;
pub mod refusal;
pub mod revocation;
pub mod transport;

pub use identity::{CertInfo, Identity, NodeId};
pub use refusal::{Refusal, RefusalHook, RefusalReason, RevocationSource, Side};
