//! Why a peer was refused, and who hears about it.
//!
//! Every refusal — a handshake that failed a check, a peer that claimed the
//! wrong id, a datagram that is not QUIC, a live connection closed because
//! its certificate was revoked — becomes one [`Refusal`] handed to the
//! endpoint's [`RefusalSinks`]: first the [`RefusalHook`] given at bind,
//! then every [`RefusalSink`] attached since (an open replicated `Db`
//! attaches one that writes each refusal to its audit log). The transport
//! itself writes nothing to disk.
//!
//! While no sink is attached (a node's transport starts before its
//! database opens, and outlives it), refusals wait in a bounded backlog;
//! the next sink attached receives them, then the number that did not fit.
//! So no refusal is lost silently: it is delivered or counted.
//!
//! Hooks and sinks are called from the network tasks: they must not block
//! for long (the audit sink only queues).

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use parking_lot::Mutex;

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

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Inbound => "inbound",
            Side::Outbound => "outbound",
        })
    }
}

/// One refused connection attempt, or one live connection closed by a check.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// When it happened.
    pub time: SystemTime,
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

impl Refusal {
    /// A stable lower-case name of the reason (what the audit log records
    /// beside the reason's text): `unknown_issuer`, `expired`,
    /// `not_yet_valid`, `revoked_crl`, `revoked_ocsp`, `crl_expired`,
    /// `missing_eku`, `not_a_node_certificate`, `wrong_cluster`,
    /// `wrong_identity`, `no_client_certificate`, `bad_certificate`,
    /// `ocsp_unavailable`, `not_quic`, `handshake`, `protocol`,
    /// `rejected_by_peer`.
    pub fn reason_name(&self) -> &'static str {
        match &self.reason {
            RefusalReason::UnknownIssuer => "unknown_issuer",
            RefusalReason::Expired => "expired",
            RefusalReason::NotYetValid => "not_yet_valid",
            RefusalReason::Revoked {
                source: RevocationSource::Crl,
            } => "revoked_crl",
            RefusalReason::Revoked {
                source: RevocationSource::Ocsp,
            } => "revoked_ocsp",
            RefusalReason::CrlExpired { .. } => "crl_expired",
            RefusalReason::MissingExtendedKeyUsage => "missing_eku",
            RefusalReason::NotANodeCertificate => "not_a_node_certificate",
            RefusalReason::WrongCluster { .. } => "wrong_cluster",
            RefusalReason::WrongIdentity { .. } => "wrong_identity",
            RefusalReason::NoClientCertificate => "no_client_certificate",
            RefusalReason::BadCertificate { .. } => "bad_certificate",
            RefusalReason::OcspUnavailable { .. } => "ocsp_unavailable",
            RefusalReason::NotQuic => "not_quic",
            RefusalReason::Handshake { .. } => "handshake",
            RefusalReason::Protocol { .. } => "protocol",
            RefusalReason::RejectedByPeer { .. } => "rejected_by_peer",
        }
    }
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
            self.side,
            self.remote,
            self.peer
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
            self.reason
        )
    }
}

/// Called for every refusal (the hook given when an endpoint is bound).
pub type RefusalHook = Arc<dyn Fn(&Refusal) + Send + Sync>;

/// A receiver of refusals attached to a running endpoint (see
/// [`RefusalSinks::attach`]). Called on network tasks: must not block.
pub trait RefusalSink: Send + Sync {
    /// One refusal.
    fn refused(&self, refusal: &Refusal);
    /// `count` refusals that happened while no sink was attached did not
    /// fit in the backlog and are gone (only their number is known).
    fn missed(&self, count: u64);
}

/// Refusals kept while no sink is attached.
pub const REFUSAL_BACKLOG: usize = 256;

#[derive(Default)]
struct SinkState {
    next_id: u64,
    sinks: Vec<(u64, Arc<dyn RefusalSink>)>,
    /// Refusals since the last sink was detached (oldest first).
    backlog: VecDeque<Refusal>,
    /// Refusals that did not fit in the backlog.
    missed: u64,
}

/// Where an endpoint's refusals go: its hook, then its attached sinks, or
/// the backlog while there are none.
pub struct RefusalSinks {
    hook: Option<RefusalHook>,
    state: Mutex<SinkState>,
}

impl fmt::Debug for RefusalSinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("RefusalSinks")
            .field("hook", &self.hook.is_some())
            .field("sinks", &s.sinks.len())
            .field("backlog", &s.backlog.len())
            .field("missed", &s.missed)
            .finish()
    }
}

impl RefusalSinks {
    /// Sinks with `hook` (called first for every refusal) and none attached.
    pub fn new(hook: Option<RefusalHook>) -> RefusalSinks {
        RefusalSinks {
            hook,
            state: Mutex::new(SinkState::default()),
        }
    }

    /// Hands `refusal` to the hook and the attached sinks, or keeps it in
    /// the backlog (or counts it, when the backlog is full).
    pub fn report(&self, refusal: Refusal) {
        if let Some(h) = &self.hook {
            h(&refusal);
        }
        let sinks: Vec<Arc<dyn RefusalSink>> = {
            let mut s = self.state.lock();
            if s.sinks.is_empty() {
                if s.backlog.len() < REFUSAL_BACKLOG {
                    s.backlog.push_back(refusal);
                } else {
                    s.missed += 1;
                }
                return;
            }
            s.sinks.iter().map(|(_, k)| k.clone()).collect()
        };
        // Outside the lock: a sink never delays another endpoint task
        // waiting to report.
        for k in sinks {
            k.refused(&refusal);
        }
    }

    /// Attaches `sink`: it first receives the backlog (and the number of
    /// refusals that did not fit), then every refusal until the returned
    /// registration is dropped. The registration holds the sinks weakly:
    /// it keeps no endpoint alive.
    pub fn attach(self: &Arc<Self>, sink: Arc<dyn RefusalSink>) -> SinkRegistration {
        let mut s = self.state.lock();
        let id = s.next_id;
        s.next_id += 1;
        // Under the lock, so the backlog reaches the sink before any
        // refusal reported after it (report waits for the lock).
        for r in s.backlog.drain(..) {
            sink.refused(&r);
        }
        let missed = std::mem::take(&mut s.missed);
        if missed > 0 {
            sink.missed(missed);
        }
        s.sinks.push((id, sink));
        SinkRegistration {
            sinks: Arc::downgrade(self),
            id,
        }
    }

    /// Sinks attached now.
    pub fn attached(&self) -> usize {
        self.state.lock().sinks.len()
    }

    fn detach(&self, id: u64) {
        self.state.lock().sinks.retain(|(i, _)| *i != id);
    }
}

/// An attached [`RefusalSink`]; dropping it detaches the sink.
#[must_use = "dropping the registration detaches the sink"]
pub struct SinkRegistration {
    sinks: Weak<RefusalSinks>,
    id: u64,
}

impl fmt::Debug for SinkRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkRegistration")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for SinkRegistration {
    fn drop(&mut self) {
        if let Some(s) = self.sinks.upgrade() {
            s.detach(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        got: Mutex<Vec<String>>,
        missed: Mutex<u64>,
    }

    impl RefusalSink for Collect {
        fn refused(&self, r: &Refusal) {
            self.got.lock().push(r.remote.to_string());
        }
        fn missed(&self, n: u64) {
            *self.missed.lock() += n;
        }
    }

    fn refusal(port: u16) -> Refusal {
        Refusal {
            time: SystemTime::now(),
            side: Side::Inbound,
            remote: SocketAddr::from(([127, 0, 0, 1], port)),
            peer: None,
            reason: RefusalReason::NotQuic,
            closed_existing: false,
        }
    }

    #[test]
    fn the_backlog_reaches_the_next_sink_and_overflow_is_counted() {
        let sinks = Arc::new(RefusalSinks::new(None));
        let total = REFUSAL_BACKLOG as u16 + 10;
        for p in 0..total {
            sinks.report(refusal(p + 1));
        }
        let first = Arc::new(Collect::default());
        let reg = sinks.attach(first.clone());
        assert_eq!(first.got.lock().len(), REFUSAL_BACKLOG);
        // The oldest are kept (the start of a flood), the rest counted.
        assert_eq!(first.got.lock()[0], "127.0.0.1:1");
        assert_eq!(*first.missed.lock(), 10);
        sinks.report(refusal(9000));
        assert_eq!(
            first.got.lock().last().map(String::as_str),
            Some("127.0.0.1:9000")
        );
        drop(reg);
        assert_eq!(sinks.attached(), 0);
        // Detached: refusals wait again for the next sink, once.
        sinks.report(refusal(9001));
        let second = Arc::new(Collect::default());
        let _reg = sinks.attach(second.clone());
        assert_eq!(*second.got.lock(), vec!["127.0.0.1:9001".to_string()]);
        assert_eq!(*second.missed.lock(), 0);
        assert_eq!(first.got.lock().len(), REFUSAL_BACKLOG + 1);
    }

    #[test]
    fn every_attached_sink_hears_every_refusal_after_the_hook() {
        let heard = Arc::new(Mutex::new(0u32));
        let h = heard.clone();
        let sinks = Arc::new(RefusalSinks::new(Some(Arc::new(move |_: &Refusal| {
            *h.lock() += 1;
        }))));
        let (a, b) = (Arc::new(Collect::default()), Arc::new(Collect::default()));
        let _ra = sinks.attach(a.clone());
        let _rb = sinks.attach(b.clone());
        sinks.report(refusal(1));
        sinks.report(refusal(2));
        assert_eq!(*heard.lock(), 2);
        assert_eq!(a.got.lock().len(), 2);
        assert_eq!(b.got.lock().len(), 2);
    }
}
