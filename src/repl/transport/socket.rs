//! The UDP socket under an endpoint, watching for datagrams that are not QUIC.
//!
//! quinn drops what it cannot parse without telling anyone; the issue asks
//! that a plaintext or non-QUIC client be refused *and reported*. This
//! wrapper passes every datagram to quinn unchanged and classifies it on
//! the way: a datagram is QUIC-shaped when
//!
//! ```text
//!   long header  (0x80 set): the fixed bit 0x40 set, a destination CID of
//!                at most 20 bytes that fits, and an Initial of version 1
//!                at least 1200 bytes long (RFC 9000 §14.1)
//!   short header (0x80 clear): the fixed bit set, and a destination CID
//!                that our keyed CID generator made (it validates CIDs by
//!                a keyed hash, so a stray datagram passes with
//!                probability 2^-40)
//! ```
//!
//! Anything else is reported as [`RefusalReason::NotQuic`], at most once a
//! second per source address (a flood must not flood the audit log).
//! Greasing of the fixed bit is turned off on our endpoints, so a real peer
//! of ours always sets it.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, ConnectionId, ConnectionIdGenerator, UdpPoller};
use quinn_proto::HashedConnectionIdGenerator;

/// Called with the source of a datagram that is not QUIC.
pub(crate) type NotQuicSink = Arc<dyn Fn(SocketAddr) + Send + Sync>;

/// Length of the CIDs our generator makes.
const CID_LEN: usize = 8;
/// Smallest short-header packet: flags, CID, one packet-number byte, and
/// the 16-byte AEAD tag.
const MIN_SHORT: usize = 1 + CID_LEN + 1 + 16;
/// Smallest datagram carrying a client's first Initial.
const MIN_INITIAL: usize = 1200;

pub(crate) struct WatchingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    cids: HashedConnectionIdGenerator,
    sink: NotQuicSink,
    last_report: Mutex<HashMap<SocketAddr, Instant>>,
}

impl fmt::Debug for WatchingSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchingSocket")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl WatchingSocket {
    /// Wraps `inner`; `cid_key` must be the key of the endpoint's CID
    /// generator.
    pub(crate) fn new(
        inner: Arc<dyn AsyncUdpSocket>,
        cid_key: u64,
        sink: NotQuicSink,
    ) -> WatchingSocket {
        WatchingSocket {
            inner,
            cids: HashedConnectionIdGenerator::from_key(cid_key),
            sink,
            last_report: Mutex::new(HashMap::new()),
        }
    }

    fn report(&self, from: SocketAddr) {
        let now = Instant::now();
        {
            let mut last = self.last_report.lock();
            if last.len() > 4096 {
                last.retain(|_, t| now.duration_since(*t) < Duration::from_secs(1));
            }
            match last.get(&from) {
                Some(t) if now.duration_since(*t) < Duration::from_secs(1) => return,
                _ => {
                    last.insert(from, now);
                }
            }
        }
        (self.sink)(from);
    }
}

/// Whether a datagram could be QUIC for this endpoint.
pub(crate) fn looks_like_quic(d: &[u8], cids: &HashedConnectionIdGenerator) -> bool {
    let Some(&first) = d.first() else {
        return false;
    };
    if first & 0x40 == 0 {
        return false;
    }
    if first & 0x80 != 0 {
        if d.len() < 7 {
            return false;
        }
        let version = u32::from_be_bytes([d[1], d[2], d[3], d[4]]);
        let dcid_len = d[5] as usize;
        if dcid_len > 20 || d.len() < 6 + dcid_len + 1 {
            return false;
        }
        let packet_type = (first >> 4) & 0x03;
        if version == 1 && packet_type == 0 && d.len() < MIN_INITIAL {
            return false;
        }
        true
    } else {
        d.len() >= MIN_SHORT
            && cids
                .validate(&ConnectionId::new(&d[1..1 + CID_LEN]))
                .is_ok()
    }
}

impl AsyncUdpSocket for WatchingSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let res = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(n)) = &res {
            for (buf, m) in bufs.iter().zip(meta.iter()).take(*n) {
                let data = &buf[..m.len.min(buf.len())];
                let stride = m.stride.max(1);
                for d in data.chunks(stride) {
                    if !looks_like_quic(d, &self.cids) {
                        self.report(m.addr);
                    }
                }
            }
        }
        res
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

/// The CID generator the endpoint uses, with the key the socket checks.
pub(crate) fn cid_generator(key: u64) -> Box<dyn ConnectionIdGenerator> {
    Box::new(HashedConnectionIdGenerator::from_key(key))
}
