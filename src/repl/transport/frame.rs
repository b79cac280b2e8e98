//! The wire format on QUIC streams: one request and one response a stream.
//!
//! Every stream a node opens starts with a 4-byte stream header naming its
//! kind; then come length-prefixed frames. Every length is checked against
//! the limit of its kind *before* anything is allocated; a violation is a
//! [`FrameError`] and ends the connection.
//!
//! ```text
//!   stream header   version u8 = 1 | kind u8 | reserved u16 = 0
//!   frame           length u32 (big-endian) | payload (length bytes)
//!
//!   kind 0 hello    client → server: one frame  "SEALDB" | version u8 |
//!                     node id u64 | cluster len u8 | cluster
//!                   server → client: one frame  status u8 = 0 | node id u64
//!   kind 1 urgent   request: one frame, then FIN   (votes, heartbeats)
//!   kind 2 append   request: one frame, then FIN   (log appends)
//!   kind 3 bulk     request: one header frame (BulkHeader), then chunk
//!                     frames, then FIN              (snapshots)
//!   any response    one frame: status u8 (0 ok, 1 remote error) | body
//! ```
//!
//! Each request gets its own QUIC stream, so no request waits behind
//! another's bytes; urgent streams are also sent at a higher priority than
//! appends, and appends than bulk, so a snapshot never delays a heartbeat.
//!
//! Frozen: version 1 of this layout. The ALPN protocol `sealdb-raft/1`
//! names it; a change of layout is a new ALPN name.

pub use crate::error::peer::{FrameError, StreamKind};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The wire version in every stream header.
pub const WIRE_VERSION: u8 = 1;

/// Magic opening a hello.
pub const HELLO_MAGIC: &[u8; 6] = b"SEALDB";

/// A request/response lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Votes and heartbeats: small, highest priority.
    Urgent,
    /// Log appends: up to the append limit, normal priority.
    Append,
}

impl Lane {
    pub(crate) fn kind(self) -> StreamKind {
        match self {
            Lane::Urgent => StreamKind::Urgent,
            Lane::Append => StreamKind::Append,
        }
    }

    /// QUIC send priority (higher goes first).
    pub(crate) fn priority(self) -> i32 {
        match self {
            Lane::Urgent => 2,
            Lane::Append => 1,
        }
    }
}

/// Priority of bulk streams.
pub(crate) const BULK_PRIORITY: i32 = 0;

/// Length limits, one per frame kind, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct FrameLimits {
    /// Urgent requests and responses.
    pub urgent: u32,
    /// Append requests and responses.
    pub append: u32,
    /// A bulk transfer's header frame.
    pub bulk_header: u32,
    /// One bulk chunk.
    pub bulk_chunk: u32,
    /// A bulk transfer's response.
    pub bulk_response: u32,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            urgent: 64 * 1024,
            append: 16 * 1024 * 1024,
            bulk_header: 64 * 1024,
            bulk_chunk: 1024 * 1024,
            bulk_response: 64 * 1024,
        }
    }
}

/// Largest hello frame.
pub const HELLO_LIMIT: u32 = 256;

impl FrameLimits {
    pub(crate) fn for_lane(&self, lane: Lane) -> u32 {
        match lane {
            Lane::Urgent => self.urgent,
            Lane::Append => self.append,
        }
    }
}

/// A read failure: the bytes broke the protocol, or the link failed.
#[derive(Debug)]
pub enum WireError {
    /// The peer's bytes are wrong.
    Violation(FrameError),
    /// The stream or connection failed (reset, closed, timed out).
    Link(std::io::Error),
}

impl From<FrameError> for WireError {
    fn from(e: FrameError) -> Self {
        WireError::Violation(e)
    }
}

/// Reads until `buf` is full. `Ok(false)` when the stream ended before the
/// first byte; a stream ending after some bytes is `Truncated`.
async fn fill<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut [u8],
    what: &'static str,
) -> Result<bool, WireError> {
    let mut got = 0;
    while got < buf.len() {
        let n = r.read(&mut buf[got..]).await.map_err(WireError::Link)?;
        if n == 0 {
            return if got == 0 {
                Ok(false)
            } else {
                Err(FrameError::Truncated { what }.into())
            };
        }
        got += n;
    }
    Ok(true)
}

/// Encodes a stream header.
pub fn stream_header(kind: StreamKind) -> [u8; 4] {
    [WIRE_VERSION, kind as u8, 0, 0]
}

/// Reads and checks a stream header.
pub async fn read_stream_header<R: AsyncRead + Unpin>(r: &mut R) -> Result<StreamKind, WireError> {
    let mut h = [0u8; 4];
    if !fill(r, &mut h, "stream header").await? {
        return Err(FrameError::MissingFrame("stream header").into());
    }
    decode_stream_header(h).map_err(WireError::Violation)
}

/// Checks a stream header's bytes.
pub fn decode_stream_header(h: [u8; 4]) -> Result<StreamKind, FrameError> {
    if h[0] != WIRE_VERSION {
        return Err(FrameError::UnknownVersion(h[0]));
    }
    let reserved = u16::from_be_bytes([h[2], h[3]]);
    if reserved != 0 {
        return Err(FrameError::ReservedBits(reserved));
    }
    StreamKind::from_u8(h[1]).ok_or(FrameError::UnknownKind(h[1]))
}

/// Encodes one frame's length prefix.
pub fn frame_prefix(len: usize) -> [u8; 4] {
    // Callers check `len` against a u32 limit first.
    (len as u32).to_be_bytes()
}

/// Reads one frame of at most `limit` bytes; `None` at a clean end of
/// stream (before the length prefix).
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: u32,
    what: &'static str,
) -> Result<Option<Vec<u8>>, WireError> {
    let mut len = [0u8; 4];
    if !fill(r, &mut len, what).await? {
        return Ok(None);
    }
    let len = u32::from_be_bytes(len);
    if len > limit {
        return Err(FrameError::Oversized { what, len, limit }.into());
    }
    let mut payload = vec![0u8; len as usize];
    if len > 0 && !fill(r, &mut payload, what).await? {
        return Err(FrameError::Truncated { what }.into());
    }
    Ok(Some(payload))
}

/// Reads exactly one frame and the end of the stream.
pub async fn read_single_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: u32,
    what: &'static str,
) -> Result<Vec<u8>, WireError> {
    let frame = read_frame(r, limit, what)
        .await?
        .ok_or(FrameError::MissingFrame(what))?;
    let mut probe = [0u8; 1];
    match r.read(&mut probe).await.map_err(WireError::Link)? {
        0 => Ok(frame),
        _ => Err(FrameError::TrailingData.into()),
    }
}

/// The first frame of a connection: who the client says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The claimed node id.
    pub node_id: u64,
    /// The claimed cluster.
    pub cluster: String,
}

impl Hello {
    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.cluster.len());
        out.extend_from_slice(HELLO_MAGIC);
        out.push(WIRE_VERSION);
        out.extend_from_slice(&self.node_id.to_be_bytes());
        out.push(self.cluster.len() as u8);
        out.extend_from_slice(self.cluster.as_bytes());
        out
    }

    /// Decodes a payload.
    pub fn decode(b: &[u8]) -> Result<Hello, FrameError> {
        let rest = b
            .strip_prefix(HELLO_MAGIC.as_slice())
            .ok_or(FrameError::BadHello("no SEALDB magic"))?;
        let (&version, rest) = rest
            .split_first()
            .ok_or(FrameError::BadHello("too short"))?;
        if version != WIRE_VERSION {
            return Err(FrameError::BadHello("another wire version"));
        }
        let id: [u8; 8] = rest
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .ok_or(FrameError::BadHello("too short"))?;
        let rest = &rest[8..];
        let (&n, rest) = rest
            .split_first()
            .ok_or(FrameError::BadHello("too short"))?;
        if rest.len() != n as usize {
            return Err(FrameError::BadHello("cluster length mismatch"));
        }
        let cluster = std::str::from_utf8(rest)
            .map_err(|_| FrameError::BadHello("cluster name is not UTF-8"))?;
        Ok(Hello {
            node_id: u64::from_be_bytes(id),
            cluster: cluster.to_string(),
        })
    }
}

/// The server's answer to an accepted hello.
pub fn encode_hello_ack(node_id: u64) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&node_id.to_be_bytes());
    out
}

/// Decodes the server's answer: its node id.
pub fn decode_hello_ack(b: &[u8]) -> Result<u64, FrameError> {
    match b {
        [0, id @ ..] if id.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(id);
            Ok(u64::from_be_bytes(a))
        }
        [s, ..] if *s != 0 => Err(FrameError::BadStatus(*s)),
        _ => Err(FrameError::BadHello("malformed acknowledgement")),
    }
}

/// The header of a bulk transfer: what is sent, from where.
///
/// A snapshot transfer names each file and the offset it starts at, so an
/// interrupted transfer resumes where the receiver's reply says it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkHeader {
    /// What is being sent (a file name within a snapshot); at most 1024
    /// bytes of UTF-8.
    pub name: String,
    /// The byte offset of the first chunk within that file.
    pub offset: u64,
    /// The file's whole length, when known.
    pub total_len: Option<u64>,
    /// Opaque metadata for the receiver (a snapshot's id, term, index).
    pub meta: Vec<u8>,
}

const BULK_NAME_LIMIT: usize = 1024;

impl BulkHeader {
    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(23 + self.name.len() + self.meta.len());
        out.extend_from_slice(&(self.name.len() as u16).to_be_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        match self.total_len {
            Some(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_be_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(self.meta.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.meta);
        out
    }

    /// Decodes a payload.
    pub fn decode(b: &[u8]) -> Result<BulkHeader, FrameError> {
        let mut r = Cursor(b);
        let name_len = u16::from_be_bytes(r.take::<2>()?) as usize;
        if name_len > BULK_NAME_LIMIT {
            return Err(FrameError::BadBulkHeader("name longer than 1024 bytes"));
        }
        let name = std::str::from_utf8(r.bytes(name_len)?)
            .map_err(|_| FrameError::BadBulkHeader("name is not UTF-8"))?
            .to_string();
        let offset = u64::from_be_bytes(r.take::<8>()?);
        let total_len = match r.take::<1>()?[0] {
            0 => None,
            1 => Some(u64::from_be_bytes(r.take::<8>()?)),
            _ => return Err(FrameError::BadBulkHeader("bad length flag")),
        };
        let meta_len = u32::from_be_bytes(r.take::<4>()?) as usize;
        let meta = r.bytes(meta_len)?.to_vec();
        if !r.0.is_empty() {
            return Err(FrameError::BadBulkHeader("trailing bytes"));
        }
        if let Some(total) = total_len {
            if offset > total {
                return Err(FrameError::BadBulkHeader("offset past the end"));
            }
        }
        Ok(BulkHeader {
            name,
            offset,
            total_len,
            meta,
        })
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.0.len() < n {
            return Err(FrameError::BadBulkHeader("too short"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
}

/// Response status: the handler answered.
pub const STATUS_OK: u8 = 0;
/// Response status: the handler failed; the body is its message.
pub const STATUS_REMOTE_ERROR: u8 = 1;

/// Splits a response frame into (status, body).
pub fn decode_response(frame: &[u8]) -> Result<(u8, &[u8]), FrameError> {
    match frame.split_first() {
        Some((&s, body)) if s == STATUS_OK || s == STATUS_REMOTE_ERROR => Ok((s, body)),
        Some((&s, _)) => Err(FrameError::BadStatus(s)),
        None => Err(FrameError::MissingFrame("response status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_and_bulk_header_round_trip() {
        let h = Hello {
            node_id: 7,
            cluster: "c1".into(),
        };
        assert_eq!(Hello::decode(&h.encode()), Ok(h));
        let b = BulkHeader {
            name: "sst/000012.sst".into(),
            offset: 4096,
            total_len: Some(1 << 20),
            meta: vec![1, 2, 3],
        };
        assert_eq!(BulkHeader::decode(&b.encode()), Ok(b));
        assert_eq!(decode_hello_ack(&encode_hello_ack(9)), Ok(9));
    }

    #[test]
    fn stream_header_checks_every_field() {
        assert_eq!(
            decode_stream_header(stream_header(StreamKind::Bulk)),
            Ok(StreamKind::Bulk)
        );
        assert_eq!(
            decode_stream_header([2, 1, 0, 0]),
            Err(FrameError::UnknownVersion(2))
        );
        assert_eq!(
            decode_stream_header([1, 9, 0, 0]),
            Err(FrameError::UnknownKind(9))
        );
        assert_eq!(
            decode_stream_header([1, 1, 0, 1]),
            Err(FrameError::ReservedBits(1))
        );
    }
}
