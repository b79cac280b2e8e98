//! Replicated databases over the real transport: QUIC with mutual TLS on
//! 127.0.0.1, certificates made by `sealdb::repl::cert`. A three-node
//! cluster replicating SQL, its certificates rotated while it runs; a node whose certificate is revoked while the
//! cluster runs is cut off (its appends and votes reach no one, it receives
//! nothing new); a learner that was offline while the log was purged
//! catches up by a snapshot streamed on the bulk lane.

mod transport_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealdb::repl::transport::EndpointConfig;
use sealdb::repl::{RefusalReason, RevocationSource};
use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{
    Db, KeyBytes, MemoryKeyProvider, Options, QuicTransport, ReadConsistency, ReplicationOptions,
    Role,
};
use transport_common::{Recorder, TestCa};

struct Node {
    id: u64,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    transport: Option<Arc<QuicTransport>>,
    refusals: Recorder,
    db: Option<Db>,
}

fn endpoint_config(ca: &TestCa, id: u64, listen: SocketAddr) -> EndpointConfig {
    let mut c = EndpointConfig::new(listen, ca.files(id));
    // A peer that died is noticed within seconds, not the default 30.
    c.idle_timeout = Duration::from_secs(5);
    c.keep_alive = Duration::from_secs(1);
    c
}

fn start_transport(ca: &TestCa, node: &mut Node, listen: SocketAddr) {
    let t = QuicTransport::start(
        endpoint_config(ca, node.id, listen),
        Some(node.refusals.hook()),
    )
    .expect("start transport");
    node.addr = t.local_addr().expect("addr");
    node.transport = Some(t);
}

fn open(node: &mut Node, members: &[(u64, String)], tweak: &dyn Fn(&mut ReplicationOptions)) {
    let t = node.transport.clone().expect("transport");
    let mut r = ReplicationOptions::new(node.id, node.addr.to_string(), t.clone());
    r.initial_members = members.to_vec();
    r.heartbeat = Duration::from_millis(100);
    r.election_timeout = (Duration::from_millis(500), Duration::from_millis(1000));
    r.timeout = Duration::from_secs(10);
    r.runtime = Some(t.runtime());
    tweak(&mut r);
    let key: Vec<u8> = (0..32).map(|i| (i as u8) ^ (node.id as u8 * 31)).collect();
    let provider = MemoryKeyProvider::new(KeyBytes::from_slice(&key)).expect("provider");
    let options = Options {
        replication: Some(r),
        storage: StorageOptions {
            sync: SyncMode::Normal,
            ..StorageOptions::default()
        },
        ..Options::default()
    };
    node.db = Some(Db::open_with(node.dir.path(), provider, options).expect("open"));
}

/// `n` voters over QUIC, each with its own certificate, directory and key.
fn cluster(ca: &TestCa, n: u64, tweak: &dyn Fn(&mut ReplicationOptions)) -> Vec<Node> {
    let mut nodes: Vec<Node> = (1..=n)
        .map(|id| {
            ca.node(id);
            Node {
                id,
                dir: tempfile::tempdir().expect("dir"),
                addr: "127.0.0.1:0".parse().expect("addr"),
                transport: None,
                refusals: Recorder::default(),
                db: None,
            }
        })
        .collect();
    for node in nodes.iter_mut() {
        start_transport(ca, node, "127.0.0.1:0".parse().expect("addr"));
    }
    let members: Vec<(u64, String)> = nodes.iter().map(|n| (n.id, n.addr.to_string())).collect();
    for node in nodes.iter_mut() {
        open(node, &members, tweak);
    }
    nodes
}

fn db(nodes: &[Node], id: u64) -> &Db {
    nodes
        .iter()
        .find(|n| n.id == id)
        .and_then(|n| n.db.as_ref())
        .expect("open node")
}

/// The leader that the nodes in `among` agree on.
fn wait_leader(nodes: &[Node], among: &[u64]) -> u64 {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let leaders: Vec<Option<u64>> = among
            .iter()
            .map(|id| db(nodes, *id).cluster().expect("cluster").status().leader)
            .collect();
        if let Some(Some(l)) = leaders.first() {
            let st = db(nodes, *l).cluster().expect("cluster").status();
            if among.contains(l)
                && st.role == Role::Leader
                && leaders.iter().all(|x| *x == Some(*l))
            {
                return *l;
            }
        }
        assert!(Instant::now() < end, "no leader agreed: {leaders:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(db: &Db, level: ReadConsistency) -> i64 {
    let s = db.root_session();
    s.set_read_consistency(level);
    let mut rows = s.query("SELECT count(*) FROM t", &[]).expect("query");
    let row = rows.next().expect("row").expect("a row");
    row.get::<i64>(0).expect("count")
}

const LOCAL: ReadConsistency = ReadConsistency::Local {
    max_staleness: None,
};

fn wait_count(db: &Db, want: i64) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        // Before the table's creation is applied here, the query fails.
        let s = db.root_session();
        let n = s
            .query("SELECT count(*) FROM t", &[])
            .and_then(|mut rows| rows.next())
            .ok()
            .flatten()
            .and_then(|row| row.get::<i64>(0).ok());
        if n == Some(want) {
            return;
        }
        assert!(Instant::now() < end, "count stayed {n:?}, wanted {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_nodes_replicate_sql_over_quic_with_mutual_tls() {
    let ca = TestCa::new("quic-demo");
    let nodes = cluster(&ca, 3, &|_| {});
    let all = [1, 2, 3];
    let leader = wait_leader(&nodes, &all);
    let l = db(&nodes, leader).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .expect("create");
    l.execute("INSERT INTO t VALUES (1, 'one')", &[])
        .expect("insert");
    // A follower's write travels to the leader on the append lane (after
    // a linearizable read, so it runs on current data: a transaction on
    // data older than the leader's is refused as a retryable conflict).
    let follower = *all.iter().find(|i| **i != leader).expect("follower");
    assert_eq!(
        count(db(&nodes, follower), ReadConsistency::Linearizable),
        1
    );
    db(&nodes, follower)
        .root_session()
        .execute("INSERT INTO t VALUES (2, 'two')", &[])
        .expect("forwarded insert");
    for id in all {
        // Linearizable on a follower: a read-index request on the urgent lane.
        assert_eq!(
            count(db(&nodes, id), ReadConsistency::Linearizable),
            2,
            "node {id}"
        );
    }
    let sent: Vec<_> = nodes
        .iter()
        .map(|n| n.transport.as_ref().expect("t").stats())
        .collect();
    assert!(sent.iter().all(|s| s.received > 0), "{sent:?}");
    assert!(sent.iter().map(|s| s.urgent_sent).sum::<u64>() > 0);
    assert!(sent.iter().map(|s| s.append_sent).sum::<u64>() > 0);
    for n in &nodes {
        assert!(
            n.refusals.all().is_empty(),
            "node {}: {:?}",
            n.id,
            n.refusals.all()
        );
    }
    // Rotation while running: every node gets a new certificate and key,
    // reloads, and its connections are made again with them.
    for n in &nodes {
        ca.node(n.id);
    }
    for n in &nodes {
        let t = n.transport.as_ref().expect("t");
        t.reload().expect("reload");
        t.endpoint().close_peers();
    }
    let before: u64 = nodes
        .iter()
        .map(|n| n.transport.as_ref().expect("t").endpoint().stats().admitted)
        .sum();
    l.execute("INSERT INTO t VALUES (3, 'after rotation')", &[])
        .expect("insert after rotation");
    for id in all {
        assert_eq!(count(db(&nodes, id), ReadConsistency::Linearizable), 3);
    }
    let after: u64 = nodes
        .iter()
        .map(|n| n.transport.as_ref().expect("t").endpoint().stats().admitted)
        .sum();
    assert!(after > before, "no new connections: {before} → {after}");
    assert!(nodes.iter().all(|n| n.refusals.all().is_empty()));
    // SHOW CLUSTER lists the QUIC addresses.
    let mut rows = l.query("SHOW CLUSTER", &[]).expect("show cluster");
    let mut seen = 0;
    while let Some(row) = rows.next().expect("row") {
        let text = format!("{:?}", row);
        assert!(text.contains("127.0.0.1:"), "{text}");
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[test]
fn a_revoked_node_is_cut_off_and_its_votes_and_appends_are_ignored() {
    let ca = TestCa::new("quic-revoke");
    let mut nodes = cluster(&ca, 3, &|r| r.timeout = Duration::from_secs(4));
    let all = [1, 2, 3];
    let revoked = wait_leader(&nodes, &all);
    let others: Vec<u64> = all.iter().copied().filter(|i| *i != revoked).collect();
    let l = db(&nodes, revoked).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("create");
    l.execute("INSERT INTO t VALUES (1)", &[]).expect("insert");
    for id in all {
        assert_eq!(count(db(&nodes, id), ReadConsistency::Linearizable), 1);
    }

    // Revoke the leader's certificate; the others load the new CRL. The
    // revoked node itself is not told (it need not cooperate).
    ca.revoke(revoked);
    for id in &others {
        let n = nodes.iter().find(|n| n.id == *id).expect("node");
        n.transport.as_ref().expect("t").reload().expect("reload");
    }
    // The survivors elect a leader among themselves: the revoked leader's
    // heartbeats and appends no longer reach them.
    let new_leader = wait_leader(&nodes, &others);
    assert_ne!(new_leader, revoked);
    let nl = db(&nodes, new_leader).root_session();
    for i in 2..=6 {
        nl.execute("INSERT INTO t VALUES (?)", &[&i])
            .expect("insert after revocation");
    }
    for id in &others {
        assert_eq!(count(db(&nodes, *id), ReadConsistency::Linearizable), 6);
    }
    let term = db(&nodes, new_leader).cluster().expect("c").status().term;

    // The revoked node cannot commit anything, and receives nothing new.
    let w = db(&nodes, revoked)
        .root_session()
        .execute("INSERT INTO t VALUES (100)", &[]);
    assert!(w.is_err(), "a revoked node committed: {w:?}");
    // Its elections (it campaigns: it hears no leader) do not disturb the
    // survivors: same leader, same term, several election timeouts later.
    std::thread::sleep(Duration::from_secs(3));
    let st = db(&nodes, new_leader).cluster().expect("c").status();
    assert_eq!(st.role, Role::Leader);
    assert_eq!(st.term, term, "the revoked node's votes disturbed the term");
    assert_eq!(count(db(&nodes, revoked), LOCAL), 1);
    for id in &others {
        assert_eq!(count(db(&nodes, *id), LOCAL), 6);
    }
    // The survivors refused it by its CRL entry (on a dial or a live
    // connection closed by the reload).
    for id in &others {
        let n = nodes.iter().find(|n| n.id == *id).expect("node");
        let refusals = n.refusals.all();
        assert!(
            refusals.iter().any(|r| matches!(
                r.reason,
                RefusalReason::Revoked {
                    source: RevocationSource::Crl
                }
            )),
            "node {id}: {refusals:?}"
        );
    }
    for n in nodes.iter_mut() {
        n.db = None;
    }
}

#[test]
fn an_offline_learner_catches_up_by_snapshot_over_the_bulk_lane() {
    let ca = TestCa::new("quic-learner");
    let tweak = |r: &mut ReplicationOptions| {
        r.snapshot_every = 20;
        r.keep_log = 5;
        r.snapshot_chunk_bytes = 2048;
        r.transfer_on_close = false;
    };
    let mut nodes = cluster(&ca, 3, &tweak);
    let leader = wait_leader(&nodes, &[1, 2, 3]);
    let l = db(&nodes, leader).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT)", &[])
        .expect("create");

    // The learner joins and catches up by log.
    ca.node(4);
    let mut learner = Node {
        id: 4,
        dir: tempfile::tempdir().expect("dir"),
        addr: "127.0.0.1:0".parse().expect("addr"),
        transport: None,
        refusals: Recorder::default(),
        db: None,
    };
    start_transport(&ca, &mut learner, "127.0.0.1:0".parse().expect("addr"));
    open(&mut learner, &[], &tweak);
    db(&nodes, leader)
        .cluster()
        .expect("cluster")
        .add_learner(4, &learner.addr.to_string())
        .expect("add learner");
    l.execute("INSERT INTO t VALUES (0, 'x')", &[])
        .expect("insert");
    wait_count(learner.db.as_ref().expect("db"), 1);
    let applied_before = learner
        .db
        .as_ref()
        .expect("db")
        .cluster()
        .expect("c")
        .status()
        .applied_index
        .expect("applied");

    // Offline: the process is gone, its port closed.
    let port = learner.addr;
    learner.db = None;
    learner.transport = None;
    let pad = "p".repeat(300);
    for i in 1..=120 {
        l.execute("INSERT INTO t VALUES (?, ?)", &[&i, &pad])
            .expect("insert while the learner is away");
    }
    // Snapshots are built and the log purged in the background: under load
    // the purge may trail the last commit, so wait for it.
    let end = Instant::now() + Duration::from_secs(30);
    let purged = loop {
        let st = db(&nodes, leader).cluster().expect("c").status();
        match st.purged_index {
            Some(p) if p > applied_before + 1 => break p,
            _ if Instant::now() > end => panic!("the leader never purged its log: {st:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(
        purged > applied_before + 1,
        "purged {purged}, learner had {applied_before}"
    );

    // Back on the same address: the entries it needs are gone, so it gets
    // a snapshot, streamed in 2 KiB chunks on the bulk lane.
    let bulk_before: u64 = nodes
        .iter()
        .map(|n| n.transport.as_ref().expect("t").stats().bulk_sent)
        .sum();
    start_transport(&ca, &mut learner, port);
    open(&mut learner, &[], &tweak);
    let ldb = learner.db.as_ref().expect("db");
    wait_count(ldb, 121);
    // (Raft's metrics follow the install a little later than the data.)
    let end = Instant::now() + Duration::from_secs(10);
    let st = loop {
        let st = ldb.cluster().expect("c").status();
        if st.snapshot_index >= Some(purged) || Instant::now() > end {
            break st;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(st.role, Role::Learner);
    assert!(
        st.snapshot_index.expect("installed a snapshot") >= purged,
        "{st:?}"
    );
    let bulk_after: u64 = nodes
        .iter()
        .map(|n| n.transport.as_ref().expect("t").stats().bulk_sent)
        .sum();
    // 121 rows of 300 bytes in 2 KiB chunks: well over ten chunks.
    assert!(
        bulk_after - bulk_before >= 10,
        "{bulk_before} → {bulk_after}"
    );
    // And it keeps following by log afterwards.
    l.execute("INSERT INTO t VALUES (1000, 'after')", &[])
        .expect("insert");
    wait_count(ldb, 122);
    learner.db = None;
    for n in nodes.iter_mut() {
        n.db = None;
    }
}
