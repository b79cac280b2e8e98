//! What a node serves: the [`Service`] an endpoint hands requests to.
//!
//! Replication implements it (Raft's append, vote and snapshot handlers);
//! tests implement echo services. The transport calls it only for admitted
//! peers and tells it who the peer is ([`PeerInfo`], from the certificate),
//! so a Raft message claiming to come from another node id can be checked
//! against the connection's proven id.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use quinn::RecvStream;

use super::endpoint::ConnShared;
use super::frame::{read_frame, BulkHeader, Lane, WireError};
use crate::error::Result;
use crate::repl::identity::{Identity, NodeId};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Who sent a request: proven by the peer's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's node id.
    pub node_id: NodeId,
    /// The peer's full identity.
    pub identity: Identity,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The serial number of the certificate it presented.
    pub cert_serial: Vec<u8>,
}

/// A handler's failure, sent back to the caller as a remote error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// What went wrong (sent to the peer: never secrets).
    pub message: String,
}

/// The requests a node serves.
pub trait Service: Send + Sync + 'static {
    /// Answers one request of an urgent or append lane.
    fn call(
        &self,
        peer: PeerInfo,
        lane: Lane,
        request: Vec<u8>,
    ) -> BoxFuture<std::result::Result<Vec<u8>, RemoteError>>;

    /// Receives one bulk transfer and answers it (for a snapshot: the
    /// offset it now holds, so an interrupted transfer resumes there).
    fn bulk(
        &self,
        peer: PeerInfo,
        header: BulkHeader,
        body: BulkBody,
    ) -> BoxFuture<std::result::Result<Vec<u8>, RemoteError>>;
}

/// The chunks of an incoming bulk transfer.
pub struct BulkBody {
    pub(crate) recv: RecvStream,
    pub(crate) chunk_limit: u32,
    pub(crate) timeout: Duration,
    pub(crate) conn: Arc<ConnShared>,
}

impl BulkBody {
    /// The next chunk; `None` when the sender finished. A frame over the
    /// chunk limit, a truncated one, or one slower than the request timeout
    /// closes the connection and is returned as [`crate::Error::Protocol`].
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let read = tokio::time::timeout(
            self.timeout,
            read_frame(&mut self.recv, self.chunk_limit, "bulk chunk"),
        )
        .await;
        match read {
            Ok(Ok(chunk)) => Ok(chunk),
            Ok(Err(WireError::Violation(v))) => Err(self.conn.violation(v)),
            Ok(Err(WireError::Link(e))) => Err(self.conn.link_error(&e.to_string())),
            Err(_) => Err(self.conn.violation(super::frame::FrameError::TooSlow)),
        }
    }
}

/// A service that refuses every request: for an endpoint that only dials
/// out (and in tests).
pub struct NoService;

impl Service for NoService {
    fn call(
        &self,
        _peer: PeerInfo,
        _lane: Lane,
        _request: Vec<u8>,
    ) -> BoxFuture<std::result::Result<Vec<u8>, RemoteError>> {
        Box::pin(async {
            Err(RemoteError {
                message: "this node serves no requests".into(),
            })
        })
    }

    fn bulk(
        &self,
        _peer: PeerInfo,
        _header: BulkHeader,
        _body: BulkBody,
    ) -> BoxFuture<std::result::Result<Vec<u8>, RemoteError>> {
        Box::pin(async {
            Err(RemoteError {
                message: "this node serves no requests".into(),
            })
        })
    }
}
