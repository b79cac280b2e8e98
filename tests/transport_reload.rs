//! Reload without restart, and revocation closing live connections, over
//! real QUIC on 127.0.0.1.

mod transport_common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use sealdb::repl::cert::{read_cert, Validity};
use sealdb::repl::transport::{Endpoint, Lane};
use sealdb::repl::{CertInfo, RefusalReason, RevocationSource, Side};
use sealdb::Error;
use transport_common::{bind, config, Echo, Recorder, TestCa};

fn serial_of(path: &std::path::Path) -> Vec<u8> {
    CertInfo::from_der(&read_cert(path).expect("cert"))
        .expect("parse")
        .serial
}

/// The report of node `id`'s live connection closed as revoked by a CRL.
async fn closed_as_revoked(rec: &Recorder, id: u64) -> sealdb::repl::Refusal {
    let r = rec
        .wait_for(|r| r.closed_existing && r.peer.as_ref().and_then(|p| p.node_id()) == Some(id))
        .await;
    assert_eq!(
        r.reason,
        RefusalReason::Revoked {
            source: RevocationSource::Crl
        }
    );
    r
}

/// The reason a hand-made client's connection was closed with, which
/// must happen soon (not left live).
async fn closed_soon(conn: &quinn::Connection) -> String {
    tokio::time::timeout(Duration::from_secs(5), transport_common::raw::closed(conn))
        .await
        .expect("the connection was closed, not left live")
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_continue_across_certificate_rotation() {
    let ca = TestCa::new("alpha");
    let (rec1, rec2) = (Recorder::default(), Recorder::default());
    let n1 = bind(ca.node(1), &rec1).await;
    let n2 = bind(ca.node(2), &rec2).await;
    let addr2 = n2.local_addr().expect("addr");
    let old_serial = serial_of(&ca.certs.node_cert(2));
    let peer = n1.connect(addr2, 2).await.expect("connect");
    assert_eq!(peer.info().cert_serial, old_serial);

    // A stream of requests while both nodes rotate their certificates.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let (peer, stop, ok, errors) = (peer.clone(), stop.clone(), ok.clone(), errors.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let msg = i.to_be_bytes();
                match peer.call(Lane::Append, &msg).await {
                    Ok(r) if r[5..] == msg => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => errors.lock().push(format!("{other:?}")),
                }
                i += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = ok.load(Ordering::Relaxed);
    ca.node(2); // new key and certificate for node 2, same id
    ca.node(1);
    let r2 = n2.reload().await.expect("reload node 2");
    let r1 = n1.reload().await.expect("reload node 1");
    assert_eq!((r1.closed, r2.closed), (0, 0));
    let at_reload = ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.expect("load task");
    let total = ok.load(Ordering::Relaxed);
    eprintln!(
        "rotation under load: {before} requests before, {} during, {} after the reloads, errors {:?}",
        at_reload - before,
        total - at_reload,
        errors.lock()
    );
    assert!(errors.lock().is_empty());
    assert!(
        before > 0 && total > at_reload,
        "requests flowed on both sides of the reload"
    );

    // The old connection still works; a new one presents the new certificate.
    assert_eq!(
        peer.call(Lane::Urgent, b"x").await.expect("old conn"),
        b"echo:x"
    );
    let new_serial = serial_of(&ca.certs.node_cert(2));
    assert_ne!(new_serial, old_serial);
    let n3 = bind(ca.node(3), &Recorder::default()).await;
    let fresh = n3.connect(addr2, 2).await.expect("connect after reload");
    assert_eq!(fresh.info().cert_serial, new_serial);
    assert!(rec1.all().is_empty() && rec2.all().is_empty());
    assert_eq!(n2.stats().reloads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_revocation_closes_the_live_connection() {
    let ca = TestCa::new("alpha");
    let (rec1, rec2) = (Recorder::default(), Recorder::default());
    let n1 = bind(ca.node(1), &rec1).await;
    let n2 = bind(ca.node(2), &rec2).await;
    let n3 = bind(ca.node(3), &Recorder::default()).await;
    let addr2 = n2.local_addr().expect("addr");
    let p1 = n1.connect(addr2, 2).await.expect("connect 1");
    let p3 = n3.connect(addr2, 2).await.expect("connect 3");
    p1.call(Lane::Urgent, b"hb").await.expect("live");

    ca.revoke(1);
    let report = n2.reload().await.expect("reload");
    assert_eq!(report.closed, 1, "only node 1's connection closes");
    let r = closed_as_revoked(&rec2, 1).await;
    assert_eq!(r.side, Side::Inbound);

    // Node 1 learns why, typed, on its next request and from closed().
    let e = p1.call(Lane::Urgent, b"hb").await.expect_err("closed");
    match &e {
        Error::PeerRefused {
            reason: RefusalReason::RejectedByPeer { detail },
            ..
        } => assert!(detail.contains("revoked"), "{detail}"),
        other => panic!("unexpected {other}"),
    }
    assert!(p1.is_closed());
    assert!(matches!(p1.closed().await, Error::PeerRefused { .. }));
    // Node 3 is untouched, and node 1 cannot come back.
    assert_eq!(
        p3.call(Lane::Urgent, b"x").await.expect("node 3"),
        b"echo:x"
    );
    assert!(matches!(
        n1.connect(addr2, 2).await,
        Err(Error::PeerRefused { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_recheck_closes_a_connection_whose_certificate_expired() {
    let ca = TestCa::new("alpha");
    let now = SystemTime::now();
    let short = ca.node_with(
        1,
        Validity {
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(3),
        },
        None,
    );
    let n1 = bind(short, &Recorder::default()).await;
    let rec2 = Recorder::default();
    let mut c2 = config(ca.node(2));
    c2.recheck_interval = Duration::from_millis(250);
    let n2 = Endpoint::bind(c2, Arc::new(Echo), Some(rec2.hook()))
        .await
        .expect("bind");
    let p = n1
        .connect(n2.local_addr().expect("addr"), 2)
        .await
        .expect("connect while valid");
    p.call(Lane::Urgent, b"x").await.expect("live");
    let r = rec2
        .wait_for(|r| r.closed_existing && r.reason == RefusalReason::Expired)
        .await;
    assert_eq!(r.peer.and_then(|p| p.node_id()), Some(1));
    assert!(p.call(Lane::Urgent, b"x").await.is_err());
    assert_eq!(n2.stats().closed_by_recheck, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reload_changes_nothing() {
    let ca = TestCa::new("alpha");
    let n1 = bind(ca.node(1), &Recorder::default()).await;
    let n2 = bind(ca.node(2), &Recorder::default()).await;
    let addr2 = n2.local_addr().expect("addr");
    let p = n1.connect(addr2, 2).await.expect("connect");

    // A broken key file.
    let key = ca.certs.node_key(2);
    let good_key = std::fs::read(&key).expect("key");
    std::fs::write(&key, b"-----BEGIN PRIVATE KEY-----\nnot a key\n").expect("write");
    assert!(matches!(n2.reload().await, Err(Error::Certificate { .. })));
    std::fs::write(&key, &good_key).expect("restore");
    // Another node's certificate: a reload never changes identity.
    std::fs::copy(ca.node(5).cert, ca.certs.node_cert(2)).expect("copy");
    std::fs::copy(ca.certs.node_key(5), &key).expect("copy");
    let e = n2.reload().await.expect_err("identity change refused");
    assert!(e.to_string().contains("restart"), "{e}");

    // The old material is still in force, for old and new connections.
    assert_eq!(p.call(Lane::Urgent, b"x").await.expect("old"), b"echo:x");
    let n3 = bind(ca.node(3), &Recorder::default()).await;
    n3.connect(addr2, 2)
        .await
        .expect("new connection with the old material");
    assert_eq!(n2.stats().reloads, 0);
}

/// A connection whose TLS handshake is done but whose admission (the
/// hello) is not when the reload runs is invisible to the reload's
/// recheck; it answers to the new material when it would go live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_under_way_during_a_reload_answers_to_the_new_material() {
    use sealdb::repl::transport::ALPN;
    use transport_common::raw;
    let ca = TestCa::new("alpha");
    let rec2 = Recorder::default();
    let n2 = bind(ca.node(2), &rec2).await;
    let addr2 = n2.local_addr().expect("addr");
    let (_ep, conn) = raw::connect(addr2, Some(&ca.node(1)), ALPN)
        .await
        .expect("handshake under the old material");
    ca.revoke(1);
    let report = n2.reload().await.expect("reload");
    assert_eq!(report.closed, 0, "not live yet: the recheck cannot see it");
    // The hello ends the admission, after the reload.
    let _ = raw::hello(&conn, 1, "alpha").await;
    let reason = closed_soon(&conn).await;
    assert!(reason.contains("revoked"), "{reason}");
    closed_as_revoked(&rec2, 1).await;
    assert_eq!(n2.stats().live, 0);
    // A peer that still passes is admitted as before.
    let n3 = bind(ca.node(3), &Recorder::default()).await;
    let p3 = n3.connect(addr2, 2).await.expect("node 3");
    assert_eq!(p3.call(Lane::Urgent, b"x").await.expect("call"), b"echo:x");
}

/// `close_peers` closes a connection being admitted when it runs, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_peers_closes_an_admission_under_way() {
    use sealdb::repl::transport::ALPN;
    use transport_common::raw;
    let ca = TestCa::new("alpha");
    let n2 = bind(ca.node(2), &Recorder::default()).await;
    let addr2 = n2.local_addr().expect("addr");
    let (_ep, conn) = raw::connect(addr2, Some(&ca.node(1)), ALPN)
        .await
        .expect("handshake");
    n2.close_peers();
    let _ = raw::hello(&conn, 1, "alpha").await;
    let reason = closed_soon(&conn).await;
    assert!(reason.contains("not serving"), "{reason}");
    assert_eq!(n2.stats().live, 0);
    // It keeps listening: a new connection is admitted.
    let n1 = bind(ca.node(1), &Recorder::default()).await;
    let p1 = n1.connect(addr2, 2).await.expect("after close_peers");
    assert_eq!(p1.call(Lane::Urgent, b"y").await.expect("call"), b"echo:y");
}
