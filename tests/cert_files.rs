//! `sealdb::repl::cert`: the files it writes, what they say, and what it
//! refuses.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sealdb::repl::cert::{
    self, read_cert, CertsDir, ClientCertRequest, NodeCertRequest, RevokeTarget, Validity,
};
use sealdb::repl::{CertInfo, Identity};
use sealdb::Error;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn a_ca_two_nodes_and_a_client() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = CertsDir::new(tmp.path().join("certs"));
    let ca_key = tmp.path().join("private/ca.key");
    let ca = cert::create_ca(&dir, &ca_key, "prod", Validity::days_from_now(10), false)
        .expect("create CA");
    assert!(ca.is_ca);
    assert_eq!(mode(&ca_key), 0o600);
    assert_eq!(mode(&dir.ca_cert()), 0o644);
    assert!(dir.crl().exists(), "create-ca writes an empty CRL");

    for id in [1, 2] {
        let info = cert::create_node(
            &dir,
            &ca_key,
            &NodeCertRequest {
                node_id: id,
                hosts: vec!["db1.example".into(), "10.0.0.1".into(), "::1".into()],
                ocsp_url: Some("http://ocsp.example:8080/".into()),
                validity: Validity::days_from_now(5),
            },
            false,
        )
        .expect("create node");
        assert_eq!(
            info.identity,
            Some(Identity::Node {
                cluster: "prod".into(),
                node_id: id
            })
        );
        assert!(info.server_auth && info.client_auth && !info.is_ca);
        assert_eq!(info.dns_names, vec!["db1.example".to_string()]);
        assert_eq!(info.ip_addresses.len(), 2);
        assert_eq!(
            info.ocsp_urls,
            vec!["http://ocsp.example:8080/".to_string()]
        );
        assert_eq!(info.serial.len(), 16);
        assert_eq!(mode(&dir.node_key(id)), 0o600);
    }
    let client = cert::create_client(
        &dir,
        &ca_key,
        &ClientCertRequest {
            user: "alice".into(),
            ocsp_url: None,
            validity: Validity::days_from_now(5),
        },
        false,
    )
    .expect("create client");
    assert_eq!(client.common_name.as_deref(), Some("alice"));
    assert!(client.client_auth && !client.server_auth);
    assert_eq!(mode(&dir.client_key("alice")), 0o600);

    // list never needs the CA key.
    std::fs::remove_file(&ca_key).expect("hide the CA key");
    let (certs, crl) = cert::list(&dir).expect("list");
    let usages: Vec<_> = certs.iter().map(|c| c.usage).collect();
    assert_eq!(usages, vec!["ca", "client", "node", "node"]);
    assert_eq!(crl.expect("crl").number, 1);
    // Signing needs it, and says so.
    let e = cert::create_node(
        &dir,
        &ca_key,
        &NodeCertRequest {
            node_id: 3,
            hosts: vec![],
            ocsp_url: None,
            validity: Validity::days_from_now(5),
        },
        false,
    )
    .expect_err("no CA key");
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[test]
fn nothing_is_overwritten_without_asking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = CertsDir::new(tmp.path());
    let ca_key = tmp.path().join("ca.key");
    cert::create_ca(&dir, &ca_key, "c", Validity::days_from_now(10), false).expect("CA");
    let first = std::fs::read(&ca_key).expect("key");
    let e = cert::create_ca(&dir, &ca_key, "c", Validity::days_from_now(10), false)
        .expect_err("refused");
    assert!(e.to_string().contains("--overwrite"), "{e}");
    assert_eq!(std::fs::read(&ca_key).expect("key"), first);
    let req = NodeCertRequest {
        node_id: 7,
        hosts: vec![],
        ocsp_url: None,
        validity: Validity::days_from_now(5),
    };
    cert::create_node(&dir, &ca_key, &req, false).expect("node");
    let key = std::fs::read(dir.node_key(7)).expect("key");
    assert!(cert::create_node(&dir, &ca_key, &req, false).is_err());
    assert_eq!(std::fs::read(dir.node_key(7)).expect("key"), key);
    cert::create_node(&dir, &ca_key, &req, true).expect("overwrite");
    assert_ne!(std::fs::read(dir.node_key(7)).expect("key"), key);
    assert_eq!(mode(&dir.node_key(7)), 0o600);
}

#[test]
fn bad_names_and_a_foreign_ca_key_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = CertsDir::new(tmp.path().join("a"));
    let key = tmp.path().join("a.key");
    for bad in ["", "Upper", "sp ace", "-lead", &"x".repeat(64)] {
        assert!(
            cert::create_ca(&dir, &key, bad, Validity::days_from_now(1), false).is_err(),
            "{bad:?}"
        );
    }
    cert::create_ca(&dir, &key, "a", Validity::days_from_now(1), false).expect("CA a");
    let other = CertsDir::new(tmp.path().join("b"));
    let other_key = tmp.path().join("b.key");
    cert::create_ca(&other, &other_key, "a", Validity::days_from_now(1), false).expect("CA b");
    let e = cert::create_node(
        &dir,
        &other_key,
        &NodeCertRequest {
            node_id: 1,
            hosts: vec![],
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        false,
    )
    .expect_err("foreign key");
    assert!(e.to_string().contains("does not belong"), "{e}");
    let e = cert::create_client(
        &dir,
        &key,
        &ClientCertRequest {
            user: "no/slash".into(),
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        false,
    )
    .expect_err("bad user");
    assert!(matches!(e, Error::InvalidArgument { .. }));
}

#[test]
fn revoke_by_serial_and_by_file_grows_a_signed_crl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = CertsDir::new(tmp.path());
    let ca_key = tmp.path().join("ca.key");
    cert::create_ca(&dir, &ca_key, "c", Validity::days_from_now(10), false).expect("CA");
    let mk = |id| {
        cert::create_node(
            &dir,
            &ca_key,
            &NodeCertRequest {
                node_id: id,
                hosts: vec![],
                ocsp_url: None,
                validity: Validity::days_from_now(5),
            },
            false,
        )
        .expect("node")
    };
    let (a, b) = (mk(1), mk(2));
    let by_serial = RevokeTarget::parse(&cert::serial_display(&a.serial)).expect("serial");
    let crl = cert::revoke(&dir, &ca_key, &[by_serial], Duration::from_secs(3600)).expect("revoke");
    assert_eq!(
        (crl.number, crl.revoked.clone()),
        (2, vec![a.serial.clone()])
    );
    let by_file = RevokeTarget::parse(&dir.node_cert(2).to_string_lossy()).expect("file");
    let crl = cert::revoke(
        &dir,
        &ca_key,
        std::slice::from_ref(&by_file),
        Duration::from_secs(3600),
    )
    .expect("revoke");
    assert_eq!(crl.number, 3);
    assert_eq!(crl.revoked, vec![a.serial.clone(), b.serial.clone()]);
    // Revoking again adds nothing; an empty revoke re-signs.
    let crl = cert::revoke(&dir, &ca_key, &[by_file], Duration::from_secs(3600)).expect("again");
    assert_eq!((crl.number, crl.revoked.len()), (4, 2));
    let (certs, _) = cert::list(&dir).expect("list");
    assert!(certs
        .iter()
        .filter(|c| c.usage == "node")
        .all(|c| c.revoked));
    // A certificate of another CA cannot be revoked here.
    let other = CertsDir::new(tmp.path().join("other"));
    let other_key = tmp.path().join("other.key");
    cert::create_ca(&other, &other_key, "c", Validity::days_from_now(1), false).expect("CA");
    cert::create_node(
        &other,
        &other_key,
        &NodeCertRequest {
            node_id: 9,
            hosts: vec![],
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        false,
    )
    .expect("foreign node");
    for foreign in [other.ca_cert(), other.node_cert(9), dir.ca_cert()] {
        let t = RevokeTarget::parse(&foreign.to_string_lossy()).expect("file");
        let e = cert::revoke(&dir, &ca_key, &[t], Duration::from_secs(60))
            .expect_err("not ours to revoke");
        assert!(e.to_string().contains("not issued by this CA"), "{e}");
    }
    assert!(RevokeTarget::parse("xyz").is_err());
    // The CA's own CRL parses as CertInfo-consistent bytes.
    let der = read_cert(&dir.node_cert(1)).expect("cert");
    assert_eq!(CertInfo::from_der(&der).expect("parse").serial, a.serial);
}
