//! `audit verify`, `audit export` and `encryption-status` change nothing in
//! the store (issue 14 item 6): run on a `chmod -R a-w` copy, every file's
//! bytes and modification time are the same afterwards, and the export
//! file is private to its owner (0600).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn sealdb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealdb"))
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(snapshot(&e.path()));
        } else {
            let t = e.metadata().unwrap().modified().unwrap();
            out.insert(e.path(), (std::fs::read(e.path()).unwrap(), t));
        }
    }
    out
}

#[cfg(unix)]
fn writable(dir: &Path, on: bool) {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &Path| {
        let m = std::fs::metadata(p).unwrap().permissions().mode();
        let m = if on { m | 0o200 } else { m & !0o222 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    for e in std::fs::read_dir(dir).unwrap() {
        set(&e.unwrap().path());
    }
    set(dir);
}

#[cfg(unix)]
#[test]
fn inspection_commands_leave_the_store_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    let db = tmp.path().join("db");
    assert!(sealdb()
        .args(["keygen", "--out"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let out = sealdb()
        .arg("sql")
        .arg("--db")
        .arg(&db)
        .arg("--key-file")
        .arg(&key)
        .args([
            "-e",
            "CREATE TABLE t (a INTEGER)",
            "-e",
            "ALTER TABLE t EXPERIMENTAL_AUDIT SET READ WRITE",
            "-e",
            "INSERT INTO t VALUES (1), (2)",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "store directory mode {mode:o}");

    writable(&db, false);
    let before = snapshot(&db);
    let run = |args: &[&str]| {
        let out = sealdb()
            .args(args)
            .arg("--db")
            .arg(&db)
            .arg("--key-file")
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(&["audit", "verify"]).starts_with("ok: "));
    assert!(run(&["encryption-status"]).contains("store key"));
    let export = tmp.path().join("audit.jsonl");
    run(&["audit", "export", "--out", export.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&export).unwrap().lines().count() >= 3);
    let mode = std::fs::metadata(&export).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "export file mode {mode:o}");
    assert!(
        before == snapshot(&db),
        "an inspection command changed the store"
    );
    writable(&db, true);
}
