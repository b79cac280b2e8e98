//! The transport between nodes: QUIC with mutual TLS 1.3.
//!
//! ```text
//!   Endpoint::bind(config, service, hook)      one per node: listens and dials
//!     ├─ connect(addr, node id) ──► Peer       admitted both ways
//!     │     Peer::call(Lane::Urgent | Lane::Append, bytes) ──► answer
//!     │     Peer::open_bulk(BulkHeader) ──► BulkSender (resumable by offset)
//!     ├─ Service (replication's handlers) answers the peers' requests
//!     ├─ reload()   re-read cert, key, CA bundle, CRLs; live peers continue
//!     └─ recheck()  (also periodic) close live peers that no longer pass
//! ```
//!
//! Files: [`frame`] the wire format and its limits, [`tls`] the loaded
//! material and verifiers, [`socket`] the UDP socket that reports non-QUIC
//! datagrams, [`endpoint`] admission, serving, reload and recheck, [`peer`]
//! the requesting side, [`service`] the serving trait.

pub mod endpoint;
pub mod frame;
pub mod peer;
pub mod service;
pub(crate) mod socket;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

pub use endpoint::{Endpoint, EndpointStats, ReloadReport};
pub use frame::{BulkHeader, FrameError, FrameLimits, Lane, WireError};
pub use peer::{BulkSender, Peer};
pub use service::{BoxFuture, BulkBody, NoService, PeerInfo, RemoteError, Service};
pub use tls::{TlsFiles, ALPN};

use crate::repl::revocation::ocsp::OcspConfig;

/// How an endpoint runs.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// The UDP address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Certificate, key, CA bundle and CRL files.
    pub tls: TlsFiles,
    /// How long after its next-update time a CRL is still used (for nodes
    /// that were offline when it was reissued). After that every peer is
    /// refused until a fresh CRL is loaded.
    pub crl_grace: Duration,
    /// OCSP mode, responder, timeout.
    pub ocsp: OcspConfig,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Keep-alive interval (below the idle timeout).
    pub keep_alive: Duration,
    /// Limit for the handshake and for admission.
    pub admission_timeout: Duration,
    /// Limit for reading one frame of a request or response.
    pub request_timeout: Duration,
    /// How often live peers are checked again (CRL, validity, OCSP).
    pub recheck_interval: Duration,
    /// Frame length limits.
    pub limits: FrameLimits,
    /// Concurrent request streams a peer may open.
    pub max_concurrent_streams: u32,
}

impl EndpointConfig {
    /// Defaults: CRL grace 1 day, OCSP off, idle 30 s, keep-alive 5 s,
    /// admission 10 s, request 30 s, recheck 60 s, 256 streams.
    pub fn new(listen: SocketAddr, tls: TlsFiles) -> EndpointConfig {
        EndpointConfig {
            listen,
            tls,
            crl_grace: Duration::from_secs(86_400),
            ocsp: OcspConfig::default(),
            idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(5),
            admission_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            recheck_interval: Duration::from_secs(60),
            limits: FrameLimits::default(),
            max_concurrent_streams: 256,
        }
    }
}
