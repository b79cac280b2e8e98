//! OCSP against a real responder: `openssl ocsp` (Debian's openssl package;
//! `.ci/run` installs it) serving an index on 127.0.0.1, signing with the
//! cluster CA. Strict and lax modes with the responder reachable, down, and
//! hanging; a revocation seen by OCSP closes a live connection.

mod transport_common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sealdb::repl::cert::read_cert;
use sealdb::repl::revocation::ocsp::{OcspConfig, OcspMode};
use sealdb::repl::transport::{Endpoint, Lane, TlsFiles};
use sealdb::repl::{CertInfo, RefusalReason, RevocationSource};
use sealdb::Error;
use transport_common::{config, path_str, Echo, Recorder, TestCa};

/// An `openssl ocsp` responder process, killed on drop.
struct Responder {
    child: Child,
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn serial(files: &TlsFiles) -> String {
    CertInfo::from_der(&read_cert(&files.cert).expect("cert"))
        .expect("parse")
        .serial_hex()
}

/// Writes openssl's CA index: (serial, revoked?) per line.
fn write_index(path: &Path, entries: &[(String, bool)]) {
    let mut s = String::new();
    for (i, (serial, revoked)) in entries.iter().enumerate() {
        if *revoked {
            s.push_str(&format!(
                "R\t300101000000Z\t250101000000Z\t{serial}\tunknown\t/CN=node {i}\n"
            ));
        } else {
            s.push_str(&format!(
                "V\t300101000000Z\t\t{serial}\tunknown\t/CN=node {i}\n"
            ));
        }
    }
    std::fs::write(path, s).expect("index");
}

fn start_responder(ca: &TestCa, port: u16, entries: &[(String, bool)]) -> Responder {
    let index = ca.dir.path().join("index.txt");
    write_index(&index, entries);
    let ca_crt = path_str(&ca.certs.ca_cert());
    // Readiness is read from its log, not probed with a connection: an
    // empty TCP connection wedges openssl's single-threaded responder.
    let log = ca.dir.path().join(format!("ocsp-{port}.log"));
    let child = Command::new("openssl")
        .args([
            "ocsp",
            "-index",
            &path_str(&index),
            "-port",
            &port.to_string(),
            "-rsigner",
            &ca_crt,
            "-rkey",
            &path_str(&ca.ca_key),
            "-CA",
            &ca_crt,
            "-ignore_err",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("the openssl binary is required (Debian package openssl; .ci/run installs it)");
    let mut responder = Responder { child };
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("waiting for OCSP client connections") {
            return responder;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = responder.child.kill();
    panic!("openssl ocsp did not start on port {port}");
}

async fn bind_with(files: TlsFiles, mode: OcspMode, rec: &Recorder) -> Endpoint {
    let mut c = config(files);
    c.ocsp = OcspConfig {
        mode,
        responder: None,
        timeout: Duration::from_millis(800),
        cache_without_next_update: Duration::from_millis(100),
    };
    Endpoint::bind(c, Arc::new(Echo), Some(rec.hook()))
        .await
        .expect("bind")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_and_lax_against_a_live_responder() {
    let ca = TestCa::new("alpha");
    let port = free_port();
    let url = Some(format!("http://127.0.0.1:{port}/"));
    let f1 = ca.node_with(
        1,
        sealdb::repl::cert::Validity::days_from_now(1),
        url.clone(),
    );
    let f2 = ca.node_with(
        2,
        sealdb::repl::cert::Validity::days_from_now(1),
        url.clone(),
    );
    let f3 = ca.node_with(
        3,
        sealdb::repl::cert::Validity::days_from_now(1),
        url.clone(),
    );
    let (s1, s2, s3) = (serial(&f1), serial(&f2), serial(&f3));
    let responder = start_responder(
        &ca,
        port,
        &[(s1.clone(), false), (s2.clone(), false), (s3.clone(), true)],
    );

    // Good certificates pass strict mode both ways.
    let (rec1, rec2) = (Recorder::default(), Recorder::default());
    let n1 = bind_with(f1, OcspMode::Strict, &rec1).await;
    let n2 = bind_with(f2.clone(), OcspMode::Strict, &rec2).await;
    let addr2 = n2.local_addr().expect("addr");
    let p1 = n1
        .connect(addr2, 2)
        .await
        .expect("good certificates in strict mode");
    assert_eq!(p1.call(Lane::Urgent, b"x").await.expect("call"), b"echo:x");
    assert_eq!(n2.stats().ocsp_unverified, 0);

    // A certificate the responder says is revoked: refused in strict...
    let n3 = bind_with(f3, OcspMode::Off, &Recorder::default()).await;
    let e = n3.connect(addr2, 2).await.expect_err("revoked refused");
    assert!(matches!(e, Error::PeerRefused { .. }), "{e}");
    let revoked = RefusalReason::Revoked {
        source: RevocationSource::Ocsp,
    };
    let r = rec2.wait_for(|r| r.reason == revoked).await;
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {} | client saw: {e}",
        "revoked (OCSP, strict)", r.reason
    );
    // ...and in lax mode.
    let rec_lax = Recorder::default();
    let lax = bind_with(f2, OcspMode::Lax, &rec_lax).await;
    let e = n3
        .connect(lax.local_addr().expect("addr"), 2)
        .await
        .expect_err("revoked refused in lax mode");
    let r = rec_lax.wait_for(|r| r.reason == revoked).await;
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {} | client saw: {e}",
        "revoked (OCSP, lax)", r.reason
    );

    // Node 1 is revoked at the responder while connected: the next check
    // (here asked for; the endpoint also runs it periodically) closes it.
    // openssl ocsp reads its index once: restart it on the same port.
    drop(responder);
    let _responder = start_responder(&ca, port, &[(s1, true), (s2, false), (s3, true)]);
    tokio::time::sleep(Duration::from_millis(150)).await; // cached answer expires
    assert_eq!(n2.recheck().await, 1);
    let r = rec2
        .wait_for(|r| r.closed_existing && r.reason == revoked)
        .await;
    assert_eq!(r.peer.and_then(|p| p.node_id()), Some(1));
    assert!(p1.call(Lane::Urgent, b"x").await.is_err());
    eprintln!(
        "refusal matrix | live     | {:<32} | {} | connection closed",
        "revoked (OCSP) while connected", r.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_responder_is_admitted_in_lax_and_refused_in_strict() {
    let ca = TestCa::new("alpha");
    // Nothing listens on this port.
    let dead = Some(format!("http://127.0.0.1:{}/", free_port()));
    let f1 = ca.node_with(
        1,
        sealdb::repl::cert::Validity::days_from_now(1),
        dead.clone(),
    );
    let f2 = ca.node_with(2, sealdb::repl::cert::Validity::days_from_now(1), dead);
    let n1 = bind_with(f1, OcspMode::Lax, &Recorder::default()).await;

    let rec_lax = Recorder::default();
    let lax = bind_with(f2.clone(), OcspMode::Lax, &rec_lax).await;
    n1.connect(lax.local_addr().expect("addr"), 2)
        .await
        .expect("lax admits without an answer");
    assert!(lax.stats().ocsp_unverified >= 1);
    assert!(rec_lax.all().is_empty());

    let rec_strict = Recorder::default();
    let strict = bind_with(f2.clone(), OcspMode::Strict, &rec_strict).await;
    let e = n1
        .connect(strict.local_addr().expect("addr"), 2)
        .await
        .expect_err("strict refuses without an answer");
    let r = rec_strict
        .wait_for(|r| matches!(r.reason, RefusalReason::OcspUnavailable { .. }))
        .await;
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {} | client saw: {e}",
        "OCSP responder down (strict)", r.reason
    );

    // A responder that accepts and never answers: the timeout decides.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let hang_port = hang.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = hang.accept().await {
            conns.push(s);
        }
    });
    let mut c = config(f2);
    c.ocsp = OcspConfig {
        mode: OcspMode::Strict,
        responder: Some(format!("http://127.0.0.1:{hang_port}/ocsp")),
        timeout: Duration::from_millis(300),
        cache_without_next_update: Duration::from_secs(1),
    };
    let rec_hang = Recorder::default();
    let hanging = Endpoint::bind(c, Arc::new(Echo), Some(rec_hang.hook()))
        .await
        .expect("bind");
    let started = std::time::Instant::now();
    assert!(n1
        .connect(hanging.local_addr().expect("addr"), 2)
        .await
        .is_err());
    assert!(started.elapsed() < Duration::from_secs(4));
    let r = rec_hang
        .wait_for(|r| matches!(&r.reason, RefusalReason::OcspUnavailable { detail } if detail.contains("did not answer")))
        .await;
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {}",
        "OCSP responder hangs (strict)", r.reason
    );
    held.abort();
}
