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

/// `audit checkpoint` writes a checkpoint (mode 0600, never over an old
/// one); `audit verify --checkpoint` proves the log still holds it, and
/// refuses a checkpoint the log does not contain: a different hash, or a
/// record past the log's end (the log is shorter).
#[test]
fn audit_checkpoint_and_verify_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let db = dir.path().join("db");
    sealdb()
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let run = |args: &[&str]| {
        let mut c = sealdb();
        c.args(args)
            .arg("--db")
            .arg(&db)
            .arg("--key-file")
            .arg(&key);
        c.output().unwrap()
    };
    let sql = |stmt: &str| {
        let out = run(&["sql", "-e", stmt]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sql("CREATE TABLE t (a INTEGER)");
    sql("ALTER TABLE t EXPERIMENTAL_AUDIT SET WRITE");
    sql("INSERT INTO t VALUES (1)");
    let cp = dir.path().join("anchor.txt");
    let out = run(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&cp).unwrap();
    assert!(
        text.starts_with("sealdb-audit-checkpoint 1\nseq "),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cp).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never over an existing checkpoint.
    let again = run(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&cp).unwrap(), text);
    // Without --out: the same text on stdout.
    let out = run(&["audit", "checkpoint"]);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("sealdb-audit-checkpoint 1\n"));

    sql("INSERT INTO t VALUES (2)");
    let verify =
        |file: &std::path::Path| run(&["audit", "verify", "--checkpoint", file.to_str().unwrap()]);
    let out = verify(&cp);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("contains the anchored checkpoint"));

    let seq: u64 = text.lines().nth(1).unwrap()[4..].parse().unwrap();
    let forged = dir.path().join("forged.txt");
    let hash_line = text.lines().nth(2).unwrap();
    let flipped = if hash_line.ends_with('0') { "1" } else { "0" };
    std::fs::write(
        &forged,
        text.replace(
            hash_line,
            &format!("{}{flipped}", &hash_line[..hash_line.len() - 1]),
        ),
    )
    .unwrap();
    let out = verify(&forged);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("record {seq}")) && err.contains("anchored checkpoint"),
        "{err}"
    );

    let ahead = dir.path().join("ahead.txt");
    std::fs::write(
        &ahead,
        text.replace(&format!("seq {seq}\n"), "seq 100000\n"),
    )
    .unwrap();
    let out = verify(&ahead);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("missing") && err.contains("100000"), "{err}");

    let garbage = dir.path().join("garbage.txt");
    std::fs::write(&garbage, "not a checkpoint\n").unwrap();
    let out = verify(&garbage);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("not an audit checkpoint"));
}

/// A passphrase instead of a key file: from a file or SEALDB_PASSPHRASE;
/// a passphrase written into a key file is refused, never used as a key.
#[test]
fn passphrase_instead_of_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let pass = dir.path().join("pass.txt");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(&db)
        .arg("--passphrase-file")
        .arg(&pass)
        .args([
            "-e",
            "CREATE TABLE t (a INTEGER)",
            "-e",
            "INSERT INTO t VALUES (5)",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(&db)
        .arg("--passphrase")
        .env("SEALDB_PASSPHRASE", "correct horse battery staple")
        .args(["-e", "SELECT a FROM t"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "5\n");
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(&db)
        .arg("--passphrase")
        .env("SEALDB_PASSPHRASE", "wrong horse")
        .args(["-e", "SELECT a FROM t"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("not available"));
    // Both, or neither: a usage error.
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(&db)
        .arg("--passphrase-file")
        .arg(&pass)
        .args(["--key-file", "x", "-e", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The passphrase in a key file: refused, with the way out named.
    let key = dir.path().join("pass.key");
    std::fs::write(&key, "correct horse battery staple!!!!").unwrap();
    let out = sealdb()
        .args(["sql", "--db"])
        .arg(dir.path().join("other"))
        .arg("--key-file")
        .arg(&key)
        .args(["-e", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--passphrase-file"), "{err}");
    assert!(!dir.path().join("other").exists(), "no store was made");
}
