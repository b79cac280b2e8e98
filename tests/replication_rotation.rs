//! Certificate rotation while a three-node cluster commits, over real QUIC
//! with mutual TLS on 127.0.0.1 (certificates by `sealdb::repl::cert`).
//!
//! A writer commits rows without pause while, node by node, each node's
//! certificate and key are replaced and reloaded; then the CA is rotated
//! the documented way: a bundle of the old and the new CA (and both CRLs)
//! on every node, each node re-issued under the new CA one by one, then
//! the old CA (and its CRL) dropped. After each step the reloaded node's
//! connections are dropped, so the next ones are made with what it just
//! loaded. Every step must see new commits; at the end every node holds
//! every acknowledged row and no row that was never written, the live
//! connections present certificates of the new CA, and a node still
//! holding an old-CA certificate is refused.
//!
//! Robust on a loaded machine: progress is awaited with generous
//! timeouts, nothing is timed.

mod transport_common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sealdb::repl::cert::read_cert;
use sealdb::repl::transport::{Endpoint, EndpointConfig, NoService, TlsFiles, ALPN};
use sealdb::repl::{CertInfo, RefusalReason};
use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, QuicTransport, ReplicationOptions, Role};
use transport_common::{raw, Recorder, TestCa};

const CLUSTER: &str = "rotation";

struct Node {
    id: u64,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    transport: Arc<QuicTransport>,
    refusals: Recorder,
    db: Db,
}

impl Node {
    fn tls(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    fn files(&self) -> TlsFiles {
        files_in(&self.tls())
    }
}

/// The files a node's endpoint loads (and reloads): fixed paths whose
/// contents the operator replaces.
fn files_in(tls: &Path) -> TlsFiles {
    TlsFiles {
        cert: tls.join("node.crt"),
        key: tls.join("node.key"),
        ca: tls.join("ca-bundle.crt"),
        crls: vec![tls.join("crls.pem")],
    }
}

/// Replaces `to` with `bytes` the way an operator's tool should: a new
/// file renamed over the old, so a reload never sees half a file.
fn put(to: &Path, bytes: &[u8]) {
    let tmp = to.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, to).expect("rename");
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).expect("read")
}

fn concat(parts: &[&Path]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&read(p));
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    out
}

/// Issues node `id` a fresh certificate and key from `ca` and installs
/// them in `tls`.
fn issue(ca: &TestCa, id: u64, tls: &Path) {
    ca.node(id);
    put(&tls.join("node.key"), &read(&ca.certs.node_key(id)));
    put(&tls.join("node.crt"), &read(&ca.certs.node_cert(id)));
}

/// Trusts exactly `cas` (their certificates and CRLs).
fn trust(cas: &[&TestCa], tls: &Path) {
    let certs: Vec<PathBuf> = cas.iter().map(|c| c.certs.ca_cert()).collect();
    let crls: Vec<PathBuf> = cas.iter().map(|c| c.certs.crl()).collect();
    put(
        &tls.join("ca-bundle.crt"),
        &concat(&certs.iter().map(|p| p.as_path()).collect::<Vec<_>>()),
    );
    put(
        &tls.join("crls.pem"),
        &concat(&crls.iter().map(|p| p.as_path()).collect::<Vec<_>>()),
    );
}

fn serial(cert: &Path) -> Vec<u8> {
    CertInfo::from_der(&read_cert(cert).expect("cert"))
        .expect("parse")
        .serial
}

fn start(ca: &TestCa, id: u64) -> (tempfile::TempDir, Arc<QuicTransport>, Recorder) {
    let dir = tempfile::tempdir().expect("dir");
    let tls = dir.path().join("tls");
    std::fs::create_dir_all(&tls).expect("mkdir");
    issue(ca, id, &tls);
    trust(&[ca], &tls);
    let mut c = EndpointConfig::new("127.0.0.1:0".parse().expect("addr"), files_in(&tls));
    c.idle_timeout = Duration::from_secs(5);
    c.keep_alive = Duration::from_secs(1);
    let refusals = Recorder::default();
    let t = QuicTransport::start(c, Some(refusals.hook())).expect("start transport");
    (dir, t, refusals)
}

fn cluster(ca: &TestCa) -> Vec<Node> {
    let started: Vec<_> = (1..=3).map(|id| (id, start(ca, id))).collect();
    let members: Vec<(u64, String)> = started
        .iter()
        .map(|(id, (_, t, _))| (*id, t.local_addr().expect("addr").to_string()))
        .collect();
    started
        .into_iter()
        .map(|(id, (dir, transport, refusals))| {
            let addr = transport.local_addr().expect("addr");
            let mut r = ReplicationOptions::new(id, addr.to_string(), transport.clone());
            r.initial_members = members.clone();
            r.timeout = Duration::from_secs(10);
            r.runtime = Some(transport.runtime());
            let key: Vec<u8> = (0..32).map(|i| (i as u8) ^ (id as u8 * 31)).collect();
            let provider = MemoryKeyProvider::new(KeyBytes::from_slice(&key)).expect("provider");
            let options = Options {
                replication: Some(r),
                storage: StorageOptions {
                    sync: SyncMode::Normal,
                    ..StorageOptions::default()
                },
                ..Options::default()
            };
            let db = Db::open_with(dir.path().join("db"), provider, options).expect("open");
            Node {
                id,
                dir,
                addr,
                transport,
                refusals,
                db,
            }
        })
        .collect()
}

/// Waits until the nodes agree on a leader.
fn wait_leader(nodes: &[Node]) -> u64 {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let leaders: Vec<Option<u64>> = nodes
            .iter()
            .map(|n| n.db.cluster().expect("cluster").status().leader)
            .collect();
        if let Some(Some(l)) = leaders.first() {
            let leads = nodes
                .iter()
                .find(|n| n.id == *l)
                .is_some_and(|n| n.db.cluster().expect("c").status().role == Role::Leader);
            if leads && leaders.iter().all(|x| *x == Some(*l)) {
                return *l;
            }
        }
        assert!(Instant::now() < end, "no leader agreed: {leaders:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the writer did.
#[derive(Default)]
struct History {
    acked: BTreeSet<i64>,
    attempted: BTreeSet<i64>,
    errors: Vec<String>,
}

/// Inserts rows 1, 2, 3, ... one transaction each, on whichever node the
/// cluster says leads (a follower would forward), until `stop`.
fn writer(
    dbs: Vec<(u64, Db)>,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    history: Arc<Mutex<History>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut next = 1i64;
        let mut target = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let leader = dbs[target].1.cluster().expect("c").status().leader;
            if let Some(i) = leader.and_then(|l| dbs.iter().position(|(id, _)| *id == l)) {
                target = i;
            }
            let s = dbs[target].1.root_session();
            history.lock().attempted.insert(next);
            match s.execute("INSERT INTO t VALUES (?, 'r')", &[&next]) {
                Ok(_) => {
                    history.lock().acked.insert(next);
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let mut h = history.lock();
                    if h.errors.len() < 50 {
                        h.errors
                            .push(format!("row {next} on node {}: {e}", dbs[target].0));
                    }
                    drop(h);
                    target = (target + 1) % dbs.len();
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            next += 1;
        }
    })
}

/// Waits until the writer has `more` acknowledged commits past `from`.
fn wait_progress(acked: &AtomicU64, from: u64, more: u64, step: &str) -> u64 {
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let now = acked.load(Ordering::Relaxed);
        if now >= from + more {
            return now;
        }
        assert!(
            Instant::now() < end,
            "{step}: only {} commits in 90 s",
            now - from
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reloads `node` and drops its connections: the next ones are made with
/// what it just loaded.
fn reload(node: &Node) {
    let report = node.transport.reload().expect("reload");
    assert_eq!(
        report.closed, 0,
        "node {}: a reload closed healthy peers",
        node.id
    );
    node.transport.endpoint().close_peers();
}

fn rows(db: &Db) -> Option<BTreeSet<i64>> {
    let s = db.root_session();
    let mut r = s.query("SELECT id FROM t", &[]).ok()?;
    let mut out = BTreeSet::new();
    while let Some(row) = r.next().ok()? {
        out.insert(row.get::<i64>(0).ok()?);
    }
    Some(out)
}

#[test]
fn a_cluster_keeps_committing_through_certificate_and_ca_rotation() {
    let old_ca = TestCa::new(CLUSTER);
    // The new CA: same cluster, same name, another key.
    let new_ca = TestCa::new(CLUSTER);
    let nodes = cluster(&old_ca);
    let leader = wait_leader(&nodes);
    let l = &nodes.iter().find(|n| n.id == leader).expect("leader").db;
    l.root_session()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .expect("create");

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let history = Arc::new(Mutex::new(History::default()));
    let w = writer(
        nodes.iter().map(|n| (n.id, n.db.clone())).collect(),
        stop.clone(),
        acked.clone(),
        history.clone(),
    );
    let mut at = wait_progress(&acked, 0, 20, "before any rotation");
    let mut steps = Vec::new();
    let mut step = |name: String, at: &mut u64| {
        *at = wait_progress(&acked, *at, 10, &name);
        steps.push((name, *at));
    };

    // 1. Each node: a new key and certificate from the same CA.
    for n in &nodes {
        let before = serial(&n.files().cert);
        issue(&old_ca, n.id, &n.tls());
        assert_ne!(serial(&n.files().cert), before);
        reload(n);
        step(format!("node {} re-keyed", n.id), &mut at);
    }
    // 2. Every node trusts both CAs (and loads both CRLs).
    for n in &nodes {
        trust(&[&old_ca, &new_ca], &n.tls());
        reload(n);
        step(format!("node {} trusts old + new CA", n.id), &mut at);
    }
    // 3. One by one, each node's certificate is re-issued by the new CA:
    //    for a while the cluster mixes certificates of both CAs.
    for n in &nodes {
        issue(&new_ca, n.id, &n.tls());
        reload(n);
        step(format!("node {} re-issued by the new CA", n.id), &mut at);
    }
    // Every node now presents a new-CA certificate, and so does every
    // connection: one whose handshake was in flight while a node closed
    // its peers in step 3 (and so may carry that node's old certificate)
    // is closed when it would go live (the endpoint's `peers_epoch`).
    // 4. The old CA (and its CRL) leaves every bundle.
    for n in &nodes {
        trust(&[&new_ca], &n.tls());
        reload(n);
        step(format!("node {} trusts only the new CA", n.id), &mut at);
    }
    // Fresh connections everywhere, then more commits.
    for n in &nodes {
        n.transport.endpoint().close_peers();
    }
    step("after the rotation".into(), &mut at);
    stop.store(true, Ordering::Relaxed);
    w.join().expect("writer");

    let h = history.lock();
    eprintln!(
        "rotation under load: {} commits acknowledged, {} attempted, {} errors (first: {:?})",
        h.acked.len(),
        h.attempted.len(),
        h.errors.len(),
        h.errors.first()
    );
    for (name, n) in &steps {
        eprintln!("  {name}: {n} acknowledged so far");
    }

    // No acknowledged write lost, nothing invented; all nodes agree.
    let end = Instant::now() + Duration::from_secs(60);
    let leader = loop {
        let leader = wait_leader(&nodes);
        let ldb = &nodes.iter().find(|n| n.id == leader).expect("leader").db;
        // A linearizable read makes sure the leader applied all it committed.
        let s = ldb.root_session();
        s.set_read_consistency(sealdb::ReadConsistency::Linearizable);
        if s.query("SELECT count(*) FROM t", &[]).is_ok() {
            break leader;
        }
        assert!(Instant::now() < end, "no linearizable read");
        std::thread::sleep(Duration::from_millis(100));
    };
    let want = rows(&nodes.iter().find(|n| n.id == leader).expect("l").db).expect("rows");
    for n in &nodes {
        let end = Instant::now() + Duration::from_secs(60);
        let got = loop {
            let got = rows(&n.db);
            if got.as_ref() == Some(&want) || Instant::now() > end {
                break got;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let got = got.expect("rows");
        assert_eq!(got, want, "node {} differs from the leader", n.id);
        let lost: Vec<&i64> = h.acked.difference(&got).collect();
        assert!(
            lost.is_empty(),
            "node {}: acknowledged rows lost: {lost:?}",
            n.id
        );
        let invented: Vec<&i64> = got.difference(&h.attempted).collect();
        assert!(
            invented.is_empty(),
            "node {}: rows never written: {invented:?}",
            n.id
        );
    }

    // The live connections between the leader and each follower (the
    // links Raft uses) present certificates of the new CA, both ways.
    let leader_node = nodes.iter().find(|n| n.id == leader).expect("leader");
    for f in nodes.iter().filter(|n| n.id != leader) {
        for (from, to) in [(leader_node, f), (f, leader_node)] {
            let end = Instant::now() + Duration::from_secs(30);
            let peer = loop {
                if let Some(p) = from.transport.endpoint().peer(to.id) {
                    break p;
                }
                assert!(
                    Instant::now() < end,
                    "node {} has no link to {}",
                    from.id,
                    to.id
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            assert_eq!(
                peer.info().cert_serial,
                serial(&to.files().cert),
                "node {} sees node {}'s old certificate",
                from.id,
                to.id
            );
            assert_eq!(
                read(&to.files().cert),
                read(&new_ca.certs.node_cert(to.id)),
                "node {} does not hold the certificate the new CA issued",
                to.id
            );
        }
    }
    // No healthy peer was refused along the way.
    for n in &nodes {
        assert!(
            n.refusals.all().is_empty(),
            "node {}: {:?}",
            n.id,
            n.refusals.all()
        );
    }
    // An old-CA certificate is refused now: the old CA is gone. (A raw
    // client, which accepts any server: the node's own check is tested.)
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stale = old_ca.node(9);
    let target = nodes.iter().find(|n| n.id == leader).expect("leader");
    rt.block_on(async {
        if let Ok((_ep, conn)) = raw::connect(target.addr, Some(&stale), ALPN).await {
            assert!(raw::hello(&conn, 9, CLUSTER).await.is_err());
        }
    });
    let refused = rt.block_on(
        target
            .refusals
            .wait_for(|r| r.reason == RefusalReason::UnknownIssuer),
    );
    eprintln!("an old-CA node after the rotation: {refused}");
}

/// The CRLs of two CAs of one name (a CA rotation), in either order in
/// the bundle: each certificate is judged by its own CA's CRL, so a
/// revoked certificate of either CA is refused and a good one of either is
/// admitted; a CA whose CRL is missing from the bundle admits no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crls_of_two_cas_of_one_name_each_judge_their_own_certificates() {
    let old_ca = TestCa::new(CLUSTER);
    let new_ca = TestCa::new(CLUSTER);
    // Good and revoked certificates of each CA.
    old_ca.node(2);
    new_ca.node(3);
    old_ca.node(4);
    new_ca.node(5);
    old_ca.revoke(4);
    new_ca.revoke(5);
    let cases: [(&TestCa, u64, Option<RefusalReason>); 4] = [
        (&old_ca, 2, None),
        (&new_ca, 3, None),
        (
            &old_ca,
            4,
            Some(RefusalReason::Revoked {
                source: sealdb::repl::RevocationSource::Crl,
            }),
        ),
        (
            &new_ca,
            5,
            Some(RefusalReason::Revoked {
                source: sealdb::repl::RevocationSource::Crl,
            }),
        ),
    ];
    for order in [[&old_ca, &new_ca], [&new_ca, &old_ca]] {
        let dir = tempfile::tempdir().expect("dir");
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).expect("mkdir");
        issue(&new_ca, 1, &tls);
        trust(&order, &tls);
        let rec = Recorder::default();
        let server = Endpoint::bind(
            transport_common::config(files_in(&tls)),
            Arc::new(NoService),
            Some(rec.hook()),
        )
        .await
        .expect("bind");
        let addr = server.local_addr().expect("addr");
        for (ca, id, want) in &cases {
            let before = rec.all().len();
            let answer = match raw::connect(addr, Some(&ca.files(*id)), ALPN).await {
                Ok((_ep, conn)) => raw::hello(&conn, *id, CLUSTER).await,
                Err(e) => Err(e.to_string()),
            };
            match want {
                None => assert!(answer.is_ok(), "node {id} refused: {:?}", rec.all()),
                Some(reason) => {
                    assert!(answer.is_err(), "revoked node {id} admitted");
                    let r = rec.wait_for_after(before, |r| r.peer.is_some()).await;
                    assert_eq!(&r.reason, reason, "node {id}");
                }
            }
        }
        // The new CA's CRL missing: its certificates are refused.
        trust(&[&old_ca], &tls);
        let both_cas = concat(&[&old_ca.certs.ca_cert(), &new_ca.certs.ca_cert()]);
        put(&tls.join("ca-bundle.crt"), &both_cas);
        server.reload().await.expect("reload");
        let before = rec.all().len();
        if let Ok((_ep, conn)) = raw::connect(addr, Some(&new_ca.files(3)), ALPN).await {
            assert!(raw::hello(&conn, 3, CLUSTER).await.is_err());
        }
        let r = rec.wait_for_after(before, |_| true).await;
        assert!(
            matches!(&r.reason, RefusalReason::BadCertificate { detail } if detail.contains("no CRL signed by its CA")),
            "{r}"
        );
    }
}
