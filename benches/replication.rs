//! Commit latency and throughput of a replicated database against a
//! single node: 3 voters in one process, over the in-memory network (no
//! sockets) and over real QUIC with mutual TLS on 127.0.0.1 (certificates
//! made by `sealdb::repl::cert`); each node its own directory, key and
//! fsynced log; 1 and 64 concurrent writers of single-row autocommit
//! INSERTs on the leader.
//!
//! `cargo bench --bench replication` (release). `SEALDB_BENCH_OPS` sets
//! the commits per writer set (default 2000). Prints a table for
//! BENCHMARKS.md; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sealdb::repl::cert::{self, CertsDir, NodeCertRequest, Validity};
use sealdb::repl::raft::ClusterTransport;
use sealdb::repl::transport::{EndpointConfig, TlsFiles};
use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{
    Db, KeyBytes, MemNetwork, MemoryKeyProvider, Options, QuicTransport, ReplicationOptions, Role,
};

fn provider(seed: u8) -> MemoryKeyProvider {
    MemoryKeyProvider::new(KeyBytes::from_slice(&[seed; 32])).expect("key")
}

fn storage() -> StorageOptions {
    StorageOptions {
        sync: SyncMode::Full,
        ..StorageOptions::default()
    }
}

fn single(dir: &std::path::Path) -> Db {
    Db::open_with(
        dir,
        provider(1),
        Options {
            storage: storage(),
            busy_timeout: Duration::from_secs(60),
            ..Options::default()
        },
    )
    .expect("open")
}

/// How the nodes of a benchmark cluster talk.
enum Net {
    Memory,
    /// QUIC + mutual TLS on 127.0.0.1; certificates in this directory.
    Quic(std::path::PathBuf),
}

/// Each node's transport, address and runtime (`None`: the node's own).
type Transports = (
    Vec<Arc<dyn ClusterTransport>>,
    Vec<String>,
    Vec<Option<tokio::runtime::Handle>>,
);

fn transports(net: &Net) -> Transports {
    match net {
        Net::Memory => {
            let mem = MemNetwork::new(7);
            (
                (1..=3).map(|id| mem.transport(id)).collect(),
                (1..=3).map(|id| format!("node-{id}")).collect(),
                vec![None, None, None],
            )
        }
        Net::Quic(dir) => {
            let certs = CertsDir::new(dir.join("certs"));
            let ca_key = dir.join("ca.key");
            cert::create_ca(&certs, &ca_key, "bench", Validity::days_from_now(2), false)
                .expect("CA");
            let mut ts: Vec<Arc<dyn ClusterTransport>> = Vec::new();
            let mut addrs = Vec::new();
            let mut handles = Vec::new();
            for id in 1..=3u64 {
                cert::create_node(
                    &certs,
                    &ca_key,
                    &NodeCertRequest {
                        node_id: id,
                        hosts: vec!["127.0.0.1".into()],
                        ocsp_url: None,
                        validity: Validity::days_from_now(1),
                    },
                    false,
                )
                .expect("node cert");
                let files = TlsFiles {
                    cert: certs.node_cert(id),
                    key: certs.node_key(id),
                    ca: certs.ca_cert(),
                    crls: vec![certs.crl()],
                };
                let t = QuicTransport::start(
                    EndpointConfig::new("127.0.0.1:0".parse().expect("addr"), files),
                    None,
                )
                .expect("transport");
                addrs.push(t.local_addr().expect("addr").to_string());
                handles.push(Some(t.runtime()));
                ts.push(t);
            }
            (ts, addrs, handles)
        }
    }
}

fn cluster(dirs: &[tempfile::TempDir], net: &Net) -> Vec<Db> {
    let (transports, addrs, runtimes) = transports(net);
    let members: Vec<(u64, String)> = (1..=3).zip(addrs.iter().cloned()).collect();
    let dbs: Vec<Db> = (1..=3u64)
        .map(|id| {
            let i = id as usize - 1;
            let mut r = ReplicationOptions::new(id, addrs[i].clone(), transports[i].clone());
            r.runtime = runtimes[i].clone();
            r.initial_members = members.clone();
            r.timeout = Duration::from_secs(60);
            r.transfer_on_close = false;
            Db::open_with(
                dirs[id as usize - 1].path(),
                provider(id as u8),
                Options {
                    storage: storage(),
                    busy_timeout: Duration::from_secs(60),
                    replication: Some(r),
                    ..Options::default()
                },
            )
            .expect("open node")
        })
        .collect();
    let end = Instant::now() + Duration::from_secs(30);
    while !dbs
        .iter()
        .any(|d| d.cluster().expect("cluster").status().role == Role::Leader)
    {
        assert!(Instant::now() < end, "no leader");
        std::thread::sleep(Duration::from_millis(20));
    }
    dbs
}

/// Runs `total` inserts from `writers` threads; returns per-commit
/// latencies and the wall time.
fn run(db: &Db, writers: usize, total: usize, table: &str) -> (Vec<Duration>, Duration) {
    db.root_session()
        .execute(
            &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)"),
            &[],
        )
        .expect("create");
    let per = total / writers;
    let started = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let db = db.clone();
            let sql = format!("INSERT INTO {table} VALUES (?, 'some payload of a row')");
            std::thread::spawn(move || {
                let s = db.root_session();
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let id = (w * per + i) as i64;
                    let t = Instant::now();
                    s.execute(&sql, &[&id]).expect("insert");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().expect("writer"));
    }
    (all, started.elapsed())
}

fn report(name: &str, writers: usize, (mut lat, wall): (Vec<Duration>, Duration)) {
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "| {name} | {writers} | {:.2} | {:.2} | {:.0} |",
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lat.len() as f64 / wall.as_secs_f64()
    );
}

fn main() {
    let ops: usize = std::env::var("SEALDB_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("| setup | writers | p50 ms | p99 ms | commits/s |");
    println!("|---|---|---|---|---|");
    let dir = tempfile::tempdir().expect("dir");
    let db = single(dir.path());
    report("single node", 1, run(&db, 1, ops, "t1"));
    report("single node", 64, run(&db, 64, ops.max(64), "t64"));
    drop(db);
    let certs = tempfile::tempdir().expect("dir");
    for (name, net) in [
        ("3 voters, in-memory network", Net::Memory),
        (
            "3 voters, QUIC + mTLS on 127.0.0.1",
            Net::Quic(certs.path().to_path_buf()),
        ),
    ] {
        let dirs: Vec<tempfile::TempDir> =
            (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
        let dbs = cluster(&dirs, &net);
        let leader = dbs
            .iter()
            .find(|d| d.cluster().expect("cluster").status().role == Role::Leader)
            .expect("leader")
            .clone();
        report(name, 1, run(&leader, 1, ops, "t1"));
        report(name, 64, run(&leader, 64, ops.max(64), "t64"));
        drop(leader);
        drop(dbs);
    }
}
