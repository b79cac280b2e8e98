//! A handle on one admitted connection, for sending requests to the peer.
//!
//! Each request opens its own QUIC stream (cheap: no round trip), writes
//! one frame and reads one framed answer, so requests never queue behind
//! each other; urgent streams go out before append streams, and those
//! before bulk ones. The handle is cheap to clone; all clones share the
//! connection.

use std::sync::Arc;

use super::endpoint::ConnShared;
use super::frame::{
    decode_response, frame_prefix, read_single_frame, stream_header, BulkHeader, FrameError, Lane,
    StreamKind, WireError, BULK_PRIORITY, STATUS_OK,
};
use super::service::PeerInfo;
use crate::error::{Error, Result};
use crate::repl::identity::NodeId;

/// An admitted peer.
#[derive(Clone)]
pub struct Peer {
    conn: Arc<ConnShared>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("node_id", &self.conn.info.node_id)
            .field("remote", &self.conn.info.remote)
            .finish_non_exhaustive()
    }
}

impl Peer {
    pub(crate) fn new(conn: Arc<ConnShared>) -> Peer {
        Peer { conn }
    }

    /// The peer's node id (proven by its certificate).
    pub fn node_id(&self) -> NodeId {
        self.conn.info.node_id
    }

    /// Identifies the connection (two handles with the same id share it).
    pub fn connection_id(&self) -> usize {
        self.conn.conn.stable_id()
    }

    /// Who the peer is.
    pub fn info(&self) -> &PeerInfo {
        &self.conn.info
    }

    /// Sends one request on `lane` and waits for the answer.
    pub async fn call(&self, lane: Lane, request: &[u8]) -> Result<Vec<u8>> {
        let limit = self.conn.config.limits.for_lane(lane);
        if request.len() > limit as usize {
            return Err(Error::InvalidArgument {
                what: format!(
                    "a request of {} bytes exceeds the {lane:?} limit of {limit}",
                    request.len()
                ),
            });
        }
        let (mut send, mut recv) = self
            .conn
            .conn
            .open_bi()
            .await
            .map_err(|e| self.conn.link_error(&e.to_string()))?;
        let _ = send.set_priority(lane.priority());
        let mut head = stream_header(lane.kind()).to_vec();
        head.extend_from_slice(&frame_prefix(request.len()));
        self.write(&mut send, &head).await?;
        self.write(&mut send, request).await?;
        send.finish()
            .map_err(|e| self.conn.link_error(&e.to_string()))?;
        self.read_response(&mut recv, limit).await
    }

    /// Starts a bulk transfer (a snapshot file from `header.offset`).
    pub async fn open_bulk(&self, header: &BulkHeader) -> Result<BulkSender> {
        let limits = self.conn.config.limits;
        let encoded = header.encode();
        if encoded.len() > limits.bulk_header as usize {
            return Err(Error::InvalidArgument {
                what: format!(
                    "a bulk header of {} bytes exceeds the limit of {}",
                    encoded.len(),
                    limits.bulk_header
                ),
            });
        }
        let (mut send, recv) = self
            .conn
            .conn
            .open_bi()
            .await
            .map_err(|e| self.conn.link_error(&e.to_string()))?;
        let _ = send.set_priority(BULK_PRIORITY);
        let mut head = stream_header(StreamKind::Bulk).to_vec();
        head.extend_from_slice(&frame_prefix(encoded.len()));
        head.extend_from_slice(&encoded);
        self.write(&mut send, &head).await?;
        Ok(BulkSender {
            peer: self.clone(),
            send,
            recv,
            sent: 0,
        })
    }

    /// Closes the connection (an orderly close: the peer sees code 0).
    pub fn close(&self) {
        self.conn.conn.close(
            quinn::VarInt::from_u32(super::endpoint::CLOSE_SHUTDOWN),
            b"closed",
        );
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.conn.conn.close_reason().is_some()
    }

    /// Waits until the connection ends and returns why.
    pub async fn closed(&self) -> Error {
        let e = self.conn.conn.closed().await;
        self.conn.link_error(&e.to_string())
    }

    async fn write(&self, send: &mut quinn::SendStream, bytes: &[u8]) -> Result<()> {
        send.write_all(bytes)
            .await
            .map_err(|e| self.conn.link_error(&e.to_string()))
    }

    async fn read_response(&self, recv: &mut quinn::RecvStream, limit: u32) -> Result<Vec<u8>> {
        let timeout = self.conn.config.request_timeout;
        let frame = match tokio::time::timeout(
            timeout,
            read_single_frame(recv, limit.saturating_add(1), "response"),
        )
        .await
        {
            Ok(Ok(f)) => f,
            Ok(Err(WireError::Violation(v))) => return Err(self.conn.violation(v)),
            Ok(Err(WireError::Link(e))) => return Err(self.conn.link_error(&e.to_string())),
            Err(_) => return Err(self.conn.violation(FrameError::TooSlow)),
        };
        let (status, body) = decode_response(&frame).map_err(|v| self.conn.violation(v))?;
        if status == STATUS_OK {
            Ok(body.to_vec())
        } else {
            Err(Error::Transport {
                peer: self.conn.info.remote,
                what: format!(
                    "the peer's handler failed: {}",
                    String::from_utf8_lossy(body)
                ),
            })
        }
    }
}

/// The sending side of a bulk transfer.
pub struct BulkSender {
    peer: Peer,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    sent: u64,
}

impl BulkSender {
    /// Sends bytes, split into chunks within the chunk limit.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let chunk = self.peer.conn.config.limits.bulk_chunk.max(1) as usize;
        for part in bytes.chunks(chunk) {
            self.peer
                .write(&mut self.send, &frame_prefix(part.len()))
                .await?;
            self.peer.write(&mut self.send, part).await?;
            self.sent += part.len() as u64;
        }
        Ok(())
    }

    /// Bytes sent so far (not counting the header).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Ends the transfer and returns the receiver's answer.
    pub async fn finish(mut self) -> Result<Vec<u8>> {
        self.send
            .finish()
            .map_err(|e| self.peer.conn.link_error(&e.to_string()))?;
        let limit = self.peer.conn.config.limits.bulk_response;
        self.peer.read_response(&mut self.recv, limit).await
    }

    /// Abandons the transfer (the receiver sees the stream reset).
    pub fn abort(mut self) {
        let _ = self.send.reset(quinn::VarInt::from_u32(0));
    }
}
