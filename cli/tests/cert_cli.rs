//! `sealdb cert` end to end through the binary: the README's commands.

use std::process::Command;

fn sealdb(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .args(args)
        .output()
        .expect("run sealdb");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn make_a_ca_two_nodes_revoke_one_and_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let certs = tmp.path().join("certs");
    let key = tmp.path().join("ca.key");
    let (c, k) = (certs.to_str().expect("utf8"), key.to_str().expect("utf8"));
    let (ok, out, err) = sealdb(&[
        "cert",
        "create-ca",
        "--certs-dir",
        c,
        "--ca-key",
        k,
        "--cluster",
        "demo",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("created CA for cluster demo"), "{out}");
    for id in ["1", "2"] {
        let (ok, out, err) = sealdb(&[
            "cert",
            "create-node",
            "--certs-dir",
            c,
            "--ca-key",
            k,
            id,
            "localhost",
            "127.0.0.1",
        ]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("sealdb://demo/node/{id}")), "{out}");
    }
    let (ok, _, err) = sealdb(&["cert", "create-node", "--certs-dir", c, "--ca-key", k, "1"]);
    assert!(!ok && err.contains("--overwrite"), "{err}");
    let node2 = certs.join("node.2.crt");
    let (ok, out, err) = sealdb(&[
        "cert",
        "revoke",
        "--certs-dir",
        c,
        "--ca-key",
        k,
        node2.to_str().expect("utf8"),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("CRL number 2: 1 revoked"), "{out}");
    let (ok, out, err) = sealdb(&["cert", "list", "--certs-dir", c]);
    assert!(ok, "{err}");
    let line = |file: &str| {
        out.lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not listed: {out}"))
            .to_string()
    };
    assert!(line("node.1.crt")
        .starts_with("node|node.1.crt|sealdb://demo/node/1|node 1|localhost,127.0.0.1,"));
    assert!(line("node.1.crt").ends_with("|valid"));
    assert!(line("node.2.crt").ends_with("|revoked"));
    assert!(line("ca.crt").starts_with("ca|"));
    assert!(line("ca.crl").contains("number 2|1 revoked"));
}
