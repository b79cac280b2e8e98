//! The transport on localhost: round-trip latency of a small (64-byte)
//! urgent request, round trip and throughput of 1 MiB append requests, and
//! full handshakes (QUIC + mutual TLS 1.3 + admission) per second. Two
//! endpoints in one process on 127.0.0.1 with certificates made by
//! `sealdb::repl::cert`; OCSP off, CRL on. Run:
//! `cargo bench --bench transport`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealdb::repl::cert::{self, CertsDir, NodeCertRequest, Validity};
use sealdb::repl::transport::{
    BoxFuture, BulkBody, BulkHeader, Endpoint, EndpointConfig, Lane, PeerInfo, RemoteError,
    Service, TlsFiles,
};

/// Answers with a short acknowledgement (as Raft answers an append).
struct Ack;

impl Service for Ack {
    fn call(&self, _: PeerInfo, _: Lane, req: Vec<u8>) -> BoxFuture<Result<Vec<u8>, RemoteError>> {
        Box::pin(async move { Ok((req.len() as u64).to_be_bytes().to_vec()) })
    }
    fn bulk(
        &self,
        _: PeerInfo,
        _: BulkHeader,
        _: BulkBody,
    ) -> BoxFuture<Result<Vec<u8>, RemoteError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn files(dir: &CertsDir, ca_key: &std::path::Path, id: u64) -> TlsFiles {
    cert::create_node(
        dir,
        ca_key,
        &NodeCertRequest {
            node_id: id,
            hosts: vec!["127.0.0.1".into()],
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        true,
    )
    .expect("node cert");
    TlsFiles {
        cert: dir.node_cert(id),
        key: dir.node_key(id),
        ca: dir.ca_cert(),
        crls: vec![dir.crl()],
    }
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = CertsDir::new(tmp.path());
    let ca_key = tmp.path().join("ca.key");
    cert::create_ca(&dir, &ca_key, "bench", Validity::days_from_now(1), false).expect("CA");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let (client, server, addr) = rt.block_on(async {
        let server = Endpoint::bind(
            EndpointConfig::new(listen, files(&dir, &ca_key, 2)),
            Arc::new(Ack),
            None,
        )
        .await
        .expect("bind");
        let client = Endpoint::bind(
            EndpointConfig::new(listen, files(&dir, &ca_key, 1)),
            Arc::new(Ack),
            None,
        )
        .await
        .expect("bind");
        let addr = server.local_addr().expect("addr");
        (client, server, addr)
    });
    let peer = rt.block_on(client.connect(addr, 2)).expect("connect");

    let mut g = c.benchmark_group("transport");
    g.measurement_time(Duration::from_secs(5));
    let small = vec![1u8; 64];
    g.throughput(Throughput::Elements(1));
    g.bench_function("round trip, 64 B urgent", |b| {
        b.iter(|| rt.block_on(peer.call(Lane::Urgent, &small)).expect("call"))
    });
    let big = vec![2u8; 1 << 20];
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.sample_size(30);
    g.bench_function("round trip, 1 MiB append", |b| {
        b.iter(|| rt.block_on(peer.call(Lane::Append, &big)).expect("call"))
    });
    // Eight requests in flight at once: the throughput of a pipelined
    // leader sending appends.
    g.throughput(Throughput::Bytes(8 * big.len() as u64));
    g.bench_function("8 concurrent 1 MiB appends", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut tasks = Vec::new();
                for _ in 0..8 {
                    let (p, data) = (peer.clone(), big.clone());
                    tasks.push(tokio::spawn(
                        async move { p.call(Lane::Append, &data).await },
                    ));
                }
                for t in tasks {
                    t.await.expect("task").expect("call");
                }
            })
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("handshake + admission", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = client.connect(addr, 2).await.expect("connect");
                p.close();
            })
        })
    });
    g.finish();
    drop(peer);
    rt.block_on(async {
        client.shutdown().await;
        server.shutdown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
