//! An in-memory network for Raft nodes in one process, with a seeded
//! fault router: partitions, dropped requests and answers, delays (hence
//! reordering) and duplicated requests.
//!
//! ```text
//!   node A ──call(to B)──► router: partitioned? drop? ─► delay ─► B.handle
//!                                       duplicate? ──► B.handle again, answer discarded
//!   node A ◄──answer────── router: answer dropped? partitioned now? ◄─ delay
//! ```
//!
//! Every random choice comes from one seeded generator, so a failing run
//! names its seed. The delays use tokio's clock: under a paused test
//! runtime they cost no real time. Bytes pass through unchanged (the
//! codec is exercised end to end); a node's id is the one its endpoint
//! was made for, as a real transport proves it by certificate.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::network::{BoxFuture, ClusterTransport, Lane, RequestHandler};
use super::types::NodeId;
use crate::error::{Error, Result};

/// Fault rates of the router (all zero: a perfect network).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability that a request is lost.
    pub drop_request: f64,
    /// Probability that an answer is lost (the request did take effect).
    pub drop_answer: f64,
    /// Probability that a request is delivered twice.
    pub duplicate: f64,
    /// Each way, a delay drawn uniformly from this range.
    pub delay: (Duration, Duration),
}

struct Router {
    rng: u64,
    faults: Faults,
    /// Unordered pairs that cannot talk.
    cut: BTreeSet<(NodeId, NodeId)>,
    delivered: u64,
    dropped: u64,
    duplicated: u64,
}

impl Router {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn delay(&mut self) -> Duration {
        let (lo, hi) = self.faults.delay;
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo).as_micros() as u64;
        lo + Duration::from_micros(self.next() % (span + 1))
    }

    fn is_cut(&self, a: NodeId, b: NodeId) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }
}

struct Inner {
    nodes: Mutex<HashMap<NodeId, Arc<dyn RequestHandler>>>,
    router: Mutex<Router>,
}

/// The in-memory network (cheap to clone; clones are the same network).
#[derive(Clone)]
pub struct MemNetwork {
    inner: Arc<Inner>,
}

/// Counts of what the router did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// Requests delivered.
    pub delivered: u64,
    /// Requests or answers dropped (faults and partitions).
    pub dropped: u64,
    /// Requests delivered twice.
    pub duplicated: u64,
}

impl MemNetwork {
    /// A perfect network whose later faults draw from `seed`.
    pub fn new(seed: u64) -> MemNetwork {
        MemNetwork {
            inner: Arc::new(Inner {
                nodes: Mutex::new(HashMap::new()),
                router: Mutex::new(Router {
                    rng: seed,
                    faults: Faults::default(),
                    cut: BTreeSet::new(),
                    delivered: 0,
                    dropped: 0,
                    duplicated: 0,
                }),
            }),
        }
    }

    /// The endpoint of node `node` (give it to that node's options).
    pub fn transport(&self, node: NodeId) -> Arc<dyn ClusterTransport> {
        Arc::new(Endpoint {
            net: self.clone(),
            node,
        })
    }

    /// Sets the fault rates.
    pub fn set_faults(&self, faults: Faults) {
        self.inner.router.lock().faults = faults;
    }

    /// Splits the nodes into groups that cannot reach each other (nodes in
    /// no group keep their links).
    pub fn partition(&self, groups: &[&[NodeId]]) {
        let mut r = self.inner.router.lock();
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for x in a.iter() {
                    for y in b.iter() {
                        r.cut.insert(((*x).min(*y), (*x).max(*y)));
                    }
                }
            }
        }
    }

    /// Cuts `node` off from `others`.
    pub fn isolate(&self, node: NodeId, others: &[NodeId]) {
        self.partition(&[&[node], others]);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.inner.router.lock().cut.clear();
    }

    /// What the router did so far.
    pub fn stats(&self) -> RouterStats {
        let r = self.inner.router.lock();
        RouterStats {
            delivered: r.delivered,
            dropped: r.dropped,
            duplicated: r.duplicated,
        }
    }

    fn deliver(
        &self,
        from: NodeId,
        to: NodeId,
        lane: Lane,
        req: Vec<u8>,
    ) -> BoxFuture<Result<Vec<u8>>> {
        let net = self.clone();
        Box::pin(async move {
            let unreachable = || Error::Unavailable {
                what: format!("node {to} is unreachable from node {from}"),
            };
            let (lost, twice, there) = {
                let mut r = net.inner.router.lock();
                let lost = r.is_cut(from, to) || {
                    let p = r.faults.drop_request;
                    r.chance(p)
                };
                let p = r.faults.duplicate;
                let twice = !lost && r.chance(p);
                let there = r.delay();
                if lost {
                    r.dropped += 1;
                } else {
                    r.delivered += 1;
                }
                if twice {
                    r.duplicated += 1;
                }
                (lost, twice, there)
            };
            tokio::time::sleep(there).await;
            if lost {
                return Err(unreachable());
            }
            let handler = net.inner.nodes.lock().get(&to).cloned();
            let Some(handler) = handler else {
                return Err(unreachable());
            };
            if twice {
                let again = handler.clone();
                let copy = req.clone();
                let later = net.inner.router.lock().delay();
                tokio::spawn(async move {
                    tokio::time::sleep(later).await;
                    let _ = again.handle(from, lane, copy).await;
                });
            }
            let answer = handler.handle(from, lane, req).await;
            let (lost, back) = {
                let mut r = net.inner.router.lock();
                let lost = r.is_cut(from, to) || {
                    let p = r.faults.drop_answer;
                    r.chance(p)
                };
                if lost {
                    r.dropped += 1;
                }
                (lost, r.delay())
            };
            tokio::time::sleep(back).await;
            if lost {
                return Err(unreachable());
            }
            answer
        })
    }
}

struct Endpoint {
    net: MemNetwork,
    node: NodeId,
}

impl ClusterTransport for Endpoint {
    fn call(
        &self,
        to: NodeId,
        _address: &str,
        lane: Lane,
        request: Vec<u8>,
    ) -> BoxFuture<Result<Vec<u8>>> {
        let serving = self.net.inner.nodes.lock().contains_key(&self.node);
        if !serving {
            let node = self.node;
            return Box::pin(async move {
                Err(Error::Unavailable {
                    what: format!("node {node} is not on the network"),
                })
            });
        }
        self.net.deliver(self.node, to, lane, request)
    }

    fn serve(&self, handler: Arc<dyn RequestHandler>) -> Result<()> {
        self.net.inner.nodes.lock().insert(self.node, handler);
        Ok(())
    }

    fn shutdown(&self) {
        self.net.inner.nodes.lock().remove(&self.node);
    }
}
