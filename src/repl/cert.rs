//! `sealdb cert`: the cluster CA, node and client certificates, the CRL.
//!
//! One directory holds a cluster's public material and each holder's key
//! pair; the CA key lives elsewhere (an operator's path, ideally offline)
//! and is read only by the commands that sign:
//!
//! ```text
//!   <certs-dir>/ca.crt              the cluster CA (URI SAN sealdb://<cluster>)
//!   <certs-dir>/ca.crl              its CRL (made empty by create-ca)
//!   <certs-dir>/node.<id>.crt|.key  a node: URI SAN sealdb://<cluster>/node/<id>,
//!                                   DNS/IP SANs, EKU serverAuth + clientAuth
//!   <certs-dir>/client.<user>.crt|.key  a user: CN = user, URI SAN
//!                                   sealdb://<cluster>/user/<user>, EKU clientAuth
//!   <ca-key>                        the CA's private key (0600)
//! ```
//!
//! Invariants: keys are written 0600 through a temporary file and a rename,
//! so a crash leaves either no file or a whole one; nothing is overwritten
//! unless asked (`overwrite`), and the check happens before any key is made;
//! the CA key must match `ca.crt` before it signs anything; keys are ECDSA
//! P-256 (rcgen's default, verified by ring on every node); serial numbers
//! are 127 random bits.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use der::asn1::Ia5String as DerIa5String;
use der::{Decode, Encode};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
use zeroize::Zeroizing;

use super::identity::{
    check_cluster_name, check_user_name, hex_upper, strip_sign_octet, CertInfo, Identity, NodeId,
};
use crate::error::{Error, Result};

/// The files of a cluster's certificate directory.
#[derive(Clone, Debug)]
pub struct CertsDir {
    path: PathBuf,
}

impl CertsDir {
    /// The directory at `path` (created by the first command that writes).
    pub fn new(path: impl Into<PathBuf>) -> CertsDir {
        CertsDir { path: path.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `ca.crt`.
    pub fn ca_cert(&self) -> PathBuf {
        self.path.join("ca.crt")
    }

    /// `ca.crl`.
    pub fn crl(&self) -> PathBuf {
        self.path.join("ca.crl")
    }

    /// `node.<id>.crt`.
    pub fn node_cert(&self, id: NodeId) -> PathBuf {
        self.path.join(format!("node.{id}.crt"))
    }

    /// `node.<id>.key`.
    pub fn node_key(&self, id: NodeId) -> PathBuf {
        self.path.join(format!("node.{id}.key"))
    }

    /// `client.<user>.crt`.
    pub fn client_cert(&self, user: &str) -> PathBuf {
        self.path.join(format!("client.{user}.crt"))
    }

    /// `client.<user>.key`.
    pub fn client_key(&self, user: &str) -> PathBuf {
        self.path.join(format!("client.{user}.key"))
    }
}

/// When a certificate is valid.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    /// Start.
    pub not_before: SystemTime,
    /// End.
    pub not_after: SystemTime,
}

impl Validity {
    /// From an hour ago (tolerating clocks a little behind ours) for `days`.
    pub fn days_from_now(days: u32) -> Validity {
        let now = SystemTime::now();
        Validity {
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(u64::from(days) * 86_400),
        }
    }
}

/// What a node certificate should say.
#[derive(Clone, Debug)]
pub struct NodeCertRequest {
    /// The node's id.
    pub node_id: NodeId,
    /// Host names and IP addresses to put in the SANs (informational).
    pub hosts: Vec<String>,
    /// An OCSP responder URL for the AIA extension.
    pub ocsp_url: Option<String>,
    /// Validity.
    pub validity: Validity,
}

/// What a client (user) certificate should say.
#[derive(Clone, Debug)]
pub struct ClientCertRequest {
    /// The user.
    pub user: String,
    /// An OCSP responder URL for the AIA extension.
    pub ocsp_url: Option<String>,
    /// Validity.
    pub validity: Validity,
}

/// Makes the cluster CA: writes `ca.crt` and an empty `ca.crl` to the
/// directory and the CA key (0600) to `ca_key`.
pub fn create_ca(
    dir: &CertsDir,
    ca_key: &Path,
    cluster: &str,
    validity: Validity,
    overwrite: bool,
) -> Result<CertInfo> {
    check_cluster_name(cluster)?;
    let (cert_path, crl_path) = (dir.ca_cert(), dir.crl());
    refuse_existing(&[&cert_path, ca_key, &crl_path], overwrite)?;
    let key = KeyPair::generate().map_err(rcgen_err)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("sealdb CA {cluster}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.subject_alt_names = vec![SanType::URI(ia5(&format!("sealdb://{cluster}"))?)];
    params.serial_number = Some(random_serial()?);
    set_validity(&mut params, validity);
    let cert = params.self_signed(&key).map_err(rcgen_err)?;
    fs::create_dir_all(dir.path()).map_err(|e| Error::io("create", dir.path(), e))?;
    write_file(ca_key, key.serialize_pem().as_bytes(), 0o600, overwrite)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644, overwrite)?;
    let issuer = Issuer::new(params, key);
    let crl = sign_crl(
        &issuer,
        Vec::new(),
        1,
        Duration::from_secs(DEFAULT_CRL_DAYS * 86_400),
    )?;
    write_file(&crl_path, crl.as_bytes(), 0o644, overwrite)?;
    CertInfo::from_der(cert.der())
}

/// Default validity of a CRL written by `create-ca` and `revoke`.
pub const DEFAULT_CRL_DAYS: u64 = 30;

/// Makes a node certificate and key, signed by the CA.
pub fn create_node(
    dir: &CertsDir,
    ca_key: &Path,
    req: &NodeCertRequest,
    overwrite: bool,
) -> Result<CertInfo> {
    let (cert_path, key_path) = (dir.node_cert(req.node_id), dir.node_key(req.node_id));
    refuse_existing(&[&cert_path, &key_path], overwrite)?;
    let ca = CaSigner::load(dir, ca_key)?;
    let identity = Identity::Node {
        cluster: ca.cluster.clone(),
        node_id: req.node_id,
    };
    let mut sans = vec![SanType::URI(ia5(&identity.uri())?)];
    for host in &req.hosts {
        sans.push(match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(ia5(host)?),
        });
    }
    let params = leaf_params(
        format!("node {}", req.node_id),
        sans,
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        req.ocsp_url.as_deref(),
        req.validity,
    )?;
    issue(&ca, params, &cert_path, &key_path, overwrite)
}

/// Makes a client certificate for a user (CN = the user), signed by the CA.
pub fn create_client(
    dir: &CertsDir,
    ca_key: &Path,
    req: &ClientCertRequest,
    overwrite: bool,
) -> Result<CertInfo> {
    check_user_name(&req.user)?;
    let (cert_path, key_path) = (dir.client_cert(&req.user), dir.client_key(&req.user));
    refuse_existing(&[&cert_path, &key_path], overwrite)?;
    let ca = CaSigner::load(dir, ca_key)?;
    let identity = Identity::User {
        cluster: ca.cluster.clone(),
        name: req.user.clone(),
    };
    let params = leaf_params(
        req.user.clone(),
        vec![SanType::URI(ia5(&identity.uri())?)],
        vec![ExtendedKeyUsagePurpose::ClientAuth],
        req.ocsp_url.as_deref(),
        req.validity,
    )?;
    issue(&ca, params, &cert_path, &key_path, overwrite)
}

/// What to revoke.
#[derive(Clone, Debug)]
pub enum RevokeTarget {
    /// A serial number (big-endian bytes).
    Serial(Vec<u8>),
    /// The certificate file whose serial to revoke.
    CertFile(PathBuf),
}

impl RevokeTarget {
    /// Parses a command-line argument: an existing file, or a hex serial
    /// (colons allowed, as `openssl` and `list` print them).
    pub fn parse(arg: &str) -> Result<RevokeTarget> {
        let path = Path::new(arg);
        if path.is_file() {
            return Ok(RevokeTarget::CertFile(path.to_path_buf()));
        }
        let digits: String = arg.chars().filter(|c| *c != ':').collect();
        let bytes = decode_hex(&digits).ok_or_else(|| Error::InvalidArgument {
            what: format!("{arg:?} is neither a certificate file nor a hex serial number"),
        })?;
        Ok(RevokeTarget::Serial(strip_sign_octet(&bytes).to_vec()))
    }
}

/// A CRL's summary.
#[derive(Clone, Debug)]
pub struct CrlSummary {
    /// Its CRL number.
    pub number: u64,
    /// When it was issued.
    pub this_update: SystemTime,
    /// When the next one is due (after which nodes refuse everyone, once
    /// their grace period is over).
    pub next_update: Option<SystemTime>,
    /// Revoked serial numbers.
    pub revoked: Vec<Vec<u8>>,
}

/// Adds the targets to the CRL (none: re-signs it with a fresh next-update
/// time) and writes `ca.crl`. Returns the new CRL's summary.
pub fn revoke(
    dir: &CertsDir,
    ca_key: &Path,
    targets: &[RevokeTarget],
    crl_validity: Duration,
) -> Result<CrlSummary> {
    let mut serials = Vec::new();
    let ca_der = read_cert(&dir.ca_cert())?;
    let ca_parsed =
        x509_cert::Certificate::from_der(&ca_der).map_err(|e| cert_err(&dir.ca_cert(), e))?;
    let ca_ski = key_id(&ca_parsed, "2.5.29.14");
    let ca_subject = ca_parsed.tbs_certificate.subject;
    for t in targets {
        match t {
            RevokeTarget::Serial(s) => serials.push(s.clone()),
            RevokeTarget::CertFile(p) => {
                let der = read_cert(p)?;
                let cert = x509_cert::Certificate::from_der(&der).map_err(|e| cert_err(p, e))?;
                let aki = key_id(&cert, "2.5.29.35");
                if cert.tbs_certificate.issuer != ca_subject
                    || (aki.is_some() && aki != ca_ski)
                    || CertInfo::from_cert(&cert).is_ca
                {
                    return Err(Error::Certificate {
                        what: format!("{} was not issued by this CA", p.display()),
                    });
                }
                serials.push(CertInfo::from_cert(&cert).serial);
            }
        }
    }
    let ca = CaSigner::load(dir, ca_key)?;
    let old = match fs::read(dir.crl()) {
        Ok(_) => Some(read_crl(&dir.crl())?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read", dir.crl(), e)),
    };
    let mut entries: Vec<(Vec<u8>, SystemTime)> = Vec::new();
    let mut number = 1;
    if let Some(old) = &old {
        number = old.number + 1;
        entries.extend(old.entries.iter().cloned());
    }
    let now = SystemTime::now();
    for s in serials {
        if !entries.iter().any(|(e, _)| *e == s) {
            entries.push((s, now));
        }
    }
    let pem = sign_crl(&ca.issuer, entries, number, crl_validity)?;
    write_file(&dir.crl(), pem.as_bytes(), 0o644, true)?;
    let crl = read_crl(&dir.crl())?;
    Ok(crl.summary())
}

/// One certificate found by [`list`].
#[derive(Clone, Debug)]
pub struct ListedCert {
    /// The file.
    pub path: PathBuf,
    /// "ca", "node", "client" or "other".
    pub usage: &'static str,
    /// Its facts.
    pub info: CertInfo,
    /// Whether `ca.crl` lists its serial.
    pub revoked: bool,
}

/// Lists the certificates in the directory (never reads a key).
pub fn list(dir: &CertsDir) -> Result<(Vec<ListedCert>, Option<CrlSummary>)> {
    let crl = match fs::metadata(dir.crl()) {
        Ok(_) => Some(read_crl(&dir.crl())?.summary()),
        Err(_) => None,
    };
    let mut out = Vec::new();
    let entries = fs::read_dir(dir.path()).map_err(|e| Error::io("read", dir.path(), e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    paths.sort();
    for path in paths {
        let info = CertInfo::from_der(&read_cert(&path)?)?;
        let usage = if info.is_ca {
            "ca"
        } else {
            match info.identity {
                Some(Identity::Node { .. }) => "node",
                Some(Identity::User { .. }) => "client",
                None => "other",
            }
        };
        let revoked = crl
            .as_ref()
            .is_some_and(|c| c.revoked.contains(&info.serial));
        out.push(ListedCert {
            path,
            usage,
            info,
            revoked,
        });
    }
    Ok((out, crl))
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(t: SystemTime) -> String {
    der::DateTime::from_system_time(t)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "(out of range)".into())
}

/// Reads the first certificate of a PEM file as DER.
pub fn read_cert(path: &Path) -> Result<CertificateDer<'static>> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    CertificateDer::from_pem_slice(&bytes).map_err(|e| Error::Certificate {
        what: format!("{}: no PEM certificate ({e})", path.display()),
    })
}

/// Reads every certificate of a PEM bundle as DER.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Certificate {
            what: format!("{}: bad PEM ({e})", path.display()),
        })?;
    if certs.is_empty() {
        return Err(Error::Certificate {
            what: format!("{}: no certificate in the file", path.display()),
        });
    }
    Ok(certs)
}

/// A parsed CRL: DER, entries, number, times.
#[derive(Clone, Debug)]
pub struct CrlFile {
    /// The DER bytes.
    pub der: CertificateRevocationListDer<'static>,
    /// (serial, revocation time).
    pub entries: Vec<(Vec<u8>, SystemTime)>,
    /// The CRL number (0 when absent).
    pub number: u64,
    /// Issued.
    pub this_update: SystemTime,
    /// Next due.
    pub next_update: Option<SystemTime>,
}

impl CrlFile {
    /// The summary.
    pub fn summary(&self) -> CrlSummary {
        CrlSummary {
            number: self.number,
            this_update: self.this_update,
            next_update: self.next_update,
            revoked: self.entries.iter().map(|(s, _)| s.clone()).collect(),
        }
    }
}

/// Reads and parses a PEM (or DER) CRL file (its first CRL).
pub fn read_crl(path: &Path) -> Result<CrlFile> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let der = match CertificateRevocationListDer::from_pem_slice(&bytes) {
        Ok(d) => d,
        Err(_) => CertificateRevocationListDer::from(bytes),
    };
    parse_crl(path, der)
}

/// Reads every CRL of a file: a PEM bundle of one or more CRLs (one per
/// CA during a CA rotation), or one DER CRL.
pub fn read_crls(path: &Path) -> Result<Vec<CrlFile>> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let pems: Vec<CertificateRevocationListDer<'static>> =
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Certificate {
                what: format!("{}: bad PEM ({e})", path.display()),
            })?;
    if pems.is_empty() {
        return Ok(vec![parse_crl(
            path,
            CertificateRevocationListDer::from(bytes),
        )?]);
    }
    pems.into_iter().map(|der| parse_crl(path, der)).collect()
}

fn parse_crl(path: &Path, der: CertificateRevocationListDer<'static>) -> Result<CrlFile> {
    let list = CertificateList::from_der(der.as_ref()).map_err(|e| Error::Certificate {
        what: format!("{}: not a CRL ({e})", path.display()),
    })?;
    let tbs = &list.tbs_cert_list;
    let mut number = 0u64;
    for ext in tbs.crl_extensions.iter().flatten() {
        if ext.extn_id == der::asn1::ObjectIdentifier::new_unwrap("2.5.29.20") {
            if let Ok(n) = der::asn1::Uint::from_der(ext.extn_value.as_bytes()) {
                let b = n.as_bytes();
                if b.len() <= 8 {
                    number = b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
                }
            }
        }
    }
    let entries = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .map(|r| {
            (
                strip_sign_octet(r.serial_number.as_bytes()).to_vec(),
                r.revocation_date.to_system_time(),
            )
        })
        .collect();
    Ok(CrlFile {
        entries,
        number,
        this_update: tbs.this_update.to_system_time(),
        next_update: tbs.next_update.map(|t| t.to_system_time()),
        der,
    })
}

/// The CA's certificate and key, checked to belong together.
struct CaSigner {
    issuer: Issuer<'static, KeyPair>,
    cluster: String,
}

impl CaSigner {
    fn load(dir: &CertsDir, ca_key: &Path) -> Result<CaSigner> {
        let cert_path = dir.ca_cert();
        let der = read_cert(&cert_path)?;
        let parsed = x509_cert::Certificate::from_der(&der).map_err(|e| cert_err(&cert_path, e))?;
        let info = CertInfo::from_cert(&parsed);
        let cluster = info
            .uris
            .iter()
            .find_map(|u| u.strip_prefix("sealdb://"))
            .filter(|c| check_cluster_name(c).is_ok())
            .ok_or_else(|| Error::Certificate {
                what: format!(
                    "{} is not a sealdb CA (no sealdb://<cluster> URI)",
                    cert_path.display()
                ),
            })?
            .to_string();
        let key_pem =
            Zeroizing::new(fs::read_to_string(ca_key).map_err(|e| Error::io("read", ca_key, e))?);
        let key = KeyPair::from_pem(&key_pem).map_err(|_| Error::Certificate {
            what: format!("{}: not a PEM private key", ca_key.display()),
        })?;
        let spki = parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| cert_err(&cert_path, e))?;
        if rcgen::PublicKeyData::subject_public_key_info(&key) != spki {
            return Err(Error::Certificate {
                what: format!(
                    "the CA key {} does not belong to {}",
                    ca_key.display(),
                    cert_path.display()
                ),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&der, key).map_err(rcgen_err)?;
        Ok(CaSigner { issuer, cluster })
    }
}

fn leaf_params(
    common_name: String,
    sans: Vec<SanType>,
    ekus: Vec<ExtendedKeyUsagePurpose>,
    ocsp_url: Option<&str>,
    validity: Validity,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = ekus;
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    if let Some(url) = ocsp_url {
        params.custom_extensions.push(aia_extension(url)?);
    }
    set_validity(&mut params, validity);
    Ok(params)
}

/// The Authority Information Access extension naming an OCSP responder.
pub fn aia_extension(url: &str) -> Result<rcgen::CustomExtension> {
    if !url.starts_with("http://") {
        return Err(Error::InvalidArgument {
            what: format!(
                "OCSP URL {url:?}: only http:// responders are supported (OCSP answers are signed)"
            ),
        });
    }
    let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1"),
        access_location: GeneralName::UniformResourceIdentifier(DerIa5String::new(url).map_err(
            |_| Error::InvalidArgument {
                what: format!("OCSP URL {url:?} is not ASCII"),
            },
        )?),
    }]);
    let der = aia.to_der().map_err(|e| Error::Certificate {
        what: format!("encoding the OCSP URL: {e}"),
    })?;
    Ok(rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        der,
    ))
}

fn issue(
    ca: &CaSigner,
    params: CertificateParams,
    cert_path: &Path,
    key_path: &Path,
    overwrite: bool,
) -> Result<CertInfo> {
    let key = KeyPair::generate().map_err(rcgen_err)?;
    let cert = params.signed_by(&key, &ca.issuer).map_err(rcgen_err)?;
    write_file(
        key_path,
        Zeroizing::new(key.serialize_pem()).as_bytes(),
        0o600,
        overwrite,
    )?;
    write_file(cert_path, cert.pem().as_bytes(), 0o644, overwrite)?;
    CertInfo::from_der(cert.der())
}

fn sign_crl(
    issuer: &Issuer<'_, KeyPair>,
    entries: Vec<(Vec<u8>, SystemTime)>,
    number: u64,
    validity: Duration,
) -> Result<String> {
    let now = SystemTime::now();
    let params = CertificateRevocationListParams {
        this_update: time::OffsetDateTime::from(now - Duration::from_secs(60)),
        next_update: time::OffsetDateTime::from(now + validity),
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: entries
            .into_iter()
            .map(|(serial, at)| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: time::OffsetDateTime::from(at),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(issuer)
        .and_then(|crl| crl.pem())
        .map_err(rcgen_err)
}

fn set_validity(params: &mut CertificateParams, v: Validity) {
    params.not_before = time::OffsetDateTime::from(v.not_before);
    params.not_after = time::OffsetDateTime::from(v.not_after);
}

fn random_serial() -> Result<SerialNumber> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Certificate {
        what: format!("no randomness for a serial number: {e}"),
    })?;
    // Positive and exactly 16 bytes long: no sign octet, no leading zero.
    b[0] = (b[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&b))
}

fn ia5(s: &str) -> Result<rcgen::string::Ia5String> {
    rcgen::string::Ia5String::try_from(s).map_err(|_| Error::InvalidArgument {
        what: format!("{s:?} is not an ASCII name"),
    })
}

fn refuse_existing(paths: &[&Path], overwrite: bool) -> Result<()> {
    if overwrite {
        return Ok(());
    }
    for p in paths {
        if p.exists() {
            return Err(Error::Certificate {
                what: format!("{} exists; pass --overwrite to replace it", p.display()),
            });
        }
    }
    Ok(())
}

/// Writes a whole file with `mode` through a temporary file and a rename.
fn write_file(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> Result<()> {
    if !overwrite && path.exists() {
        return Err(Error::Certificate {
            what: format!("{} exists; pass --overwrite to replace it", path.display()),
        });
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(d) = dir {
        fs::create_dir_all(d).map_err(|e| Error::io("create", d, e))?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    // A stale temporary file keeps its old mode: set it explicitly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("chmod", &tmp, e))?;
    }
    f.write_all(bytes)
        .map_err(|e| Error::io("write", &tmp, e))?;
    f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))?;
    Ok(())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Hex of a serial with colons, for people.
pub fn serial_display(serial: &[u8]) -> String {
    let h = hex_upper(serial);
    h.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// The key identifier of the subject (SKI, 2.5.29.14) or of the issuer
/// (AKI, 2.5.29.35) extension: two CAs may share a name, not a key.
fn key_id(cert: &x509_cert::Certificate, oid: &str) -> Option<Vec<u8>> {
    use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
    let oid = der::asn1::ObjectIdentifier::new(oid).ok()?;
    let ext = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)?;
    let value = ext.extn_value.as_bytes();
    if oid.to_string() == "2.5.29.14" {
        SubjectKeyIdentifier::from_der(value)
            .ok()
            .map(|k| k.0.as_bytes().to_vec())
    } else {
        AuthorityKeyIdentifier::from_der(value)
            .ok()?
            .key_identifier
            .map(|k| k.as_bytes().to_vec())
    }
}

fn rcgen_err(e: rcgen::Error) -> Error {
    Error::Certificate {
        what: format!("certificate generation failed: {e}"),
    }
}

fn cert_err(path: &Path, e: der::Error) -> Error {
    Error::Certificate {
        what: format!("{}: not a valid certificate ({e})", path.display()),
    }
}
