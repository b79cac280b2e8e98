//! Revocation, both ways the field uses.
//!
//! - [`crl`]: certificate revocation lists from the CA, checked on every
//!   handshake by webpki; a CRL past its next-update time is still used
//!   during a grace period (for nodes that were offline when it was
//!   reissued), after which every peer is refused until a fresh one loads.
//! - [`ocsp`]: a responder asked about each peer's certificate, the signed
//!   answer verified and cached until its next-update time, in one of three
//!   modes (off / lax / strict) as CockroachDB's `security.ocsp.mode`.
//!
//! Either route, when it finds a live peer revoked, makes the endpoint close
//! that peer's connections (see `transport::endpoint`).

pub mod crl;
pub mod ocsp;
