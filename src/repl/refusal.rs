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
use std::time::SystemTime;

use super::identity::{Identity, NodeId};

/// Which way the refused connection went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// A peer connected to us.
    Inbound,
    /// We connected to a peer.
    Outbound,
}

/// Which revocation route said a certificate is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationSource {
    /// A certificate revocation list from the CA.
    Crl,
    /// An OCSP responder's signed answer.
    Ocsp,
}

/// Why a peer was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The certificate is not issued by a CA in our bundle (another cluster's
    /// CA, self-signed, or a CA that was rotated out).
    UnknownIssuer,
    /// The certificate's validity ended.
    Expired,
    /// The certificate's validity has not begun (or the clocks disagree).
    NotYetValid,
    /// The certificate was revoked.
    Revoked {
        /// How we know.
        source: RevocationSource,
    },
    /// Our CRL is past its next-update time plus the grace period: we can
    /// no longer tell revoked peers from good ones, so we refuse everyone
    /// until a fresh CRL is loaded.
    CrlExpired {
        /// The CRL's next-update time.
        next_update: SystemTime,
    },
    /// The certificate lacks a required extended key usage (node
    /// certificates need both serverAuth and clientAuth).
    MissingExtendedKeyUsage,
    /// The certificate names no sealdb node (a user certificate, or no
    /// `sealdb://` URI, or several).
    NotANodeCertificate,
    /// The certificate belongs to another cluster.
    WrongCluster {
        /// Our cluster.
        expected: String,
        /// The certificate's.
        found: String,
    },
    /// The node id in the certificate differs from the id the peer claims
    /// (inbound) or the id we meant to reach (outbound).
    WrongIdentity {
        /// The id claimed or expected.
        expected: NodeId,
        /// The id in the certificate.
        certificate: NodeId,
    },
    /// The peer presented no client certificate.
    NoClientCertificate,
    /// The certificate is malformed or its signature does not verify.
    BadCertificate {
        /// What the verifier said.
        detail: String,
    },
    /// OCSP is strict and no usable answer came (responder unreachable,
    /// timed out, answered "unknown", or sent an answer that does not
    /// verify), or the certificate names no responder.
    OcspUnavailable {
        /// What went wrong.
        detail: String,
    },
    /// A datagram that cannot be QUIC reached the endpoint.
    NotQuic,
    /// The TLS/QUIC handshake failed for another reason (no common ALPN
    /// protocol, an unsupported TLS version, a timeout).
    Handshake {
        /// What failed.
        detail: String,
    },
    /// The peer broke the wire protocol: at admission (no hello, a
    /// malformed hello, a request before it) or later (an oversized or
    /// malformed frame).
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// The peer refused us; the detail is what it said (a TLS alert or its
    /// own refusal reason).
    RejectedByPeer {
        /// The peer's alert or reason.
        detail: String,
    },
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::UnknownIssuer => {
                f.write_str("certificate not issued by a trusted cluster CA")
            }
            RefusalReason::Expired => f.write_str("certificate expired"),
            RefusalReason::NotYetValid => f.write_str("certificate not yet valid"),
            RefusalReason::Revoked { source } => write!(
                f,
                "certificate revoked ({})",
                match source {
                    RevocationSource::Crl => "CRL",
                    RevocationSource::Ocsp => "OCSP",
                }
            ),
            RefusalReason::CrlExpired { next_update } => write!(
                f,
                "our CRL expired (next update was {} s after the epoch) and its grace period is over; load a fresh CRL",
                next_update
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            ),
            RefusalReason::MissingExtendedKeyUsage => {
                f.write_str("certificate lacks the serverAuth and clientAuth extended key usages")
            }
            RefusalReason::NotANodeCertificate => {
                f.write_str("certificate names no sealdb node (sealdb://<cluster>/node/<id>)")
            }
            RefusalReason::WrongCluster { expected, found } => {
                write!(f, "certificate is for cluster {found:?}, not {expected:?}")
            }
            RefusalReason::WrongIdentity {
                expected,
                certificate,
            } => write!(
                f,
                "certificate is for node {certificate}, but the peer is node {expected}"
            ),
            RefusalReason::NoClientCertificate => f.write_str("no client certificate presented"),
            RefusalReason::BadCertificate { detail } => write!(f, "bad certificate: {detail}"),
            RefusalReason::OcspUnavailable { detail } => {
                write!(f, "no usable OCSP answer in strict mode: {detail}")
            }
            RefusalReason::NotQuic => f.write_str("datagram is not QUIC"),
            RefusalReason::Handshake { detail } => write!(f, "handshake failed: {detail}"),
            RefusalReason::Protocol { detail } => write!(f, "protocol violated: {detail}"),
            RefusalReason::RejectedByPeer { detail } => write!(f, "the peer refused us: {detail}"),
        }
    }
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
