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

#[test]
fn users_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let db = dir.path().join("db");
    sealdb()
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let sql = |user: Option<(&str, &str)>, stmt: &str| {
        let mut c = sealdb();
        c.arg("sql")
            .arg("--db")
            .arg(&db)
            .arg("--key-file")
            .arg(&key)
            .args(["-e", stmt]);
        if let Some((u, pw)) = user {
            c.args(["--user", u]).env("SEALDB_PASSWORD", pw);
        }
        c.output().unwrap()
    };
    for stmt in [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        "INSERT INTO notes VALUES (1, 'hello')",
        "CREATE USER alice WITH PASSWORD 'pw1'",
        "GRANT SELECT ON notes TO alice",
        "ALTER TABLE notes EXPERIMENTAL_AUDIT SET READ WRITE",
    ] {
        let out = sql(None, stmt);
        assert!(
            out.status.success(),
            "{stmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = sql(Some(("alice", "pw1")), "SELECT body FROM notes");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "hello\n");
    // Denied: non-zero exit and one line.
    let out = sql(Some(("alice", "pw1")), "DELETE FROM notes");
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: permission denied") && err.lines().count() == 1,
        "{err}"
    );
    // Wrong password.
    let out = sql(Some(("alice", "nope")), "SELECT 1");
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("authentication failed"));

    let audit = |action: &str| {
        sealdb()
            .args(["audit", action, "--db"])
            .arg(&db)
            .arg("--key-file")
            .arg(&key)
            .output()
            .unwrap()
    };
    let out = audit("verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok: "));
    let out = audit("export");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines
        .iter()
        .all(|l| l.starts_with('{') && l.contains("\"hash\":")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"denied\"") && l.contains("DELETE FROM notes")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"login_failed\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"statement\"") && l.contains("\"user\":\"alice\"")));
    // No password ever reaches the log.
    assert!(!text.contains("pw1"));

    // Flip a byte in the middle of the first segment: verify names a record.
    let seg = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("AUDIT-")
        })
        .min()
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = 64 + (bytes.len() - 64) / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    let out = audit("verify");
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("audit chain broken at record"), "{err}");
}
