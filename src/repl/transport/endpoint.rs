//! A node's QUIC endpoint: accepts and dials peers, admits them, serves
//! their requests, reloads its certificates, and closes revoked peers.
//!
//! The life of a connection:
//!
//! ```text
//!   handshake   TLS 1.3, ALPN sealdb-raft/1, both certificates checked by
//!               TlsState::verify_peer (chain, validity, CRL, EKUs, cluster;
//!               outbound also: the node id is the one we dialled)
//!   admission   the client opens the hello stream and claims its node id;
//!               the server checks the claim against the certificate; each
//!               side asks OCSP about the other (by mode); the server acks
//!   live        registered in the live table; either side may open
//!               request streams (urgent, append, bulk) to the other
//!   recheck     every recheck interval and after every reload, each live
//!               peer's certificate is checked again against the current CA
//!               bundle, CRLs and OCSP; a failure closes the connection
//! ```
//!
//! A refusal at any step closes the connection with application code 1 and
//! the reason as text (so the other side can say why), and is reported to
//! the endpoint's [`RefusalSinks`] (the hook given at bind, and the sinks
//! attached later, such as a replicated database's audit log). The
//! connection's first failure is remembered, so a caller whose request dies
//! with the connection gets the typed reason.
//!
//! Invariants: no request stream is served before admission completes; a
//! reload that fails leaves the previous material in force; a reload never
//! changes the node's own identity.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ConnectionError, Runtime, VarInt};
use rustls_pki_types::{CertificateDer, UnixTime};
use tokio::io::AsyncWriteExt;

use super::frame::{
    decode_hello_ack, encode_hello_ack, frame_prefix, read_single_frame, read_stream_header,
    stream_header, BulkHeader, FrameError, Hello, Lane, StreamKind, WireError, HELLO_LIMIT,
    STATUS_OK, STATUS_REMOTE_ERROR,
};
use super::peer::Peer;
use super::service::{BulkBody, PeerInfo, Service};
use super::socket::{cid_generator, WatchingSocket};
use super::tls::{ReasonSlot, TlsState};
use super::EndpointConfig;
use crate::error::{Error, Result};
use crate::repl::identity::{CertInfo, Identity, NodeId};
use crate::repl::refusal::{Refusal, RefusalHook, RefusalReason, RefusalSinks, Side};
use crate::repl::revocation::ocsp::{OcspChecker, OcspOutcome};

/// Application close code: orderly shutdown.
pub const CLOSE_SHUTDOWN: u32 = 0;
/// Application close code: the peer was refused; the reason is the text.
pub const CLOSE_REFUSED: u32 = 1;
/// Application close code: the peer broke the wire protocol.
pub const CLOSE_PROTOCOL: u32 = 2;

/// How long a client whose hello failed waits for the peer's close (and
/// its reason) before reporting the bare stream error.
const ADMISSION_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The server name rustls is given (the identity check ignores it).
const SERVER_NAME: &str = "node.sealdb.invalid";

/// Counters of an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Connections admitted (both directions).
    pub admitted: u64,
    /// Refusals reported (including closed live connections).
    pub refused: u64,
    /// Live connections closed by a recheck (revocation, expiry, CA change).
    pub closed_by_recheck: u64,
    /// Admissions in lax OCSP mode without a usable OCSP answer.
    pub ocsp_unverified: u64,
    /// Reloads that took effect.
    pub reloads: u64,
    /// Connections live now.
    pub live: usize,
}

#[derive(Default)]
pub(crate) struct Counters {
    admitted: AtomicU64,
    refused: AtomicU64,
    closed_by_recheck: AtomicU64,
    ocsp_unverified: AtomicU64,
    reloads: AtomicU64,
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadReport {
    /// Live connections closed because their peer no longer passes.
    pub closed: usize,
}

/// The state one live connection shares with its tasks and `Peer` handles.
pub(crate) struct ConnShared {
    pub(crate) conn: quinn::Connection,
    pub(crate) info: PeerInfo,
    pub(crate) side: Side,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    closed_reason: Mutex<Option<Error>>,
    /// When admission completed (the newest live connection to a node is
    /// the one to use: an older one may lead to a process that restarted).
    pub(crate) admitted_at: std::time::Instant,
    sinks: Arc<RefusalSinks>,
    counters: Arc<Counters>,
    pub(crate) config: Arc<EndpointConfig>,
}

impl ConnShared {
    /// Closes the connection because the peer no longer passes a check.
    fn close_refused(&self, reason: RefusalReason) {
        let remote = self.info.remote;
        {
            let mut slot = self.closed_reason.lock();
            if slot.is_none() {
                *slot = Some(Error::PeerRefused {
                    peer: remote,
                    reason: reason.clone(),
                });
            }
        }
        self.conn.close(
            VarInt::from_u32(CLOSE_REFUSED),
            reason.to_string().as_bytes(),
        );
        report(
            &self.sinks,
            &self.counters,
            Refusal {
                time: SystemTime::now(),
                side: self.side,
                remote,
                peer: Some(self.info.identity.clone()),
                reason,
                closed_existing: true,
            },
        );
    }

    /// Closes the connection over a protocol violation; returns the error
    /// for the local caller.
    pub(crate) fn violation(&self, v: FrameError) -> Error {
        let err = Error::Protocol {
            peer: self.info.remote,
            violation: v.clone(),
        };
        {
            let mut slot = self.closed_reason.lock();
            if slot.is_none() {
                *slot = Some(Error::Protocol {
                    peer: self.info.remote,
                    violation: v.clone(),
                });
            }
        }
        self.conn
            .close(VarInt::from_u32(CLOSE_PROTOCOL), v.to_string().as_bytes());
        report(
            &self.sinks,
            &self.counters,
            Refusal {
                time: SystemTime::now(),
                side: self.side,
                remote: self.info.remote,
                peer: Some(self.info.identity.clone()),
                reason: RefusalReason::Protocol {
                    detail: v.to_string(),
                },
                closed_existing: true,
            },
        );
        err
    }

    /// The error for a failed stream operation: the connection's first
    /// failure when it is closed, else a transport error.
    pub(crate) fn link_error(&self, what: &str) -> Error {
        if let Some(e) = self.closed_reason.lock().as_ref() {
            return clone_error(e);
        }
        match self.conn.close_reason() {
            Some(e) => connection_error(self.info.remote, &e),
            None => Error::Transport {
                peer: self.info.remote,
                what: what.to_string(),
            },
        }
    }
}

fn clone_error(e: &Error) -> Error {
    match e {
        Error::PeerRefused { peer, reason } => Error::PeerRefused {
            peer: *peer,
            reason: reason.clone(),
        },
        Error::Protocol { peer, violation } => Error::Protocol {
            peer: *peer,
            violation: violation.clone(),
        },
        Error::Transport { peer, what } => Error::Transport {
            peer: *peer,
            what: what.clone(),
        },
        other => Error::InvalidArgument {
            what: other.to_string(),
        },
    }
}

/// Maps how a connection ended to our error.
pub(crate) fn connection_error(peer: SocketAddr, e: &ConnectionError) -> Error {
    match e {
        ConnectionError::ApplicationClosed(ac)
            if ac.error_code == VarInt::from_u32(CLOSE_REFUSED) =>
        {
            Error::PeerRefused {
                peer,
                reason: RefusalReason::RejectedByPeer {
                    detail: String::from_utf8_lossy(&ac.reason).into_owned(),
                },
            }
        }
        ConnectionError::ApplicationClosed(ac)
            if ac.error_code == VarInt::from_u32(CLOSE_PROTOCOL) =>
        {
            Error::Transport {
                peer,
                what: format!(
                    "the peer closed the connection: our bytes broke the protocol ({})",
                    String::from_utf8_lossy(&ac.reason)
                ),
            }
        }
        ConnectionError::ConnectionClosed(cc) => match alert_of(cc.error_code) {
            Some(alert) => Error::PeerRefused {
                peer,
                reason: RefusalReason::RejectedByPeer {
                    detail: format!("TLS alert {alert:?}"),
                },
            },
            None => Error::Transport {
                peer,
                what: e.to_string(),
            },
        },
        other => Error::Transport {
            peer,
            what: other.to_string(),
        },
    }
}

/// The TLS alert carried by a QUIC CRYPTO_ERROR code.
fn alert_of(code: quinn::TransportErrorCode) -> Option<rustls::AlertDescription> {
    let c = u64::from(code);
    (0x100..0x200)
        .contains(&c)
        .then(|| rustls::AlertDescription::from((c - 0x100) as u8))
}

/// Why a handshake failed, when no verifier of ours refused.
fn classify_handshake(e: &ConnectionError) -> RefusalReason {
    let local_alert = match e {
        ConnectionError::TransportError(te) => alert_of(te.code),
        _ => None,
    };
    match (e, local_alert) {
        (_, Some(rustls::AlertDescription::CertificateRequired)) => {
            RefusalReason::NoClientCertificate
        }
        (_, Some(rustls::AlertDescription::NoApplicationProtocol)) => RefusalReason::Handshake {
            detail: "no common ALPN protocol (sealdb-raft/1 required)".into(),
        },
        (_, Some(rustls::AlertDescription::ProtocolVersion)) => RefusalReason::Handshake {
            detail: "TLS 1.3 required".into(),
        },
        (ConnectionError::ConnectionClosed(cc), _) if alert_of(cc.error_code).is_some() => {
            RefusalReason::RejectedByPeer {
                detail: format!("TLS alert {:?}", alert_of(cc.error_code)),
            }
        }
        (ConnectionError::ApplicationClosed(ac), _) => RefusalReason::RejectedByPeer {
            detail: String::from_utf8_lossy(&ac.reason).into_owned(),
        },
        (other, _) => RefusalReason::Handshake {
            detail: other.to_string(),
        },
    }
}

fn report(sinks: &RefusalSinks, counters: &Counters, refusal: Refusal) {
    counters.refused.fetch_add(1, Ordering::Relaxed);
    sinks.report(refusal);
}

pub(crate) struct Shared {
    endpoint: quinn::Endpoint,
    pub(crate) config: Arc<EndpointConfig>,
    tls: RwLock<Arc<TlsState>>,
    ocsp: OcspChecker,
    service: Arc<dyn Service>,
    sinks: Arc<RefusalSinks>,
    live: Mutex<HashMap<usize, Arc<ConnShared>>>,
    /// Bumped (under the `live` lock) by every `close_peers`: a
    /// connection whose admission began before the bump is closed when it
    /// would go live, as if it had been live then.
    peers_epoch: AtomicU64,
    counters: Arc<Counters>,
    maintenance: tokio::sync::Mutex<()>,
}

/// Closes the QUIC endpoint and stops the recheck task when the last
/// [`Endpoint`] handle goes.
struct Guard {
    endpoint: quinn::Endpoint,
    recheck: tokio::task::JoinHandle<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.endpoint
            .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"shutdown");
        self.recheck.abort();
    }
}

/// A node's endpoint. Cheap to clone; the last clone dropped closes it.
#[derive(Clone)]
pub struct Endpoint {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("node_id", &self.node_id())
            .field("local_addr", &self.shared.endpoint.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Loads the TLS files, binds the UDP socket and starts accepting.
    /// Must be called inside a tokio runtime.
    pub async fn bind(
        config: EndpointConfig,
        service: Arc<dyn Service>,
        hook: Option<RefusalHook>,
    ) -> Result<Endpoint> {
        let tls = Arc::new(TlsState::load(&config.tls, config.crl_grace)?);
        let config = Arc::new(config);
        let counters = Arc::new(Counters::default());
        let mut key = [0u8; 8];
        getrandom::fill(&mut key).map_err(|e| Error::InvalidArgument {
            what: format!("no randomness for the connection-id key: {e}"),
        })?;
        let cid_key = u64::from_le_bytes(key);
        let mut ep_config = quinn::EndpointConfig::default();
        ep_config.cid_generator(move || cid_generator(cid_key));
        ep_config.grease_quic_bit(false);

        let socket = std::net::UdpSocket::bind(config.listen).map_err(|e| Error::Transport {
            peer: config.listen,
            what: format!("cannot bind UDP {}: {e}", config.listen),
        })?;
        let runtime: Arc<dyn Runtime> = Arc::new(quinn::TokioRuntime);
        let inner = runtime
            .wrap_udp_socket(socket)
            .map_err(|e| Error::Transport {
                peer: config.listen,
                what: format!("cannot use the UDP socket: {e}"),
            })?;
        let sinks = Arc::new(RefusalSinks::new(hook));
        let not_quic_sinks = sinks.clone();
        let sink_counters = counters.clone();
        let sink = Arc::new(move |from: SocketAddr| {
            report(
                &not_quic_sinks,
                &sink_counters,
                Refusal {
                    time: SystemTime::now(),
                    side: Side::Inbound,
                    remote: from,
                    peer: None,
                    reason: RefusalReason::NotQuic,
                    closed_existing: false,
                },
            )
        });
        let watching = Arc::new(WatchingSocket::new(inner, cid_key, sink));
        let default_server = server_config(&config, &tls, ReasonSlot::default())?;
        let endpoint = quinn::Endpoint::new_with_abstract_socket(
            ep_config,
            Some(default_server),
            watching,
            runtime,
        )
        .map_err(|e| Error::Transport {
            peer: config.listen,
            what: format!("cannot start the QUIC endpoint: {e}"),
        })?;
        let shared = Arc::new(Shared {
            endpoint: endpoint.clone(),
            ocsp: OcspChecker::new(config.ocsp.clone()),
            config,
            tls: RwLock::new(tls),
            service,
            sinks,
            live: Mutex::new(HashMap::new()),
            peers_epoch: AtomicU64::new(0),
            counters,
            maintenance: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(accept_loop(shared.clone()));
        let weak = Arc::downgrade(&shared);
        let interval = shared.config.recheck_interval;
        let recheck = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(shared) = weak.upgrade() else { return };
                shared.recheck().await;
            }
        });
        Ok(Endpoint {
            shared,
            _guard: Arc::new(Guard { endpoint, recheck }),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.shared
            .endpoint
            .local_addr()
            .map_err(|e| Error::Transport {
                peer: self.shared.config.listen,
                what: e.to_string(),
            })
    }

    /// Where this endpoint's refusals go: attach a sink to hear them (an
    /// open replicated database attaches its audit log).
    pub fn refusals(&self) -> &Arc<RefusalSinks> {
        &self.shared.sinks
    }

    /// This node's id (from its certificate).
    pub fn node_id(&self) -> NodeId {
        self.shared.tls.read().node_id
    }

    /// This node's cluster (from its certificate).
    pub fn cluster(&self) -> String {
        self.shared.tls.read().cluster.clone()
    }

    /// Connects to node `node_id` at `addr` and completes admission both
    /// ways. A refusal by either side is [`Error::PeerRefused`].
    pub async fn connect(&self, addr: SocketAddr, node_id: NodeId) -> Result<Peer> {
        self.shared.connect(addr, node_id).await
    }

    /// The newest live connection to `node_id` (either direction), if any.
    /// An older one may still look alive while it leads to a process that
    /// restarted (until its idle timeout); the peer's new dial is newer.
    pub fn peer(&self, node_id: NodeId) -> Option<Peer> {
        self.shared
            .live
            .lock()
            .values()
            .filter(|c| c.info.node_id == node_id && c.conn.close_reason().is_none())
            .max_by_key(|c| c.admitted_at)
            .map(|c| Peer::new(c.clone()))
    }

    /// Closes every live connection (an orderly close), and any whose
    /// admission is under way when it goes live, but keeps listening: a
    /// node that stops serving lets its peers know at once.
    pub fn close_peers(&self) {
        let lives: Vec<Arc<ConnShared>> = {
            let mut live = self.shared.live.lock();
            self.shared.peers_epoch.fetch_add(1, Ordering::SeqCst);
            live.drain().map(|(_, c)| c).collect()
        };
        for c in lives {
            c.conn
                .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"not serving");
        }
    }

    /// Re-reads certificate, key, CA bundle and CRLs. New connections use
    /// them at once; live connections continue unless their peer no longer
    /// passes (then they are closed and reported). On error nothing changes.
    pub async fn reload(&self) -> Result<ReloadReport> {
        let _m = self.shared.maintenance.lock().await;
        let config = &self.shared.config;
        let new = TlsState::load(&config.tls, config.crl_grace)?;
        {
            let old = self.shared.tls.read();
            if new.node_id != old.node_id || new.cluster != old.cluster {
                return Err(Error::Certificate {
                    what: format!(
                        "the reloaded certificate is for {} but this endpoint is {}; restart to change identity",
                        new.own
                            .identity
                            .as_ref()
                            .map(|i| i.to_string())
                            .unwrap_or_default(),
                        old.own
                            .identity
                            .as_ref()
                            .map(|i| i.to_string())
                            .unwrap_or_default()
                    ),
                });
            }
        }
        let new = Arc::new(new);
        self.shared.endpoint.set_server_config(Some(server_config(
            config,
            &new,
            ReasonSlot::default(),
        )?));
        *self.shared.tls.write() = new;
        self.shared.counters.reloads.fetch_add(1, Ordering::Relaxed);
        let closed = self.shared.recheck_locked().await;
        Ok(ReloadReport { closed })
    }

    /// Checks every live peer again now (CRLs, validity, CA, OCSP) and
    /// closes those that fail. Returns how many were closed.
    pub async fn recheck(&self) -> usize {
        self.shared.recheck().await
    }

    /// Reloads on every SIGHUP, handing each result to `on_reload`.
    #[cfg(unix)]
    pub fn reload_on_sighup(
        &self,
        on_reload: impl Fn(Result<ReloadReport>) + Send + Sync + 'static,
    ) -> Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup()).map_err(|e| Error::io("watch SIGHUP", "", e))?;
        let weak = Arc::downgrade(&self.shared);
        let guard = Arc::downgrade(&self._guard);
        Ok(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let (Some(shared), Some(guard)) = (weak.upgrade(), guard.upgrade()) else {
                    return;
                };
                let ep = Endpoint {
                    shared,
                    _guard: guard,
                };
                on_reload(ep.reload().await);
            }
        }))
    }

    /// Counters.
    pub fn stats(&self) -> EndpointStats {
        let c = &self.shared.counters;
        EndpointStats {
            admitted: c.admitted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            closed_by_recheck: c.closed_by_recheck.load(Ordering::Relaxed),
            ocsp_unverified: c.ocsp_unverified.load(Ordering::Relaxed),
            reloads: c.reloads.load(Ordering::Relaxed),
            live: self
                .shared
                .live
                .lock()
                .values()
                .filter(|c| c.conn.close_reason().is_none())
                .count(),
        }
    }

    /// Closes every connection and the endpoint, and waits until the
    /// peers were told.
    pub async fn shutdown(&self) {
        self.shared
            .endpoint
            .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"shutdown");
        self.shared.endpoint.wait_idle().await;
    }
}

fn transport_config(config: &EndpointConfig) -> Result<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(config.idle_timeout).map_err(|_| Error::InvalidArgument {
            what: "idle timeout too large".into(),
        })?,
    ));
    t.keep_alive_interval(Some(config.keep_alive));
    t.max_concurrent_bidi_streams(VarInt::from_u32(config.max_concurrent_streams));
    t.max_concurrent_uni_streams(VarInt::from_u32(0));
    t.datagram_receive_buffer_size(None);
    Ok(t)
}

fn server_config(
    config: &EndpointConfig,
    tls: &Arc<TlsState>,
    slot: ReasonSlot,
) -> Result<quinn::ServerConfig> {
    let crypto =
        QuicServerConfig::try_from(tls.server_config(slot)?).map_err(|e| Error::Certificate {
            what: format!("QUIC TLS configuration: {e}"),
        })?;
    let mut sc = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    sc.transport_config(Arc::new(transport_config(config)?));
    Ok(sc)
}

fn client_config(
    config: &EndpointConfig,
    tls: &Arc<TlsState>,
    expected: NodeId,
    slot: ReasonSlot,
) -> Result<quinn::ClientConfig> {
    let crypto = QuicClientConfig::try_from(tls.client_config(expected, slot)?).map_err(|e| {
        Error::Certificate {
            what: format!("QUIC TLS configuration: {e}"),
        }
    })?;
    let mut cc = quinn::ClientConfig::new(Arc::new(crypto));
    cc.transport_config(Arc::new(transport_config(config)?));
    Ok(cc)
}

async fn accept_loop(shared: Arc<Shared>) {
    while let Some(incoming) = shared.endpoint.accept().await {
        let s = shared.clone();
        tokio::spawn(async move { s.handle_incoming(incoming).await });
    }
}

fn peer_chain(conn: &quinn::Connection) -> Option<Vec<CertificateDer<'static>>> {
    conn.peer_identity()?
        .downcast::<Vec<CertificateDer<'static>>>()
        .ok()
        .map(|b| *b)
        .filter(|c| !c.is_empty())
}

impl Shared {
    fn tls_state(&self) -> Arc<TlsState> {
        self.tls.read().clone()
    }

    fn refuse(
        &self,
        side: Side,
        remote: SocketAddr,
        peer: Option<Identity>,
        reason: RefusalReason,
    ) -> Error {
        report(
            &self.sinks,
            &self.counters,
            Refusal {
                time: SystemTime::now(),
                side,
                remote,
                peer,
                reason: reason.clone(),
                closed_existing: false,
            },
        );
        Error::PeerRefused {
            peer: remote,
            reason,
        }
    }

    async fn handle_incoming(self: Arc<Self>, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let epoch = self.peers_epoch.load(Ordering::SeqCst);
        let tls = self.tls_state();
        let slot = ReasonSlot::default();
        let config = match server_config(&self.config, &tls, slot.clone()) {
            Ok(c) => Arc::new(c),
            Err(_) => {
                incoming.refuse();
                return;
            }
        };
        let connecting = match incoming.accept_with(config) {
            Ok(c) => c,
            // The first flight is processed here already: a bad ALPN or
            // TLS version fails now.
            Err(e) => {
                let (reason, who) = slot
                    .lock()
                    .take()
                    .unwrap_or_else(|| (classify_handshake(&e), None));
                self.refuse(Side::Inbound, remote, who, reason);
                return;
            }
        };
        let conn = match tokio::time::timeout(self.config.admission_timeout, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let (reason, who) = slot
                    .lock()
                    .take()
                    .unwrap_or_else(|| (classify_handshake(&e), None));
                self.refuse(Side::Inbound, remote, who, reason);
                return;
            }
            Err(_) => {
                self.refuse(
                    Side::Inbound,
                    remote,
                    None,
                    RefusalReason::Handshake {
                        detail: "handshake timed out".into(),
                    },
                );
                return;
            }
        };
        let admitted = tokio::time::timeout(
            self.config.admission_timeout,
            self.admit_inbound(&conn, &tls),
        )
        .await
        .unwrap_or_else(|_| {
            Err((
                RefusalReason::Protocol {
                    detail: "no hello within the admission timeout".into(),
                },
                None,
            ))
        });
        match admitted {
            // A refusal there is already closed and reported.
            Ok(live) => {
                let _ = self.go_live(live, &tls, epoch);
            }
            Err((reason, who)) => {
                if let Some(
                    ConnectionError::ApplicationClosed(_) | ConnectionError::ConnectionClosed(_),
                ) = conn.close_reason()
                {
                    // The client gave up on us (it refused our certificate
                    // or our OCSP status): it reports that on its side.
                    let reason = match conn.close_reason() {
                        Some(e) => classify_handshake(&e),
                        None => reason,
                    };
                    self.refuse(Side::Inbound, remote, who, reason);
                    return;
                }
                conn.close(
                    VarInt::from_u32(CLOSE_REFUSED),
                    reason.to_string().as_bytes(),
                );
                self.refuse(Side::Inbound, remote, who, reason);
            }
        }
    }

    async fn admit_inbound(
        &self,
        conn: &quinn::Connection,
        tls: &Arc<TlsState>,
    ) -> std::result::Result<Arc<ConnShared>, (RefusalReason, Option<Identity>)> {
        let remote = conn.remote_address();
        let chain = peer_chain(conn).ok_or((RefusalReason::NoClientCertificate, None))?;
        let cert_info = CertInfo::from_der(&chain[0])
            .map_err(|_| (RefusalReason::NotANodeCertificate, None))?;
        let cert_serial = cert_info.serial.clone();
        let identity = cert_info
            .identity
            .ok_or((RefusalReason::NotANodeCertificate, None))?;
        let cert_node = identity
            .node_id()
            .ok_or((RefusalReason::NotANodeCertificate, Some(identity.clone())))?;
        let protocol =
            |detail: String| (RefusalReason::Protocol { detail }, Some(identity.clone()));
        let (mut send, mut recv) = conn
            .accept_bi()
            .await
            .map_err(|e| protocol(format!("no hello stream: {e}")))?;
        let checked = self
            .check_hello(&mut recv, &chain, cert_node, &identity, tls)
            .await;
        if let Err(refused) = checked {
            // Reset, not finish: a dropped send stream would be finished
            // cleanly, and a client reading it before the connection's
            // close arrives would take the empty answer for an ack.
            let _ = send.reset(VarInt::from_u32(CLOSE_REFUSED));
            return Err(refused);
        }
        let ack = encode_hello_ack(tls.node_id);
        let mut out = frame_prefix(ack.len()).to_vec();
        out.extend_from_slice(&ack);
        send.write_all(&out)
            .await
            .map_err(|e| protocol(format!("cannot answer the hello: {e}")))?;
        let _ = send.finish();
        Ok(Arc::new(ConnShared {
            conn: conn.clone(),
            info: PeerInfo {
                node_id: cert_node,
                identity,
                remote,
                cert_serial,
            },
            side: Side::Inbound,
            chain,
            closed_reason: Mutex::new(None),
            admitted_at: std::time::Instant::now(),
            sinks: self.sinks.clone(),
            counters: self.counters.clone(),
            config: self.config.clone(),
        }))
    }

    /// Reads the client's hello and checks it against its certificate:
    /// the cluster, the node it claims, and (if configured) OCSP.
    async fn check_hello(
        &self,
        recv: &mut quinn::RecvStream,
        chain: &[CertificateDer<'static>],
        cert_node: NodeId,
        identity: &Identity,
        tls: &TlsState,
    ) -> std::result::Result<(), (RefusalReason, Option<Identity>)> {
        let protocol =
            |detail: String| (RefusalReason::Protocol { detail }, Some(identity.clone()));
        let kind = read_stream_header(recv)
            .await
            .map_err(|e| protocol(wire_detail(e)))?;
        if kind != StreamKind::Hello {
            return Err(protocol(FrameError::UnexpectedKind(kind).to_string()));
        }
        let hello = read_single_frame(recv, HELLO_LIMIT, "hello")
            .await
            .map_err(|e| protocol(wire_detail(e)))?;
        let hello = Hello::decode(&hello).map_err(|e| protocol(e.to_string()))?;
        if hello.cluster != tls.cluster {
            return Err((
                RefusalReason::WrongCluster {
                    expected: tls.cluster.clone(),
                    found: hello.cluster,
                },
                Some(identity.clone()),
            ));
        }
        if hello.node_id != cert_node {
            return Err((
                RefusalReason::WrongIdentity {
                    expected: hello.node_id,
                    certificate: cert_node,
                },
                Some(identity.clone()),
            ));
        }
        self.ocsp_check(chain, tls)
            .await
            .map_err(|r| (r, Some(identity.clone())))?;
        Ok(())
    }

    async fn ocsp_check(
        &self,
        chain: &[CertificateDer<'static>],
        tls: &TlsState,
    ) -> std::result::Result<(), RefusalReason> {
        if self.ocsp.mode() == crate::repl::revocation::ocsp::OcspMode::Off {
            return Ok(());
        }
        let issuer = tls
            .issuer_of(&chain[0])
            .ok_or(RefusalReason::UnknownIssuer)?;
        match self.ocsp.check(&chain[0], &issuer).await? {
            OcspOutcome::AdmittedUnverified(_) => {
                self.counters
                    .ocsp_unverified
                    .fetch_add(1, Ordering::Relaxed);
            }
            OcspOutcome::Good | OcspOutcome::NotChecked => {}
        }
        Ok(())
    }

    async fn connect(self: &Arc<Self>, addr: SocketAddr, node_id: NodeId) -> Result<Peer> {
        let epoch = self.peers_epoch.load(Ordering::SeqCst);
        let tls = self.tls_state();
        let slot = ReasonSlot::default();
        let config = client_config(&self.config, &tls, node_id, slot.clone())?;
        let connecting = self
            .endpoint
            .connect_with(config, addr, SERVER_NAME)
            .map_err(|e| Error::Transport {
                peer: addr,
                what: format!("cannot connect: {e}"),
            })?;
        let conn = match tokio::time::timeout(self.config.admission_timeout, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                if let Some((reason, who)) = slot.lock().take() {
                    return Err(self.refuse(Side::Outbound, addr, who, reason));
                }
                return Err(self.outbound_failure(addr, &e));
            }
            Err(_) => {
                return Err(Error::Transport {
                    peer: addr,
                    what: "handshake timed out (is the peer up?)".into(),
                })
            }
        };
        let admitted = tokio::time::timeout(
            self.config.admission_timeout,
            self.admit_outbound(&conn, &tls, node_id),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Error::Transport {
                peer: addr,
                what: "no admission within the admission timeout".into(),
            })
        });
        match admitted {
            Ok(live) => {
                self.go_live(live.clone(), &tls, epoch)?;
                Ok(Peer::new(live))
            }
            Err(e) => {
                conn.close(
                    VarInt::from_u32(CLOSE_REFUSED),
                    match &e {
                        Error::PeerRefused { reason, .. } => reason.to_string(),
                        other => other.to_string(),
                    }
                    .as_bytes(),
                );
                Err(e)
            }
        }
    }

    /// The error for an outbound connection that failed (not by our
    /// verifier): a refusal by the peer is reported, a dead link is not.
    fn outbound_failure(&self, addr: SocketAddr, e: &ConnectionError) -> Error {
        match connection_error(addr, e) {
            Error::PeerRefused { reason, .. } => self.refuse(Side::Outbound, addr, None, reason),
            other => other,
        }
    }

    /// The error for an admission whose streams failed: the peer's
    /// reason if it closed the connection. A refusing peer resets its
    /// answer stream and then closes, so the reset may come first: the
    /// close is waited for, briefly.
    async fn admission_failure(&self, conn: &quinn::Connection, what: String) -> Error {
        let addr = conn.remote_address();
        let closed = match conn.close_reason() {
            Some(ce) => Some(ce),
            None => tokio::time::timeout(ADMISSION_CLOSE_WAIT, conn.closed())
                .await
                .ok(),
        };
        match closed {
            Some(ce) => self.outbound_failure(addr, &ce),
            None => Error::Transport {
                peer: addr,
                what: format!("admission failed: {what}"),
            },
        }
    }

    async fn admit_outbound(
        &self,
        conn: &quinn::Connection,
        tls: &Arc<TlsState>,
        node_id: NodeId,
    ) -> Result<Arc<ConnShared>> {
        let addr = conn.remote_address();
        let chain = peer_chain(conn).ok_or_else(|| Error::Transport {
            peer: addr,
            what: "the peer presented no certificate".into(),
        })?;
        let identity = Identity::Node {
            cluster: tls.cluster.clone(),
            node_id,
        };
        if let Err(reason) = self.ocsp_check(&chain, tls).await {
            return Err(self.refuse(Side::Outbound, addr, Some(identity), reason));
        }
        let (mut send, mut recv) = match conn.open_bi().await {
            Ok(streams) => streams,
            Err(e) => return Err(self.admission_failure(conn, e.to_string()).await),
        };
        let hello = Hello {
            node_id: tls.node_id,
            cluster: tls.cluster.clone(),
        }
        .encode();
        let mut out = stream_header(StreamKind::Hello).to_vec();
        out.extend_from_slice(&frame_prefix(hello.len()));
        out.extend_from_slice(&hello);
        if let Err(e) = send.write_all(&out).await {
            return Err(self.admission_failure(conn, e.to_string()).await);
        }
        let _ = send.finish();
        let ack = match read_single_frame(&mut recv, 16, "hello acknowledgement").await {
            Ok(a) => a,
            Err(WireError::Link(e)) => {
                return Err(self.admission_failure(conn, e.to_string()).await)
            }
            Err(WireError::Violation(v)) => {
                return Err(Error::Protocol {
                    peer: addr,
                    violation: v,
                })
            }
        };
        let acked = decode_hello_ack(&ack).map_err(|v| Error::Protocol {
            peer: addr,
            violation: v,
        })?;
        if acked != node_id {
            return Err(self.refuse(
                Side::Outbound,
                addr,
                Some(identity),
                RefusalReason::WrongIdentity {
                    expected: node_id,
                    certificate: acked,
                },
            ));
        }
        Ok(Arc::new(ConnShared {
            conn: conn.clone(),
            info: PeerInfo {
                node_id,
                identity,
                remote: addr,
                cert_serial: CertInfo::from_der(&chain[0])
                    .map(|i| i.serial)
                    .unwrap_or_default(),
            },
            side: Side::Outbound,
            chain,
            closed_reason: Mutex::new(None),
            admitted_at: std::time::Instant::now(),
            sinks: self.sinks.clone(),
            counters: self.counters.clone(),
            config: self.config.clone(),
        }))
    }

    /// Registers an admitted connection and serves its request streams.
    ///
    /// `tls` and `epoch` are what the admission started under. A reload
    /// or a `close_peers` in between saw only the connections live at the
    /// time, so this one answers to them here, under the `live` lock that
    /// both take: checked again against reloaded material (closed and
    /// reported if it no longer passes), closed if the peers were closed.
    fn go_live(
        self: &Arc<Self>,
        live: Arc<ConnShared>,
        tls: &Arc<TlsState>,
        epoch: u64,
    ) -> Result<()> {
        let id = live.conn.stable_id();
        {
            let mut map = self.live.lock();
            if self.peers_epoch.load(Ordering::SeqCst) != epoch {
                live.conn
                    .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"not serving");
                return Err(Error::Transport {
                    peer: live.info.remote,
                    what: "the endpoint closed its connections while this one was admitted".into(),
                });
            }
            let current = self.tls_state();
            if !Arc::ptr_eq(&current, tls) {
                if let Err((reason, _)) =
                    current.verify_peer(&live.chain[0], &live.chain[1..], UnixTime::now())
                {
                    drop(map);
                    self.close_failed(&live, reason.clone());
                    return Err(Error::PeerRefused {
                        peer: live.info.remote,
                        reason,
                    });
                }
            }
            self.counters.admitted.fetch_add(1, Ordering::Relaxed);
            map.insert(id, live.clone());
        }
        let shared = self.clone();
        tokio::spawn(async move {
            while let Ok((send, recv)) = live.conn.accept_bi().await {
                let s = shared.clone();
                let l = live.clone();
                tokio::spawn(async move { s.serve_stream(l, send, recv).await });
            }
            shared.live.lock().remove(&id);
        });
        Ok(())
    }

    async fn serve_stream(
        &self,
        live: Arc<ConnShared>,
        mut send: quinn::SendStream,
        mut recv: quinn::RecvStream,
    ) {
        let timeout = self.config.request_timeout;
        let limits = self.config.limits;
        let kind = match tokio::time::timeout(timeout, read_stream_header(&mut recv)).await {
            Ok(Ok(k)) => k,
            Ok(Err(e)) => return wire_failure(&live, e),
            Err(_) => {
                live.violation(FrameError::TooSlow);
                return;
            }
        };
        let (result, limit, priority) = match kind {
            StreamKind::Urgent | StreamKind::Append => {
                let lane = if kind == StreamKind::Urgent {
                    Lane::Urgent
                } else {
                    Lane::Append
                };
                let limit = limits.for_lane(lane);
                let request = match tokio::time::timeout(
                    timeout,
                    read_single_frame(&mut recv, limit, lane_name(lane)),
                )
                .await
                {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => return wire_failure(&live, e),
                    Err(_) => {
                        live.violation(FrameError::TooSlow);
                        return;
                    }
                };
                (
                    self.service.call(live.info.clone(), lane, request).await,
                    limit,
                    lane.priority(),
                )
            }
            StreamKind::Bulk => {
                let header = match tokio::time::timeout(
                    timeout,
                    super::frame::read_frame(&mut recv, limits.bulk_header, "bulk header"),
                )
                .await
                {
                    Ok(Ok(Some(h))) => h,
                    Ok(Ok(None)) => {
                        live.violation(FrameError::MissingFrame("bulk header"));
                        return;
                    }
                    Ok(Err(e)) => return wire_failure(&live, e),
                    Err(_) => {
                        live.violation(FrameError::TooSlow);
                        return;
                    }
                };
                let header = match BulkHeader::decode(&header) {
                    Ok(h) => h,
                    Err(v) => {
                        live.violation(v);
                        return;
                    }
                };
                let body = BulkBody {
                    recv,
                    chunk_limit: limits.bulk_chunk,
                    timeout,
                    conn: live.clone(),
                };
                (
                    self.service.bulk(live.info.clone(), header, body).await,
                    limits.bulk_response,
                    super::frame::BULK_PRIORITY,
                )
            }
            StreamKind::Hello => {
                live.violation(FrameError::UnexpectedKind(kind));
                return;
            }
        };
        let _ = send.set_priority(priority);
        let (status, mut body) = match result {
            Ok(b) => (STATUS_OK, b),
            Err(e) => (STATUS_REMOTE_ERROR, e.message.into_bytes()),
        };
        if body.len() + 1 > limit as usize {
            body = format!(
                "the handler's answer of {} bytes exceeds the limit of {limit}",
                body.len()
            )
            .into_bytes();
            body.truncate(limit.saturating_sub(1) as usize);
            return write_response(&mut send, STATUS_REMOTE_ERROR, &body).await;
        }
        write_response(&mut send, status, &body).await;
    }

    /// Checks every live peer against the current material; closes failures.
    async fn recheck(&self) -> usize {
        let _m = self.maintenance.lock().await;
        self.recheck_locked().await
    }

    async fn recheck_locked(&self) -> usize {
        let tls = self.tls_state();
        let lives: Vec<Arc<ConnShared>> = {
            let mut live = self.live.lock();
            live.retain(|_, c| c.conn.close_reason().is_none());
            live.values().cloned().collect()
        };
        let now = UnixTime::now();
        let mut closed = 0;
        for c in lives {
            let verdict = match tls.verify_peer(&c.chain[0], &c.chain[1..], now) {
                Err((reason, _)) => Err(reason),
                Ok(_) => self.ocsp_check(&c.chain, &tls).await,
            };
            if let Err(reason) = verdict {
                self.close_failed(&c, reason);
                closed += 1;
            }
        }
        closed
    }

    /// Closes (and reports) a connection whose peer no longer passes.
    fn close_failed(&self, c: &ConnShared, reason: RefusalReason) {
        c.close_refused(reason);
        self.counters
            .closed_by_recheck
            .fetch_add(1, Ordering::Relaxed);
    }
}

fn lane_name(lane: Lane) -> &'static str {
    match lane {
        Lane::Urgent => "urgent request",
        Lane::Append => "append request",
    }
}

fn wire_detail(e: WireError) -> String {
    match e {
        WireError::Violation(v) => v.to_string(),
        WireError::Link(e) => e.to_string(),
    }
}

fn wire_failure(live: &ConnShared, e: WireError) {
    if let WireError::Violation(v) = e {
        live.violation(v);
    }
}

async fn write_response(send: &mut quinn::SendStream, status: u8, body: &[u8]) {
    let mut out = Vec::with_capacity(5 + body.len());
    out.extend_from_slice(&frame_prefix(body.len() + 1));
    out.push(status);
    out.extend_from_slice(body);
    if send.write_all(&out).await.is_ok() {
        let _ = send.finish();
    }
    let _ = send.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_alerts_become_typed_reasons() {
        let alert = |a: u8| {
            ConnectionError::TransportError(quinn_proto::TransportError {
                code: quinn::TransportErrorCode::crypto(a),
                frame: None,
                reason: "test".into(),
            })
        };
        assert_eq!(
            classify_handshake(&alert(116)),
            RefusalReason::NoClientCertificate
        );
        assert!(matches!(
            classify_handshake(&alert(120)),
            RefusalReason::Handshake { detail } if detail.contains("ALPN")
        ));
    }
}
