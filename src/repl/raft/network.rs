//! How Raft nodes talk: the transport seam, the messages, and openraft's
//! network trait implemented over them.
//!
//! ```text
//!   openraft ──RaftNetwork──► Peer ──encode──► ClusterTransport::call(to, lane, bytes)
//!                                                        │ (in-memory net, QUIC + mTLS)
//!   openraft ◄──Raft::…────── Service ◄─decode── RequestHandler::handle(from, lane, bytes)
//! ```
//!
//! A transport moves opaque bytes and says who sent them (the QUIC
//! transport proves it by the peer's certificate); it never sees an
//! openraft type. Messages that claim to come from a node (an append or a
//! snapshot names its leader, a vote its candidate) are refused unless the
//! claim matches the transport's sender.
//!
//! ```text
//!   message  = version (1) | kind | body
//!   kind 1 append       vote | opt_log_id prev | n | entry… | opt_log_id commit
//!   kind 2 vote         vote | opt_log_id last
//!   kind 3 snapshot     vote | id | offset | chunk | done (| digest[32] if done)
//!   kind 4 forward      command                       (a follower's commit)
//!   kind 5 read index   —                             (linearizable follower read)
//!   kind 6 timeout now  term                          (leader transfer)
//!   kind 7 hold         millis                        (no elections for a while)
//!   answers use the same kinds; kind 255 is a remote failure (message)
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    Fatal, NetworkError, PayloadTooLarge, RPCError, RaftError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RaftNetwork, RaftNetworkFactory, Snapshot, Vote};

use super::codec::{self, put_blob, Reader};
use super::snapshot::{SnapshotData, StreamCursor};
use super::types::{Command, Member, NodeId, TypeConfig};
use crate::error::{Error, Result};
use crate::storage::key::put_varint;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which stream a message travels on, so a snapshot never delays a
/// heartbeat or a vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Votes, heartbeats, read-index and transfer requests: small, urgent.
    Urgent,
    /// Log appends and forwarded commits.
    Append,
    /// Snapshot chunks.
    Bulk,
}

/// Moves requests between nodes. Implemented by the in-memory network
/// (tests, embedding) and by the QUIC + mutual-TLS transport.
pub trait ClusterTransport: Send + Sync + 'static {
    /// Sends `request` to node `to` (reachable at `address`) and returns
    /// its answer.
    fn call(
        &self,
        to: NodeId,
        address: &str,
        lane: Lane,
        request: Vec<u8>,
    ) -> BoxFuture<Result<Vec<u8>>>;
    /// Starts handing the requests other nodes send this one to `handler`.
    fn serve(&self, handler: Arc<dyn RequestHandler>) -> Result<()>;
    /// Stops serving and calling (the node is shutting down).
    fn shutdown(&self);
    /// The largest request `lane` carries, in bytes (appends are split to
    /// fit; a commit larger than the append lane's is refused).
    fn max_request(&self, lane: Lane) -> usize {
        let _ = lane;
        usize::MAX
    }
    /// Where the transport reports the peers it refused (`None`: it refuses
    /// none). A replicated database attaches its audit log here while open.
    fn refusals(&self) -> Option<Arc<crate::repl::refusal::RefusalSinks>> {
        None
    }
}

/// Answers the requests of other nodes (implemented by the Raft node).
pub trait RequestHandler: Send + Sync + 'static {
    /// Answers one request from the node `from` (as the transport proved).
    fn handle(&self, from: NodeId, lane: Lane, request: Vec<u8>) -> BoxFuture<Result<Vec<u8>>>;
}

const VERSION: u8 = 1;
pub(crate) const K_APPEND: u8 = 1;
pub(crate) const K_VOTE: u8 = 2;
pub(crate) const K_SNAPSHOT: u8 = 3;
pub(crate) const K_FORWARD: u8 = 4;
pub(crate) const K_READ_INDEX: u8 = 5;
pub(crate) const K_TIMEOUT_NOW: u8 = 6;
pub(crate) const K_HOLD: u8 = 7;
pub(crate) const K_FAILED: u8 = 255;

/// A decoded request.
pub(crate) enum Request {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    Snapshot(SnapshotChunk),
    Forward(Command),
    ReadIndex,
    TimeoutNow { term: u64 },
    Hold { millis: u64 },
}

/// One piece of a snapshot stream.
pub(crate) struct SnapshotChunk {
    pub(crate) vote: Vote<NodeId>,
    pub(crate) id: String,
    pub(crate) offset: u64,
    pub(crate) data: Vec<u8>,
    /// Set on the last chunk: the SHA-256 of the whole stream.
    pub(crate) digest: Option<[u8; 32]>,
}

/// What a snapshot chunk achieved.
pub(crate) enum SnapshotReply {
    /// The receiver holds this many bytes of the stream (send from there).
    Progress { have: u64 },
    /// The snapshot was installed (or refused by vote): the receiver's vote.
    Done { vote: Vote<NodeId> },
}

/// The leader's answer to a forwarded commit.
pub(crate) enum ForwardReply {
    Applied { index: u64 },
    Conflict,
    NotLeader { leader: Option<NodeId> },
    Unknown(String),
    Unavailable(String),
}

/// The leader's answer to a read-index request.
pub(crate) enum ReadIndexReply {
    Index(u64),
    NotLeader { leader: Option<NodeId> },
    Unavailable(String),
}

fn head(kind: u8) -> Vec<u8> {
    vec![VERSION, kind]
}

pub(crate) fn encode_request(r: &Request) -> Vec<u8> {
    match r {
        Request::Append(a) => {
            let mut out = head(K_APPEND);
            codec::put_vote(&mut out, &a.vote);
            codec::put_opt_log_id(&mut out, &a.prev_log_id);
            put_varint(&mut out, a.entries.len() as u64);
            for e in &a.entries {
                codec::put_entry(&mut out, e);
            }
            codec::put_opt_log_id(&mut out, &a.leader_commit);
            out
        }
        Request::Vote(v) => {
            let mut out = head(K_VOTE);
            codec::put_vote(&mut out, &v.vote);
            codec::put_opt_log_id(&mut out, &v.last_log_id);
            out
        }
        Request::Snapshot(c) => {
            let mut out = head(K_SNAPSHOT);
            codec::put_vote(&mut out, &c.vote);
            put_blob(&mut out, c.id.as_bytes());
            put_varint(&mut out, c.offset);
            put_blob(&mut out, &c.data);
            match &c.digest {
                None => out.push(0),
                Some(d) => {
                    out.push(1);
                    out.extend_from_slice(d);
                }
            }
            out
        }
        Request::Forward(c) => {
            let mut out = head(K_FORWARD);
            codec::put_command(&mut out, c);
            out
        }
        Request::ReadIndex => head(K_READ_INDEX),
        Request::TimeoutNow { term } => {
            let mut out = head(K_TIMEOUT_NOW);
            put_varint(&mut out, *term);
            out
        }
        Request::Hold { millis } => {
            let mut out = head(K_HOLD);
            put_varint(&mut out, *millis);
            out
        }
    }
}

/// Decodes a request; `None` for anything malformed.
pub(crate) fn decode_request(buf: &[u8]) -> Option<Request> {
    let mut r = Reader::new(buf);
    if r.u8()? != VERSION {
        return None;
    }
    let req = match r.u8()? {
        K_APPEND => {
            let vote = codec::get_vote(&mut r)?;
            let prev_log_id = codec::get_opt_log_id(&mut r)?;
            let n = r.count(4)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                entries.push(codec::get_entry(&mut r)?);
            }
            let leader_commit = codec::get_opt_log_id(&mut r)?;
            Request::Append(AppendEntriesRequest {
                vote,
                prev_log_id,
                entries,
                leader_commit,
            })
        }
        K_VOTE => {
            let vote = codec::get_vote(&mut r)?;
            let last = codec::get_opt_log_id(&mut r)?;
            Request::Vote(VoteRequest::new(vote, last))
        }
        K_SNAPSHOT => {
            let vote = codec::get_vote(&mut r)?;
            let id = String::from_utf8(r.blob()?.to_vec()).ok()?;
            let offset = r.varint()?;
            let data = r.blob()?.to_vec();
            let digest = if r.bool()? {
                Some(r.bytes(32)?.try_into().ok()?)
            } else {
                None
            };
            Request::Snapshot(SnapshotChunk {
                vote,
                id,
                offset,
                data,
                digest,
            })
        }
        K_FORWARD => Request::Forward(codec::get_command(&mut r)?),
        K_READ_INDEX => Request::ReadIndex,
        K_TIMEOUT_NOW => Request::TimeoutNow { term: r.varint()? },
        K_HOLD => Request::Hold {
            millis: r.varint()?,
        },
        _ => return None,
    };
    r.finish(req)
}

pub(crate) fn encode_failure(message: &str) -> Vec<u8> {
    let mut out = head(K_FAILED);
    put_blob(&mut out, message.as_bytes());
    out
}

/// Splits an answer into its kind and body; a remote failure becomes an
/// error naming the peer.
fn answer(buf: &[u8], want: u8, peer: NodeId) -> Result<Reader<'_>> {
    let mut r = Reader::new(buf);
    let bad = || Error::Unavailable {
        what: format!("node {peer} sent a malformed answer"),
    };
    if r.u8().ok_or_else(bad)? != VERSION {
        return Err(bad());
    }
    let kind = r.u8().ok_or_else(bad)?;
    if kind == K_FAILED {
        let msg = r
            .blob()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        return Err(Error::Unavailable {
            what: format!("node {peer} failed: {msg}"),
        });
    }
    if kind != want {
        return Err(bad());
    }
    Ok(r)
}

fn malformed(peer: NodeId) -> Error {
    Error::Unavailable {
        what: format!("node {peer} sent a malformed answer"),
    }
}

pub(crate) fn encode_append_reply(a: &AppendEntriesResponse<NodeId>) -> Vec<u8> {
    let mut out = head(K_APPEND);
    match a {
        AppendEntriesResponse::Success => out.push(0),
        AppendEntriesResponse::PartialSuccess(id) => {
            out.push(1);
            codec::put_opt_log_id(&mut out, id);
        }
        AppendEntriesResponse::Conflict => out.push(2),
        AppendEntriesResponse::HigherVote(v) => {
            out.push(3);
            codec::put_vote(&mut out, v);
        }
    }
    out
}

pub(crate) fn decode_append_reply(
    buf: &[u8],
    peer: NodeId,
) -> Result<AppendEntriesResponse<NodeId>> {
    let mut r = answer(buf, K_APPEND, peer)?;
    let a = match r.u8() {
        Some(0) => Some(AppendEntriesResponse::Success),
        Some(1) => codec::get_opt_log_id(&mut r).map(AppendEntriesResponse::PartialSuccess),
        Some(2) => Some(AppendEntriesResponse::Conflict),
        Some(3) => codec::get_vote(&mut r).map(AppendEntriesResponse::HigherVote),
        _ => None,
    };
    a.and_then(|a| r.finish(a)).ok_or_else(|| malformed(peer))
}

pub(crate) fn encode_vote_reply(v: &VoteResponse<NodeId>) -> Vec<u8> {
    let mut out = head(K_VOTE);
    codec::put_vote(&mut out, &v.vote);
    out.push(v.vote_granted as u8);
    codec::put_opt_log_id(&mut out, &v.last_log_id);
    out
}

pub(crate) fn decode_vote_reply(buf: &[u8], peer: NodeId) -> Result<VoteResponse<NodeId>> {
    let mut r = answer(buf, K_VOTE, peer)?;
    let v = (|| {
        let vote = codec::get_vote(&mut r)?;
        let granted = r.bool()?;
        let last = codec::get_opt_log_id(&mut r)?;
        Some(VoteResponse::new(vote, last, granted))
    })();
    v.and_then(|v| r.finish(v)).ok_or_else(|| malformed(peer))
}

pub(crate) fn encode_snapshot_reply(s: &SnapshotReply) -> Vec<u8> {
    let mut out = head(K_SNAPSHOT);
    match s {
        SnapshotReply::Progress { have } => {
            out.push(0);
            put_varint(&mut out, *have);
        }
        SnapshotReply::Done { vote } => {
            out.push(1);
            codec::put_vote(&mut out, vote);
        }
    }
    out
}

pub(crate) fn decode_snapshot_reply(buf: &[u8], peer: NodeId) -> Result<SnapshotReply> {
    let mut r = answer(buf, K_SNAPSHOT, peer)?;
    let s = match r.u8() {
        Some(0) => r.varint().map(|have| SnapshotReply::Progress { have }),
        Some(1) => codec::get_vote(&mut r).map(|vote| SnapshotReply::Done { vote }),
        _ => None,
    };
    s.and_then(|s| r.finish(s)).ok_or_else(|| malformed(peer))
}

fn put_opt_node(out: &mut Vec<u8>, n: &Option<NodeId>) {
    match n {
        None => out.push(0),
        Some(id) => {
            out.push(1);
            put_varint(out, *id);
        }
    }
}

fn get_opt_node(r: &mut Reader) -> Option<Option<NodeId>> {
    match r.u8()? {
        0 => Some(None),
        1 => Some(Some(r.varint()?)),
        _ => None,
    }
}

pub(crate) fn encode_forward_reply(f: &ForwardReply) -> Vec<u8> {
    let mut out = head(K_FORWARD);
    match f {
        ForwardReply::Applied { index } => {
            out.push(0);
            put_varint(&mut out, *index);
        }
        ForwardReply::Conflict => out.push(1),
        ForwardReply::NotLeader { leader } => {
            out.push(2);
            put_opt_node(&mut out, leader);
        }
        ForwardReply::Unknown(m) => {
            out.push(3);
            put_blob(&mut out, m.as_bytes());
        }
        ForwardReply::Unavailable(m) => {
            out.push(4);
            put_blob(&mut out, m.as_bytes());
        }
    }
    out
}

pub(crate) fn decode_forward_reply(buf: &[u8], peer: NodeId) -> Result<ForwardReply> {
    let mut r = answer(buf, K_FORWARD, peer)?;
    let text = |r: &mut Reader| r.blob().map(|b| String::from_utf8_lossy(b).into_owned());
    let f = match r.u8() {
        Some(0) => r.varint().map(|index| ForwardReply::Applied { index }),
        Some(1) => Some(ForwardReply::Conflict),
        Some(2) => get_opt_node(&mut r).map(|leader| ForwardReply::NotLeader { leader }),
        Some(3) => text(&mut r).map(ForwardReply::Unknown),
        Some(4) => text(&mut r).map(ForwardReply::Unavailable),
        _ => None,
    };
    f.and_then(|f| r.finish(f)).ok_or_else(|| malformed(peer))
}

pub(crate) fn encode_read_index_reply(f: &ReadIndexReply) -> Vec<u8> {
    let mut out = head(K_READ_INDEX);
    match f {
        ReadIndexReply::Index(i) => {
            out.push(0);
            put_varint(&mut out, *i);
        }
        ReadIndexReply::NotLeader { leader } => {
            out.push(1);
            put_opt_node(&mut out, leader);
        }
        ReadIndexReply::Unavailable(m) => {
            out.push(2);
            put_blob(&mut out, m.as_bytes());
        }
    }
    out
}

pub(crate) fn decode_read_index_reply(buf: &[u8], peer: NodeId) -> Result<ReadIndexReply> {
    let mut r = answer(buf, K_READ_INDEX, peer)?;
    let f = match r.u8() {
        Some(0) => r.varint().map(ReadIndexReply::Index),
        Some(1) => get_opt_node(&mut r).map(|leader| ReadIndexReply::NotLeader { leader }),
        Some(2) => r
            .blob()
            .map(|b| ReadIndexReply::Unavailable(String::from_utf8_lossy(b).into_owned())),
        _ => None,
    };
    f.and_then(|f| r.finish(f)).ok_or_else(|| malformed(peer))
}

pub(crate) fn encode_ack(kind: u8) -> Vec<u8> {
    head(kind)
}

pub(crate) fn decode_ack(buf: &[u8], kind: u8, peer: NodeId) -> Result<()> {
    let r = answer(buf, kind, peer)?;
    r.finish(()).ok_or_else(|| malformed(peer))
}

/// Makes the connection to each peer for openraft.
#[derive(Clone)]
pub(crate) struct Network {
    pub(crate) transport: Arc<dyn ClusterTransport>,
    /// Snapshot chunk size in bytes.
    pub(crate) chunk_bytes: usize,
}

/// openraft's handle on one peer.
pub(crate) struct Peer {
    transport: Arc<dyn ClusterTransport>,
    target: NodeId,
    address: String,
    chunk_bytes: usize,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> Peer {
        Peer {
            transport: self.transport.clone(),
            target,
            address: node.address.clone(),
            chunk_bytes: self.chunk_bytes,
        }
    }
}

type RpcError<E = openraft::error::Infallible> = RPCError<NodeId, Member, RaftError<NodeId, E>>;

fn unreachable_err<E: std::error::Error>(e: &Error) -> RPCError<NodeId, Member, E> {
    RPCError::Unreachable(Unreachable::new(e))
}

impl Peer {
    async fn call(&self, lane: Lane, req: Vec<u8>, ttl: Duration) -> Result<Vec<u8>> {
        let fut = self.transport.call(self.target, &self.address, lane, req);
        match tokio::time::timeout(ttl, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Unavailable {
                what: format!("node {} did not answer within {ttl:?}", self.target),
            }),
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> std::result::Result<AppendEntriesResponse<NodeId>, RpcError> {
        let lane = if rpc.entries.is_empty() {
            Lane::Urgent
        } else {
            Lane::Append
        };
        let n = rpc.entries.len() as u64;
        let bytes = encode_request(&Request::Append(rpc));
        if bytes.len() > self.transport.max_request(lane) {
            if n > 1 {
                // openraft resends fewer entries.
                return Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint(n / 2),
                ));
            }
            // One entry over the limit: refused at propose, so only an
            // entry written under a larger limit gets here.
            let e = Error::InvalidArgument {
                what: format!(
                    "a log entry of {} bytes exceeds the transport's limit of {}",
                    bytes.len(),
                    self.transport.max_request(lane)
                ),
            };
            return Err(unreachable_err(&e));
        }
        let reply = self
            .call(lane, bytes, option.hard_ttl())
            .await
            .map_err(|e| unreachable_err(&e))?;
        decode_append_reply(&reply, self.target)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> std::result::Result<VoteResponse<NodeId>, RpcError> {
        let bytes = encode_request(&Request::Vote(rpc));
        let reply = self
            .call(Lane::Urgent, bytes, option.hard_ttl())
            .await
            .map_err(|e| unreachable_err(&e))?;
        decode_vote_reply(&reply, self.target).map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<NodeId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> std::result::Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>>
    {
        let local = match *snapshot.snapshot {
            SnapshotData::Local(l) => l,
            SnapshotData::Staged(_) => {
                let e = Error::InvalidArgument {
                    what: "a received snapshot cannot be sent on".into(),
                };
                return Err(StreamingError::Unreachable(Unreachable::new(&e)));
            }
        };
        let id = snapshot.meta.snapshot_id.clone();
        let ttl = option.hard_ttl().max(Duration::from_secs(10));
        let send = async {
            let net = |e: Error| StreamingError::Unreachable(Unreachable::new(&e));
            // Ask where to start: the receiver may hold part of this stream.
            let probe = Request::Snapshot(SnapshotChunk {
                vote,
                id: id.clone(),
                offset: 0,
                data: Vec::new(),
                digest: None,
            });
            let reply = self
                .call(Lane::Bulk, encode_request(&probe), ttl)
                .await
                .map_err(net)?;
            let mut have = match decode_snapshot_reply(&reply, self.target).map_err(net)? {
                SnapshotReply::Progress { have } => have,
                SnapshotReply::Done { vote } => return Ok(SnapshotResponse::new(vote)),
            };
            let mut cursor = StreamCursor::new(local.clone());
            loop {
                if cursor.offset() != have {
                    cursor = StreamCursor::new(local.clone());
                    if !cursor.skip_to(have, self.chunk_bytes).map_err(net)? {
                        // Not a boundary of this stream: start over.
                        cursor = StreamCursor::new(local.clone());
                    }
                }
                let offset = cursor.offset();
                let data = cursor.next_chunk(self.chunk_bytes).map_err(net)?;
                let digest = cursor.is_done().then(|| cursor.digest());
                let req = Request::Snapshot(SnapshotChunk {
                    vote,
                    id: id.clone(),
                    offset,
                    data,
                    digest,
                });
                let reply = self
                    .call(Lane::Bulk, encode_request(&req), ttl)
                    .await
                    .map_err(net)?;
                match decode_snapshot_reply(&reply, self.target).map_err(net)? {
                    SnapshotReply::Progress { have: h } => {
                        have = h;
                        if digest.is_some() && h == cursor.offset() {
                            let e = Error::Unavailable {
                                what: format!("node {} did not install the snapshot", self.target),
                            };
                            return Err(net(e));
                        }
                    }
                    SnapshotReply::Done { vote } => return Ok(SnapshotResponse::new(vote)),
                }
            }
        };
        tokio::select! {
            r = send => r,
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};

    #[test]
    fn requests_round_trip_and_cuts_fail() {
        let mut b = crate::storage::WriteBatch::new();
        b.put("a", "b");
        let reqs = vec![
            Request::Append(AppendEntriesRequest {
                vote: Vote::new_committed(3, 1),
                prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 9)),
                entries: vec![Entry {
                    log_id: LogId::new(CommittedLeaderId::new(3, 1), 10),
                    payload: EntryPayload::Normal(Command::Write {
                        base: 4,
                        batch: b.clone(),
                    }),
                }],
                leader_commit: None,
            }),
            Request::Vote(VoteRequest::new(Vote::new(4, 2), None)),
            Request::Snapshot(SnapshotChunk {
                vote: Vote::new_committed(3, 1),
                id: "x".into(),
                offset: 77,
                data: vec![1, 2, 3],
                digest: Some([7; 32]),
            }),
            Request::Forward(Command::Write { base: 1, batch: b }),
            Request::ReadIndex,
            Request::TimeoutNow { term: 5 },
            Request::Hold { millis: 900 },
        ];
        for r in &reqs {
            let bytes = encode_request(r);
            let back = decode_request(&bytes).expect("decodes");
            assert_eq!(encode_request(&back), bytes);
            for cut in 0..bytes.len() {
                assert!(decode_request(&bytes[..cut]).is_none(), "cut {cut}");
            }
        }
        assert!(
            decode_request(&[2, K_READ_INDEX]).is_none(),
            "unknown version"
        );
        assert!(decode_request(&[1, 99]).is_none(), "unknown kind");
    }

    #[test]
    fn answers_round_trip() {
        let a = encode_append_reply(&AppendEntriesResponse::HigherVote(Vote::new(9, 3)));
        assert_eq!(
            decode_append_reply(&a, 3).expect("ok"),
            AppendEntriesResponse::HigherVote(Vote::new(9, 3))
        );
        let f = encode_forward_reply(&ForwardReply::NotLeader { leader: Some(2) });
        assert!(matches!(
            decode_forward_reply(&f, 1).expect("ok"),
            ForwardReply::NotLeader { leader: Some(2) }
        ));
        let failed = encode_failure("boom");
        assert!(decode_vote_reply(&failed, 1).is_err());
        assert!(decode_vote_reply(&[1], 1).is_err());
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn samples() -> Vec<Vec<u8>> {
            let mut b = crate::storage::WriteBatch::new();
            b.put("key", "value").delete("other");
            let mut out = vec![
                encode_request(&Request::Append(AppendEntriesRequest {
                    vote: Vote::new_committed(3, 1),
                    prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 9)),
                    entries: vec![Entry {
                        log_id: LogId::new(CommittedLeaderId::new(3, 1), 10),
                        payload: EntryPayload::Normal(Command::Write { base: 4, batch: b }),
                    }],
                    leader_commit: Some(LogId::new(CommittedLeaderId::new(3, 1), 10)),
                })),
                encode_request(&Request::Vote(VoteRequest::new(Vote::new(4, 2), None))),
                encode_request(&Request::ReadIndex),
                encode_append_reply(&AppendEntriesResponse::PartialSuccess(None)),
                encode_vote_reply(&VoteResponse::new(Vote::new(1, 1), None, true)),
                encode_snapshot_reply(&SnapshotReply::Progress { have: 12 }),
                encode_forward_reply(&ForwardReply::Unknown("x".into())),
                encode_read_index_reply(&ReadIndexReply::Index(5)),
            ];
            out.push(
                crate::repl::raft::snapshot::SnapshotHeader {
                    meta: Default::default(),
                    last_write: 1,
                }
                .encode(),
            );
            out
        }

        /// Every decoder of network bytes, on the same input.
        fn decode_all(bytes: &[u8]) {
            let _ = decode_request(bytes);
            let _ = decode_append_reply(bytes, 1);
            let _ = decode_vote_reply(bytes, 1);
            let _ = decode_snapshot_reply(bytes, 1);
            let _ = decode_forward_reply(bytes, 1);
            let _ = decode_read_index_reply(bytes, 1);
            let _ = decode_ack(bytes, K_HOLD, 1);
            let _ = codec::decode_entry(bytes);
            let _ = crate::repl::raft::snapshot::SnapshotHeader::decode(bytes);
            let mut p = crate::repl::raft::snapshot::StreamParser::new();
            p.feed(bytes);
            while let Ok(Some(_)) = p.next_entry() {}
        }

        fn cases() -> u32 {
            std::env::var("SEALDB_FUZZ_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2000)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(cases()))]

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                decode_all(&bytes);
            }

            #[test]
            fn mutated_messages_never_panic(
                which in 0usize..9,
                flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                cut in any::<usize>(),
            ) {
                let mut bytes = samples()[which].clone();
                for (at, x) in flips {
                    if !bytes.is_empty() {
                        let i = at % bytes.len();
                        bytes[i] ^= x;
                    }
                }
                let keep = if bytes.is_empty() { 0 } else { cut % (bytes.len() + 1) };
                bytes.truncate(keep);
                decode_all(&bytes);
            }
        }
    }
}
