//! What a sealdb certificate says about its holder.
//!
//! A node certificate names its node in a URI subject alternative name,
//! `sealdb://<cluster>/node/<id>`; a client (user) certificate names its user
//! the same way, `sealdb://<cluster>/user/<name>`, and also carries the user
//! as its common name (as `cockroach cert create-client` does), so a later
//! certificate login for SQL sessions can use either. Host names and IP
//! addresses in the certificate are informational: a node is its id, not its
//! address, so a node may move.
//!
//! Invariants: a certificate with more than one `sealdb://` URI has no
//! identity (ambiguous, refused); cluster names and user names are limited
//! to characters that need no escaping in a URI, so the URI is the identity
//! byte for byte.

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use der::asn1::ObjectIdentifier;
use der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, BasicConstraints, ExtendedKeyUsage, SubjectAltName,
};
use x509_cert::Certificate;

use crate::error::{Error, Result};

/// A node's id within its cluster (Raft's node id).
pub type NodeId = u64;

/// `id-kp-serverAuth`.
pub(crate) const OID_SERVER_AUTH: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth`.
pub(crate) const OID_CLIENT_AUTH: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// `id-kp-OCSPSigning`.
pub(crate) const OID_OCSP_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

const SCHEME: &str = "sealdb://";

/// Who a certificate belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A cluster node.
    Node {
        /// The cluster's name.
        cluster: String,
        /// The node's id.
        node_id: NodeId,
    },
    /// A user (client certificate).
    User {
        /// The cluster's name.
        cluster: String,
        /// The user's name.
        name: String,
    },
}

impl Identity {
    /// The URI naming this identity in a certificate.
    pub fn uri(&self) -> String {
        match self {
            Identity::Node { cluster, node_id } => format!("{SCHEME}{cluster}/node/{node_id}"),
            Identity::User { cluster, name } => format!("{SCHEME}{cluster}/user/{name}"),
        }
    }

    /// Parses a `sealdb://` URI; `None` for anything else or a malformed one.
    pub fn from_uri(uri: &str) -> Option<Identity> {
        let rest = uri.strip_prefix(SCHEME)?;
        let mut parts = rest.split('/');
        let cluster = parts.next()?;
        let kind = parts.next()?;
        let value = parts.next()?;
        if parts.next().is_some() || check_cluster_name(cluster).is_err() {
            return None;
        }
        match kind {
            "node" => {
                // Canonical decimal only: "007" or "+7" would let two URIs
                // name one node.
                let node_id: NodeId = value.parse().ok()?;
                (node_id.to_string() == value).then(|| Identity::Node {
                    cluster: cluster.to_string(),
                    node_id,
                })
            }
            "user" => check_user_name(value).ok().map(|()| Identity::User {
                cluster: cluster.to_string(),
                name: value.to_string(),
            }),
            _ => None,
        }
    }

    /// The cluster this identity belongs to.
    pub fn cluster(&self) -> &str {
        match self {
            Identity::Node { cluster, .. } | Identity::User { cluster, .. } => cluster,
        }
    }

    /// The node id, for a node identity.
    pub fn node_id(&self) -> Option<NodeId> {
        match self {
            Identity::Node { node_id, .. } => Some(*node_id),
            Identity::User { .. } => None,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

/// Checks a cluster name: 1 to 63 of `a-z 0-9 - _ .`, starting with a
/// letter or digit.
pub fn check_cluster_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: format!(
                "cluster name {name:?}: use 1 to 63 of a-z, 0-9, '-', '_', '.', starting with a letter or digit"
            ),
        })
    }
}

/// Checks a user name for a client certificate: 1 to 63 of
/// `A-Z a-z 0-9 - _ .`, starting with a letter or digit.
pub fn check_user_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: format!(
                "user name {name:?}: use 1 to 63 of A-Z, a-z, 0-9, '-', '_', '.', starting with a letter or digit"
            ),
        })
    }
}

/// The facts of one certificate that sealdb uses, parsed from its DER.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// The serial number's big-endian bytes (as encoded, sign octet removed).
    pub serial: Vec<u8>,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// The issuer's common name, if any.
    pub issuer_common_name: Option<String>,
    /// The sealdb identity from the URI SAN; `None` when absent or ambiguous.
    pub identity: Option<Identity>,
    /// DNS names among the SANs.
    pub dns_names: Vec<String>,
    /// IP addresses among the SANs.
    pub ip_addresses: Vec<IpAddr>,
    /// Every URI among the SANs (including the identity's).
    pub uris: Vec<String>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Has the serverAuth extended key usage.
    pub server_auth: bool,
    /// Has the clientAuth extended key usage.
    pub client_auth: bool,
    /// Has the OCSPSigning extended key usage.
    pub ocsp_signing: bool,
    /// Is a CA (basic constraints).
    pub is_ca: bool,
    /// OCSP responder URLs from the Authority Information Access extension.
    pub ocsp_urls: Vec<String>,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertInfo> {
        let cert = Certificate::from_der(der).map_err(|e| Error::Certificate {
            what: format!("not a valid X.509 certificate: {e}"),
        })?;
        Ok(Self::from_cert(&cert))
    }

    pub(crate) fn from_cert(cert: &Certificate) -> CertInfo {
        let tbs = &cert.tbs_certificate;
        let mut info = CertInfo {
            serial: strip_sign_octet(tbs.serial_number.as_bytes()).to_vec(),
            common_name: common_name(&tbs.subject),
            issuer_common_name: common_name(&tbs.issuer),
            identity: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            uris: Vec::new(),
            not_before: tbs.validity.not_before.to_system_time(),
            not_after: tbs.validity.not_after.to_system_time(),
            server_auth: false,
            client_auth: false,
            ocsp_signing: false,
            is_ca: false,
            ocsp_urls: Vec::new(),
        };
        for ext in tbs.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == OID_SAN {
                if let Ok(san) = SubjectAltName::from_der(value) {
                    for name in san.0 {
                        match name {
                            GeneralName::DnsName(s) => info.dns_names.push(s.to_string()),
                            GeneralName::UniformResourceIdentifier(s) => {
                                info.uris.push(s.to_string())
                            }
                            GeneralName::IpAddress(o) => {
                                let b = o.as_bytes();
                                if let Ok(v4) = <[u8; 4]>::try_from(b) {
                                    info.ip_addresses.push(IpAddr::from(v4));
                                } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                                    info.ip_addresses.push(IpAddr::from(v6));
                                }
                            }
                            _ => {}
                        }
                    }
                }
            } else if ext.extn_id == OID_EKU {
                if let Ok(eku) = ExtendedKeyUsage::from_der(value) {
                    info.server_auth = eku.0.contains(&OID_SERVER_AUTH);
                    info.client_auth = eku.0.contains(&OID_CLIENT_AUTH);
                    info.ocsp_signing = eku.0.contains(&OID_OCSP_SIGNING);
                }
            } else if ext.extn_id == OID_BASIC_CONSTRAINTS {
                if let Ok(bc) = BasicConstraints::from_der(value) {
                    info.is_ca = bc.ca;
                }
            } else if ext.extn_id == OID_AIA {
                if let Ok(aia) = AuthorityInfoAccessSyntax::from_der(value) {
                    for ad in aia.0 {
                        if ad.access_method == OID_AD_OCSP {
                            if let GeneralName::UniformResourceIdentifier(u) = ad.access_location {
                                info.ocsp_urls.push(u.to_string());
                            }
                        }
                    }
                }
            }
        }
        let mut ids = info
            .uris
            .iter()
            .filter(|u| u.starts_with(SCHEME))
            .map(|u| Identity::from_uri(u));
        info.identity = match (ids.next(), ids.next()) {
            (Some(Some(id)), None) => Some(id),
            _ => None,
        };
        info
    }

    /// The serial as upper-case hex (as `openssl` prints it).
    pub fn serial_hex(&self) -> String {
        hex_upper(&self.serial)
    }
}

/// Upper-case hex of bytes.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A DER INTEGER's content without the leading zero octet that keeps a
/// positive number positive.
pub(crate) fn strip_sign_octet(bytes: &[u8]) -> &[u8] {
    match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    }
}

fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == OID_COMMON_NAME {
                if let Ok(s) = atv.value.decode_as::<String>() {
                    return Some(s);
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    return Some(s.to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_reject_non_canonical_forms() {
        let node = Identity::Node {
            cluster: "prod-1".into(),
            node_id: 42,
        };
        assert_eq!(node.uri(), "sealdb://prod-1/node/42");
        assert_eq!(Identity::from_uri(&node.uri()), Some(node));
        let user = Identity::User {
            cluster: "prod-1".into(),
            name: "Alice".into(),
        };
        assert_eq!(Identity::from_uri(&user.uri()), Some(user));
        for bad in [
            "sealdb://prod-1/node/042",
            "sealdb://prod-1/node/+1",
            "sealdb://prod-1/node/1/x",
            "sealdb://Prod/node/1",
            "sealdb://prod/admin/1",
            "sealdb://prod/user/a b",
            "https://prod/node/1",
            "sealdb:///node/1",
        ] {
            assert_eq!(Identity::from_uri(bad), None, "{bad}");
        }
    }
}
