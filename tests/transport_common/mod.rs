//! Shared helpers of the transport tests: a cluster's certificates made by
//! `sealdb::repl::cert` in a temporary directory, endpoints on 127.0.0.1,
//! an echo service, a refusal recorder, and a raw QUIC client that can
//! misbehave in ways our own endpoint never would.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use sealdb::repl::cert::{self, CertsDir, NodeCertRequest, Validity};
use sealdb::repl::transport::{
    BoxFuture, BulkBody, BulkHeader, Endpoint, EndpointConfig, Lane, PeerInfo, RemoteError,
    Service, TlsFiles,
};
use sealdb::repl::{Refusal, RefusalHook};

/// A cluster's certificate directory with its CA.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub certs: CertsDir,
    pub ca_key: PathBuf,
    pub cluster: String,
}

impl TestCa {
    pub fn new(cluster: &str) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = CertsDir::new(dir.path().join("certs"));
        let ca_key = dir.path().join("ca.key");
        cert::create_ca(&certs, &ca_key, cluster, Validity::days_from_now(30), false)
            .expect("create CA");
        TestCa {
            dir,
            certs,
            ca_key,
            cluster: cluster.into(),
        }
    }

    /// A node certificate valid for a day.
    pub fn node(&self, id: u64) -> TlsFiles {
        self.node_with(id, Validity::days_from_now(1), None)
    }

    pub fn node_with(&self, id: u64, validity: Validity, ocsp_url: Option<String>) -> TlsFiles {
        cert::create_node(
            &self.certs,
            &self.ca_key,
            &NodeCertRequest {
                node_id: id,
                hosts: vec!["127.0.0.1".into(), "localhost".into()],
                ocsp_url,
                validity,
            },
            true,
        )
        .expect("create node cert");
        self.files(id)
    }

    pub fn files(&self, id: u64) -> TlsFiles {
        TlsFiles {
            cert: self.certs.node_cert(id),
            key: self.certs.node_key(id),
            ca: self.certs.ca_cert(),
            crls: vec![self.certs.crl()],
        }
    }

    /// An issuer for hand-made (bad) certificates.
    pub fn issuer(&self) -> rcgen::Issuer<'static, rcgen::KeyPair> {
        let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&self.ca_key).expect("key"))
            .expect("CA key");
        let pem = std::fs::read_to_string(self.certs.ca_cert()).expect("ca.crt");
        rcgen::Issuer::from_ca_cert_pem(&pem, key).expect("issuer")
    }

    /// Writes a hand-made certificate for node files named `name`.
    pub fn custom(
        &self,
        name: &str,
        uri: &str,
        ekus: Vec<rcgen::ExtendedKeyUsagePurpose>,
    ) -> TlsFiles {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = vec![rcgen::SanType::URI(uri.try_into().expect("uri"))];
        params.extended_key_usages = ekus;
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(1);
        let cert = params.signed_by(&key, &self.issuer()).expect("sign");
        let cert_path = self.dir.path().join(format!("{name}.crt"));
        let key_path = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        TlsFiles {
            cert: cert_path,
            key: key_path,
            ca: self.certs.ca_cert(),
            crls: vec![self.certs.crl()],
        }
    }

    pub fn revoke(&self, id: u64) {
        cert::revoke(
            &self.certs,
            &self.ca_key,
            &[cert::RevokeTarget::CertFile(self.certs.node_cert(id))],
            Duration::from_secs(86_400),
        )
        .expect("revoke");
    }
}

/// Validity in the past or future, in hours from now.
pub fn validity_hours(from: i64, to: i64) -> Validity {
    let at = |h: i64| {
        if h >= 0 {
            SystemTime::now() + Duration::from_secs(h as u64 * 3600)
        } else {
            SystemTime::now() - Duration::from_secs((-h) as u64 * 3600)
        }
    };
    Validity {
        not_before: at(from),
        not_after: at(to),
    }
}

/// Records refusals.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<Refusal>>>);

impl Recorder {
    pub fn hook(&self) -> RefusalHook {
        let r = self.0.clone();
        Arc::new(move |x: &Refusal| r.lock().push(x.clone()))
    }

    pub fn all(&self) -> Vec<Refusal> {
        self.0.lock().clone()
    }

    /// Waits until a refusal matching `f` arrives (the hook runs on network
    /// tasks, a little after the client sees its error).
    pub async fn wait_for(&self, f: impl Fn(&Refusal) -> bool) -> Refusal {
        self.wait_for_after(0, f).await
    }

    /// Like `wait_for`, among the refusals after the first `skip`.
    pub async fn wait_for_after(&self, skip: usize, f: impl Fn(&Refusal) -> bool) -> Refusal {
        for _ in 0..200 {
            if let Some(r) = self.0.lock().iter().skip(skip).find(|r| f(r)) {
                return r.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no matching refusal; got {:?}", self.all());
    }
}

/// Answers every request with "echo:" + the request; bulk transfers with
/// the header's name, offset and the number of bytes received.
pub struct Echo;

impl Service for Echo {
    fn call(
        &self,
        _peer: PeerInfo,
        _lane: Lane,
        request: Vec<u8>,
    ) -> BoxFuture<Result<Vec<u8>, RemoteError>> {
        Box::pin(async move {
            let mut out = b"echo:".to_vec();
            out.extend_from_slice(&request);
            Ok(out)
        })
    }

    fn bulk(
        &self,
        _peer: PeerInfo,
        header: BulkHeader,
        mut body: BulkBody,
    ) -> BoxFuture<Result<Vec<u8>, RemoteError>> {
        Box::pin(async move {
            let mut n = 0u64;
            while let Some(chunk) = body.next_chunk().await.map_err(|e| RemoteError {
                message: e.to_string(),
            })? {
                n += chunk.len() as u64;
            }
            Ok(format!("{}@{}+{}", header.name, header.offset, n).into_bytes())
        })
    }
}

pub fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

/// Test timings: short, so failures show fast.
pub fn config(files: TlsFiles) -> EndpointConfig {
    let mut c = EndpointConfig::new(localhost(), files);
    c.admission_timeout = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(5);
    c.idle_timeout = Duration::from_secs(10);
    c.keep_alive = Duration::from_secs(1);
    c
}

pub async fn bind(files: TlsFiles, rec: &Recorder) -> Endpoint {
    Endpoint::bind(config(files), Arc::new(Echo), Some(rec.hook()))
        .await
        .expect("bind")
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A QUIC client built by hand: any (or no) client certificate, any ALPN,
/// and no check of the server (it is the server's checks under test).
pub mod raw {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use quinn::crypto::rustls::QuicClientConfig;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use sealdb::repl::transport::TlsFiles;

    #[derive(Debug)]
    struct AcceptAnyServer;

    impl ServerCertVerifier for AcceptAnyServer {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// Connects to `addr`; `Err` only when the client side itself fails.
    pub async fn connect(
        addr: SocketAddr,
        cert: Option<&TlsFiles>,
        alpn: &[u8],
    ) -> Result<(quinn::Endpoint, quinn::Connection), quinn::ConnectionError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer));
        let mut tls = match cert {
            Some(f) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&f.cert)
                    .expect("cert")
                    .collect::<Result<_, _>>()
                    .expect("cert");
                let key = PrivateKeyDer::from_pem_file(&f.key).expect("key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client auth")
            }
            None => builder.with_no_client_auth(),
        };
        tls.alpn_protocols = vec![alpn.to_vec()];
        let config =
            quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).expect("quic tls")));
        let endpoint =
            quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client endpoint");
        let conn = endpoint
            .connect_with(config, addr, "node.sealdb.invalid")
            .expect("connect")
            .await?;
        Ok((endpoint, conn))
    }

    /// Sends a hello claiming `node_id` of `cluster` and reads the answer:
    /// the whole exchange, where a server's refusal shows.
    pub async fn hello(
        conn: &quinn::Connection,
        node_id: u64,
        cluster: &str,
    ) -> Result<Vec<u8>, String> {
        use sealdb::repl::transport::frame::{frame_prefix, stream_header, Hello, StreamKind};
        let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
        let hello = Hello {
            node_id,
            cluster: cluster.into(),
        }
        .encode();
        let mut out = stream_header(StreamKind::Hello).to_vec();
        out.extend_from_slice(&frame_prefix(hello.len()));
        out.extend_from_slice(&hello);
        send.write_all(&out).await.map_err(|e| e.to_string())?;
        send.finish().map_err(|e| e.to_string())?;
        recv.read_to_end(64).await.map_err(|e| e.to_string())
    }

    /// The application close code and reason, once the server closed.
    pub async fn closed(conn: &quinn::Connection) -> (u64, String) {
        match conn.closed().await {
            quinn::ConnectionError::ApplicationClosed(ac) => (
                ac.error_code.into_inner(),
                String::from_utf8_lossy(&ac.reason).into_owned(),
            ),
            other => (u64::MAX, other.to_string()),
        }
    }
}
