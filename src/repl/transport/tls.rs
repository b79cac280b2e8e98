//! The TLS side of an endpoint: loaded material and the peer verifiers.
//!
//! A [`TlsState`] is one load of the files (own certificate and key, CA
//! bundle, CRLs). It is immutable; a reload builds a new one and swaps it
//! in, so a handshake sees one consistent generation. Every connection gets
//! its own rustls config built from the current state, carrying a slot
//! where the verifier leaves the typed refusal reason (rustls itself only
//! passes a TLS alert on), and with session resumption off: a resumed
//! session would skip the certificate checks, including revocation.
//!
//! Both directions use one check, [`TlsState::verify_peer`]: CRL freshness
//! (next update + grace), then webpki's chain to a CA of the bundle, the
//! validity period, the CRLs (unknown status refused) and both EKUs
//! (serverAuth and clientAuth: every node is both), then the sealdb node
//! identity of our own cluster. TLS 1.3 only; ALPN `sealdb-raft/1`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, TrustAnchor, UnixTime};
use webpki::{
    ExtendedKeyUsageValidator, KeyPurposeId, KeyPurposeIdIter, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use crate::error::{Error, Result};
use crate::repl::cert::read_certs;
use crate::repl::identity::{CertInfo, Identity, NodeId};
use crate::repl::refusal::{RefusalReason, RevocationSource};
use crate::repl::revocation::crl::CrlSet;

/// The ALPN protocol name: the wire version of the transport.
pub const ALPN: &[u8] = b"sealdb-raft/1";

/// The files an endpoint loads (and reloads).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// This node's certificate (PEM; a chain may follow it).
    pub cert: PathBuf,
    /// This node's private key (PEM).
    pub key: PathBuf,
    /// The CA bundle (PEM, one or more CAs: several during a CA rotation).
    pub ca: PathBuf,
    /// CRL files (PEM, each may hold several CRLs: one per CA during a CA
    /// rotation; or DER, one CRL); empty turns CRL checking off.
    pub crls: Vec<PathBuf>,
}

/// Where a verifier leaves the reason it refused a peer.
pub(crate) type ReasonSlot = Arc<Mutex<Option<(RefusalReason, Option<Identity>)>>>;

/// One loaded generation of TLS material.
pub(crate) struct TlsState {
    pub(crate) own: CertInfo,
    pub(crate) cluster: String,
    pub(crate) node_id: NodeId,
    certified: Arc<CertifiedKey>,
    ca_certs: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    root_hints: Vec<DistinguishedName>,
    pub(crate) crls: CrlSet,
    provider: Arc<CryptoProvider>,
    crl_grace: Duration,
}

impl fmt::Debug for TlsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsState")
            .field("node_id", &self.node_id)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl TlsState {
    /// Loads and cross-checks the files: the key matches the certificate,
    /// the certificate is a node certificate our CA bundle accepts.
    pub(crate) fn load(files: &TlsFiles, crl_grace: Duration) -> Result<TlsState> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = read_certs(&files.cert)?;
        let key_bytes = zeroize::Zeroizing::new(
            std::fs::read(&files.key).map_err(|e| Error::io("read", &files.key, e))?,
        );
        let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|_| Error::Certificate {
            what: format!("{}: no PEM private key", files.key.display()),
        })?;
        let signing =
            provider
                .key_provider
                .load_private_key(key)
                .map_err(|e| Error::Certificate {
                    what: format!("{}: unusable private key: {e}", files.key.display()),
                })?;
        let certified = CertifiedKey::new(chain.clone(), signing);
        certified.keys_match().map_err(|_| Error::Certificate {
            what: format!(
                "{} does not belong to {}",
                files.key.display(),
                files.cert.display()
            ),
        })?;
        let own = CertInfo::from_der(&chain[0])?;
        let (cluster, node_id) = match &own.identity {
            Some(Identity::Node { cluster, node_id }) => (cluster.clone(), *node_id),
            _ => {
                return Err(Error::Certificate {
                    what: format!(
                        "{} is not a node certificate (no sealdb://<cluster>/node/<id> URI)",
                        files.cert.display()
                    ),
                })
            }
        };
        let ca_certs = read_certs(&files.ca)?;
        let mut anchors = Vec::new();
        let mut root_hints = Vec::new();
        for ca in &ca_certs {
            let anchor = webpki::anchor_from_trusted_cert(ca).map_err(|e| Error::Certificate {
                what: format!("{}: unusable CA certificate: {e}", files.ca.display()),
            })?;
            root_hints.push(DistinguishedName::from(anchor.subject.as_ref().to_vec()));
            anchors.push(anchor.to_owned());
        }
        let crls = CrlSet::load(&files.crls)?;
        let state = TlsState {
            own,
            cluster,
            node_id,
            certified: Arc::new(certified),
            ca_certs,
            anchors,
            root_hints,
            crls,
            provider,
            crl_grace,
        };
        // Our own certificate must pass the check we apply to peers (except
        // freshness of the CRL, which is about peers): otherwise every peer
        // would refuse us and the operator should know now.
        // Revocation is left out: a node whose own certificate was revoked
        // must still load the CRL that says so, to refuse other revoked
        // peers; its peers refuse it anyway.
        let now = UnixTime::now();
        if let Err(reason) = state.verify_chain(&chain[0], &chain[1..], now, false) {
            return Err(Error::Certificate {
                what: format!("{} fails our own checks: {reason}", files.cert.display()),
            });
        }
        Ok(state)
    }

    /// The full check of a peer's certificate, at `now`.
    pub(crate) fn verify_peer(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> std::result::Result<Identity, (RefusalReason, Option<Identity>)> {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(now.as_secs());
        self.crls
            .check_fresh(wall, self.crl_grace)
            .map_err(|r| (r, None))?;
        let info = CertInfo::from_der(end_entity).map_err(|e| {
            (
                RefusalReason::BadCertificate {
                    detail: e.to_string(),
                },
                None,
            )
        })?;
        let identity = info.identity.clone();
        self.verify_chain(end_entity, intermediates, now, true)
            .map_err(|r| (r, identity.clone()))?;
        match identity {
            Some(Identity::Node { cluster, node_id }) => {
                if cluster != self.cluster {
                    let found = cluster.clone();
                    return Err((
                        RefusalReason::WrongCluster {
                            expected: self.cluster.clone(),
                            found,
                        },
                        Some(Identity::Node { cluster, node_id }),
                    ));
                }
                Ok(Identity::Node { cluster, node_id })
            }
            other => Err((RefusalReason::NotANodeCertificate, other)),
        }
    }

    /// webpki: chain to a CA of the bundle, validity, CRLs (when
    /// `check_crls`), both EKUs.
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        check_crls: bool,
    ) -> std::result::Result<(), RefusalReason> {
        let ee = webpki::EndEntityCert::try_from(end_entity).map_err(|e| {
            RefusalReason::BadCertificate {
                detail: format!("{e}"),
            }
        })?;
        let alternatives = if check_crls && !self.crls.is_empty() {
            self.crls.alternatives()
        } else {
            vec![Vec::new()]
        };
        // Several runs only when CRLs of one issuer name differ (a CA
        // rotation, see revocation::crl): pass if one run passes, revoked
        // if any run says so, else the most telling failure.
        let mut failure: Option<webpki::Error> = None;
        let mut passed = false;
        for crl_refs in &alternatives {
            let revocation = if crl_refs.is_empty() {
                None
            } else {
                RevocationOptionsBuilder::new(crl_refs).ok().map(|b| {
                    b.with_depth(RevocationCheckDepth::Chain)
                        .with_status_policy(UnknownStatusPolicy::Deny)
                        .with_expiration_policy(webpki::ExpirationPolicy::Ignore)
                        .build()
                })
            };
            match ee.verify_for_usage(
                self.provider.signature_verification_algorithms.all,
                &self.anchors,
                intermediates,
                now,
                NodeUsage,
                revocation,
                None,
            ) {
                Ok(_) => passed = true,
                Err(webpki::Error::CertRevoked) => {
                    return Err(reason_from_webpki(webpki::Error::CertRevoked))
                }
                Err(e) => {
                    let better = match &failure {
                        None => true,
                        Some(f) => is_other_cas_crl(f) && !is_other_cas_crl(&e),
                    };
                    if better {
                        failure = Some(e);
                    }
                }
            }
        }
        match (passed, failure) {
            (true, _) => Ok(()),
            (false, Some(e)) => {
                // A signature failure may be the CRL's, reported against
                // the other CA of the same name: if the chain passes
                // without CRLs, say what is missing.
                let crl_only = check_crls
                    && !self.crls.is_empty()
                    && matches!(e, webpki::Error::InvalidSignatureForPublicKey)
                    && ee
                        .verify_for_usage(
                            self.provider.signature_verification_algorithms.all,
                            &self.anchors,
                            intermediates,
                            now,
                            NodeUsage,
                            None,
                            None,
                        )
                        .is_ok();
                Err(reason_from_webpki(if crl_only {
                    webpki::Error::InvalidCrlSignatureForPublicKey
                } else {
                    e
                }))
            }
            (false, None) => Err(RefusalReason::BadCertificate {
                detail: "no verification ran".into(),
            }),
        }
    }

    /// The CA certificate that issued `cert`, for OCSP. Among CAs of the
    /// same name (a CA rotation), the one whose key signed it.
    pub(crate) fn issuer_of(&self, cert: &CertificateDer<'_>) -> Option<CertificateDer<'static>> {
        use der::Decode;
        let c = x509_cert::Certificate::from_der(cert).ok()?;
        let named: Vec<usize> = (0..self.ca_certs.len())
            .filter(|i| {
                x509_cert::Certificate::from_der(&self.ca_certs[*i])
                    .map(|ca| ca.tbs_certificate.subject == c.tbs_certificate.issuer)
                    .unwrap_or(false)
            })
            .collect();
        let signed_by = |i: usize| {
            webpki::EndEntityCert::try_from(cert).is_ok_and(|ee| {
                ee.verify_for_usage(
                    self.provider.signature_verification_algorithms.all,
                    &self.anchors[i..=i],
                    &[],
                    UnixTime::now(),
                    NodeUsage,
                    None,
                    None,
                )
                .is_ok()
            })
        };
        let pick = match named.as_slice() {
            [] => return None,
            [only] => *only,
            several => several
                .iter()
                .copied()
                .find(|i| signed_by(*i))
                .unwrap_or(several[0]),
        };
        Some(self.ca_certs[pick].clone())
    }

    /// A server config for one inbound connection.
    pub(crate) fn server_config(
        self: &Arc<Self>,
        slot: ReasonSlot,
    ) -> Result<rustls::ServerConfig> {
        let verifier = Arc::new(NodeClientVerifier {
            state: self.clone(),
            slot,
        });
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified.clone())));
        config.alpn_protocols = vec![ALPN.to_vec()];
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        config.max_early_data_size = 0;
        Ok(config)
    }

    /// A client config for one outbound connection to node `expected`.
    pub(crate) fn client_config(
        self: &Arc<Self>,
        expected: NodeId,
        slot: ReasonSlot,
    ) -> Result<rustls::ClientConfig> {
        let verifier = Arc::new(NodeServerVerifier {
            state: self.clone(),
            expected,
            slot,
        });
        let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified.clone())));
        config.alpn_protocols = vec![ALPN.to_vec()];
        config.resumption = rustls::client::Resumption::disabled();
        config.enable_early_data = false;
        Ok(config)
    }

    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
}

fn tls_err(e: rustls::Error) -> Error {
    Error::Certificate {
        what: format!("TLS configuration: {e}"),
    }
}

/// Node certificates must allow both directions.
struct NodeUsage;

const EKU_SERVER_AUTH: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 1];
const EKU_CLIENT_AUTH: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 2];

impl ExtendedKeyUsageValidator for NodeUsage {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> std::result::Result<(), webpki::Error> {
        let (mut server, mut client) = (false, false);
        for id in iter {
            let id = id?;
            server |= id == KeyPurposeId::new(EKU_SERVER_AUTH);
            client |= id == KeyPurposeId::new(EKU_CLIENT_AUTH);
        }
        if server && client {
            Ok(())
        } else {
            // The context variant wants webpki's own KeyUsage; the unit
            // variant says the same for our two-usage rule.
            #[allow(deprecated)]
            Err(webpki::Error::RequiredEkuNotFound)
        }
    }
}

/// A failure that may only mean this run gave webpki another CA's CRL of
/// the same name (see revocation::crl).
fn is_other_cas_crl(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::InvalidCrlSignatureForPublicKey | webpki::Error::IssuerNotCrlSigner
    )
}

fn reason_from_webpki(e: webpki::Error) -> RefusalReason {
    use webpki::Error as W;
    #[allow(deprecated)]
    match e {
        // A CA of the same name but another key signed it: not ours.
        W::UnknownIssuer | W::InvalidSignatureForPublicKey => RefusalReason::UnknownIssuer,
        W::CertExpired { .. } => RefusalReason::Expired,
        W::CertNotValidYet { .. } => RefusalReason::NotYetValid,
        W::CertRevoked => RefusalReason::Revoked {
            source: RevocationSource::Crl,
        },
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) | W::EmptyEkuExtension => {
            RefusalReason::MissingExtendedKeyUsage
        }
        W::InvalidCrlSignatureForPublicKey => RefusalReason::BadCertificate {
            detail: "no CRL signed by its CA (every CA of the bundle needs its own CRL when CRLs are configured)"
                .into(),
        },
        W::UnknownRevocationStatus => RefusalReason::BadCertificate {
            detail: "no CRL covers its issuer (every CA needs a CRL when CRLs are configured)"
                .into(),
        },
        other => RefusalReason::BadCertificate {
            detail: format!("{other}"),
        },
    }
}

/// The rustls error (and so the TLS alert) for a refusal.
fn rustls_error(reason: &RefusalReason) -> rustls::Error {
    let e = match reason {
        RefusalReason::UnknownIssuer => CertificateError::UnknownIssuer,
        RefusalReason::Expired => CertificateError::Expired,
        RefusalReason::NotYetValid => CertificateError::NotValidYet,
        RefusalReason::Revoked { .. } => CertificateError::Revoked,
        RefusalReason::CrlExpired { .. } => CertificateError::ExpiredRevocationList,
        RefusalReason::MissingExtendedKeyUsage => CertificateError::InvalidPurpose,
        RefusalReason::BadCertificate { .. } => CertificateError::BadEncoding,
        _ => CertificateError::ApplicationVerificationFailure,
    };
    rustls::Error::InvalidCertificate(e)
}

/// The server's check of a client (inbound connection).
struct NodeClientVerifier {
    state: Arc<TlsState>,
    slot: ReasonSlot,
}

impl fmt::Debug for NodeClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeClientVerifier")
    }
}

impl ClientCertVerifier for NodeClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.state.root_hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        match self.state.verify_peer(end_entity, intermediates, now) {
            Ok(_) => Ok(ClientCertVerified::assertion()),
            Err((reason, who)) => {
                let e = rustls_error(&reason);
                *self.slot.lock() = Some((reason, who));
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls13RequiredForQuic,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.state.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.state
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client's check of a server (outbound connection to `expected`).
struct NodeServerVerifier {
    state: Arc<TlsState>,
    expected: NodeId,
    slot: ReasonSlot,
}

impl fmt::Debug for NodeServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeServerVerifier")
    }
}

impl ServerCertVerifier for NodeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // The identity is the node id in the certificate, not the address
        // dialled: a node may move. The name passed to rustls is fixed.
        let result = self
            .state
            .verify_peer(end_entity, intermediates, now)
            .and_then(|id| match id.node_id() {
                Some(n) if n == self.expected => Ok(()),
                Some(n) => Err((
                    RefusalReason::WrongIdentity {
                        expected: self.expected,
                        certificate: n,
                    },
                    Some(id),
                )),
                None => Err((RefusalReason::NotANodeCertificate, Some(id))),
            });
        match result {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err((reason, who)) => {
                let e = rustls_error(&reason);
                *self.slot.lock() = Some((reason, who));
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls13RequiredForQuic,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.state.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.state
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
