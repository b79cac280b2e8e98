//! SIGHUP reloads the certificates of an endpoint (the standalone node's
//! rotation signal). Its own test binary: the signal goes to the process.

mod transport_common;

use std::time::Duration;

use sealdb::repl::transport::Lane;
use transport_common::{bind, Recorder, TestCa};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_connections_continue() {
    let ca = TestCa::new("alpha");
    let n1 = bind(ca.node(1), &Recorder::default()).await;
    let n2 = bind(ca.node(2), &Recorder::default()).await;
    let addr2 = n2.local_addr().expect("addr");
    let peer = n1.connect(addr2, 2).await.expect("connect");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _watch = n2
        .reload_on_sighup(move |r| {
            let _ = tx.send(r.map_err(|e| e.to_string()));
        })
        .expect("watch SIGHUP");
    ca.node(2); // a new certificate and key for node 2
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let report = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("reloaded within 10 s")
        .expect("a result")
        .expect("reload ok");
    assert_eq!(report.closed, 0);
    assert_eq!(n2.stats().reloads, 1);
    assert_eq!(
        peer.call(Lane::Urgent, b"x").await.expect("continues"),
        b"echo:x"
    );
}
