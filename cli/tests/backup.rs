//! `sealdb backup`, `backup verify`, `backup show` and `restore` as users
//! run them, and `kill -9` in the middle of a backup and of a restore: an
//! interrupted backup never verifies, an interrupted restore never leaves
//! a store that opens short of complete, and the source is untouched.
//!
//! The kill loops run a few rounds by default; `SEALDB_KILL_ROUNDS=N` runs
//! N of each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn sealdb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealdb"))
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn err(out: Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn sql(db: &Path, key: &Path, stmts: &[&str]) -> Output {
    let mut c = sealdb();
    c.arg("sql").arg("--db").arg(db).arg("--key-file").arg(key);
    for s in stmts {
        c.args(["-e", s]);
    }
    c.output().unwrap()
}

fn keygen(path: &Path) {
    ok(sealdb()
        .args(["keygen", "--out"])
        .arg(path)
        .output()
        .unwrap());
}

/// A store with `rows` rows (and an audit log).
fn store(dir: &Path, key: &Path, rows: usize) {
    keygen(key);
    ok(sql(
        dir,
        key,
        &[
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
            "CREATE INDEX t_v ON t (v)",
            "CREATE USER alice WITH PASSWORD 'pw'",
            "GRANT SELECT ON t TO alice",
        ],
    ));
    let mut script = String::from("BEGIN;\n");
    for i in 0..rows {
        script.push_str(&format!(
            "INSERT INTO t VALUES ({i}, 'value {i} {}');\n",
            "v".repeat(60)
        ));
    }
    script.push_str("COMMIT;\n");
    let mut c = sealdb();
    c.arg("sql").arg("--db").arg(dir).arg("--key-file").arg(key);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    ok(child.wait_with_output().unwrap());
}

#[test]
fn backup_verify_show_and_restore_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (k1, k2) = (tmp.path().join("k1"), tmp.path().join("k2"));
    let db = tmp.path().join("db");
    store(&db, &k1, 200);
    keygen(&k2);
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "a long passphrase\n").unwrap();
    let bk = tmp.path().join("bk");
    let out = ok(sealdb()
        .args(["backup", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k1)
        .arg("--to")
        .arg(&bk)
        .arg("--passphrase-file")
        .arg(&pass)
        .args(["--kdf-memory-kib", "8", "--kdf-iterations", "1"])
        .output()
        .unwrap());
    assert!(out.contains("(full)"), "{out}");
    ok(sql(&db, &k1, &["INSERT INTO t VALUES (1000, 'after')"]));
    let inc = tmp.path().join("inc");
    let out = ok(sealdb()
        .args(["backup", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k1)
        .arg("--to")
        .arg(&inc)
        .arg("--incremental-from")
        .arg(&bk)
        .output()
        .unwrap());
    assert!(out.contains("incremental on"), "{out}");
    let out = ok(sealdb()
        .args(["backup", "verify"])
        .arg(&inc)
        .arg("--key-file")
        .arg(&k1)
        .output()
        .unwrap());
    assert!(out.contains("ok: 2 backup(s) in the chain"), "{out}");
    let out = ok(sealdb()
        .args(["backup", "show"])
        .arg(&bk)
        .arg("--passphrase-file")
        .arg(&pass)
        .output()
        .unwrap());
    assert!(out.contains("kind: full"), "{out}");
    assert!(out.contains("tables: t"), "{out}");
    assert!(
        out.contains("key wrap: passphrase (argon2id m=8 KiB, t=1, p=1)"),
        "{out}"
    );
    assert!(out.contains("key wrap: store key"), "{out}");

    // Restored under k2: the chain unlocked with k1, the data re-encrypted.
    let r = tmp.path().join("r");
    let out = ok(sealdb()
        .arg("restore")
        .arg("--from")
        .arg(&inc)
        .arg("--to")
        .arg(&r)
        .arg("--key-file")
        .arg(&k2)
        .arg("--backup-key-file")
        .arg(&k1)
        .output()
        .unwrap());
    assert!(out.contains("2 backup(s) in its chain"), "{out}");
    assert_eq!(
        ok(sql(&r, &k2, &["SELECT count(*), max(id) FROM t"])),
        "201|1000\n"
    );
    assert!(!sql(&r, &k1, &["SELECT 1"]).status.success());
    let out = ok(sealdb()
        .args(["audit", "verify", "--db"])
        .arg(&r)
        .arg("--key-file")
        .arg(&k2)
        .output()
        .unwrap());
    assert!(out.starts_with("ok:"), "{out}");

    // A wrong passphrase, an unlocked-by-nothing backup, a tampered file.
    std::fs::write(&pass, "wrong\n").unwrap();
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .arg("--passphrase-file")
        .arg(&pass)
        .output()
        .unwrap());
    assert!(e.contains("wrong passphrase"), "{e}");
    let table = std::fs::read_dir(&bk)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("table-")
        })
        .unwrap();
    let mut bytes = std::fs::read(&table).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&table, bytes).unwrap();
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&inc)
        .arg("--key-file")
        .arg(&k1)
        .output()
        .unwrap());
    assert!(
        e.contains(&table.file_name().unwrap().to_string_lossy().into_owned()),
        "{e}"
    );
    let e = err(sealdb()
        .arg("restore")
        .arg("--from")
        .arg(&inc)
        .arg("--to")
        .arg(tmp.path().join("r2"))
        .arg("--key-file")
        .arg(&k1)
        .output()
        .unwrap());
    // A changed byte fails its record's MAC (or the file's digest).
    assert!(
        e.contains("authentication failed") || e.contains("digest mismatch"),
        "{e}"
    );
    assert!(!tmp.path().join("r2").exists());
}

/// A tiny deterministic generator (no dependency for one random number).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn rounds() -> usize {
    std::env::var("SEALDB_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// Runs `cmd`, kills it with SIGKILL after `after` (if still running);
/// returns whether it had finished on its own, and succeeded.
fn run_and_kill(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Some(status) = child.try_wait().unwrap() {
        return status.success();
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[test]
fn checkpoint_from_the_command_line_opens_as_a_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let k = tmp.path().join("k");
    let db = tmp.path().join("db");
    store(&db, &k, 100);
    let cp = tmp.path().join("cp");
    let out = ok(sealdb()
        .args(["checkpoint", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k)
        .arg("--to")
        .arg(&cp)
        .output()
        .unwrap());
    assert!(out.starts_with("checkpoint at sequence "), "{out}");
    ok(sql(&db, &k, &["INSERT INTO t VALUES (5000, 'after')"]));
    // The copy opens under the same key, as of its moment.
    assert_eq!(
        ok(sql(&cp, &k, &["SELECT count(*), max(id) FROM t"])),
        "100|99\n"
    );
    assert_eq!(
        ok(sql(&db, &k, &["SELECT count(*), max(id) FROM t"])),
        "101|5000\n"
    );
    let out = ok(sealdb()
        .args(["audit", "verify", "--db"])
        .arg(&cp)
        .arg("--key-file")
        .arg(&k)
        .output()
        .unwrap());
    assert!(out.starts_with("ok:"), "{out}");
    // Recorded in the source's audit log.
    let log = ok(sealdb()
        .args(["audit", "export", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k)
        .output()
        .unwrap());
    assert!(
        log.lines()
            .any(|l| l.contains("\"event\":\"checkpoint\"") && l.contains("\"outcome\":\"ok\"")),
        "{log}"
    );
    // Not into a directory that holds files; a wrong key opens nothing.
    let e = err(sealdb()
        .args(["checkpoint", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k)
        .arg("--to")
        .arg(&cp)
        .output()
        .unwrap());
    assert!(e.contains("not empty"), "{e}");
    let k2 = tmp.path().join("k2");
    keygen(&k2);
    let e = err(sealdb()
        .args(["checkpoint", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k2)
        .arg("--to")
        .arg(tmp.path().join("cp2"))
        .output()
        .unwrap());
    assert!(e.starts_with("error:"), "{e}");
    assert!(!tmp.path().join("cp2").exists());
}

#[test]
fn a_backup_passphrase_comes_from_the_environment_never_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (k1, k2) = (tmp.path().join("k1"), tmp.path().join("k2"));
    let db = tmp.path().join("db");
    store(&db, &k1, 50);
    keygen(&k2);
    let bk = tmp.path().join("bk");
    // Passphrase only (no store-key wrap), from BK_PASS.
    let out = ok(sealdb()
        .args(["backup", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k1)
        .arg("--to")
        .arg(&bk)
        .args(["--no-store-key", "--passphrase-env", "BK_PASS"])
        .args(["--kdf-memory-kib", "8", "--kdf-iterations", "1"])
        .env("BK_PASS", "an env passphrase")
        .output()
        .unwrap());
    assert!(out.contains("(full)"), "{out}");
    let out = ok(sealdb()
        .args(["backup", "show"])
        .arg(&bk)
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "an env passphrase")
        .output()
        .unwrap());
    assert!(out.contains("key wrap: passphrase"), "{out}");
    assert!(!out.contains("key wrap: store key"), "{out}");
    let out = ok(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "an env passphrase")
        .output()
        .unwrap());
    assert!(out.contains("ok: 1 backup(s)"), "{out}");
    // The store key alone does not open it; a wrong passphrase is named.
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .arg("--key-file")
        .arg(&k1)
        .output()
        .unwrap());
    assert!(e.contains("passphrase"), "{e}");
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "not it")
        .output()
        .unwrap());
    assert!(e.contains("wrong passphrase"), "{e}");
    // An unset variable, no terminal to ask on, two sources at once.
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .args(["--passphrase-env", "BK_PASS_UNSET_7"])
        .env_remove("BK_PASS_UNSET_7")
        .output()
        .unwrap());
    assert!(e.contains("BK_PASS_UNSET_7 is not set"), "{e}");
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .arg("--ask-passphrase")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap());
    assert!(e.contains("needs a terminal"), "{e}");
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "an env passphrase\n").unwrap();
    let e = err(sealdb()
        .args(["backup", "verify"])
        .arg(&bk)
        .arg("--passphrase-file")
        .arg(&pass)
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "an env passphrase")
        .output()
        .unwrap());
    assert!(e.contains("cannot be used with"), "{e}");
    // Restore under k2, unlocked by the passphrase from the environment.
    let r = tmp.path().join("r");
    let out = ok(sealdb()
        .arg("restore")
        .arg("--from")
        .arg(&bk)
        .arg("--to")
        .arg(&r)
        .arg("--key-file")
        .arg(&k2)
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "an env passphrase")
        .output()
        .unwrap());
    assert!(out.contains("1 backup(s) in its chain"), "{out}");
    assert_eq!(ok(sql(&r, &k2, &["SELECT count(*) FROM t"])), "50\n");
    // The passphrase is nowhere in the source's audit log.
    let log = ok(sealdb()
        .args(["audit", "export", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&k1)
        .output()
        .unwrap());
    assert!(!log.contains("an env passphrase"));
}

/// `sql` on a store keyed by the passphrase in `pass`.
fn sql_pass(db: &Path, pass: &Path, stmts: &[&str]) -> Output {
    let mut c = sealdb();
    c.arg("sql")
        .arg("--db")
        .arg(db)
        .arg("--passphrase-file")
        .arg(pass);
    for s in stmts {
        c.args(["-e", s]);
    }
    c.output().unwrap()
}

/// A store keyed by a passphrase is backed up and restored with the
/// store-passphrase options (a file, or SEALDB_PASSPHRASE), its backup
/// unlocked by the backup's own passphrase or by the store's passphrase
/// alone (the store-passphrase wrap records the store's salt): restored
/// under the same passphrase with a new salt, and under a key file; a
/// wrong store passphrase is named as such, for the store and for the
/// wrap; the ambiguous bare `--passphrase` is refused before anything is
/// written; a checkpoint copy opens with the same passphrase.
#[test]
fn a_passphrase_keyed_store_backs_up_and_restores_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    let (db, store_pass, new_pass) = (p("db"), p("store-pass"), p("new-pass"));
    std::fs::write(&store_pass, "the store's passphrase\n").unwrap();
    std::fs::write(&new_pass, "the new store's passphrase\n").unwrap();
    ok(sql_pass(
        &db,
        &store_pass,
        &[
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
            "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        ],
    ));
    let backup = |store: &[&str], to: &Path, extra: &[&str]| {
        let mut c = sealdb();
        c.args(["backup", "--db"]).arg(&db).args(store);
        c.arg("--to").arg(to).args(extra);
        c.args(["--kdf-memory-kib", "8", "--kdf-iterations", "1"]);
        c.env("BK_PASS", "the backup's passphrase")
            .stdin(std::process::Stdio::null());
        c
    };
    let spf = ["--store-passphrase-file", store_pass.to_str().unwrap()];
    let out = ok(backup(
        &spf,
        &p("bk"),
        &["--passphrase-env", "BK_PASS", "--threads", "1"],
    )
    .output()
    .unwrap());
    assert!(out.contains("(full)"), "{out}");
    ok(sql_pass(
        &db,
        &store_pass,
        &["INSERT INTO t VALUES (4, 'four')"],
    ));
    // The store's passphrase from SEALDB_PASSPHRASE, an incremental backup.
    let out = ok(backup(
        &["--store-passphrase"],
        &p("inc"),
        &[
            "--passphrase-env",
            "BK_PASS",
            "--incremental-from",
            p("bk").to_str().unwrap(),
        ],
    )
    .env("SEALDB_PASSPHRASE", "the store's passphrase")
    .output()
    .unwrap());
    assert!(out.contains("incremental"), "{out}");
    ok(sealdb()
        .args(["backup", "verify"])
        .arg(p("inc"))
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "the backup's passphrase")
        .output()
        .unwrap());
    // Restored under another passphrase; the old one does not open it.
    let out = ok(sealdb()
        .args(["restore", "--from"])
        .arg(p("inc"))
        .arg("--to")
        .arg(p("restored"))
        .arg("--store-passphrase-file")
        .arg(&new_pass)
        .args(["--passphrase-env", "BK_PASS", "--threads", "1"])
        .env("BK_PASS", "the backup's passphrase")
        .output()
        .unwrap());
    assert!(out.contains("2 backup(s) in its chain"), "{out}");
    assert_eq!(
        ok(sql_pass(
            &p("restored"),
            &new_pass,
            &["SELECT count(*) FROM t"]
        )),
        "4\n"
    );
    let e = err(sql_pass(&p("restored"), &store_pass, &["SELECT 1"]));
    assert!(e.contains("not available"), "{e}");

    // A wrong store passphrase is named, and nothing is written.
    let e = err(backup(
        &["--store-passphrase"],
        &p("bk2"),
        &["--passphrase-env", "BK_PASS"],
    )
    .env("SEALDB_PASSPHRASE", "not the store's passphrase")
    .output()
    .unwrap());
    assert!(
        e.contains("the store passphrase (--store-passphrase) does not open")
            && e.contains("wrong passphrase"),
        "{e}"
    );
    let wrong = p("wrong-pass");
    std::fs::write(&wrong, "not it\n").unwrap();
    let e = err(backup(
        &["--store-passphrase-file", wrong.to_str().unwrap()],
        &p("bk2"),
        &["--passphrase-env", "BK_PASS"],
    )
    .output()
    .unwrap());
    assert!(
        e.contains("the store passphrase in") && e.contains("wrong passphrase"),
        "{e}"
    );
    // No backup passphrase: the store's passphrase alone unlocks the
    // backup, which shows a store-passphrase wrap with the store's cost.
    let only = p("only-store-pass");
    ok(backup(&spf, &only, &[]).output().unwrap());
    let out = ok(sealdb()
        .args(["backup", "show"])
        .arg(&only)
        .arg("--passphrase-file")
        .arg(&store_pass)
        .output()
        .unwrap());
    assert!(
        out.contains("key wrap: store passphrase (store key ")
            && out.contains("argon2id m=65536 KiB, t=3, p=1)")
            && !out.contains("key wrap: passphrase"),
        "{out}"
    );
    ok(sealdb()
        .args(["backup", "verify"])
        .arg(&only)
        .arg("--passphrase-file")
        .arg(&store_pass)
        .output()
        .unwrap());
    // Restored with nothing but the store's passphrase (same passphrase,
    // a new salt: another key, which the backup's passphrase would not be).
    let out = ok(sealdb()
        .args(["restore", "--from"])
        .arg(&only)
        .arg("--to")
        .arg(p("same-pass"))
        .args(spf)
        .output()
        .unwrap());
    assert!(out.contains("1 backup(s) in its chain"), "{out}");
    assert_eq!(
        ok(sql_pass(
            &p("same-pass"),
            &store_pass,
            &["SELECT count(*) FROM t"]
        )),
        "4\n"
    );
    assert_ne!(
        std::fs::read(db.join("KEYDERIVATION")).unwrap(),
        std::fs::read(p("same-pass").join("KEYDERIVATION")).unwrap(),
        "a restored store gets its own salt"
    );
    // Restored under a key file, the backup unlocked by the store's
    // passphrase given as the backup's.
    let k = p("k");
    keygen(&k);
    ok(sealdb()
        .args(["restore", "--from"])
        .arg(&only)
        .arg("--to")
        .arg(p("under-key"))
        .arg("--key-file")
        .arg(&k)
        .arg("--passphrase-file")
        .arg(&store_pass)
        .output()
        .unwrap());
    assert_eq!(
        ok(sql(&p("under-key"), &k, &["SELECT count(*) FROM t"])),
        "4\n"
    );
    // Another store's passphrase does not unlock it: the error names the
    // wrap, and nothing is left at the target.
    for (how, arg) in [
        ("--store-passphrase-file", &new_pass),
        ("--passphrase-file", &wrong),
    ] {
        let mut c = sealdb();
        c.args(["restore", "--from"])
            .arg(&only)
            .arg("--to")
            .arg(p("r2"));
        if how == "--passphrase-file" {
            c.arg("--key-file").arg(&k);
        }
        let e = err(c.arg(how).arg(arg).output().unwrap());
        assert!(
            e.contains("wrap 1 (store passphrase (store key ")
                && e.contains("wrong store passphrase"),
            "{how}: {e}"
        );
    }
    // A backup with both wraps: a new store's passphrase opens neither.
    let e = err(sealdb()
        .args(["restore", "--from"])
        .arg(p("bk"))
        .arg("--to")
        .arg(p("r2"))
        .arg("--store-passphrase-file")
        .arg(&new_pass)
        .output()
        .unwrap());
    assert!(
        e.contains("wrong store passphrase") && e.contains("no passphrase given"),
        "{e}"
    );
    let e = err(backup(
        &["--passphrase"],
        &p("bk2"),
        &["--passphrase-env", "BK_PASS"],
    )
    .output()
    .unwrap());
    assert!(e.contains("--store-passphrase"), "{e}");
    let e = err(backup(
        &spf,
        &p("bk2"),
        &["--store-passphrase", "--passphrase-env", "BK_PASS"],
    )
    .output()
    .unwrap());
    assert!(e.contains("cannot be used with"), "{e}");
    let e = err(sealdb()
        .args(["restore", "--from"])
        .arg(p("bk"))
        .arg("--to")
        .arg(p("r2"))
        .args(["--passphrase-env", "BK_PASS"])
        .env("BK_PASS", "the backup's passphrase")
        .output()
        .unwrap());
    assert!(e.contains("needs the new store's key"), "{e}");
    assert!(!p("bk2").exists() && !p("r2").exists());

    // A checkpoint copy opens with the store's passphrase.
    ok(sealdb()
        .args(["checkpoint", "--db"])
        .arg(&db)
        .arg("--store-passphrase-file")
        .arg(&store_pass)
        .arg("--to")
        .arg(p("cp"))
        .output()
        .unwrap());
    assert_eq!(
        ok(sql_pass(&p("cp"), &store_pass, &["SELECT count(*) FROM t"])),
        "4\n"
    );
}

#[test]
fn kill_9_during_backups_and_restores() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k");
    let db = tmp.path().join("db");
    store(&db, &key, 3000);
    let count = ok(sql(&db, &key, &["SELECT count(*) FROM t"]));
    let backup_cmd = |to: &Path| {
        let mut c = sealdb();
        c.args(["backup", "--db"])
            .arg(&db)
            .arg("--key-file")
            .arg(&key)
            .arg("--to")
            .arg(to);
        c
    };
    // How long one takes, to kill anywhere in it.
    let good = tmp.path().join("good");
    let t = Instant::now();
    ok(backup_cmd(&good).output().unwrap());
    let span = t.elapsed().as_millis() as u64 + 20;
    let mut rng = Lcg(0x5eed);
    for i in 0..rounds() {
        let bk = tmp.path().join(format!("bk{i}"));
        let at = rng.below(span);
        let finished = run_and_kill(backup_cmd(&bk), Duration::from_millis(at));
        eprintln!("backup round {i}: killed at {at} ms of {span}, finished: {finished}");
        let out = sealdb()
            .args(["backup", "verify"])
            .arg(&bk)
            .arg("--key-file")
            .arg(&key)
            .output()
            .unwrap();
        if out.status.success() {
            // It finished before the kill: then it restores.
            let r = tmp.path().join(format!("from-bk{i}"));
            ok(sealdb()
                .arg("restore")
                .arg("--from")
                .arg(&bk)
                .arg("--to")
                .arg(&r)
                .arg("--key-file")
                .arg(&key)
                .output()
                .unwrap());
            assert_eq!(ok(sql(&r, &key, &["SELECT count(*) FROM t"])), count);
        } else {
            assert!(!finished, "round {i}: a finished backup must verify");
            let e = String::from_utf8_lossy(&out.stderr);
            assert!(
                e.contains("incomplete") || e.contains("no backup") || e.contains("is empty"),
                "round {i}: an interrupted backup is reported as such: {e}"
            );
        }
        // The source is untouched and whole.
        assert_eq!(ok(sql(&db, &key, &["SELECT count(*) FROM t"])), count);
    }
    let out = ok(sealdb()
        .args(["audit", "verify", "--db"])
        .arg(&db)
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap());
    assert!(out.starts_with("ok:"), "{out}");

    let restore_cmd = |to: &Path| {
        let mut c = sealdb();
        c.arg("restore")
            .arg("--from")
            .arg(&good)
            .arg("--to")
            .arg(to)
            .arg("--key-file")
            .arg(&key);
        c
    };
    let t = Instant::now();
    ok(restore_cmd(&tmp.path().join("timed")).output().unwrap());
    let span = t.elapsed().as_millis() as u64 + 20;
    for i in 0..rounds() {
        let r = tmp.path().join(format!("r{i}"));
        let at = rng.below(span);
        let finished = run_and_kill(restore_cmd(&r), Duration::from_millis(at));
        eprintln!("restore round {i}: killed at {at} ms of {span}, finished: {finished}");
        let staging = tmp.path().join(format!(".r{i}.restoring"));
        // Renamed into place only when complete; unmarked after that.
        let whole = r.exists() && {
            let out = sql(&r, &key, &["SELECT count(*) FROM t"]);
            if out.status.success() {
                assert_eq!(String::from_utf8(out.stdout).unwrap(), count, "round {i}");
                true
            } else {
                let e = err(out);
                assert!(e.contains("incomplete"), "round {i}: {e}");
                false
            }
        };
        if !whole {
            if staging.exists() {
                let left: Vec<String> = std::fs::read_dir(&staging)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                if left.iter().all(|n| n == "LOCK") {
                    // Killed before its marker: nothing in it (opening it
                    // would make a new store, as in any empty directory).
                } else {
                    let e = err(sql(&staging, &key, &["SELECT 1"]));
                    assert!(e.contains("incomplete"), "round {i}: {e}");
                }
            }
            // A second restore clears the leftovers and completes.
            ok(restore_cmd(&r).output().unwrap());
            assert_eq!(ok(sql(&r, &key, &["SELECT count(*) FROM t"])), count);
        }
        assert!(
            !staging.exists(),
            "round {i}: nothing left beside the store"
        );
    }
}
