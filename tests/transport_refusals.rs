//! The refusal matrix over real QUIC on 127.0.0.1, with certificates made
//! by `sealdb::repl::cert`: every bad peer is refused, the whole exchange is
//! tested (a QUIC client's connect can succeed before the server rejects
//! its certificate; the failure shows on the first stream), and the
//! refusal hook hears the typed reason.

mod transport_common;

use std::sync::Arc;
use std::time::Duration;

use rcgen::ExtendedKeyUsagePurpose as Eku;
use sealdb::repl::cert::{self, ClientCertRequest, Validity};
use sealdb::repl::transport::{BulkHeader, Endpoint, Lane, NoService, TlsFiles, ALPN};
use sealdb::repl::{RefusalReason, RevocationSource, Side};
use sealdb::Error;
use transport_common::{bind, config, raw, validity_hours, Recorder, TestCa};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admitted_nodes_talk_on_every_lane_both_ways() {
    let ca = TestCa::new("alpha");
    let (rec1, rec2) = (Recorder::default(), Recorder::default());
    let n1 = bind(ca.node(1), &rec1).await;
    let n2 = bind(ca.node(2), &rec2).await;
    let addr2 = n2.local_addr().expect("addr");

    let peer = n1.connect(addr2, 2).await.expect("connect");
    assert_eq!(peer.node_id(), 2);
    let r = peer.call(Lane::Urgent, b"vote").await.expect("urgent");
    assert_eq!(r, b"echo:vote");
    let big = vec![7u8; 1 << 20];
    let r = peer.call(Lane::Append, &big).await.expect("append 1 MiB");
    assert_eq!(r.len(), 5 + big.len());

    // A bulk transfer in chunks (the chunk limit splits a 3 MiB send).
    let mut tx = peer
        .open_bulk(&BulkHeader {
            name: "snap/000001.sst".into(),
            offset: 4096,
            total_len: Some(4096 + 3 * (1 << 20)),
            meta: b"term=3,index=77".to_vec(),
        })
        .await
        .expect("open bulk");
    tx.send(&vec![1u8; 3 << 20]).await.expect("send");
    assert_eq!(
        tx.finish().await.expect("finish"),
        format!("snap/000001.sst@4096+{}", 3 << 20).into_bytes()
    );

    // The server side can use the same connection towards the client.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let back = n2.peer(1).expect("inbound connection from node 1");
    assert_eq!(back.info().node_id, 1);
    assert_eq!(
        back.call(Lane::Urgent, b"hb").await.expect("reverse call"),
        b"echo:hb"
    );

    // A request over the lane limit is refused locally.
    let too_big = vec![0u8; 64 * 1024 + 1];
    assert!(matches!(
        peer.call(Lane::Urgent, &too_big).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(rec1.all().is_empty() && rec2.all().is_empty());
    assert_eq!(n1.stats().admitted, 1);
    assert_eq!(n2.stats().admitted, 1);
}

/// One inbound case: a raw client with `cert` claiming `claim` in its hello.
async fn inbound_case(
    name: &str,
    server: &Endpoint,
    rec: &Recorder,
    cert: Option<&TlsFiles>,
    alpn: &[u8],
    claim: u64,
    expect: fn(&RefusalReason) -> bool,
) {
    let before = rec.all().len();
    let addr = server.local_addr().expect("addr");
    let outcome = match raw::connect(addr, cert, alpn).await {
        // The handshake itself can fail on the client...
        Err(e) => format!("connect failed: {e}"),
        // ...or succeed, with the refusal showing on the first stream.
        Ok((_ep, conn)) => match raw::hello(&conn, claim, "alpha").await {
            Ok(ack) if !ack.is_empty() => panic!("{name}: admitted (ack {ack:?})"),
            Ok(_) => format!("empty answer, then {:?}", raw::closed(&conn).await),
            Err(e) => format!("first stream failed: {e}"),
        },
    };
    let refusal = rec.wait_for_after(before, |r| expect(&r.reason)).await;
    assert_eq!(refusal.side, Side::Inbound, "{name}");
    assert!(!refusal.closed_existing, "{name}");
    assert!(rec.all().len() > before, "{name}");
    eprintln!(
        "refusal matrix | inbound  | {name:<32} | {} | client saw: {outcome}",
        refusal.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_refusal_matrix() {
    let ca = TestCa::new("alpha");
    let rec = Recorder::default();
    // Bad certificates are made first, revocation included, so the server
    // loads the CRL that lists the revoked one.
    let revoked = ca.node(4);
    ca.revoke(4);
    let server = bind(ca.node(1), &rec).await;

    let other = TestCa::new("alpha");
    let foreign = other.node(2);
    let expired = ca.node_with(5, validity_hours(-48, -24), None);
    let not_yet = ca.node_with(6, validity_hours(24, 48), None);
    let wrong_id = ca.node(3);
    let wrong_cluster = ca.custom(
        "wrong-cluster",
        "sealdb://beta/node/7",
        vec![Eku::ServerAuth, Eku::ClientAuth],
    );
    let server_only = ca.custom(
        "server-only",
        "sealdb://alpha/node/8",
        vec![Eku::ServerAuth],
    );
    let no_identity = ca.custom(
        "no-identity",
        "https://example.invalid/node/9",
        vec![Eku::ServerAuth, Eku::ClientAuth],
    );
    cert::create_client(
        &ca.certs,
        &ca.ca_key,
        &ClientCertRequest {
            user: "alice".into(),
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        false,
    )
    .expect("client cert");
    let user = TlsFiles {
        cert: ca.certs.client_cert("alice"),
        key: ca.certs.client_key("alice"),
        ca: ca.certs.ca_cert(),
        crls: vec![],
    };

    inbound_case(
        "certificate from another CA",
        &server,
        &rec,
        Some(&foreign),
        ALPN,
        2,
        |r| *r == RefusalReason::UnknownIssuer,
    )
    .await;
    inbound_case(
        "expired certificate",
        &server,
        &rec,
        Some(&expired),
        ALPN,
        5,
        |r| *r == RefusalReason::Expired,
    )
    .await;
    inbound_case(
        "not-yet-valid certificate",
        &server,
        &rec,
        Some(&not_yet),
        ALPN,
        6,
        |r| *r == RefusalReason::NotYetValid,
    )
    .await;
    inbound_case(
        "revoked certificate (CRL)",
        &server,
        &rec,
        Some(&revoked),
        ALPN,
        4,
        |r| {
            *r == RefusalReason::Revoked {
                source: RevocationSource::Crl,
            }
        },
    )
    .await;
    inbound_case(
        "claims node 2 with node 3's cert",
        &server,
        &rec,
        Some(&wrong_id),
        ALPN,
        2,
        |r| {
            *r == RefusalReason::WrongIdentity {
                expected: 2,
                certificate: 3,
            }
        },
    )
    .await;
    inbound_case(
        "node of another cluster",
        &server,
        &rec,
        Some(&wrong_cluster),
        ALPN,
        7,
        |r| matches!(r, RefusalReason::WrongCluster { found, .. } if found == "beta"),
    )
    .await;
    inbound_case(
        "EKU serverAuth only",
        &server,
        &rec,
        Some(&server_only),
        ALPN,
        8,
        |r| *r == RefusalReason::MissingExtendedKeyUsage,
    )
    .await;
    inbound_case(
        "user (client) certificate",
        &server,
        &rec,
        Some(&user),
        ALPN,
        1,
        |r| *r == RefusalReason::MissingExtendedKeyUsage,
    )
    .await;
    inbound_case(
        "no sealdb identity URI",
        &server,
        &rec,
        Some(&no_identity),
        ALPN,
        9,
        |r| *r == RefusalReason::NotANodeCertificate,
    )
    .await;
    inbound_case("no client certificate", &server, &rec, None, ALPN, 1, |r| {
        *r == RefusalReason::NoClientCertificate
    })
    .await;
    inbound_case(
        "wrong ALPN (not sealdb-raft/1)",
        &server,
        &rec,
        Some(&wrong_id),
        b"h3",
        3,
        |r| matches!(r, RefusalReason::Handshake { detail } if detail.contains("ALPN")),
    )
    .await;

    // Plaintext over UDP: not QUIC, reported; nothing answers.
    let addr = server.local_addr().expect("addr");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    udp.send_to(b"GET / HTTP/1.1\r\nHost: sealdb\r\n\r\n", addr)
        .await
        .expect("send");
    let r = rec.wait_for(|r| r.reason == RefusalReason::NotQuic).await;
    assert_eq!(r.remote, udp.local_addr().expect("addr"));
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), udp.recv_from(&mut buf))
            .await
            .is_err(),
        "a plaintext datagram got an answer"
    );
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {} | client saw: no answer",
        "plaintext UDP datagram", r.reason
    );
    // Plaintext over TCP: nothing listens on TCP at all.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    eprintln!(
        "refusal matrix | inbound  | {:<32} | (no TCP listener) | client saw: connection refused",
        "plaintext TCP client"
    );

    // A client that opens a request stream instead of the hello.
    let (_ep, conn) = raw::connect(addr, Some(&wrong_id), ALPN)
        .await
        .expect("connect");
    let (mut send, _recv) = conn.open_bi().await.expect("stream");
    send.write_all(&[1, 1, 0, 0, 0, 0, 0, 1, b'x'])
        .await
        .expect("write");
    send.finish().expect("finish");
    let r = rec
        .wait_for(|r| matches!(&r.reason, RefusalReason::Protocol { detail } if detail.contains("Urgent")))
        .await;
    assert_eq!(raw::closed(&conn).await.0, 1);
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {} | client saw: closed, code 1",
        "request before hello", r.reason
    );

    // Nothing was admitted, and the good node still gets in.
    assert_eq!(server.stats().admitted, 0);
    let good = bind(ca.node(2), &Recorder::default()).await;
    good.connect(addr, 1)
        .await
        .expect("a good node is admitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_refusals() {
    let ca = TestCa::new("alpha");
    let rec = Recorder::default();
    let client = bind(ca.node(1), &rec).await;
    let server_rec = Recorder::default();
    let server = bind(ca.node(2), &server_rec).await;
    let addr = server.local_addr().expect("addr");

    // We dial node 5 but node 2 answers.
    let e = client.connect(addr, 5).await.expect_err("refused");
    assert!(
        matches!(
            &e,
            Error::PeerRefused {
                reason: RefusalReason::WrongIdentity {
                    expected: 5,
                    certificate: 2
                },
                ..
            }
        ),
        "{e}"
    );
    eprintln!(
        "refusal matrix | outbound | {:<32} | {e}",
        "server is another node"
    );

    // A server whose CA we do not trust.
    let other = TestCa::new("alpha");
    let foreign = bind(other.node(3), &Recorder::default()).await;
    let e = client
        .connect(foreign.local_addr().expect("addr"), 3)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            &e,
            Error::PeerRefused {
                reason: RefusalReason::UnknownIssuer,
                ..
            }
        ),
        "{e}"
    );
    eprintln!(
        "refusal matrix | outbound | {:<32} | {e}",
        "server from another CA"
    );
    let r = rec
        .wait_for(|r| r.reason == RefusalReason::UnknownIssuer)
        .await;
    assert_eq!(r.side, Side::Outbound);

    // Our certificate is revoked after we loaded it; the server's CRL
    // knows: its refusal reaches us as the peer's alert on admission.
    ca.revoke(1);
    server.reload().await.expect("server reload");
    let e = client.connect(addr, 2).await.expect_err("refused");
    assert!(
        matches!(
            &e,
            Error::PeerRefused {
                reason: RefusalReason::RejectedByPeer { .. },
                ..
            }
        ),
        "{e}"
    );
    server_rec
        .wait_for(|r| {
            r.reason
                == RefusalReason::Revoked {
                    source: RevocationSource::Crl,
                }
        })
        .await;
    eprintln!(
        "refusal matrix | outbound | {:<32} | {e}",
        "our cert revoked at the server"
    );

    // And the server's own revoked certificate is refused by a client that
    // loads the new CRL.
    ca.revoke(2);
    client.reload().await.expect("client reload");
    let e = client.connect(addr, 2).await.expect_err("refused");
    assert!(
        matches!(
            &e,
            Error::PeerRefused {
                reason: RefusalReason::Revoked {
                    source: RevocationSource::Crl
                },
                ..
            }
        ),
        "{e}"
    );
    eprintln!(
        "refusal matrix | outbound | {:<32} | {e}",
        "server cert revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_refuses_unusable_own_material() {
    let ca = TestCa::new("alpha");
    // Key of another node.
    let mut files = ca.node(1);
    files.key = ca.node(2).key;
    let e = Endpoint::bind(config(files), Arc::new(NoService), None)
        .await
        .expect_err("mismatched key refused");
    assert!(matches!(e, Error::Certificate { .. }), "{e}");
    // Our own certificate expired.
    let expired = ca.node_with(3, validity_hours(-48, -1), None);
    let e = Endpoint::bind(config(expired), Arc::new(NoService), None)
        .await
        .expect_err("expired own cert refused");
    assert!(e.to_string().contains("certificate expired"), "{e}");
    // A user certificate is no node certificate.
    cert::create_client(
        &ca.certs,
        &ca.ca_key,
        &ClientCertRequest {
            user: "bob".into(),
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        false,
    )
    .expect("client");
    let user = TlsFiles {
        cert: ca.certs.client_cert("bob"),
        key: ca.certs.client_key("bob"),
        ca: ca.certs.ca_cert(),
        crls: vec![],
    };
    let e = Endpoint::bind(config(user), Arc::new(NoService), None)
        .await
        .expect_err("user cert refused");
    assert!(e.to_string().contains("not a node certificate"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_crl_refuses_everyone_after_its_grace_period() {
    let ca = TestCa::new("alpha");
    let good1 = ca.node(1);
    let good2 = ca.node(2);
    // A CRL valid for one second.
    cert::revoke(&ca.certs, &ca.ca_key, &[], Duration::from_secs(1)).expect("short CRL");
    // Certificate times have whole seconds: 2.1 s is past the next update.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let rec = Recorder::default();
    let mut strict = config(good2.clone());
    strict.crl_grace = Duration::ZERO;
    let server = Endpoint::bind(strict, Arc::new(transport_common::Echo), Some(rec.hook()))
        .await
        .expect("bind");
    let client = bind(good1, &Recorder::default()).await;
    let addr = server.local_addr().expect("addr");
    let res = client.connect(addr, 2).await;
    assert!(
        res.is_err(),
        "admitted with an expired CRL: {:?} {:?} {:?}",
        rec.all(),
        server.stats(),
        sealdb::repl::cert::read_crl(&ca.certs.crl()).map(|c| c.next_update)
    );
    let r = rec
        .wait_for(|r| matches!(r.reason, RefusalReason::CrlExpired { .. }))
        .await;
    eprintln!(
        "refusal matrix | inbound  | {:<32} | {}",
        "our CRL expired, no grace left", r.reason
    );

    // With a grace period the same CRL is still used.
    let mut lenient = config(good2);
    lenient.crl_grace = Duration::from_secs(3600);
    let server = Endpoint::bind(lenient, Arc::new(transport_common::Echo), None)
        .await
        .expect("bind");
    client
        .connect(server.local_addr().expect("addr"), 2)
        .await
        .expect("admitted within the grace period");
}
