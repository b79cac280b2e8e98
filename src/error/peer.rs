//! What the public [`Error`](super::Error) says about a peer: why it was
//! refused, and what was wrong with the bytes it sent.
//!
//! These are facts of the replication transport (`crate::repl`), but the
//! one public error names them, and the error layer sits below everything:
//! so they live here and `repl` re-exports them where its users look for
//! them (`repl::RefusalReason`, `repl::transport::FrameError`, ...).
//! Node ids are `u64` (`repl::NodeId`).

use std::fmt;
use std::time::SystemTime;

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
        expected: u64,
        /// The id in the certificate.
        certificate: u64,
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

/// The kind of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamKind {
    /// Admission.
    Hello = 0,
    /// Small messages that must not wait: votes, heartbeats.
    Urgent = 1,
    /// Log appends.
    Append = 2,
    /// Bulk transfer (snapshots), resumable by (name, offset).
    Bulk = 3,
}

impl StreamKind {
    pub(crate) fn from_u8(b: u8) -> Option<StreamKind> {
        Some(match b {
            0 => StreamKind::Hello,
            1 => StreamKind::Urgent,
            2 => StreamKind::Append,
            3 => StreamKind::Bulk,
            _ => return None,
        })
    }
}

/// What was wrong with bytes read from a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame longer than its kind allows.
    Oversized {
        /// What the frame was.
        what: &'static str,
        /// Its declared length.
        len: u32,
        /// The limit.
        limit: u32,
    },
    /// A stream header with another wire version.
    UnknownVersion(u8),
    /// A stream header with an unknown kind.
    UnknownKind(u8),
    /// A stream header with reserved bits set.
    ReservedBits(u16),
    /// A stream of a kind not allowed here (a second hello, a hello later).
    UnexpectedKind(StreamKind),
    /// The stream ended inside a header or frame.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// The stream ended where a frame was required.
    MissingFrame(&'static str),
    /// Bytes after the one frame a request may carry.
    TrailingData,
    /// A hello that does not parse.
    BadHello(&'static str),
    /// A bulk header that does not parse.
    BadBulkHeader(&'static str),
    /// A response with an unknown status byte.
    BadStatus(u8),
    /// A frame did not arrive within the request timeout.
    TooSlow,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Oversized { what, len, limit } => {
                write!(
                    f,
                    "{what} frame of {len} bytes exceeds the limit of {limit}"
                )
            }
            FrameError::UnknownVersion(v) => write!(f, "unknown wire version {v}"),
            FrameError::UnknownKind(k) => write!(f, "unknown stream kind {k}"),
            FrameError::ReservedBits(b) => write!(f, "reserved header bits set ({b:#06x})"),
            FrameError::UnexpectedKind(k) => write!(f, "unexpected {k:?} stream"),
            FrameError::Truncated { what } => write!(f, "stream ended inside the {what}"),
            FrameError::MissingFrame(what) => write!(f, "stream ended before the {what} frame"),
            FrameError::TrailingData => f.write_str("bytes after the request frame"),
            FrameError::BadHello(why) => write!(f, "bad hello: {why}"),
            FrameError::BadBulkHeader(why) => write!(f, "bad bulk header: {why}"),
            FrameError::BadStatus(s) => write!(f, "unknown response status {s}"),
            FrameError::TooSlow => f.write_str("frame not received within the request timeout"),
        }
    }
}
