//! OCSP: ask the CA's responder whether a peer's certificate is revoked.
//!
//! rustls verifies no OCSP, so this is our own client and verifier
//! (RFC 6960), built on RustCrypto's `x509-ocsp` types:
//!
//! ```text
//!   peer cert + issuer ──► CertID (SHA-256 of issuer name and key, serial)
//!        │                     + a random nonce
//!        ▼
//!   HTTP POST to the responder named in the certificate's AIA extension
//!   (or the configured one), within `timeout`, at most 64 KiB back
//!        │
//!        ▼
//!   BasicOCSPResponse: signed by the issuing CA itself, or by a responder
//!   certificate the CA issued with the OCSPSigning EKU; the CertID echoes
//!   ours; thisUpdate not in the future, nextUpdate not past; the nonce, if
//!   echoed, is ours ──► good / revoked / unknown
//! ```
//!
//! Answers are cached until their nextUpdate (or `cache_without_next_update`
//! when the responder gives none). The modes, as CockroachDB's
//! `security.ocsp.mode`: `Off` asks nothing; `Lax` refuses only a verified
//! "revoked" and admits when no usable answer comes; `Strict` admits only a
//! verified "good". A malformed, unverifiable or stale answer counts as no
//! answer: an attacker who can forge one could as well block the responder.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use parking_lot::Mutex;
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest, Version,
};

use crate::repl::identity::CertInfo;
use crate::repl::refusal::{RefusalReason, RevocationSource};

const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const OID_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// Largest OCSP HTTP response read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Clock skew tolerated on thisUpdate / nextUpdate.
const SKEW: Duration = Duration::from_secs(300);

/// How OCSP answers decide admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspMode {
    /// No OCSP.
    Off,
    /// Refuse a verified "revoked"; admit when no usable answer comes.
    Lax,
    /// Admit only a verified "good".
    Strict,
}

/// OCSP settings.
#[derive(Clone, Debug)]
pub struct OcspConfig {
    /// The mode.
    pub mode: OcspMode,
    /// Ask this responder (an `http://` URL) instead of the one named in
    /// each certificate.
    pub responder: Option<String>,
    /// Limit for one exchange with the responder (connect, send, receive).
    pub timeout: Duration,
    /// How long an answer without nextUpdate is cached.
    pub cache_without_next_update: Duration,
}

impl Default for OcspConfig {
    fn default() -> Self {
        OcspConfig {
            mode: OcspMode::Off,
            responder: None,
            timeout: Duration::from_secs(3),
            cache_without_next_update: Duration::from_secs(60),
        }
    }
}

/// What an OCSP check decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OcspOutcome {
    /// OCSP is off.
    NotChecked,
    /// The responder vouched for the certificate (possibly from the cache).
    Good,
    /// Lax mode admitted without a usable answer; the detail says why.
    AdmittedUnverified(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Good,
    Revoked,
}

struct Cached {
    status: Status,
    until: SystemTime,
}

/// The OCSP client with its cache. One per endpoint; shared by its tasks.
pub struct OcspChecker {
    config: OcspConfig,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
}

impl OcspChecker {
    /// A checker with an empty cache.
    pub fn new(config: OcspConfig) -> OcspChecker {
        OcspChecker {
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> OcspMode {
        self.config.mode
    }

    /// Decides on `cert` (issued by `issuer`): admit (with how) or refuse.
    pub async fn check(
        &self,
        cert: &CertificateDer<'_>,
        issuer: &CertificateDer<'_>,
    ) -> Result<OcspOutcome, RefusalReason> {
        if self.config.mode == OcspMode::Off {
            return Ok(OcspOutcome::NotChecked);
        }
        match self.status(cert, issuer).await {
            Ok(Status::Good) => Ok(OcspOutcome::Good),
            Ok(Status::Revoked) => Err(RefusalReason::Revoked {
                source: RevocationSource::Ocsp,
            }),
            Err(detail) => match self.config.mode {
                OcspMode::Strict => Err(RefusalReason::OcspUnavailable { detail }),
                _ => Ok(OcspOutcome::AdmittedUnverified(detail)),
            },
        }
    }

    /// Drops every cached answer (the next check asks the responder).
    pub fn clear_cache(&self) {
        self.cache.lock().clear();
    }

    async fn status(
        &self,
        cert_der: &CertificateDer<'_>,
        issuer_der: &CertificateDer<'_>,
    ) -> Result<Status, String> {
        let cert = Certificate::from_der(cert_der).map_err(|e| format!("certificate: {e}"))?;
        let issuer =
            Certificate::from_der(issuer_der).map_err(|e| format!("issuer certificate: {e}"))?;
        let cert_id = cert_id(&cert, &issuer)?;
        let key = cert_id.to_der().map_err(|e| e.to_string())?;
        let now = SystemTime::now();
        if let Some(c) = self.cache.lock().get(&key) {
            if now < c.until {
                return Ok(c.status);
            }
        }
        let url = match &self.config.responder {
            Some(u) => u.clone(),
            None => CertInfo::from_cert(&cert)
                .ocsp_urls
                .into_iter()
                .next()
                .ok_or_else(|| "the certificate names no OCSP responder".to_string())?,
        };
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for a nonce: {e}"))?;
        let request = encode_request(&cert_id, &nonce)?;
        let body = tokio::time::timeout(self.config.timeout, http_post(&url, &request))
            .await
            .map_err(|_| {
                format!(
                    "responder {url} did not answer within {:?}",
                    self.config.timeout
                )
            })??;
        let (status, next_update) = verify_response(&body, &cert_id, &issuer, &nonce, now)?;
        let until = next_update.unwrap_or(now + self.config.cache_without_next_update);
        self.cache.lock().insert(key, Cached { status, until });
        Ok(status)
    }
}

/// The CertID of `cert`: SHA-256 of the issuer's name and key, the serial.
fn cert_id(cert: &Certificate, issuer: &Certificate) -> Result<CertId, String> {
    let name = issuer
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: OID_SHA256,
            parameters: Some(der::Any::null()),
        },
        issuer_name_hash: OctetString::new(Sha256::digest(&name).to_vec())
            .map_err(|e| e.to_string())?,
        issuer_key_hash: OctetString::new(Sha256::digest(key).to_vec())
            .map_err(|e| e.to_string())?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

fn encode_request(cert_id: &CertId, nonce: &[u8]) -> Result<Vec<u8>, String> {
    let nonce_value = OctetString::new(nonce.to_vec())
        .and_then(|o| o.to_der())
        .and_then(OctetString::new)
        .map_err(|e| e.to_string())?;
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id.clone(),
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![Extension {
                extn_id: OID_OCSP_NONCE,
                critical: false,
                extn_value: nonce_value,
            }]),
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(|e| e.to_string())
}

/// Checks an OCSP response for `cert_id`; returns the status and the
/// nextUpdate time. Every failure is a reason the answer is unusable.
fn verify_response(
    bytes: &[u8],
    cert_id: &CertId,
    issuer: &Certificate,
    nonce: &[u8],
    now: SystemTime,
) -> Result<(Status, Option<SystemTime>), String> {
    let response =
        OcspResponse::from_der(bytes).map_err(|e| format!("malformed OCSP response: {e}"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!("responder answered {:?}", response.response_status));
    }
    let rb = response
        .response_bytes
        .ok_or("successful response without a body")?;
    if rb.response_type != OID_OCSP_BASIC {
        return Err(format!("unsupported response type {}", rb.response_type));
    }
    let basic = BasicOcspResponse::from_der(rb.response.as_bytes())
        .map_err(|e| format!("malformed basic OCSP response: {e}"))?;
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| e.to_string())?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or("signature is not whole bytes")?;
    let signed_by_issuer = verify_signature(
        &issuer.tbs_certificate.subject_public_key_info,
        &basic.signature_algorithm,
        &tbs,
        signature,
    );
    if !signed_by_issuer {
        let delegated = basic.certs.iter().flatten().any(|c| {
            delegated_responder_ok(c, issuer, now)
                && verify_signature(
                    &c.tbs_certificate.subject_public_key_info,
                    &basic.signature_algorithm,
                    &tbs,
                    signature,
                )
        });
        if !delegated {
            return Err("the response's signature does not verify against the CA or a responder it authorized".into());
        }
    }
    if let Some(echo) = basic.tbs_response_data.nonce() {
        let ours = OctetString::new(nonce.to_vec()).map_err(|e| e.to_string())?;
        if echo.0 != ours {
            return Err("the response's nonce is not ours (a replayed answer)".into());
        }
    }
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| same_cert(&r.cert_id, cert_id))
        .ok_or("the response is about another certificate")?;
    if single.this_update.0.to_system_time() > now + SKEW {
        return Err("the response's thisUpdate is in the future".into());
    }
    let next_update = single.next_update.map(|t| t.0.to_system_time());
    if let Some(next) = next_update {
        if next + SKEW < now {
            return Err("the response is stale (nextUpdate has passed)".into());
        }
    }
    let status = match single.cert_status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Revoked(_) => Status::Revoked,
        CertStatus::Unknown(_) => return Err("the responder does not know the certificate".into()),
    };
    Ok((status, next_update))
}

fn same_cert(a: &CertId, b: &CertId) -> bool {
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && serial_eq(&a.serial_number, &b.serial_number)
}

fn serial_eq(a: &SerialNumber, b: &SerialNumber) -> bool {
    use crate::repl::identity::strip_sign_octet;
    strip_sign_octet(a.as_bytes()) == strip_sign_octet(b.as_bytes())
}

/// A responder certificate is acceptable when the CA issued it, it is
/// valid now, and it has the OCSPSigning EKU.
fn delegated_responder_ok(cert: &Certificate, issuer: &Certificate, now: SystemTime) -> bool {
    let (Ok(der), Ok(issuer_der)) = (cert.to_der(), issuer.to_der()) else {
        return false;
    };
    let issuer_der = CertificateDer::from(issuer_der);
    let Ok(anchor) = webpki::anchor_from_trusted_cert(&issuer_der) else {
        return false;
    };
    let der = CertificateDer::from(der);
    let Ok(ee) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    let Ok(since) = now.duration_since(SystemTime::UNIX_EPOCH) else {
        return false;
    };
    ee.verify_for_usage(
        signature_algorithms(),
        &[anchor],
        &[],
        UnixTime::since_unix_epoch(since),
        webpki::KeyUsage::required(OCSP_SIGNING_DER),
        None,
        None,
    )
    .is_ok()
        && CertInfo::from_cert(cert).ocsp_signing
}

/// `id-kp-OCSPSigning`'s encoded value, as webpki wants it.
const OCSP_SIGNING_DER: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 9];

pub(crate) fn signature_algorithms() -> &'static [&'static dyn SignatureVerificationAlgorithm] {
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
}

/// Verifies `signature` over `message` with the key in `spki`, using the
/// ring algorithm whose identifiers match the key's and the signature's.
fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let (Some(key_alg), Some(sig_alg)) = (
        algorithm_contents(&spki.algorithm),
        algorithm_contents(algorithm),
    ) else {
        return false;
    };
    let Some(public_key) = spki.subject_public_key.as_bytes() else {
        return false;
    };
    signature_algorithms().iter().any(|alg| {
        alg.public_key_alg_id().as_ref() == key_alg.as_slice()
            && alg.signature_alg_id().as_ref() == sig_alg.as_slice()
            && alg.verify_signature(public_key, message, signature).is_ok()
    })
}

/// The DER contents (without the SEQUENCE header) of an AlgorithmIdentifier,
/// which is how webpki names algorithms.
fn algorithm_contents(alg: &AlgorithmIdentifierOwned) -> Option<Vec<u8>> {
    let der = alg.to_der().ok()?;
    let any = AnyRef::from_der(&der).ok()?;
    Some(any.value().to_vec())
}

/// POSTs an OCSP request over plain HTTP (the answer is signed) and returns
/// the body of a 200 response.
async fn http_post(url: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("responder URL {url:?} is not http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let bad_port = || format!("bad port in responder URL {url:?}");
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("bad IPv6 address in responder URL {url:?}"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            None if after.is_empty() => (h, 80),
            None => return Err(bad_port()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            None => (authority, 80),
        }
    };
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot reach responder {url}: {e}"))?;
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/ocsp-request\r\nAccept: application/ocsp-response\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("sending to responder {url}: {e}"))?;
    stream
        .write_all(body)
        .await
        .map_err(|e| format!("sending to responder {url}: {e}"))?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE_BYTES as u64 + 1)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("reading from responder {url}: {e}"))?;
    if response.len() > MAX_RESPONSE_BYTES {
        return Err(format!(
            "responder {url} sent more than {MAX_RESPONSE_BYTES} bytes"
        ));
    }
    parse_http_response(&response).map(|b| b.to_vec())
}

/// The body of a complete HTTP/1.x 200 response.
pub(crate) fn parse_http_response(bytes: &[u8]) -> Result<&[u8], String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("truncated HTTP response".into()),
        Err(e) => return Err(format!("malformed HTTP response: {e}")),
    };
    if resp.code != Some(200) {
        return Err(format!("responder answered HTTP {:?}", resp.code));
    }
    let body = &bytes[head_len..];
    let declared = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| {
            std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| "bad Content-Length".to_string())
        })
        .transpose()?;
    match declared {
        Some(n) if n > body.len() => Err("truncated HTTP body".into()),
        Some(n) => Ok(&body[..n]),
        None => Ok(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn issuer_and_id() -> (Certificate, CertId) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("ca");
        let ca = Certificate::from_der(ca.der()).expect("parse");
        let id = cert_id(&ca, &ca).expect("cert id");
        (ca, id)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("SEALDB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// Bytes from a responder are untrusted: any of them yields an
        /// error (they are unsigned), never a panic, never "good".
        #[test]
        fn arbitrary_responses_are_rejected_without_panic(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            prefix in any::<bool>(),
        ) {
            let (issuer, id) = issuer_and_id();
            // Half the cases start like a successful basic response, so the
            // parser gets past the outer layers.
            let mut bytes = if prefix {
                vec![0x30, 0x82, 0x02, 0x00, 0x0a, 0x01, 0x00, 0xa0, 0x82, 0x01, 0xf9, 0x30,
                     0x82, 0x01, 0xf5, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30,
                     0x01, 0x01, 0x04, 0x82, 0x01, 0xe6]
            } else {
                Vec::new()
            };
            bytes.extend_from_slice(&body);
            let r = verify_response(&bytes, &id, &issuer, &[1; 16], SystemTime::now());
            prop_assert!(r.is_err());
            let _ = parse_http_response(&bytes);
        }
    }

    #[test]
    fn http_parser_takes_the_declared_body_and_refuses_errors() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcde";
        assert_eq!(parse_http_response(ok).ok(), Some(&b"abc"[..]));
        let short = b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nabc";
        assert!(parse_http_response(short).is_err());
        let e500 = b"HTTP/1.0 500 Oops\r\n\r\n";
        assert!(parse_http_response(e500).is_err());
        assert!(parse_http_response(b"garbage").is_err());
    }
}
