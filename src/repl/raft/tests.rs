//! Fault tests of the Raft layer: in-process clusters over the in-memory
//! network, on a paused tokio clock (timeouts and delays cost no real
//! time), with a seeded nemesis (partitions, isolated leaders, dropped,
//! delayed, duplicated and reordered messages, crashes with restart).
//!
//! Checked in every run:
//! - election safety: at most one leader per term, seen by any node;
//! - linearizability of the client history (a register per key, unique
//!   written values; writes whose outcome is unknown may or may not have
//!   happened, failed ones must not have);
//! - after healing: every node converges to the same applied index and the
//!   same data, and logs agree on every index two nodes both hold;
//! - a restarted node never applies less than it had before its crash.
//!
//! `SEALDB_RAFT_RUNS` sets the number of seeded runs of the random test
//! (CI default below; thousands for a long campaign), `SEALDB_RAFT_SEED`
//! replays one seed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::mem_network::{Faults, MemNetwork};
use super::node::RaftNode;
use super::snapshot::is_node_local;
use super::state_machine::last_write_at;
use super::types::{Command, NodeId};
use super::ReplicationOptions;
use crate::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider};
use crate::error::Error;
use crate::storage::{Direction, Engine, StorageOptions, WriteBatch};
use crate::txn::TxnManager;
use crate::vfs::{KeyOptions, MemVfs, Vfs};

/// A tiny seeded generator for the nemesis and the clients.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct TestNode {
    vfs: MemVfs,
    provider: Arc<dyn KeyProvider>,
    node: Option<Arc<RaftNode>>,
    mgr: Option<Arc<TxnManager>>,
    /// Applied index when it last went down (it must not come back lower).
    applied_at_crash: Option<u64>,
}

struct Cluster {
    net: MemNetwork,
    nodes: BTreeMap<NodeId, TestNode>,
    members: Vec<(NodeId, String)>,
    tweak: fn(&mut ReplicationOptions),
    leaders: Arc<Mutex<HashMap<u64, NodeId>>>,
    violations: Arc<Mutex<Vec<String>>>,
}

const DIR: &str = "/store";

/// A node's replicated rows, in key order.
type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Where a client sends its operations.
type Target = (Arc<RaftNode>, Arc<TxnManager>);

fn fast(opts: &mut ReplicationOptions) {
    opts.heartbeat = Duration::from_millis(50);
    opts.election_timeout = (Duration::from_millis(150), Duration::from_millis(400));
    opts.timeout = Duration::from_secs(3);
    opts.snapshot_every = 40;
    opts.keep_log = 10;
    opts.snapshot_chunk_bytes = 2048;
}

impl Cluster {
    async fn new(seed: u64, voters: u64, tweak: fn(&mut ReplicationOptions)) -> Cluster {
        let members: Vec<(NodeId, String)> =
            (1..=voters).map(|i| (i, format!("node-{i}"))).collect();
        let mut c = Cluster {
            net: MemNetwork::new(seed),
            nodes: BTreeMap::new(),
            members,
            tweak,
            leaders: Arc::default(),
            violations: Arc::default(),
        };
        // Real nodes start at different moments; on a paused clock,
        // nodes started together would tick (and time out) in lockstep.
        let mut rng = Rng(seed);
        for i in 1..=voters {
            tokio::time::sleep(Duration::from_micros(rng.below(50_000))).await;
            c.add_node(i, true).await;
        }
        c
    }

    async fn add_node(&mut self, id: NodeId, founding: bool) {
        let key = KeyBytes::random(32).expect("key");
        let provider: Arc<dyn KeyProvider> =
            Arc::new(MemoryKeyProvider::new(key).expect("provider"));
        self.nodes.insert(
            id,
            TestNode {
                vfs: MemVfs::new(),
                provider,
                node: None,
                mgr: None,
                applied_at_crash: None,
            },
        );
        self.start(id, founding).await;
    }

    async fn start(&mut self, id: NodeId, founding: bool) {
        let mut opts = ReplicationOptions::new(id, format!("node-{id}"), self.net.transport(id));
        (self.tweak)(&mut opts);
        if founding {
            opts.initial_members = self.members.clone();
        }
        let tn = self.nodes.get_mut(&id).expect("node");
        let vfs: Arc<dyn Vfs> = Arc::new(tn.vfs.clone());
        let storage = StorageOptions {
            memtable_bytes: 64 << 10,
            ..StorageOptions::default()
        };
        let data = Engine::open(
            vfs.clone(),
            PathBuf::from(DIR),
            tn.provider.clone(),
            KeyOptions::default(),
            storage.clone(),
        )
        .expect("open data");
        let log = Engine::open(
            vfs,
            PathBuf::from(DIR).join(super::node::RAFT_DIR),
            tn.provider.clone(),
            KeyOptions::default(),
            storage,
        )
        .expect("open log");
        let mgr = TxnManager::new(Arc::new(data));
        let node = RaftNode::start(
            Arc::new(log),
            mgr.clone(),
            opts,
            tokio::runtime::Handle::current(),
        )
        .await
        .expect("start node");
        if let Some(before) = tn.applied_at_crash {
            let now = node.stored_applied().unwrap_or(0);
            if now < before {
                self.violations.lock().push(format!(
                    "node {id} restarted with applied index {now} < {before} before its crash"
                ));
            }
        }
        // Election safety: record every (term, leader) any node reports.
        let raft = node.raft_handle();
        let leaders = self.leaders.clone();
        let violations = self.violations.clone();
        tokio::spawn(async move {
            let mut rx = raft.metrics();
            loop {
                {
                    let m = rx.borrow().clone();
                    if m.state == openraft::ServerState::Leader {
                        let mut l = leaders.lock();
                        // Standard Raft (openraft's single-term-leader):
                        // one leader per term.
                        let prev = *l.entry(m.current_term).or_insert(m.id);
                        if prev != m.id {
                            violations.lock().push(format!(
                                "two leaders in term {}: {prev} and {}",
                                m.current_term, m.id
                            ));
                        }
                    }
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        });
        tn.node = Some(node);
        tn.mgr = Some(mgr);
    }

    /// Power loss on node `id`: unsynced bytes are lost, then it restarts.
    async fn crash_restart(&mut self, id: NodeId) {
        let tn = self.nodes.get_mut(&id).expect("node");
        if let Some(node) = tn.node.take() {
            tn.applied_at_crash = node.status().applied_index;
            node.shutdown_async().await;
        }
        tn.mgr = None;
        tn.vfs.crash();
        // Let the stopped tasks drop their engines before the reopen.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.start(id, false).await;
    }

    fn live(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.node.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    fn node(&self, id: NodeId) -> (Arc<RaftNode>, Arc<TxnManager>) {
        let tn = &self.nodes[&id];
        (
            tn.node.clone().expect("live node"),
            tn.mgr.clone().expect("live node"),
        )
    }

    fn leader(&self) -> Option<NodeId> {
        self.live().into_iter().find(|id| {
            let (n, _) = self.node(*id);
            n.status().leader == Some(*id)
        })
    }

    async fn wait_leader(&self, within: Duration) -> Option<NodeId> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Some(l) = self.leader() {
                return Some(l);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Waits until every live node applied the leader's last log index.
    async fn converge(&self, within: Duration) -> Result<(), String> {
        let end = Instant::now() + within;
        loop {
            if let Some(l) = self.leader() {
                let (ln, _) = self.node(l);
                let target = ln.status().last_log_index;
                let all = self
                    .live()
                    .iter()
                    .all(|id| self.node(*id).0.status().applied_index >= target);
                if all && target.is_some() {
                    return Ok(());
                }
            }
            if Instant::now() >= end {
                let st: Vec<String> = self
                    .live()
                    .iter()
                    .map(|id| format!("{:?}", self.node(*id).0.status()))
                    .collect();
                return Err(format!("no convergence: {}", st.join("\n")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every live node holds the same replicated data, and logs agree.
    fn check_same_state(&self) -> Result<(), String> {
        let mut first: Option<(NodeId, Rows)> = None;
        for id in self.live() {
            let (_, mgr) = self.node(id);
            let rows: Rows = mgr
                .engine()
                .iter(.., Direction::Forward, None)
                .expect("iter")
                .map(|kv| kv.expect("row"))
                .filter(|(k, _)| !is_node_local(k))
                .collect();
            match &first {
                None => first = Some((id, rows)),
                Some((fid, frows)) => {
                    if *frows != rows {
                        return Err(format!(
                            "nodes {fid} and {id} hold different data ({} vs {} rows)",
                            frows.len(),
                            rows.len()
                        ));
                    }
                }
            }
        }
        // Log matching: an index both logs hold has the same log id.
        let mut seen: HashMap<u64, (NodeId, openraft::LogId<NodeId>)> = HashMap::new();
        for id in self.live() {
            let (n, _) = self.node(id);
            let st = n.status();
            let from = st.purged_index.map_or(0, |p| p + 1);
            let to = st.last_log_index.map_or(0, |l| l + 1);
            for e in n.log_entries(from, to).map_err(|e| e.to_string())? {
                match seen.get(&e.log_id.index) {
                    Some((other, lid)) if *lid != e.log_id => {
                        return Err(format!(
                            "logs of nodes {other} and {id} differ at index {}",
                            e.log_id.index
                        ));
                    }
                    _ => {
                        seen.insert(e.log_id.index, (id, e.log_id));
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum OpKind {
    Write(String),
    Read(Option<String>),
}

#[derive(Clone, Debug)]
struct Op {
    kind: OpKind,
    invoke: Instant,
    /// `None`: the outcome is unknown (a write that may have happened).
    complete: Option<Instant>,
}

type History = Arc<Mutex<HashMap<String, Vec<Op>>>>;

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    Failed,
    Unknown,
}

/// A one-key transaction as sealdb's would send it: the batch and the
/// last write its snapshot saw.
async fn write(node: &Arc<RaftNode>, mgr: &Arc<TxnManager>, key: &str, value: &str) -> Outcome {
    let engine = mgr.engine().clone();
    let snap = engine.snapshot();
    let base = match last_write_at(&engine, &snap) {
        Ok(b) => b,
        Err(_) => return Outcome::Failed,
    };
    let mut batch = WriteBatch::new();
    batch.put(key.as_bytes().to_vec(), value.as_bytes().to_vec());
    match node
        .clone()
        .propose_async(Command::Write { base, batch })
        .await
    {
        Ok(_) => Outcome::Ok,
        Err(Error::Conflict | Error::NotLeader { .. } | Error::Unavailable { .. }) => {
            Outcome::Failed
        }
        Err(_) => Outcome::Unknown,
    }
}

async fn read(node: &Arc<RaftNode>, mgr: &Arc<TxnManager>, key: &str) -> Option<Option<String>> {
    node.linearizable_async().await.ok()?;
    let v = mgr.engine().get(key.as_bytes()).ok()?;
    Some(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Wing & Gong's search for a linearization of one register's history
/// (initial value: absent), memoized on (linearized set, value).
fn linearizable(ops: &[Op]) -> Result<(), String> {
    assert!(ops.len() <= 128, "history too long for the checker");
    let must: u128 = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.complete.is_some())
        .fold(0, |m, (i, _)| m | (1 << i));
    let mut memo: HashSet<(u128, Option<usize>)> = HashSet::new();
    fn value_of(ops: &[Op], w: Option<usize>) -> Option<&str> {
        w.and_then(|i| match &ops[i].kind {
            OpKind::Write(v) => Some(v.as_str()),
            OpKind::Read(_) => None,
        })
    }
    fn go(
        ops: &[Op],
        done: u128,
        cur: Option<usize>,
        must: u128,
        memo: &mut HashSet<(u128, Option<usize>)>,
    ) -> bool {
        if done & must == must {
            return true;
        }
        if !memo.insert((done, cur)) {
            return false;
        }
        let horizon = ops
            .iter()
            .enumerate()
            .filter(|(i, _)| done & (1 << i) == 0)
            .filter_map(|(_, o)| o.complete)
            .min();
        for (i, o) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || horizon.is_some_and(|h| o.invoke > h) {
                continue;
            }
            let next = match &o.kind {
                OpKind::Write(_) => Some(i),
                OpKind::Read(v) => {
                    if v.as_deref() != value_of(ops, cur) {
                        continue;
                    }
                    cur
                }
            };
            if go(ops, done | (1 << i), next, must, memo) {
                return true;
            }
        }
        false
    }
    if go(ops, 0, None, must, &mut memo) {
        Ok(())
    } else {
        Err(format!("not linearizable: {ops:#?}"))
    }
}

fn runs() -> u64 {
    std::env::var("SEALDB_RAFT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// One seeded run: 5 voters, 3 clients on random nodes, a nemesis.
async fn random_run(seed: u64) -> Result<String, String> {
    let mut rng = Rng(seed ^ 0x005E_A1DB);
    let mut c = Cluster::new(seed, 5, fast).await;
    if c.wait_leader(Duration::from_secs(5)).await.is_none() {
        let st: Vec<String> = c
            .live()
            .iter()
            .map(|id| {
                let s = c.node(*id).0.status();
                let v = c.node(*id).0.raft_handle().metrics().borrow().vote;
                format!(
                    "{id}: {} term {} vote {v} log {:?}",
                    s.role, s.term, s.last_log_index
                )
            })
            .collect();
        return Err(format!("no first leader: {}", st.join("; ")));
    }
    let history: History = Arc::default();
    let keys = ["a", "b", "c"];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let targets: Arc<Mutex<Vec<Target>>> = Arc::new(Mutex::new(
        c.live().into_iter().map(|id| c.node(id)).collect(),
    ));
    let mut clients = Vec::new();
    for client in 0..3u64 {
        let history = history.clone();
        let stop = stop.clone();
        let targets = targets.clone();
        let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(client));
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 14 {
                n += 1;
                let key = keys[rng.below(keys.len() as u64) as usize];
                let (node, mgr) = {
                    let t = targets.lock();
                    t[rng.below(t.len() as u64) as usize].clone()
                };
                let invoke = Instant::now();
                let op = if rng.below(2) == 0 {
                    let v = format!("{client}.{n}");
                    match write(&node, &mgr, key, &v).await {
                        Outcome::Ok => Some(Op {
                            kind: OpKind::Write(v),
                            invoke,
                            complete: Some(Instant::now()),
                        }),
                        Outcome::Unknown => Some(Op {
                            kind: OpKind::Write(v),
                            invoke,
                            complete: None,
                        }),
                        Outcome::Failed => None,
                    }
                } else {
                    read(&node, &mgr, key).await.map(|v| Op {
                        kind: OpKind::Read(v),
                        invoke,
                        complete: Some(Instant::now()),
                    })
                };
                if let Some(op) = op {
                    history.lock().entry(key.to_string()).or_default().push(op);
                }
                tokio::time::sleep(Duration::from_millis(rng.below(80))).await;
            }
        }));
    }
    // The nemesis.
    let mut actions = Vec::new();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(200 + rng.below(400))).await;
        let live = c.live();
        match rng.below(7) {
            0 | 1 => {
                c.net.heal();
                actions.push("heal".to_string());
            }
            2 => {
                let k = 1 + rng.below(live.len() as u64 - 1) as usize;
                let mut side: Vec<NodeId> = live.clone();
                for i in (1..side.len()).rev() {
                    side.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let (a, b) = side.split_at(k);
                c.net.partition(&[a, b]);
                actions.push(format!("partition {a:?}|{b:?}"));
            }
            3 => {
                if let Some(l) = c.leader() {
                    let others: Vec<NodeId> = live.iter().copied().filter(|x| *x != l).collect();
                    c.net.isolate(l, &others);
                    actions.push(format!("isolate leader {l}"));
                }
            }
            4 => {
                let f = Faults {
                    drop_request: rng.below(20) as f64 / 100.0,
                    drop_answer: rng.below(20) as f64 / 100.0,
                    duplicate: rng.below(20) as f64 / 100.0,
                    delay: (Duration::ZERO, Duration::from_millis(rng.below(40))),
                };
                actions.push(format!("faults {f:?}"));
                c.net.set_faults(f);
            }
            5 => {
                c.net.set_faults(Faults::default());
                actions.push("no faults".to_string());
            }
            _ => {
                let victim = live[rng.below(live.len() as u64) as usize];
                c.crash_restart(victim).await;
                *targets.lock() = c.live().into_iter().map(|id| c.node(id)).collect();
                actions.push(format!("crash+restart {victim}"));
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in clients {
        let _ = h.await;
    }
    c.net.heal();
    c.net.set_faults(Faults::default());
    c.wait_leader(Duration::from_secs(10))
        .await
        .ok_or_else(|| format!("no leader after healing; actions {actions:?}"))?;
    // Final reads through every node close each key's history.
    for key in keys {
        for id in c.live() {
            let (node, mgr) = c.node(id);
            let invoke = Instant::now();
            if let Some(v) = read(&node, &mgr, key).await {
                history.lock().entry(key.to_string()).or_default().push(Op {
                    kind: OpKind::Read(v),
                    invoke,
                    complete: Some(Instant::now()),
                });
            }
        }
    }
    c.converge(Duration::from_secs(10))
        .await
        .map_err(|e| format!("{e}; actions {actions:?}"))?;
    c.check_same_state()
        .map_err(|e| format!("{e}; actions {actions:?}"))?;
    let v = c.violations.lock().clone();
    if !v.is_empty() {
        return Err(format!("{v:?}; actions {actions:?}"));
    }
    let mut ops = 0;
    for (key, h) in history.lock().iter() {
        ops += h.len();
        linearizable(h).map_err(|e| format!("key {key}: {e}; actions {actions:?}"))?;
    }
    for id in c.live() {
        c.node(id).0.shutdown_async().await;
    }
    Ok(format!("{ops} ops, {} actions", actions.len()))
}

#[test]
fn seeded_fault_runs_are_safe_and_linearizable() {
    let seeds: Vec<u64> = match std::env::var("SEALDB_RAFT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => vec![s],
        None => (1..=runs()).collect(),
    };
    let mut total_ops = 0usize;
    for seed in seeds {
        let rt = paused_runtime();
        match rt.block_on(random_run(seed)) {
            Ok(summary) => {
                total_ops += summary
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
            }
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    assert!(total_ops > 0, "the runs recorded no operations");
}

#[test]
fn the_checker_rejects_a_stale_read() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let ok = vec![
        Op {
            kind: OpKind::Write("1".into()),
            invoke: at(0),
            complete: Some(at(10)),
        },
        Op {
            kind: OpKind::Read(Some("1".into())),
            invoke: at(20),
            complete: Some(at(30)),
        },
    ];
    assert!(linearizable(&ok).is_ok());
    let mut stale = ok.clone();
    stale[1].kind = OpKind::Read(None);
    assert!(linearizable(&stale).is_err());
    // An unknown write may or may not have happened.
    let mut unknown = ok.clone();
    unknown[0].complete = None;
    assert!(linearizable(&unknown).is_ok());
    unknown[1].kind = OpKind::Read(None);
    assert!(linearizable(&unknown).is_ok());
}

#[test]
fn a_minority_cannot_commit_and_a_majority_keeps_every_acknowledged_write() {
    paused_runtime().block_on(async {
        let c = Cluster::new(7, 5, fast).await;
        let leader = c.wait_leader(Duration::from_secs(5)).await.expect("leader");
        let (ln, lm) = c.node(leader);
        let mut acked = Vec::new();
        for i in 0..10 {
            let v = format!("before-{i}");
            assert_eq!(write(&ln, &lm, &format!("k{i}"), &v).await, Outcome::Ok);
            acked.push((format!("k{i}"), v));
        }
        // The leader and one follower on one side, three on the other.
        let others: Vec<NodeId> = c.live().into_iter().filter(|x| *x != leader).collect();
        let minority = [leader, others[0]];
        let majority = &others[1..];
        c.net.partition(&[&minority, majority]);
        let r = write(&ln, &lm, "minority", "lost").await;
        assert_ne!(r, Outcome::Ok, "a minority committed a write");
        // The majority elects a leader and commits.
        let end = Instant::now() + Duration::from_secs(5);
        let new_leader = loop {
            let l = majority
                .iter()
                .copied()
                .find(|id| c.node(*id).0.status().leader == Some(*id));
            if let Some(l) = l {
                break l;
            }
            assert!(Instant::now() < end, "the majority elected no leader");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let (nn, nm) = c.node(new_leader);
        assert_eq!(write(&nn, &nm, "majority", "kept").await, Outcome::Ok);
        acked.push(("majority".into(), "kept".into()));
        c.net.heal();
        c.wait_leader(Duration::from_secs(5)).await.expect("leader");
        c.converge(Duration::from_secs(10)).await.expect("converge");
        c.check_same_state().expect("same state");
        for id in c.live() {
            let (n, m) = c.node(id);
            for (k, v) in &acked {
                assert_eq!(
                    read(&n, &m, k).await,
                    Some(Some(v.clone())),
                    "node {id} key {k}"
                );
            }
            assert_eq!(read(&n, &m, "minority").await, Some(None), "node {id}");
        }
        assert!(c.violations.lock().is_empty(), "{:?}", c.violations.lock());
    });
}

#[test]
fn a_stale_transaction_is_refused_on_every_node() {
    paused_runtime().block_on(async {
        let c = Cluster::new(11, 3, fast).await;
        let leader = c.wait_leader(Duration::from_secs(5)).await.expect("leader");
        let (ln, lm) = c.node(leader);
        let engine = lm.engine().clone();
        let old = engine.snapshot();
        assert_eq!(write(&ln, &lm, "x", "1").await, Outcome::Ok);
        // A transaction that read before "x = 1" committed.
        let base = last_write_at(&engine, &old).expect("base");
        let mut batch = WriteBatch::new();
        batch.put(b"x".to_vec(), b"stale".to_vec());
        let r = ln
            .clone()
            .propose_async(Command::Write { base, batch })
            .await;
        assert!(matches!(r, Err(Error::Conflict)), "{r:?}");
        c.converge(Duration::from_secs(5)).await.expect("converge");
        c.check_same_state().expect("same state");
        for id in c.live() {
            let (n, m) = c.node(id);
            assert_eq!(read(&n, &m, "x").await, Some(Some("1".into())));
        }
    });
}

#[test]
fn an_offline_learner_catches_up_by_snapshot_after_the_log_was_purged() {
    paused_runtime().block_on(async {
        let mut c = Cluster::new(13, 3, fast).await;
        let leader = c.wait_leader(Duration::from_secs(5)).await.expect("leader");
        // The learner joins, then goes offline.
        c.add_node(4, false).await;
        let (ln, lm) = c.node(leader);
        ln.raft_handle()
            .add_learner(
                4,
                super::types::Member {
                    address: "node-4".into(),
                },
                true,
            )
            .await
            .expect("add learner");
        c.net.isolate(4, &[1, 2, 3]);
        for i in 0..150 {
            assert_eq!(
                write(&ln, &lm, &format!("k{}", i % 37), &format!("v{i}")).await,
                Outcome::Ok
            );
        }
        // Snapshots are built and logs purged in the background.
        let end = Instant::now() + Duration::from_secs(10);
        while ln.status().purged_index.unwrap_or(0) < 100 && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let purged = ln.status().purged_index.unwrap_or(0);
        assert!(purged > 10, "the leader purged its log: {:?}", ln.status());
        let learner_applied = c.node(4).0.status().applied_index.unwrap_or(0);
        assert!(
            learner_applied < purged,
            "the learner must need purged entries"
        );
        c.net.heal();
        c.converge(Duration::from_secs(20))
            .await
            .expect("learner caught up");
        let st = c.node(4).0.status();
        assert!(
            st.snapshot_index.unwrap_or(0) >= purged,
            "the learner installed a snapshot: {st:?}"
        );
        c.check_same_state().expect("same state");
        let (n4, m4) = c.node(4);
        // The learner serves linearizable reads through the leader.
        assert_eq!(read(&n4, &m4, "k0").await, Some(Some("v148".into())));
    });
}

#[test]
fn a_restarted_node_keeps_what_it_applied() {
    paused_runtime().block_on(async {
        let mut c = Cluster::new(17, 3, fast).await;
        let leader = c.wait_leader(Duration::from_secs(5)).await.expect("leader");
        let (ln, lm) = c.node(leader);
        for i in 0..60 {
            assert_eq!(
                write(&ln, &lm, &format!("k{}", i % 7), &format!("v{i}")).await,
                Outcome::Ok
            );
        }
        c.converge(Duration::from_secs(5)).await.expect("converge");
        for id in c.live() {
            c.crash_restart(id).await;
        }
        assert!(c.violations.lock().is_empty(), "{:?}", c.violations.lock());
        c.wait_leader(Duration::from_secs(5))
            .await
            .expect("leader after restart");
        c.converge(Duration::from_secs(5)).await.expect("converge");
        c.check_same_state().expect("same state");
        let l = c.leader().expect("leader");
        let (n, m) = c.node(l);
        assert_eq!(read(&n, &m, "k3").await, Some(Some("v59".into())));
    });
}
