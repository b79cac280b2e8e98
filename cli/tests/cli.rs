//! The scriptable CLI forms that users' scripts rely on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

fn sealdb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealdb"))
}

#[test]
fn keygen_sql_status_and_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let db = dir.path().join("db");
    let out = sealdb()
        .args(["keygen", "--bits", "128", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim().len(),
        32,
        "prints the key id"
    );
    // keygen refuses to overwrite a key.
    assert!(!sealdb()
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap()
        .status
        .success());

    let sql = |args: &[&str]| {
        let mut c = sealdb();
        c.arg("sql")
            .arg("--db")
            .arg(&db)
            .arg("--key-file")
            .arg(&key);
        for a in args {
            c.args(["-e", a]);
        }
        c.output().unwrap()
    };
    let out = sql(&[
        "CREATE TABLE t (a INTEGER, b TEXT)",
        "INSERT INTO t VALUES (1, 'x'), (2, NULL)",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sql(&["SELECT a, b FROM t ORDER BY a"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "1|x\n2|\n");

    // A script from stdin; the first failing statement stops it with one line.
    let mut child = sealdb()
        .arg("sql")
        .arg("--db")
        .arg(&db)
        .arg("--key-file")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT count(*) FROM t;\nSELECT nope FROM t;\nSELECT 1;\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "2\n");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );

    let out = sealdb()
        .args(["encryption-status", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("AES-128-CTR"));

    let out = sealdb()
        .args(["rotate", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("100.0%"));

    // Bad input: missing key file, wrong key.
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(&db)
        .args(["--key-file", "/nonexistent.key", "-e", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let other = dir.path().join("other.key");
    sealdb()
        .args(["keygen", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&other)
        .args(["-e", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("not available"));
}
