//! `sealdb node` processes forming a cluster over QUIC with mutual TLS on
//! 127.0.0.1, set up with the binary's own commands (`cert`, `keygen`).
//!
//! - The kill test: a writer inserts rows through random nodes while the
//!   leader and the followers are killed with SIGKILL and restarted, round
//!   after round; at the end every node holds every acknowledged row (and
//!   no row that was never written). Rounds: `SEALDB_REPL_KILL_ROUNDS`
//!   (default 4, for CI).
//! - `sealdb cluster status|add|remove` and `sealdb cluster sql` against
//!   running nodes: an edge learner joins, reads, and is removed.
#![cfg(unix)]

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn sealdb(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(args)
        .output()
        .expect("run sealdb");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct Node {
    id: u64,
    config: PathBuf,
    socket: PathBuf,
    log: PathBuf,
    address: String,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_sealdb"))
            .args(["node", "--config", s(&self.config)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn node");
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn wait_up(&self) {
        let end = Instant::now() + Duration::from_secs(60);
        while admin(&self.socket, b"status\n").is_err() {
            assert!(
                Instant::now() < end,
                "node {} did not come up: {}",
                self.id,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One admin request (the protocol of cli/src/admin.rs).
fn admin(socket: &Path, request: &[u8]) -> Result<String, String> {
    let mut c = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    c.write_all(request).map_err(|e| e.to_string())?;
    c.shutdown(std::net::Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    c.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    match answer.strip_prefix("ok\n") {
        Some(out) => Ok(out.to_string()),
        None => Err(answer),
    }
}

fn sql(socket: &Path, statements: &[&str]) -> Result<String, String> {
    let mut req = format!("sql {}\n", statements.len()).into_bytes();
    for st in statements {
        req.extend_from_slice(format!("{}\n{st}", st.len()).as_bytes());
    }
    admin(socket, &req)
}

fn status(socket: &Path) -> Option<HashMap<String, String>> {
    let out = admin(socket, b"status\n").ok()?;
    Some(
        out.lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn free_udp_ports(n: usize) -> Vec<u16> {
    let socks: Vec<std::net::UdpSocket> = (0..n)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    socks
        .iter()
        .map(|s| s.local_addr().expect("addr").port())
        .collect()
}

/// A CA, node certificates and keys, and configuration files for `ids`;
/// the first `voters` of them form the cluster, the rest join later.
fn setup(dir: &Path, ids: &[u64], voters: usize) -> Vec<Node> {
    let certs = dir.join("certs");
    let ca_key = dir.join("ca.key");
    let (ok, _, err) = sealdb(&[
        "cert",
        "create-ca",
        "--certs-dir",
        s(&certs),
        "--ca-key",
        s(&ca_key),
        "--cluster",
        "killtest",
    ]);
    assert!(ok, "{err}");
    let ports = free_udp_ports(ids.len());
    let members: Vec<String> = ids[..voters]
        .iter()
        .zip(&ports)
        .map(|(id, p)| format!("\"{id}@127.0.0.1:{p}\""))
        .collect();
    let mut nodes = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let id_s = id.to_string();
        let (ok, _, err) = sealdb(&[
            "cert",
            "create-node",
            "--certs-dir",
            s(&certs),
            "--ca-key",
            s(&ca_key),
            &id_s,
            "127.0.0.1",
        ]);
        assert!(ok, "{err}");
        let key = dir.join(format!("node{id}.key"));
        let (ok, _, err) = sealdb(&["keygen", "--out", s(&key)]);
        assert!(ok, "{err}");
        let initial = if i < voters {
            members.join(", ")
        } else {
            String::new()
        };
        let config = dir.join(format!("node{id}.toml"));
        std::fs::write(
            &config,
            format!(
                "node_id = {id}\n\
                 data_dir = \"node{id}\"\n\
                 key_file = \"node{id}.key\"\n\
                 listen = \"127.0.0.1:{port}\"\n\
                 certs_dir = \"certs\"\n\
                 initial_members = [{initial}]\n\
                 heartbeat_ms = 50\n\
                 election_timeout_ms = [300, 600]\n\
                 timeout_ms = 5000\n\
                 snapshot_every = 40\n\
                 keep_log = 10\n\
                 idle_timeout_ms = 3000\n\
                 keep_alive_ms = 500\n",
                port = ports[i]
            ),
        )
        .expect("config");
        nodes.push(Node {
            id: *id,
            config,
            socket: dir.join(format!("node{id}")).join("admin.sock"),
            log: dir.join(format!("node{id}.log")),
            address: format!("127.0.0.1:{}", ports[i]),
            child: None,
        });
    }
    nodes
}

fn leader_of(nodes: &[Node]) -> Option<u64> {
    nodes
        .iter()
        .filter(|n| n.child.is_some())
        .filter_map(|n| status(&n.socket))
        .find(|st| st.get("role").map(String::as_str) == Some("leader"))
        .and_then(|st| st.get("node")?.parse().ok())
}

fn wait_leader(nodes: &[Node]) -> u64 {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(l) = leader_of(nodes) {
            return l;
        }
        assert!(Instant::now() < end, "no leader");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_9_leaders_and_followers_in_a_loop_loses_no_acknowledged_write() {
    let rounds: usize = std::env::var("SEALDB_REPL_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut nodes = setup(tmp.path(), &[1, 2, 3], 3);
    for n in nodes.iter_mut() {
        n.start();
    }
    for n in &nodes {
        n.wait_up();
    }
    let leader = wait_leader(&nodes);
    let socket = nodes[leader as usize - 1].socket.clone();
    sql(&socket, &["CREATE TABLE t (id INTEGER PRIMARY KEY)"]).expect("create table");

    // The writer: one insert at a time through a random node; an insert
    // refused as a conflict (the node ran it on data older than the
    // leader's) did not happen and is retried; any other failure is an
    // unknown outcome: the id is never used again.
    let sockets: Vec<PathBuf> = nodes.iter().map(|n| n.socket.clone()).collect();
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let attempted = Arc::new(Mutex::new(BTreeSet::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, attempted, stop) = (acked.clone(), attempted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = 0x2545_F491_4F6C_DD1Du64;
            let mut id = 0i64;
            let mut unknown = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let target = &sockets[(rng % sockets.len() as u64) as usize];
                attempted.lock().expect("lock").insert(id);
                match sql(target, &[&format!("INSERT INTO t VALUES ({id})")]) {
                    Ok(_) => {
                        acked.lock().expect("lock").push(id);
                        id += 1;
                    }
                    Err(e) if e.contains("transaction conflict") => {}
                    Err(_) => {
                        unknown += 1;
                        id += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            unknown
        })
    };
    let wait_acks = |more: usize, what: &str| {
        let want = acked.lock().expect("lock").len() + more;
        let end = Instant::now() + Duration::from_secs(60);
        while acked.lock().expect("lock").len() < want {
            assert!(Instant::now() < end, "no progress {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    let mut kills = Vec::new();
    for round in 0..rounds {
        wait_acks(5, "before a kill");
        let leader = wait_leader(&nodes);
        let victim = if round % 2 == 0 {
            leader
        } else {
            nodes
                .iter()
                .map(|n| n.id)
                .find(|id| *id != leader)
                .expect("a follower")
        };
        nodes[victim as usize - 1].kill9();
        kills.push((victim, victim == leader));
        // A majority survives: commits go on.
        wait_acks(5, "with a node killed");
        nodes[victim as usize - 1].start();
        nodes[victim as usize - 1].wait_up();
    }
    wait_acks(5, "after the last restart");
    stop.store(true, Ordering::Relaxed);
    let unknown = writer.join().expect("writer");

    let acked: BTreeSet<i64> = acked.lock().expect("lock").iter().copied().collect();
    let attempted = attempted.lock().expect("lock").clone();
    let mut seen = Vec::new();
    for n in &nodes {
        let end = Instant::now() + Duration::from_secs(60);
        let rows = loop {
            match sql(
                &n.socket,
                &[
                    "SET read_consistency = 'linearizable'",
                    "SELECT id FROM t ORDER BY id",
                ],
            ) {
                Ok(out) => break out,
                Err(e) => {
                    assert!(Instant::now() < end, "node {}: {e}", n.id);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        let ids: BTreeSet<i64> = rows.lines().map(|l| l.parse().expect("an id")).collect();
        let lost: Vec<_> = acked.difference(&ids).collect();
        assert!(lost.is_empty(), "node {} lost acknowledged {lost:?}", n.id);
        let invented: Vec<_> = ids.difference(&attempted).collect();
        assert!(invented.is_empty(), "node {} has {invented:?}", n.id);
        seen.push(ids);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "nodes disagree");
    let leaders_killed = kills.iter().filter(|k| k.1).count();
    eprintln!(
        "{rounds} rounds: {leaders_killed} leaders and {} followers killed; \
         {} writes acknowledged, {unknown} unknown, all present on every node",
        kills.len() - leaders_killed,
        acked.len()
    );
    assert!(leaders_killed >= rounds / 2);
}

#[test]
fn cluster_commands_add_and_remove_an_edge_learner() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut nodes = setup(tmp.path(), &[1, 2, 3, 4], 3);
    for n in nodes.iter_mut() {
        n.start();
    }
    for n in &nodes {
        n.wait_up();
    }
    let leader = wait_leader(&nodes[..3]);
    let lcfg = nodes[leader as usize - 1].config.clone();
    let (ok, out, err) = sealdb(&[
        "cluster",
        "sql",
        "--config",
        s(&lcfg),
        "-e",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "-e",
        "INSERT INTO t VALUES (1, 'edge')",
    ]);
    assert!(ok, "{out}{err}");

    let (ok, out, err) = sealdb(&["cluster", "status", "--config", s(&lcfg)]);
    assert!(ok, "{err}");
    assert!(out.contains("role: leader"), "{out}");
    assert_eq!(out.matches("member: ").count(), 3, "{out}");

    // A follower names the leader instead of changing the membership.
    let follower = nodes
        .iter()
        .take(3)
        .find(|n| n.id != leader)
        .expect("follower");
    let (ok, _, err) = sealdb(&[
        "cluster",
        "add",
        "--config",
        s(&follower.config),
        "--learner",
        "4",
        &nodes[3].address,
    ]);
    assert!(!ok && err.contains(&format!("node {leader}")), "{err}");

    let (ok, _, err) = sealdb(&[
        "cluster",
        "add",
        "--config",
        s(&lcfg),
        "--learner",
        "4",
        &nodes[3].address,
    ]);
    assert!(ok, "{err}");
    let learner_cfg = nodes[3].config.clone();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out, _) = sealdb(&[
            "cluster",
            "sql",
            "--config",
            s(&learner_cfg),
            "-e",
            "SELECT v FROM t WHERE id = 1",
        ]);
        if ok && out == "edge\n" {
            break;
        }
        assert!(Instant::now() < end, "the learner never got the row: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, out, err) = sealdb(&["cluster", "status", "--config", s(&learner_cfg)]);
    assert!(ok, "{err}");
    assert!(out.contains("role: learner"), "{out}");
    // A learner does not take writes from SQL either (forwarded, then
    // applied everywhere) — the default is forwarding.
    let (ok, out, err) = sealdb(&[
        "cluster",
        "sql",
        "--config",
        s(&learner_cfg),
        "-e",
        "INSERT INTO t VALUES (2, 'from the edge')",
    ]);
    assert!(ok, "{out}{err}");

    let (ok, _, err) = sealdb(&["cluster", "remove", "--config", s(&lcfg), "4"]);
    assert!(ok, "{err}");
    let (ok, out, err) = sealdb(&["cluster", "status", "--config", s(&lcfg)]);
    assert!(ok, "{err}");
    assert_eq!(out.matches("member: ").count(), 3, "{out}");
    assert!(!out.contains("member: 4 "), "{out}");

    // Bad input is refused with a message, not a crash.
    let (ok, _, err) = sealdb(&["cluster", "remove", "--config", s(&lcfg), "99"]);
    assert!(!ok && err.contains("not a member"), "{err}");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "node_id = 1\nlisten = \"x\"\n").expect("write");
    let (ok, _, err) = sealdb(&["node", "--config", s(&bad)]);
    assert!(!ok && err.starts_with("error: "), "{err}");
}
