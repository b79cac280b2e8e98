//! Replicated databases through the public API: three nodes in one
//! process over the in-memory network, each with its own directory and
//! its own key. SQL on the leader and on followers (forwarded writes,
//! refused writes, read consistency levels), schema and security catalog
//! changes reaching every node, SHOW CLUSTER, learners, leader transfer,
//! restart of a whole cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{
    ClientInfo, Credentials, Db, Error, FollowerWrites, KeyBytes, MemNetwork, MemoryKeyProvider,
    Options, ReadConsistency, ReplicationOptions, Role,
};

struct Node {
    id: u64,
    dir: tempfile::TempDir,
    key: Vec<u8>,
    db: Option<Db>,
}

fn options(
    net: &MemNetwork,
    id: u64,
    members: &[u64],
    tweak: impl Fn(&mut ReplicationOptions),
) -> Options {
    let mut r = ReplicationOptions::new(id, format!("node-{id}"), net.transport(id));
    r.initial_members = members.iter().map(|m| (*m, format!("node-{m}"))).collect();
    r.heartbeat = Duration::from_millis(50);
    r.election_timeout = (Duration::from_millis(300), Duration::from_millis(600));
    r.timeout = Duration::from_secs(10);
    tweak(&mut r);
    Options {
        replication: Some(r),
        storage: StorageOptions {
            sync: SyncMode::Normal,
            ..StorageOptions::default()
        },
        ..Options::default()
    }
}

fn open(
    node: &mut Node,
    net: &MemNetwork,
    members: &[u64],
    tweak: impl Fn(&mut ReplicationOptions),
) {
    let key = KeyBytes::from_slice(&node.key);
    let provider = MemoryKeyProvider::new(key).expect("provider");
    node.db = Some(
        Db::open_with(
            node.dir.path(),
            provider,
            options(net, node.id, members, tweak),
        )
        .expect("open"),
    );
}

fn cluster(n: u64, tweak: impl Fn(&mut ReplicationOptions) + Copy) -> (MemNetwork, Vec<Node>) {
    let net = MemNetwork::new(1);
    let members: Vec<u64> = (1..=n).collect();
    let mut nodes: Vec<Node> = members
        .iter()
        .map(|id| Node {
            id: *id,
            dir: tempfile::tempdir().expect("dir"),
            key: (0..32)
                .map(|i| (i as u8).wrapping_mul(*id as u8 + 7))
                .collect(),
            db: None,
        })
        .collect();
    for node in nodes.iter_mut() {
        open(node, &net, &members, tweak);
    }
    (net, nodes)
}

fn db(nodes: &[Node], id: u64) -> &Db {
    nodes
        .iter()
        .find(|n| n.id == id)
        .and_then(|n| n.db.as_ref())
        .expect("open node")
}

fn wait_leader(nodes: &[Node]) -> u64 {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        for n in nodes {
            if let Some(db) = &n.db {
                let st = db.cluster().expect("cluster").status();
                if st.role == Role::Leader {
                    return n.id;
                }
            }
        }
        assert!(Instant::now() < end, "no leader elected");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(db: &Db, level: ReadConsistency) -> i64 {
    let s = db.root_session();
    s.set_read_consistency(level);
    let mut rows = s.query("SELECT count(*) FROM t", &[]).expect("query");
    let row = rows.next().expect("row").expect("a row");
    row.get::<i64>(0).expect("count")
}

#[test]
fn sql_replicates_to_every_node_with_followers_forwarding() {
    let (_net, nodes) = cluster(3, |_| {});
    let leader = wait_leader(&nodes);
    let l = db(&nodes, leader).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .expect("create");
    l.execute("INSERT INTO t VALUES (1, 'one')", &[])
        .expect("insert");
    for n in &nodes {
        // A linearizable read on any node sees the leader's commit, and
        // the follower's schema cache knows the new table.
        assert_eq!(
            count(db(&nodes, n.id), ReadConsistency::Linearizable),
            1,
            "node {}",
            n.id
        );
    }
    // A follower's write is forwarded to the leader.
    let follower = nodes.iter().find(|n| n.id != leader).expect("follower").id;
    let f = db(&nodes, follower).root_session();
    f.execute("INSERT INTO t VALUES (2, 'two')", &[])
        .expect("forwarded insert");
    // Read your writes on the follower itself, even with local reads.
    assert_eq!(
        count(
            db(&nodes, follower),
            ReadConsistency::Local {
                max_staleness: None
            }
        ),
        2
    );
    assert_eq!(count(db(&nodes, leader), ReadConsistency::Linearizable), 2);
    // A transaction on a follower.
    let tx = f.transaction().expect("begin");
    tx.execute("INSERT INTO t VALUES (3, 'three')", &[])
        .expect("insert");
    tx.execute("UPDATE t SET v = 'uno' WHERE id = 1", &[])
        .expect("update");
    tx.commit().expect("commit");
    for n in &nodes {
        let s = db(&nodes, n.id).root_session();
        s.set_read_consistency(ReadConsistency::Linearizable);
        let mut rows = s.query("SELECT v FROM t WHERE id = 1", &[]).expect("query");
        let v: String = rows.next().expect("row").expect("a row").get(0).expect("v");
        assert_eq!(v, "uno", "node {}", n.id);
    }
}

#[test]
fn users_and_grants_reach_followers() {
    let (_net, nodes) = cluster(3, |_| {});
    let leader = wait_leader(&nodes);
    let l = db(&nodes, leader).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("create");
    l.execute("CREATE USER alice WITH PASSWORD 'correct horse'", &[])
        .expect("user");
    l.execute("GRANT SELECT ON t TO alice", &[]).expect("grant");
    for n in nodes.iter().filter(|n| n.id != leader) {
        let d = db(&nodes, n.id);
        // Wait until the follower applied it (a linearizable barrier).
        assert_eq!(count(d, ReadConsistency::Linearizable), 0);
        let s = d
            .connect(
                Credentials::password("alice", "correct horse"),
                ClientInfo::local("test"),
            )
            .expect("alice logs in on a follower");
        s.query("SELECT * FROM t", &[]).expect("alice may read t");
        let denied = s.execute("INSERT INTO t VALUES (1)", &[]);
        assert!(
            matches!(denied, Err(Error::PermissionDenied { .. })),
            "{denied:?}"
        );
        // The cluster's topology is for admins.
        let denied = s.query("SHOW CLUSTER", &[]).map(|_| ());
        assert!(
            matches!(denied, Err(Error::PermissionDenied { .. })),
            "{denied:?}"
        );
    }
}

#[test]
fn refusing_followers_name_the_leader() {
    let (_net, nodes) = cluster(3, |r| r.follower_writes = FollowerWrites::Refuse);
    let leader = wait_leader(&nodes);
    db(&nodes, leader)
        .root_session()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("create");
    let follower = nodes.iter().find(|n| n.id != leader).expect("follower").id;
    let f = db(&nodes, follower).root_session();
    assert_eq!(
        count(db(&nodes, follower), ReadConsistency::Linearizable),
        0
    );
    match f.execute("INSERT INTO t VALUES (1)", &[]) {
        Err(Error::NotLeader {
            leader: Some(l),
            leader_address: Some(a),
        }) => {
            assert_eq!(l, leader);
            assert_eq!(a, format!("node-{leader}"));
        }
        other => panic!("expected NotLeader, got {other:?}"),
    }
    // A `leader` read is refused on a follower and served on the leader.
    f.execute("SET read_consistency = leader", &[])
        .expect("set");
    assert!(matches!(
        f.query("SELECT * FROM t", &[]),
        Err(Error::NotLeader { .. })
    ));
    assert_eq!(count(db(&nodes, leader), ReadConsistency::Leader), 0);
}

#[test]
fn show_cluster_and_session_settings() {
    let (_net, nodes) = cluster(3, |_| {});
    let leader = wait_leader(&nodes);
    let s = db(&nodes, leader).root_session();
    let mut rows = s.query("SHOW CLUSTER", &[]).expect("show cluster");
    assert_eq!(rows.columns()[0], "node_id");
    let mut seen = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let id: i64 = r.get(0).expect("id");
        let kind: String = r.get(2).expect("kind");
        let role: String = r.get(3).expect("role");
        assert_eq!(kind, "voter");
        if id as u64 == leader {
            assert_eq!(role, "leader");
        }
        seen.push(id);
    }
    assert_eq!(seen, vec![1, 2, 3]);
    drop(rows);
    s.execute("SET read_consistency = linearizable", &[])
        .expect("set");
    assert_eq!(s.read_consistency(), ReadConsistency::Linearizable);
    s.execute("SET read_consistency TO 'local 250ms'", &[])
        .expect("set");
    assert_eq!(
        s.read_consistency(),
        ReadConsistency::Local {
            max_staleness: Some(Duration::from_millis(250))
        }
    );
    assert!(s.execute("SET read_consistency = eventually", &[]).is_err());
    // Not replicated: SHOW CLUSTER is refused, cluster() too.
    let single = Db::open_in_memory().expect("db");
    assert!(single.root_session().query("SHOW CLUSTER", &[]).is_err());
    assert!(single.cluster().is_err());
}

#[test]
fn learners_join_and_leadership_moves() {
    let (net, mut nodes) = cluster(3, |_| {});
    let leader = wait_leader(&nodes);
    let l = db(&nodes, leader).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("create");
    for i in 0..20 {
        l.execute("INSERT INTO t VALUES (?)", &[&i])
            .expect("insert");
    }
    // A fourth node joins as a learner (opened without initial members).
    let mut learner = Node {
        id: 4,
        dir: tempfile::tempdir().expect("dir"),
        key: vec![9; 32],
        db: None,
    };
    open(&mut learner, &net, &[], |_| {});
    db(&nodes, leader)
        .cluster()
        .expect("cluster")
        .add_learner(4, "node-4")
        .expect("add learner");
    nodes.push(learner);
    assert_eq!(count(db(&nodes, 4), ReadConsistency::Linearizable), 20);
    let st = db(&nodes, 4).cluster().expect("cluster").status();
    assert_eq!(st.role, Role::Learner);
    // A learner cannot lead.
    let c = db(&nodes, leader).cluster().expect("cluster");
    assert!(c.transfer_leadership(4).is_err());
    // Leadership moves to another voter.
    let target = (1..=3).find(|id| *id != leader).expect("target");
    c.transfer_leadership(target).expect("transfer");
    assert_eq!(wait_leader(&nodes), target);
    db(&nodes, target)
        .root_session()
        .execute("INSERT INTO t VALUES (100)", &[])
        .expect("write on the new leader");
    // The learner is removed again.
    db(&nodes, target)
        .cluster()
        .expect("cluster")
        .remove(4)
        .expect("remove");
    let members = db(&nodes, target)
        .cluster()
        .expect("cluster")
        .status()
        .members;
    assert!(members.iter().all(|m| m.node_id != 4), "{members:?}");
}

#[test]
fn a_cluster_restarts_with_its_data() {
    let (net, mut nodes) = cluster(3, |_| {});
    let leader = wait_leader(&nodes);
    let l = db(&nodes, leader).root_session();
    l.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("create");
    for i in 0..10 {
        l.execute("INSERT INTO t VALUES (?)", &[&i])
            .expect("insert");
    }
    drop(l);
    for n in nodes.iter_mut() {
        n.db = None;
    }
    let members = [1, 2, 3];
    for n in nodes.iter_mut() {
        open(n, &net, &members, |_| {});
    }
    wait_leader(&nodes);
    for n in &nodes {
        assert_eq!(
            count(db(&nodes, n.id), ReadConsistency::Linearizable),
            10,
            "node {}",
            n.id
        );
    }
    let _ = Arc::new(());
}

#[test]
fn closing_the_leader_hands_leadership_over() {
    let (_net, mut nodes) = cluster(3, |_| {});
    let leader = wait_leader(&nodes);
    db(&nodes, leader)
        .root_session()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("create");
    let term = db(&nodes, leader).cluster().expect("cluster").status().term;
    // Closing returns once another voter leads: no election timeout to
    // wait out, as there would be after a crash.
    nodes
        .iter_mut()
        .find(|n| n.id == leader)
        .expect("leader")
        .db = None;
    let st = nodes
        .iter()
        .find(|n| n.db.is_some())
        .map(|n| {
            n.db.as_ref()
                .expect("db")
                .cluster()
                .expect("cluster")
                .status()
        })
        .expect("a node");
    let new_leader = st.leader.expect("a leader right after the close");
    assert_ne!(new_leader, leader);
    assert!(st.term > term);
    db(&nodes, new_leader)
        .root_session()
        .execute("INSERT INTO t VALUES (1)", &[])
        .expect("write on the new leader");
}
