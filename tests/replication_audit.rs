//! Transport refusals in the audit log of a replicated node, over real QUIC
//! on 127.0.0.1 with certificates made by `sealdb::repl::cert`: a node of a
//! foreign CA (knocking before the database is even open), a revoked node,
//! a live connection closed by a revocation, an expired certificate, a
//! client without a certificate, a datagram that is not QUIC — each is one
//! `peer_refused` record naming its reason; the chain verifies, and the
//! records are exported, also from a read-only open of the closed store.
//! The same holds for a node opened from a configuration file
//! (`Db::open_node`, what `sealdb node`, C and Python run).

mod transport_common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealdb::repl::transport::{Endpoint, EndpointConfig, NoService, TlsFiles, ALPN};
use sealdb::repl::RefusalReason;
use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, QuicTransport, ReplicationOptions, Role};
use transport_common::{config, raw, validity_hours, Recorder, TestCa};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn key() -> MemoryKeyProvider {
    MemoryKeyProvider::new(KeyBytes::from_slice(&[42u8; 32])).expect("provider")
}

/// A one-voter replicated database over `transport`.
fn open_replicated(dir: &Path, transport: &Arc<QuicTransport>) -> Db {
    let addr = transport.local_addr().expect("addr").to_string();
    let mut r = ReplicationOptions::new(1, addr.clone(), transport.clone());
    r.initial_members = vec![(1, addr)];
    r.runtime = Some(transport.runtime());
    let options = Options {
        replication: Some(r),
        storage: StorageOptions {
            sync: SyncMode::Normal,
            ..StorageOptions::default()
        },
        ..Options::default()
    };
    Db::open_with(dir, key(), options).expect("open replicated")
}

/// The `peer_refused` records of `db`'s audit log, as exported JSON lines;
/// the chain must be intact.
fn refusal_lines(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    let report = db.audit_export(&mut out).expect("export");
    assert!(report.is_intact(), "{report:?}");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .filter(|l| l.contains("\"event\":\"peer_refused\""))
        .map(str::to_string)
        .collect()
}

/// What one expected record says (all must appear in its line).
struct Expect {
    what: &'static str,
    parts: Vec<String>,
}

fn expect(what: &'static str, parts: &[&str]) -> Expect {
    Expect {
        what,
        parts: parts.iter().map(|s| s.to_string()).collect(),
    }
}

/// Waits (generously: the writer runs behind the network tasks) until
/// every expectation has a matching record; returns the records.
fn wait_records(db: &Db, want: &[Expect]) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = refusal_lines(db);
        let missing: Vec<&str> = want
            .iter()
            .filter(|e| {
                !lines
                    .iter()
                    .any(|l| e.parts.iter().all(|p| l.contains(p.as_str())))
            })
            .map(|e| e.what)
            .collect();
        if missing.is_empty() {
            return lines;
        }
        assert!(
            Instant::now() < end,
            "no audit record for {missing:?}; the log has {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn endpoint_config(files: TlsFiles, listen: SocketAddr) -> EndpointConfig {
    let mut c = EndpointConfig::new(listen, files);
    c.idle_timeout = Duration::from_secs(10);
    c.keep_alive = Duration::from_secs(1);
    c
}

/// A raw QUIC client with `cert` (or none) that claims node `claim` of
/// the node's cluster: the server must refuse it at the handshake or at
/// the hello.
fn knock(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    cert: Option<&TlsFiles>,
    claim: u64,
    cluster: &str,
) {
    rt.block_on(async {
        if let Ok((_ep, conn)) = raw::connect(addr, cert, ALPN).await {
            let answer = raw::hello(&conn, claim, cluster).await;
            assert!(answer.is_err(), "node {claim} was admitted: {answer:?}");
        }
    });
}

fn wait_leader(db: &Db) {
    let end = Instant::now() + Duration::from_secs(60);
    while db.cluster().expect("cluster").status().role != Role::Leader {
        assert!(Instant::now() < end, "the single voter never led");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_refused_peer_is_an_audit_record_naming_the_reason() {
    let ca = TestCa::new("audit-demo");
    ca.node(1);
    // Another CA for the same cluster name: its nodes are strangers.
    let foreign = TestCa::new("audit-demo");
    foreign.node(9);
    let rec = Recorder::default();
    let transport = QuicTransport::start(
        endpoint_config(ca.files(1), "127.0.0.1:0".parse().expect("addr")),
        Some(rec.hook()),
    )
    .expect("transport");
    let addr = transport.local_addr().expect("addr");
    let rt = runtime();

    // Before the database is open: the refusal waits in the transport.
    // (A raw client: our own endpoint would refuse the node's certificate
    // first, and the node would only hear a TLS alert.)
    knock(&rt, addr, Some(&foreign.files(9)), 9, "audit-demo");
    rt.block_on(rec.wait_for(|r| r.reason == RefusalReason::UnknownIssuer));

    let dir = tempfile::tempdir().expect("dir");
    let db = open_replicated(dir.path(), &transport);
    wait_leader(&db);
    db.root_session()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[])
        .expect("a replicated commit");

    // A revoked node: the node loads the new CRL, then node 2 knocks.
    ca.node(2);
    ca.revoke(2);
    transport.reload().expect("reload the CRL");
    let n2 = rt
        .block_on(Endpoint::bind(
            config(ca.files(2)),
            Arc::new(NoService),
            None,
        ))
        .expect("bind node 2");
    assert!(rt.block_on(n2.connect(addr, 1)).is_err());

    // A live connection, closed when its certificate is revoked.
    ca.node(3);
    let n3 = rt
        .block_on(Endpoint::bind(
            config(ca.files(3)),
            Arc::new(NoService),
            None,
        ))
        .expect("bind node 3");
    let live = rt
        .block_on(n3.connect(addr, 1))
        .expect("node 3 is admitted");
    ca.revoke(3);
    let report = transport.reload().expect("reload the CRL again");
    assert_eq!(report.closed, 1, "the live connection was not closed");
    drop(live);

    // An expired certificate and no certificate at all (raw QUIC clients:
    // our own endpoint refuses to start with either).
    let expired = ca.node_with(4, validity_hours(-48, -24), None);
    knock(&rt, addr, Some(&expired), 4, "audit-demo");
    knock(&rt, addr, None, 5, "audit-demo");
    // A valid certificate of node 6 whose hello claims node 8.
    ca.node(6);
    knock(&rt, addr, Some(&ca.files(6)), 8, "audit-demo");

    // A datagram that is not QUIC.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.send_to(b"GET / HTTP/1.1\r\nHost: sealdb\r\n\r\n", addr)
        .expect("send");
    let udp_addr = udp.local_addr().expect("addr").to_string();

    let want = [
        expect(
            "foreign CA, before open",
            &[
                "side=inbound reason=unknown_issuer closed_existing=false",
                "\"user\":\"sealdb://audit-demo/node/9\"",
                "\"error_code\":720",
            ],
        ),
        expect(
            "revoked node",
            &[
                "side=inbound reason=revoked_crl closed_existing=false",
                "\"user\":\"sealdb://audit-demo/node/2\"",
                "certificate revoked (CRL)",
            ],
        ),
        expect(
            "live connection closed by the revocation",
            &[
                "reason=revoked_crl closed_existing=true",
                "\"user\":\"sealdb://audit-demo/node/3\"",
            ],
        ),
        expect(
            "expired certificate",
            &["side=inbound reason=expired closed_existing=false"],
        ),
        expect(
            "wrong identity",
            &[
                "side=inbound reason=wrong_identity closed_existing=false",
                "\"user\":\"sealdb://audit-demo/node/6\"",
                "certificate is for node 6, but the peer is node 8",
            ],
        ),
        expect(
            "no client certificate",
            &["side=inbound reason=no_client_certificate closed_existing=false"],
        ),
        expect(
            "not QUIC",
            &[
                "side=inbound reason=not_quic closed_existing=false",
                &format!("\"client_address\":\"{udp_addr}\""),
            ],
        ),
    ];
    for l in wait_records(&db, &want) {
        eprintln!("audit: {l}");
    }
    // Everything the hook heard reaches the log (nothing lost on the way,
    // nothing counted as dropped).
    let heard = rec.all();
    let end = Instant::now() + Duration::from_secs(60);
    let lines = loop {
        let lines = refusal_lines(&db);
        let unlogged: Vec<_> = heard
            .iter()
            .filter(|r| {
                let (addr, name) = (
                    format!("\"client_address\":\"{}\"", r.remote),
                    format!("reason={} ", r.reason_name()),
                );
                !lines.iter().any(|l| l.contains(&addr) && l.contains(&name))
            })
            .collect();
        if unlogged.is_empty() {
            break lines;
        }
        assert!(Instant::now() < end, "not in the log: {unlogged:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        lines.iter().all(|l| !l.contains("not recorded")),
        "{lines:#?}"
    );
    // No certificate or key material in any record.
    let key_pem = std::fs::read_to_string(ca.certs.node_key(1)).expect("key");
    let key_body = key_pem.lines().nth(1).expect("a PEM body line");
    for l in &lines {
        assert!(!l.contains("BEGIN") && !l.contains(key_body), "{l}");
    }
    assert!(db.audit_verify().expect("verify").is_intact());

    // Closed, then opened read-only as `sealdb audit verify|export` do.
    let written = lines.len();
    drop(db);
    drop(transport);
    let ro = Db::open_read_only(dir.path(), key(), Options::default()).expect("read-only");
    assert!(ro.audit_verify().expect("verify").is_intact());
    let after = refusal_lines(&ro);
    assert!(after.len() >= written, "{} < {written}", after.len());
    for w in &want {
        assert!(
            after
                .iter()
                .any(|l| w.parts.iter().all(|p| l.contains(p.as_str()))),
            "{} missing after reopening",
            w.what
        );
    }
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

#[test]
fn a_node_opened_from_its_configuration_file_audits_refusals_too() {
    let ca = TestCa::new("audit-node");
    ca.node(1);
    let foreign = TestCa::new("audit-node");
    foreign.node(7);
    let base = ca.dir.path();
    sealdb::crypto::provider::generate_key_file(base.join("node1.key"), 256).expect("keygen");
    let port = free_udp_port();
    let path = base.join("node1.toml");
    std::fs::write(
        &path,
        format!(
            "node_id = 1\ndata_dir = \"node1\"\nkey_file = \"node1.key\"\n\
             listen = \"127.0.0.1:{port}\"\ncerts_dir = \"certs\"\n\
             initial_members = [\"1@127.0.0.1:{port}\"]\nsync = \"normal\"\n"
        ),
    )
    .expect("config");
    let db = Db::open_node(&path).expect("open node");
    wait_leader(&db);
    let rt = runtime();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    knock(&rt, addr, Some(&foreign.files(7)), 7, "audit-node");
    wait_records(
        &db,
        &[expect(
            "foreign CA",
            &[
                "side=inbound reason=unknown_issuer closed_existing=false",
                "\"user\":\"sealdb://audit-node/node/7\"",
            ],
        )],
    );
    assert!(db.audit_verify().expect("verify").is_intact());
}
