//! Why a peer was refused, and the hook that hears about it.
//!
//! Every refusal — a handshake that failed a check, a peer that claimed the
//! wrong id, a datagram that is not QUIC, a live connection closed because
//! its certificate was revoked — becomes one [`Refusal`] handed to the
//! endpoint's [`RefusalHook`]. Replication wires the hook to the audit log
//! (an audit record per refusal, with the reason); the transport itself
//! writes nothing to disk.
//!
//! The hook is called from the network tasks: it must not block for long.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::error::peer::{RefusalReason, RevocationSource};

use super::identity::Identity;

/// Which way the refused connection went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// A peer connected to us.
    Inbound,
    /// We connected to a peer.
    Outbound,
}

/// One refused connection attempt, or one live connection closed by a check.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// Inbound or outbound.
    pub side: Side,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The identity its certificate names, when it got that far.
    pub peer: Option<Identity>,
    /// Why.
    pub reason: RefusalReason,
    /// True when an established connection was closed (a later revocation,
    /// expiry or CA change), false for a refused new one.
    pub closed_existing: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}{}: {}",
            if self.closed_existing {
                "closed"
            } else {
                "refused"
            },
            match self.side {
                Side::Inbound => "inbound",
                Side::Outbound => "outbound",
            },
            self.remote,
            self.peer
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
            self.reason
        )
    }
}

/// Called for every refusal. Replication wires it to the audit log.
pub type RefusalHook = Arc<dyn Fn(&Refusal) + Send + Sync>;
