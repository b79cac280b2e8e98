//! The cluster transport over QUIC with mutual TLS 1.3: Raft's messages
//! travel between nodes that proved who they are by certificate.
//!
//! ```text
//!   RaftNode ──call(to, address, lane, bytes)──► QuicTransport
//!       Lane::Urgent  (votes, heartbeats, read-index, transfer) ─► urgent stream
//!       Lane::Append  (log appends, forwarded commits)          ─► append stream
//!       Lane::Bulk    (snapshot chunks)                          ─► bulk stream
//!   the peer's Endpoint ─► Dispatch (Service) ─► RequestHandler::handle(
//!       the node id of the peer's certificate, lane, bytes)
//! ```
//!
//! One [`Endpoint`] per node listens and dials. A call uses the newest live
//! connection to the target (either direction) or dials its address; a
//! dial that failed is not retried for a short, growing while (a revoked
//! or dead peer is not hammered with handshakes, nor the audit log with
//! refusals). A connection whose calls keep failing or being abandoned
//! while nothing came back for a while is closed, so a peer that restarted
//! (its old connection is silently dead until the idle timeout) is dialled
//! again.
//!
//! The sender of every request is the node id of the certificate the
//! connection was admitted with, never a claim in the message; the Raft
//! layer checks the messages' own claims against it. A revocation (a
//! reloaded CRL, an OCSP answer) closes the peer's connections and refuses
//! its dials, so its votes and appends reach no handler.
//!
//! Every call runs as a task on the transport's runtime, aborted when the
//! caller stops waiting (openraft drops calls at their deadline).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::network::{BoxFuture, ClusterTransport, Lane, RequestHandler};
use super::types::NodeId;
use crate::error::{Error, Result};
use crate::repl::refusal::{RefusalHook, RefusalSinks};
use crate::repl::transport::{
    self, BulkBody, BulkHeader, Endpoint, EndpointConfig, Peer, PeerInfo, ReloadReport,
    RemoteError, Service,
};

/// The bulk-stream name of a Raft message (a snapshot chunk).
const BULK_NAME: &str = "raft-message";

/// Calls on one connection that failed or were abandoned in a row, with
/// nothing answered for [`STALE_AFTER`], before the connection is closed.
const FAILS_BEFORE_CLOSE: u32 = 3;
const STALE_AFTER: Duration = Duration::from_secs(1);

/// First and longest pause after a failed dial.
const DIAL_BACKOFF_MIN: Duration = Duration::from_millis(100);
const DIAL_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Calls sent and received, per lane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicTransportStats {
    /// Calls sent on the urgent lane.
    pub urgent_sent: u64,
    /// Calls sent on the append lane.
    pub append_sent: u64,
    /// Calls sent on the bulk lane (snapshot chunks).
    pub bulk_sent: u64,
    /// Requests received and handed to the node.
    pub received: u64,
    /// Dials that failed (refused, unreachable).
    pub dial_failures: u64,
    /// Connections closed because their calls kept failing.
    pub closed_stale: u64,
}

#[derive(Default)]
struct Counters {
    urgent_sent: AtomicU64,
    append_sent: AtomicU64,
    bulk_sent: AtomicU64,
    received: AtomicU64,
    dial_failures: AtomicU64,
    closed_stale: AtomicU64,
}

/// The health of the connection in use to one node.
struct Link {
    connection: usize,
    last_ok: Instant,
    fails: u32,
}

/// Dial state of one node.
#[derive(Default)]
struct DialState {
    /// No dial before this instant (after a failure).
    not_before: Option<Instant>,
    backoff: Duration,
    last_error: Option<String>,
}

struct Inner {
    endpoint: Endpoint,
    handler: Arc<RwLock<Option<Arc<dyn RequestHandler>>>>,
    serving: AtomicBool,
    links: Mutex<HashMap<NodeId, Link>>,
    dials: Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<DialState>>>>,
    counters: Arc<Counters>,
    append_limit: usize,
    urgent_limit: usize,
}

/// A [`ClusterTransport`] over QUIC with mutual TLS (the endpoint of
/// [`crate::repl::transport`]). Give it to [`super::ReplicationOptions`];
/// the node serves through it once opened.
pub struct QuicTransport {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
}

impl std::fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicTransport")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl QuicTransport {
    /// Binds the endpoint on a runtime of the transport's own (two worker
    /// threads). `hook` hears every refusal; a database opened over the
    /// transport also writes each to its audit log.
    pub fn start(config: EndpointConfig, hook: Option<RefusalHook>) -> Result<Arc<QuicTransport>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sealdb-quic")
            .enable_all()
            .build()
            .map_err(|e| Error::io("start the transport runtime for", "", e))?;
        let handle = rt.handle().clone();
        match Self::start_on(handle, config, hook) {
            Ok(t) => {
                *t.runtime.lock() = Some(rt);
                Ok(t)
            }
            Err(e) => {
                rt.shutdown_background();
                Err(e)
            }
        }
    }

    /// Binds the endpoint on `handle`'s runtime (a multi-threaded one).
    /// Call from outside that runtime's tasks.
    pub fn start_on(
        handle: tokio::runtime::Handle,
        config: EndpointConfig,
        hook: Option<RefusalHook>,
    ) -> Result<Arc<QuicTransport>> {
        let handler: Arc<RwLock<Option<Arc<dyn RequestHandler>>>> = Arc::default();
        let counters = Arc::new(Counters::default());
        let append_limit = config.limits.append as usize;
        let urgent_limit = config.limits.urgent as usize;
        let service = Arc::new(Dispatch {
            handler: handler.clone(),
            counters: counters.clone(),
            bulk_limit: append_limit,
        });
        let endpoint = block_on(&handle, async move {
            Endpoint::bind(config, service, hook).await
        })??;
        Ok(Arc::new(QuicTransport {
            inner: Arc::new(Inner {
                endpoint,
                handler,
                serving: AtomicBool::new(false),
                links: Mutex::new(HashMap::new()),
                dials: Mutex::new(HashMap::new()),
                counters,
                append_limit,
                urgent_limit,
            }),
            handle,
            runtime: Mutex::new(None),
        }))
    }

    /// The endpoint (its node id, stats, reload, recheck).
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The UDP address the endpoint is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.inner.endpoint.local_addr()
    }

    /// The runtime the transport runs on (give it to
    /// [`super::ReplicationOptions::runtime`] to share its threads).
    pub fn runtime(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    /// Re-reads certificate, key, CA bundle and CRLs (see
    /// [`Endpoint::reload`]); peers that no longer pass are closed.
    pub fn reload(&self) -> Result<ReloadReport> {
        let ep = self.inner.endpoint.clone();
        let r = block_on(&self.handle, async move { ep.reload().await })??;
        // A peer refused before (say, by a CRL that was then reissued)
        // may be dialled at once.
        self.inner.dials.lock().clear();
        Ok(r)
    }

    /// Counters.
    pub fn stats(&self) -> QuicTransportStats {
        let c = &self.inner.counters;
        QuicTransportStats {
            urgent_sent: c.urgent_sent.load(Ordering::Relaxed),
            append_sent: c.append_sent.load(Ordering::Relaxed),
            bulk_sent: c.bulk_sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dial_failures: c.dial_failures.load(Ordering::Relaxed),
            closed_stale: c.closed_stale.load(Ordering::Relaxed),
        }
    }
}

impl Drop for QuicTransport {
    fn drop(&mut self) {
        self.inner.endpoint.close_peers();
        if let Some(rt) = self.runtime.lock().take() {
            // Dropping a runtime blocks, which panics on an async thread.
            rt.shutdown_background();
        }
    }
}

impl ClusterTransport for QuicTransport {
    fn call(
        &self,
        to: NodeId,
        address: &str,
        lane: Lane,
        request: Vec<u8>,
    ) -> BoxFuture<Result<Vec<u8>>> {
        let inner = self.inner.clone();
        let address = address.to_string();
        let task = self
            .handle
            .spawn(async move { inner.call(to, &address, lane, request).await });
        let task = AbortOnDrop(task);
        Box::pin(async move {
            let mut task = task;
            match (&mut task.0).await {
                Ok(r) => r,
                Err(e) => Err(Error::Unavailable {
                    what: format!("the call to node {to} was cancelled: {e}"),
                }),
            }
        })
    }

    fn serve(&self, handler: Arc<dyn RequestHandler>) -> Result<()> {
        *self.inner.handler.write() = Some(handler);
        self.inner.serving.store(true, Ordering::Release);
        Ok(())
    }

    fn shutdown(&self) {
        self.inner.serving.store(false, Ordering::Release);
        *self.inner.handler.write() = None;
        self.inner.links.lock().clear();
        self.inner.endpoint.close_peers();
    }

    fn max_request(&self, lane: Lane) -> usize {
        match lane {
            Lane::Urgent => self.inner.urgent_limit,
            Lane::Append | Lane::Bulk => self.inner.append_limit,
        }
    }

    fn refusals(&self) -> Option<Arc<RefusalSinks>> {
        Some(self.inner.endpoint.refusals().clone())
    }
}

/// Aborts a spawned call when its caller stops waiting.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts a call as failed unless it is marked answered (an abandoned
/// call, whose task is aborted, counts as failed).
struct CallGuard<'a> {
    inner: &'a Inner,
    to: NodeId,
    peer: Peer,
    answered: bool,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.inner.note(self.to, &self.peer, self.answered);
    }
}

impl Inner {
    async fn call(
        self: &Arc<Self>,
        to: NodeId,
        address: &str,
        lane: Lane,
        request: Vec<u8>,
    ) -> Result<Vec<u8>> {
        if !self.serving.load(Ordering::Acquire) {
            return Err(Error::Unavailable {
                what: "this node's transport is not serving".into(),
            });
        }
        let peer = self.peer(to, address).await?;
        let mut guard = CallGuard {
            inner: self,
            to,
            peer: peer.clone(),
            answered: false,
        };
        let r = match lane {
            Lane::Urgent => {
                self.counters.urgent_sent.fetch_add(1, Ordering::Relaxed);
                peer.call(transport::Lane::Urgent, &request).await
            }
            Lane::Append => {
                self.counters.append_sent.fetch_add(1, Ordering::Relaxed);
                peer.call(transport::Lane::Append, &request).await
            }
            Lane::Bulk => {
                self.counters.bulk_sent.fetch_add(1, Ordering::Relaxed);
                send_bulk(&peer, &request).await
            }
        };
        // A remote handler's failure still proves the link works.
        guard.answered = match &r {
            Ok(_) => true,
            Err(Error::Transport { what, .. }) => what.starts_with("the peer's handler failed"),
            Err(_) => false,
        };
        drop(guard);
        r
    }

    /// Records how a call on `peer` ended; closes a connection that looks
    /// dead.
    fn note(&self, to: NodeId, peer: &Peer, answered: bool) {
        let mut links = self.links.lock();
        let link = links.entry(to).or_insert_with(|| Link {
            connection: peer.connection_id(),
            last_ok: Instant::now(),
            fails: 0,
        });
        if link.connection != peer.connection_id() {
            *link = Link {
                connection: peer.connection_id(),
                last_ok: Instant::now(),
                fails: 0,
            };
        }
        if answered {
            link.last_ok = Instant::now();
            link.fails = 0;
        } else {
            link.fails += 1;
            if link.fails >= FAILS_BEFORE_CLOSE && link.last_ok.elapsed() >= STALE_AFTER {
                links.remove(&to);
                peer.close();
                self.counters.closed_stale.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The connection to use for `to`: the newest live one, or a new dial.
    async fn peer(self: &Arc<Self>, to: NodeId, address: &str) -> Result<Peer> {
        if let Some(p) = self.endpoint.peer(to) {
            return Ok(p);
        }
        // The dial runs as a task of its own: a caller that stops waiting
        // must not abort a handshake half-way (the peer would see, and
        // report, a failed handshake).
        let me = self.clone();
        let address = address.to_string();
        tokio::spawn(async move { me.dial(to, &address).await })
            .await
            .map_err(|e| Error::Unavailable {
                what: format!("dialling node {to} failed: {e}"),
            })?
    }

    async fn dial(&self, to: NodeId, address: &str) -> Result<Peer> {
        let state = self.dials.lock().entry(to).or_default().clone();
        let mut state = state.lock().await;
        // Someone else may have connected (or the peer dialled us) meanwhile.
        if let Some(p) = self.endpoint.peer(to) {
            return Ok(p);
        }
        if let Some(at) = state.not_before {
            if Instant::now() < at {
                return Err(Error::Unavailable {
                    what: format!(
                        "node {to} at {address} is unreachable: {}",
                        state
                            .last_error
                            .as_deref()
                            .unwrap_or("the last dial failed")
                    ),
                });
            }
        }
        let dialled = match resolve(address).await {
            Ok(addr) => self.endpoint.connect(addr, to).await,
            Err(e) => Err(e),
        };
        match dialled {
            Ok(p) => {
                *state = DialState::default();
                Ok(p)
            }
            Err(e) => {
                self.counters.dial_failures.fetch_add(1, Ordering::Relaxed);
                state.backoff = (state.backoff * 2).clamp(DIAL_BACKOFF_MIN, DIAL_BACKOFF_MAX);
                state.not_before = Some(Instant::now() + state.backoff);
                state.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }
}

/// Sends one Raft message on a bulk stream and returns the answer.
async fn send_bulk(peer: &Peer, request: &[u8]) -> Result<Vec<u8>> {
    let header = BulkHeader {
        name: BULK_NAME.into(),
        offset: 0,
        total_len: Some(request.len() as u64),
        meta: Vec::new(),
    };
    let mut sender = peer.open_bulk(&header).await?;
    sender.send(request).await?;
    sender.finish().await
}

async fn resolve(address: &str) -> Result<SocketAddr> {
    if let Ok(a) = address.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bad = |what: String| Error::InvalidArgument { what };
    let mut found = tokio::net::lookup_host(address)
        .await
        .map_err(|e| bad(format!("cannot resolve the node address {address:?}: {e}")))?;
    found
        .next()
        .ok_or_else(|| bad(format!("the node address {address:?} resolves to nothing")))
}

/// The endpoint's service: hands each admitted peer's request to the
/// node, naming the sender by its certificate.
struct Dispatch {
    handler: Arc<RwLock<Option<Arc<dyn RequestHandler>>>>,
    counters: Arc<Counters>,
    /// Largest Raft message accepted on a bulk stream.
    bulk_limit: usize,
}

fn remote(e: Error) -> RemoteError {
    RemoteError {
        message: e.to_string(),
    }
}

impl Dispatch {
    fn handler(&self) -> std::result::Result<Arc<dyn RequestHandler>, RemoteError> {
        self.handler.read().clone().ok_or_else(|| RemoteError {
            message: "this node is not serving".into(),
        })
    }
}

impl Service for Dispatch {
    fn call(
        &self,
        peer: PeerInfo,
        lane: transport::Lane,
        request: Vec<u8>,
    ) -> transport::BoxFuture<std::result::Result<Vec<u8>, RemoteError>> {
        let handler = self.handler();
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let lane = match lane {
            transport::Lane::Urgent => Lane::Urgent,
            transport::Lane::Append => Lane::Append,
        };
        Box::pin(async move {
            handler?
                .handle(peer.node_id, lane, request)
                .await
                .map_err(remote)
        })
    }

    fn bulk(
        &self,
        peer: PeerInfo,
        header: BulkHeader,
        mut body: BulkBody,
    ) -> transport::BoxFuture<std::result::Result<Vec<u8>, RemoteError>> {
        let handler = self.handler();
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let limit = self.bulk_limit;
        Box::pin(async move {
            let handler = handler?;
            if header.name != BULK_NAME || header.offset != 0 {
                return Err(RemoteError {
                    message: format!("unknown bulk transfer {:?}", header.name),
                });
            }
            let expect = header.total_len.unwrap_or(0);
            if expect > limit as u64 {
                return Err(RemoteError {
                    message: format!("a message of {expect} bytes exceeds the limit of {limit}"),
                });
            }
            let mut message = Vec::with_capacity(expect as usize);
            while let Some(chunk) = body.next_chunk().await.map_err(remote)? {
                if message.len() + chunk.len() > limit {
                    return Err(RemoteError {
                        message: format!("a bulk message exceeds the limit of {limit} bytes"),
                    });
                }
                message.extend_from_slice(&chunk);
            }
            if message.len() as u64 != expect {
                return Err(RemoteError {
                    message: format!(
                        "the bulk message has {} bytes, its header said {expect}",
                        message.len()
                    ),
                });
            }
            handler
                .handle(peer.node_id, Lane::Bulk, message)
                .await
                .map_err(remote)
        })
    }
}

/// Runs `f` on `handle` and waits on this thread.
fn block_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T> {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread {
            return Err(Error::InvalidArgument {
                what: "the QUIC transport's blocking calls cannot run inside a \
                       single-threaded async runtime"
                    .into(),
            });
        }
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| Error::Unavailable {
        what: "the transport runtime stopped".into(),
    })
}
