//! Backups and restores through the public API: a round trip of every
//! object kind, incremental chains, backups taken under writes, the key
//! wraps, tampering, a full disk, and the SQL statements.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sealdb::backup::{
    self, BackupKeys, BackupOptions, KdfParams, RestoreOptions, WrapKind, KEYS_FILE, MANIFEST_FILE,
};
use sealdb::storage::{Direction, StorageOptions, SyncMode};
use sealdb::vfs::{FaultPlan, FaultVfs, OsVfs, Vfs};
use sealdb::{
    ClientInfo, Credentials, Db, Error, ErrorCode, KeyBytes, MemoryKeyProvider, Options,
    PasswordCost, Session, UnencryptedKeyProvider, Value,
};

const MARKER: &str = "PLAINTEXT-MARKER-7f3a9";
const PASS: &str = "correct horse battery staple";

fn key(b: u8) -> MemoryKeyProvider {
    MemoryKeyProvider::new(KeyBytes::from_slice(&[b; 32])).unwrap()
}

fn options() -> Options {
    Options {
        password_cost: PasswordCost::dangerous_minimal(),
        // Every audited statement would otherwise fsync (slow on a busy
        // disk); durability is not what these tests are about.
        storage: StorageOptions {
            sync: SyncMode::Normal,
            ..StorageOptions::default()
        },
        ..Options::default()
    }
}

fn open(dir: &Path, k: u8) -> Db {
    Db::open_with(dir, key(k), options()).unwrap()
}

fn cheap() -> BackupOptions {
    BackupOptions {
        kdf: KdfParams::dangerous_minimal(),
        ..BackupOptions::default()
    }
}

fn restore_opts(keys: BackupKeys) -> RestoreOptions {
    RestoreOptions {
        keys,
        ..RestoreOptions::default()
    }
}

fn rows(s: &Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

fn rows_with(s: &Session, sql: &str, params: &[&dyn sealdb::ToValue]) -> Vec<Vec<Value>> {
    s.query(sql, params)
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

fn login(db: &Db, user: &str, pw: &str) -> sealdb::Result<Session> {
    db.connect(Credentials::password(user, pw), ClientInfo::local("test"))
}

/// Every key and value of the store except the audit log's own system
/// keys (its head moves with every audited event, and the data key it last
/// saw differs after a restore by design).
fn dump(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.engine()
        .iter(.., Direction::Forward, None)
        .unwrap()
        .map(|r| r.unwrap())
        .filter(|(k, _)| !k.starts_with(b"\x00s/audit_"))
        .collect()
}

/// A store with every kind of object: tables, indexes, views, triggers,
/// users, roles, grants, row policies, audit settings, and an audit log.
fn populate(db: &Db) {
    let root = db.root_session();
    for stmt in [
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, owner TEXT, amount INTEGER, note TEXT)",
        "CREATE INDEX orders_owner ON orders (owner)",
        "CREATE TABLE log (what TEXT)",
        "CREATE TRIGGER orders_log AFTER INSERT ON orders BEGIN INSERT INTO log VALUES (new.owner); END",
        "CREATE VIEW big AS SELECT id, amount FROM orders WHERE amount > 100",
        "CREATE USER alice WITH PASSWORD 'alice-pw'",
        "CREATE USER bob WITH PASSWORD 'bob-pw'",
        "CREATE ROLE clerk",
        "GRANT clerk TO bob",
        "GRANT SELECT, INSERT ON orders TO alice",
        "GRANT INSERT ON log TO alice",
        "GRANT SELECT ON big TO clerk",
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own ON orders USING (owner = current_user) WITH CHECK (owner = current_user)",
        "ALTER TABLE orders EXPERIMENTAL_AUDIT SET READ WRITE",
    ] {
        root.execute(stmt, &[]).unwrap();
    }
    let tx = root.transaction().unwrap();
    for i in 0..900 {
        let owner = ["alice", "bob", "carol"][i % 3];
        tx.execute(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            &[
                &(i as i64),
                &owner,
                &((i * 7 % 500) as i64),
                &format!("{MARKER} row {i}"),
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    root.execute(
        "INSERT INTO orders VALUES (100000, 'alice', 1, ?)",
        &[&MARKER],
    )
    .unwrap();
    let alice = login(db, "alice", "alice-pw").unwrap();
    assert_eq!(
        rows(&alice, "SELECT count(*) FROM orders")[0][0],
        Value::Integer(301)
    );
    let _ = login(db, "alice", "wrong");
}

fn check_restored_behaviour(db: &Db) {
    let alice = login(db, "alice", "alice-pw").unwrap();
    assert_eq!(
        rows(&alice, "SELECT count(*) FROM orders")[0][0],
        Value::Integer(301),
        "row policy"
    );
    let e = alice.execute("DELETE FROM orders", &[]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    let e = alice
        .execute("INSERT INTO orders VALUES (200000, 'bob', 1, 'x')", &[])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "WITH CHECK");
    alice
        .execute("INSERT INTO orders VALUES (200000, 'alice', 1, 'x')", &[])
        .unwrap();
    let bob = login(db, "bob", "bob-pw").unwrap();
    assert_eq!(
        rows(&bob, "SELECT count(*) FROM big")[0][0],
        rows(
            &db.root_session(),
            "SELECT count(*) FROM orders WHERE amount > 100"
        )[0][0]
    );
    assert!(matches!(
        login(db, "bob", "alice-pw"),
        Err(Error::AuthenticationFailed { .. })
    ));
    let report = db.audit_verify().unwrap();
    assert!(report.is_intact(), "{:?}", report.first_bad);
}

fn audit_lines(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    db.audit_export(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_round_trip_restores_every_object_kind_under_another_key() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let db = open(&src, 1);
    populate(&db);
    let before = dump(&db);
    let audit_before = audit_lines(&db);
    let bk = tmp.path().join("bk");
    let s = db
        .backup(&bk, &cheap().with_passphrase(PASS), |_| {})
        .unwrap();
    assert_eq!(s.parent, None);
    assert_eq!(s.tables, s.tables_copied);
    assert_eq!(dump(&db), before, "the source is unchanged");
    drop(db);

    // Restored under another store key, unlocked with the passphrase.
    let dst = tmp.path().join("restored");
    let r = Db::restore(
        &bk,
        &dst,
        key(2),
        &restore_opts(BackupKeys::passphrase(PASS)),
        |_| {},
    )
    .unwrap();
    assert_eq!(r.chain, 1);
    assert!(!tmp.path().join(".restored.restoring").exists());
    assert!(matches!(
        Db::open_with(&dst, key(1), options()),
        Err(Error::KeyUnavailable { .. })
    ));
    let restored = open(&dst, 2);
    assert_eq!(dump(&restored), before);
    // The audit log is the source's, followed by the restore's own records.
    let lines = audit_lines(&restored);
    assert_eq!(lines[..audit_before.len()], audit_before[..]);
    assert!(lines[audit_before.len()..]
        .iter()
        .any(|l| l.contains("\"event\":\"restore\"")));
    check_restored_behaviour(&restored);
    // No file of the restored store is under a key of the source.
    let status = restored.engine().encryption_status().unwrap();
    assert!((status.active_share() - 1.0).abs() < 1e-9);
    drop(restored);

    // The same backup also opens with the source's store key.
    let dst2 = tmp.path().join("restored2");
    Db::restore(&bk, &dst2, key(1), &RestoreOptions::default(), |_| {}).unwrap();
    assert_eq!(dump(&open(&dst2, 1)), before);
}

#[test]
fn no_backup_file_holds_a_plaintext_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    // Some rows only in the log tail (not flushed), some only in tables.
    db.engine().flush().unwrap();
    db.root_session()
        .execute(
            "INSERT INTO orders VALUES (300000, 'tail', 1, ?)",
            &[&format!("{MARKER}-tail")],
        )
        .unwrap();
    let bk = tmp.path().join("bk");
    db.backup(&bk, &cheap().with_passphrase(PASS), |_| {})
        .unwrap();
    let needles: Vec<&[u8]> = vec![
        MARKER.as_bytes(),
        b"alice-pw",
        b"orders_owner",
        b"CREATE TABLE",
        b"owner = current_user",
        PASS.as_bytes(),
        b"\"event\"",
        &[1u8; 32],
    ];
    let mut files = 0;
    for entry in std::fs::read_dir(&bk).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == *n),
                "found {:?} in a backup file",
                String::from_utf8_lossy(n)
            );
        }
    }
    assert!(files >= 4);
    let report = backup::verify(&bk, &BackupKeys::passphrase(PASS), None, |_| {}).unwrap();
    assert_eq!(report.backups.len(), 1);
    // The tail row made it.
    let dst = tmp.path().join("r");
    Db::restore(
        &bk,
        &dst,
        key(3),
        &restore_opts(BackupKeys::passphrase(PASS)),
        |_| {},
    )
    .unwrap();
    let r = open(&dst, 3);
    assert_eq!(
        rows(
            &r.root_session(),
            "SELECT owner FROM orders WHERE id = 300000"
        ),
        vec![vec![Value::Text("tail".into())]]
    );
}

#[test]
fn a_wrong_passphrase_or_key_names_the_wrap_that_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    db.root_session()
        .execute("CREATE TABLE t (x)", &[])
        .unwrap();
    let only_pass = tmp.path().join("p");
    let opts = BackupOptions {
        store_key_wrap: false,
        ..cheap().with_passphrase(PASS)
    };
    db.backup(&only_pass, &opts, |_| {}).unwrap();
    let both = tmp.path().join("b");
    db.backup(&both, &cheap().with_passphrase(PASS), |_| {})
        .unwrap();
    let info = backup::show(&both, &BackupKeys::passphrase(PASS), None).unwrap();
    assert_eq!(info.wraps.len(), 2);
    assert!(matches!(info.wraps[0], WrapKind::StoreKey { .. }));
    assert!(matches!(info.wraps[1], WrapKind::Passphrase { .. }));
    assert_eq!(info.sql_tables, vec!["t".to_string()]);

    let err = |dir: &Path, keys: BackupKeys| -> String {
        let e = backup::verify(dir, &keys, None, |_| {}).unwrap_err();
        assert_eq!(e.code(), ErrorCode::BackupKey, "{e}");
        assert!(!e.to_string().contains(PASS));
        e.to_string()
    };
    let m = err(&only_pass, BackupKeys::passphrase("wrong"));
    assert!(
        m.contains("wrap 1 (passphrase (argon2id m=8 KiB, t=1, p=1)): wrong passphrase"),
        "{m}"
    );
    let m = err(&only_pass, BackupKeys::provider(Arc::new(key(1))));
    assert!(m.contains("no passphrase given"), "{m}");
    let m = err(
        &both,
        BackupKeys::provider(Arc::new(key(9))).with_passphrase("nope"),
    );
    assert!(m.contains("wrap 1 (store key "), "{m}");
    assert!(m.contains("the key provider does not have this key"), "{m}");
    assert!(m.contains("wrap 2 (passphrase"), "{m}");
    assert!(m.contains("wrong passphrase"), "{m}");
    // Restore with a wrong key leaves nothing behind.
    let dst = tmp.path().join("dst");
    let e = Db::restore(&both, &dst, key(9), &RestoreOptions::default(), |_| {}).unwrap_err();
    assert_eq!(e.code(), ErrorCode::BackupKey);
    assert!(!dst.exists());
    // Either wrap alone is enough.
    backup::verify(&both, &BackupKeys::provider(Arc::new(key(1))), None, |_| {}).unwrap();
    backup::verify(&both, &BackupKeys::passphrase(PASS), None, |_| {}).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn names(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn tampered_backups_are_refused_by_verify_and_restore_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    db.engine().flush().unwrap();
    for i in 0..50 {
        db.root_session()
            .execute(
                "INSERT INTO log VALUES (?)",
                &[&format!("second table {i} {}", "x".repeat(100))],
            )
            .unwrap();
    }
    db.engine().flush().unwrap();
    db.root_session()
        .execute("INSERT INTO log VALUES ('in the tail')", &[])
        .unwrap();
    let good = tmp.path().join("good");
    db.backup(&good, &cheap(), |_| {}).unwrap();
    let other = tmp.path().join("other");
    db.backup(&other, &cheap(), |_| {}).unwrap();
    let keys = BackupKeys::provider(Arc::new(key(1)));
    backup::verify(&good, &keys, None, |_| {}).unwrap();
    let tables = names(&good, "table-");
    let logs = names(&good, "log-");
    let audits = names(&good, "audit-");
    assert!(tables.len() >= 2, "{tables:?}");
    assert!(!logs.is_empty() && !audits.is_empty());

    type Tamper = Box<dyn Fn(&Path)>;
    let flip = |name: String, at: u64| -> Tamper {
        Box::new(move |d: &Path| {
            let p = d.join(&name);
            let mut b = std::fs::read(&p).unwrap();
            let i = (at as usize).min(b.len() - 1);
            b[i] ^= 0x40;
            std::fs::write(&p, b).unwrap();
        })
    };
    let t0 = tables[0].clone();
    let t1 = tables[1].clone();
    let cases: Vec<(&str, String, Tamper)> = vec![
        ("missing", t0.clone(), {
            let n = t0.clone();
            Box::new(move |d: &Path| std::fs::remove_file(d.join(&n)).unwrap())
        }),
        ("truncated", t0.clone(), {
            let n = t0.clone();
            Box::new(move |d: &Path| {
                let p = d.join(&n);
                let b = std::fs::read(&p).unwrap();
                std::fs::write(&p, &b[..b.len() - 100]).unwrap();
            })
        }),
        ("extended", logs[0].clone(), {
            let n = logs[0].clone();
            Box::new(move |d: &Path| {
                let p = d.join(&n);
                let mut b = std::fs::read(&p).unwrap();
                b.extend_from_slice(&[0u8; 44]);
                std::fs::write(&p, b).unwrap();
            })
        }),
        ("altered table", t1.clone(), flip(t1.clone(), 200)),
        (
            "altered audit",
            audits[0].clone(),
            flip(audits[0].clone(), 100),
        ),
        ("altered header", t0.clone(), flip(t0.clone(), 40)),
        ("swapped", t0.clone(), {
            let (a, b) = (t0.clone(), t1.clone());
            Box::new(move |d: &Path| {
                std::fs::rename(d.join(&a), d.join("x")).unwrap();
                std::fs::rename(d.join(&b), d.join(&a)).unwrap();
                std::fs::rename(d.join("x"), d.join(&b)).unwrap();
            })
        }),
        ("reordered records", t1.clone(), {
            let n = t1.clone();
            Box::new(move |d: &Path| {
                // Two equal-length blocks of ciphertext exchanged.
                let p = d.join(&n);
                let mut b = std::fs::read(&p).unwrap();
                let (x, y) = (200, 4300);
                for i in 0..64 {
                    b.swap(x + i, y + i);
                }
                std::fs::write(&p, b).unwrap();
            })
        }),
        ("from another backup", t0.clone(), {
            let (n, o) = (t0.clone(), other.clone());
            Box::new(move |d: &Path| {
                std::fs::copy(o.join(&n), d.join(&n)).unwrap();
            })
        }),
        (
            "manifest edited",
            MANIFEST_FILE.to_string(),
            flip(MANIFEST_FILE.into(), 100),
        ),
        ("manifest of another backup", KEYS_FILE.to_string(), {
            let o = other.clone();
            Box::new(move |d: &Path| {
                std::fs::copy(o.join(MANIFEST_FILE), d.join(MANIFEST_FILE)).unwrap();
            })
        }),
        (
            "key wraps edited",
            KEYS_FILE.to_string(),
            flip(KEYS_FILE.into(), 30),
        ),
        ("an extra file", "stray".to_string(), {
            Box::new(move |d: &Path| std::fs::write(d.join("stray"), b"hello").unwrap())
        }),
    ];
    for (what, file, tamper) in cases {
        let dir = tmp.path().join(format!("case-{}", what.replace(' ', "-")));
        copy_dir(&good, &dir);
        tamper(&dir);
        let e = backup::verify(&dir, &keys, None, |_| {}).unwrap_err();
        let msg = e.to_string();
        eprintln!("{what}: {msg}");
        assert!(msg.contains(&file), "{what}: {msg}");
        assert!(
            e.is_corruption() || e.code() == ErrorCode::BackupKey,
            "{what}: {msg}"
        );
        if what == "an extra file" {
            continue; // harmless to a restore, which reads only what is listed
        }
        let dst = tmp.path().join(format!("dst-{}", what.replace(' ', "-")));
        let e = Db::restore(&dir, &dst, key(1), &RestoreOptions::default(), |_| {}).unwrap_err();
        // Both swapped files are wrong; the restore's threads may meet
        // either first.
        let named =
            e.to_string().contains(&file) || (what == "swapped" && e.to_string().contains(&t1));
        assert!(named, "restore, {what}: {e}");
        assert!(!dst.exists(), "{what}: nothing at the target");
    }
    // An unfinished backup.
    let dir = tmp.path().join("case-incomplete");
    copy_dir(&good, &dir);
    std::fs::write(dir.join("INCOMPLETE"), b"").unwrap();
    assert!(matches!(
        backup::verify(&dir, &keys, None, |_| {}),
        Err(Error::Incomplete { .. })
    ));
    std::fs::remove_file(dir.join("INCOMPLETE")).unwrap();
    std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap();
    assert!(matches!(
        Db::restore(
            &dir,
            tmp.path().join("x"),
            key(1),
            &RestoreOptions::default(),
            |_| {}
        ),
        Err(Error::Incomplete { .. })
    ));
}

#[test]
fn an_incremental_chain_holds_only_what_changed_and_restores_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    db.engine().compact().unwrap();
    let coll = tmp.path().join("collection");
    let b1 = coll.join("b1");
    let s1 = db.backup(&b1, &cheap(), |_| {}).unwrap();
    let d1 = dump(&db);
    let root = db.root_session();
    root.execute("UPDATE orders SET amount = amount + 1 WHERE id < 30", &[])
        .unwrap();
    root.execute("INSERT INTO log VALUES ('after b1')", &[])
        .unwrap();
    let b2 = coll.join("b2");
    let s2 = db
        .backup(&b2, &cheap().incremental_from(&b1), |_| {})
        .unwrap();
    let d2 = dump(&db);
    assert_eq!(
        s2.parent.as_deref(),
        Some(std::path::absolute(&b1).unwrap().as_path())
    );
    assert!(s2.tables_copied < s2.tables, "{s2:?}");
    assert!(s2.bytes < s1.bytes / 2, "{s2:?} vs {s1:?}");
    root.execute("DELETE FROM orders WHERE id % 10 = 0", &[])
        .unwrap();
    db.engine().flush().unwrap();
    root.execute("INSERT INTO log VALUES ('after b2')", &[])
        .unwrap();
    let b3 = coll.join("b3");
    db.backup(&b3, &cheap().incremental_from(&b2), |_| {})
        .unwrap();
    let d3 = dump(&db);
    drop(db);
    let keys = BackupKeys::provider(Arc::new(key(1)));
    let report = backup::verify(&b3, &keys, None, |_| {}).unwrap();
    assert_eq!(report.backups.len(), 3);
    for (b, want, n) in [(&b1, &d1, 1), (&b2, &d2, 2), (&b3, &d3, 3)] {
        let dst = tmp.path().join(format!("r{n}"));
        let r = Db::restore(b, &dst, key(1), &restore_opts(keys.clone()), |_| {}).unwrap();
        assert_eq!(r.chain, n);
        let db = open(&dst, 1);
        assert_eq!(&dump(&db), want, "chain of {n}");
        assert!(db.audit_verify().unwrap().is_intact());
    }
    // The collection moved: parents are found beside their children.
    let moved = tmp.path().join("moved");
    std::fs::rename(&coll, &moved).unwrap();
    backup::verify(&moved.join("b3"), &keys, None, |_| {}).unwrap();
    // A missing parent fails, naming it.
    std::fs::rename(moved.join("b1"), tmp.path().join("elsewhere")).unwrap();
    let e = backup::verify(&moved.join("b3"), &keys, None, |_| {}).unwrap_err();
    assert!(e.to_string().contains("b1"), "{e}");
    // Another backup in the parent's place fails too.
    let db = open(&tmp.path().join("r1"), 1);
    db.backup(moved.join("b1"), &cheap(), |_| {}).unwrap();
    let e = backup::verify(&moved.join("b3"), &keys, None, |_| {}).unwrap_err();
    assert!(e.to_string().contains("not the parent"), "{e}");
}

#[test]
fn a_backup_taken_under_writes_holds_a_consistent_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let db = open(&src, 1);
    db.root_session()
        .execute("CREATE TABLE seq (id INTEGER PRIMARY KEY, pad TEXT)", &[])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let s = db.root_session();
            let mut i = 0i64;
            while !stop.load(Ordering::SeqCst) {
                s.execute("INSERT INTO seq VALUES (?, ?)", &[&i, &"x".repeat(200)])
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    let count = |db: &Db| match rows(&db.root_session(), "SELECT count(*) FROM seq")[0][0] {
        Value::Integer(n) => n,
        ref v => panic!("{v:?}"),
    };
    while count(&db) < 2000 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let bk = tmp.path().join("bk");
    let at_start = count(&db);
    db.backup(&bk, &cheap(), |_| {}).unwrap();
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    let dst = tmp.path().join("dst");
    Db::restore(&bk, &dst, key(1), &RestoreOptions::default(), |_| {}).unwrap();
    let r = open(&dst, 1);
    let got = rows(
        &r.root_session(),
        "SELECT count(*), min(id), max(id) FROM seq",
    );
    let Value::Integer(n) = got[0][0] else {
        panic!()
    };
    assert!(
        n >= at_start && n <= written,
        "{n} rows, {at_start}..{written}"
    );
    assert_eq!(got[0][1], Value::Integer(0));
    assert_eq!(got[0][2], Value::Integer(n - 1), "no gap");
    assert!(r.audit_verify().unwrap().is_intact());
}

#[test]
fn targets_must_be_new_or_empty_and_the_live_store_is_never_a_target() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let db = open(&src, 1);
    db.root_session()
        .execute("CREATE TABLE t (x)", &[])
        .unwrap();
    let full = tmp.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("something"), b"keep me").unwrap();
    let e = db.backup(&full, &cheap(), |_| {}).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert_eq!(std::fs::read(full.join("something")).unwrap(), b"keep me");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    db.backup(&empty, &cheap(), |_| {}).unwrap();
    let e = Db::restore(&empty, &full, key(1), &RestoreOptions::default(), |_| {}).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    // A marker that is not a restore's own is not a leftover to clear.
    std::fs::write(
        full.join("INCOMPLETE"),
        b"sealdb: this directory is an unfinished checkpoint; delete it and start again\n",
    )
    .unwrap();
    let e = Db::restore(&empty, &full, key(1), &RestoreOptions::default(), |_| {}).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    std::fs::remove_file(full.join("something")).unwrap();
    let e = Db::restore(&empty, &full, key(1), &RestoreOptions::default(), |_| {}).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert!(full.join("INCOMPLETE").exists());
    std::fs::write(full.join("something"), b"keep me").unwrap();
    let e = Db::restore(&empty, &src, key(1), &RestoreOptions::default(), |_| {}).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    // Into an empty directory is fine.
    let into = tmp.path().join("into");
    std::fs::create_dir_all(&into).unwrap();
    Db::restore(&empty, &into, key(1), &RestoreOptions::default(), |_| {}).unwrap();
    assert!(
        rows(&open(&into, 1).root_session(), "SELECT count(*) FROM t")[0][0] == Value::Integer(0)
    );
    // A backup needs a way to be unlocked.
    let e = db
        .backup(
            tmp.path().join("nokey"),
            &BackupOptions {
                store_key_wrap: false,
                ..cheap()
            },
            |_| {},
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

/// Every directory fsync and rename of a restore made to fail in turn (the
/// state a crash at that point leaves, plus the error): what is left at
/// the target either opens whole or does not open at all, and the next
/// restore to the same target clears the leftovers and completes.
#[test]
fn a_restore_stopped_at_any_rename_or_directory_sync_leaves_nothing_half_open() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    let bk = tmp.path().join("bk");
    db.backup(&bk, &cheap(), |_| {}).unwrap();
    let count = |d: &Db| rows(&d.root_session(), "SELECT count(*) FROM orders")[0][0].clone();
    let want = count(&db);
    drop(db);
    let faulty = |plan: &Arc<FaultPlan>| RestoreOptions {
        vfs: Some(Arc::new(FaultVfs::new(
            Arc::new(OsVfs::new()),
            plan.clone(),
        ))),
        ..RestoreOptions::default()
    };
    let probe = FaultPlan::new();
    Db::restore(
        &bk,
        tmp.path().join("probe"),
        key(1),
        &faulty(&probe),
        |_| {},
    )
    .unwrap();
    let (dir_syncs, renames) = (probe.dir_syncs(), probe.renames());
    assert!(dir_syncs >= 3 && renames >= 1, "{dir_syncs} {renames}");
    let points = (1..=dir_syncs)
        .map(|n| (n, true))
        .chain((1..=renames).map(|n| (n, false)));
    let (mut opened_whole, mut refused) = (0, 0);
    for (i, (n, dir_sync)) in points.enumerate() {
        let target = tmp.path().join(format!("t{i}"));
        let plan = FaultPlan::new();
        if dir_sync {
            plan.fail_nth_dir_sync(n);
        } else {
            plan.fail_nth_rename(n);
        }
        // `Db::restore` opens the new store at the end to audit the
        // restore; a sync failing as that store closes is not reported.
        if let Err(e) = Db::restore(&bk, &target, key(1), &faulty(&plan), |_| {}) {
            assert!(matches!(e, Error::Io { .. }), "point {i}: {e}");
        }
        let staging = tmp.path().join(format!(".t{i}.restoring"));
        if staging.exists() {
            // Empty, only its lock, or marked: never a finished store.
            let left = names(&staging, "");
            assert!(
                left.iter().all(|n| n == "LOCK") || left.iter().any(|n| n == "INCOMPLETE"),
                "point {i}: {left:?}"
            );
        }
        let whole = target.exists()
            && match Db::open_with(&target, key(1), options()) {
                Ok(r) => {
                    assert_eq!(count(&r), want, "point {i}");
                    true
                }
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::Incomplete, "point {i}: {e}");
                    false
                }
            };
        if whole {
            // The failure came after the marker went: the store is
            // there, and a restore over it is refused.
            opened_whole += 1;
            let e =
                Db::restore(&bk, &target, key(1), &RestoreOptions::default(), |_| {}).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "point {i}: {e}");
        } else {
            refused += 1;
            Db::restore(&bk, &target, key(1), &RestoreOptions::default(), |_| {}).unwrap();
        }
        assert!(!staging.exists(), "point {i}: staging left behind");
        let r = Db::open_with(&target, key(1), options()).unwrap();
        assert_eq!(count(&r), want, "point {i}");
        assert!(r.audit_verify().unwrap().is_intact(), "point {i}");
    }
    assert!(
        opened_whole >= 1 && refused >= 3,
        "{opened_whole} {refused}"
    );
}

#[test]
fn a_full_disk_during_a_backup_leaves_the_source_untouched_and_the_target_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    let size = {
        let probe = tmp.path().join("probe");
        db.backup(&probe, &cheap(), |_| {}).unwrap().bytes
    };
    for (i, budget) in [0, 50, 300, 5_000, size / 3, size - 10]
        .into_iter()
        .enumerate()
    {
        let before = dump(&db);
        let plan = FaultPlan::new();
        plan.disk_full_after(budget);
        let vfs: Arc<dyn Vfs> = Arc::new(FaultVfs::new(Arc::new(OsVfs::new()), plan));
        let dir = tmp.path().join(format!("full-{i}"));
        let e = db
            .backup(
                &dir,
                &BackupOptions {
                    vfs: Some(vfs),
                    ..cheap()
                },
                |_| {},
            )
            .unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{budget}: {e}");
        let keys = BackupKeys::provider(Arc::new(key(1)));
        match backup::verify(&dir, &keys, None, |_| {}) {
            Err(Error::Incomplete { .. }) | Err(Error::InvalidArgument { .. }) => {}
            other => panic!("budget {budget}: {:?}", other.map(|_| ())),
        }
        // Only the marker is left (the partial files were removed).
        let left = names(&dir, "");
        assert!(
            left.is_empty() || left == vec!["INCOMPLETE".to_string()],
            "{left:?}"
        );
        assert_eq!(dump(&db), before);
        db.root_session()
            .execute("INSERT INTO log VALUES ('still writable')", &[])
            .unwrap();
    }
    assert!(db.audit_verify().unwrap().is_intact());
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    /// Mounts a tmpfs of `kib` KiB at `dir`, or says why it cannot.
    fn mount(dir: &Path, kib: u64) -> Result<SmallFs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(SmallFs(dir.to_path_buf()))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The same on a real file system that fills up: a tmpfs smaller than
/// the backup (mounting needs root; without it the test says so and
/// passes without checking anything).
#[test]
fn a_full_real_file_system_during_a_backup_leaves_the_source_untouched_and_the_target_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    {
        let root = db.root_session();
        let ins = root.prepare("INSERT INTO log VALUES (?)").unwrap();
        for i in 0..400u32 {
            // Distinct text, so nothing shrinks it.
            let text: String = (0..2000u32)
                .map(|j| char::from(b'a' + ((i * 7919 + j * 104_729) % 26) as u8))
                .collect();
            ins.execute(&[&text as &dyn sealdb::ToValue]).unwrap();
        }
    }
    let size = db
        .backup(tmp.path().join("probe"), &cheap(), |_| {})
        .unwrap()
        .bytes;
    for kib in [64, size / 1024 / 2] {
        let mnt = tmp.path().join(format!("small-{kib}"));
        let _fs = match SmallFs::mount(&mnt, kib) {
            Ok(fs) => fs,
            Err(why) => {
                eprintln!(
                    "skipped: cannot mount a {kib} KiB tmpfs at {}: {why}",
                    mnt.display()
                );
                return;
            }
        };
        let before = dump(&db);
        let dir = mnt.join("bk");
        let e = db.backup(&dir, &cheap(), |_| {}).unwrap_err();
        assert!(
            matches!(&e, Error::Io { .. }) && e.to_string().contains("space"),
            "{kib} KiB: {e}"
        );
        let keys = BackupKeys::provider(Arc::new(key(1)));
        match backup::verify(&dir, &keys, None, |_| {}) {
            Err(Error::Incomplete { .. }) => {}
            other => panic!("{kib} KiB: {:?}", other.map(|_| ())),
        }
        // The partial files are gone (the space is free again); the
        // marker says what happened.
        assert_eq!(names(&dir, ""), ["INCOMPLETE"], "{kib} KiB");
        let marker = std::fs::read_to_string(dir.join("INCOMPLETE")).unwrap();
        assert!(marker.contains("did not finish"), "{marker}");
        assert_eq!(dump(&db), before);
        db.root_session()
            .execute("INSERT INTO log VALUES ('still writable')", &[])
            .unwrap();
        // A restore of it is refused, and nothing is made.
        let to = tmp.path().join(format!("restored-{kib}"));
        let e = Db::restore(&dir, &to, key(2), &restore_opts(keys), |_| {}).unwrap_err();
        assert!(matches!(e, Error::Incomplete { .. }), "{e}");
        assert!(!to.exists());
    }
    assert!(db.audit_verify().unwrap().is_intact());
}

#[test]
fn sql_backup_show_and_restore_are_for_admins_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    let root = db.root_session();
    let bk = tmp.path().join("sqlbk");
    let bks = bk.to_string_lossy().into_owned();
    let out = rows(
        &root,
        &format!(
            "BACKUP TO '{}' WITH PASSPHRASE = 'sql-secret', KDF_MEMORY_KIB = 8, KDF_ITERATIONS = 1, THREADS = 1",
            bks
        ),
    );
    assert_eq!(out[0][1], Value::Text("full".into()));
    let inc = tmp.path().join("sqlinc");
    root.execute("INSERT INTO log VALUES ('x')", &[]).unwrap();
    let incs = inc.to_string_lossy().into_owned();
    let out: Vec<Vec<Value>> = root
        .query(
            "BACKUP TO $1 INCREMENTAL FROM $2 WITH PASSPHRASE = $3, STORE_KEY = OFF, KDF_MEMORY_KIB = 8, KDF_ITERATIONS = 1, THREADS = 0",
            &[&incs, &bks, &"sql-secret"],
        )
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect();
    assert_eq!(out[0][1], Value::Text("incremental".into()));
    // Without the passphrase the incremental backup (passphrase only) is locked.
    let e = root
        .query(&format!("SHOW BACKUP '{incs}'"), &[])
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::BackupKey, "{e}");
    let inc_show = rows(
        &root,
        &format!("SHOW BACKUP '{incs}' WITH PASSPHRASE = 'sql-secret'"),
    );
    assert!(inc_show
        .iter()
        .any(|r| r[0] == Value::Text("kind".into()) && r[1] == Value::Text("incremental".into())));
    let show: BTreeMap<String, Value> = rows(&root, &format!("SHOW BACKUP '{bks}'"))
        .into_iter()
        .filter(|r| r[0] != Value::Text("key_wrap".into()))
        .map(|r| match &r[0] {
            Value::Text(k) => (k.clone(), r[1].clone()),
            _ => panic!(),
        })
        .collect();
    assert_eq!(show["kind"], Value::Text("full".into()));
    assert_eq!(show["tables"], Value::Text("log, orders".into()));
    assert_eq!(show["parent"], Value::Null);
    let wraps: Vec<Value> = rows(&root, &format!("SHOW BACKUP '{bks}'"))
        .into_iter()
        .filter(|r| r[0] == Value::Text("key_wrap".into()))
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(wraps.len(), 2);
    // Only admins.
    let alice = login(&db, "alice", "alice-pw").unwrap();
    let e = alice
        .execute(
            &format!("BACKUP TO '{}'", tmp.path().join("a").display()),
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    assert!(!tmp.path().join("a").exists());
    let e = alice
        .query(&format!("SHOW BACKUP '{bks}'"), &[])
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    // Restore into a new directory, under this database's key.
    let to = tmp.path().join("sqlrestored");
    let out = rows(
        &root,
        &format!(
            "RESTORE FROM '{bks}' TO '{}' WITH PASSPHRASE = 'sql-secret'",
            to.display()
        ),
    );
    assert_eq!(out[0][1], Value::Integer(1));
    check_restored_behaviour(&open(&to, 1));
    // THREADS, as for BACKUP: the chain, one table at a time, then three,
    // then absurdly many (never more threads than tables are started).
    for n in [1, 3, u32::MAX] {
        let to = tmp.path().join(format!("sqlrestored-{n}"));
        let out = rows(
            &root,
            &format!(
                "RESTORE FROM '{incs}' TO '{}' WITH THREADS = {n}, PASSPHRASE = 'sql-secret'",
                to.display()
            ),
        );
        assert_eq!(out[0][1], Value::Integer(2), "THREADS = {n}");
        check_restored_behaviour(&open(&to, 1));
    }
    let bad = tmp.path().join("sqlrestored-bad");
    for opts in [
        "THREADS = 'two'",
        "THREADS = -1",
        "THREADS",
        "STORE_KEY = OFF",
    ] {
        let e = root
            .execute(
                &format!("RESTORE FROM '{bks}' TO '{}' WITH {opts}", bad.display()),
                &[],
            )
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::SqlSyntax, "{opts}: {e}");
    }
    let e = alice
        .execute(
            &format!(
                "RESTORE FROM '{bks}' TO '{}' WITH THREADS = 1, PASSPHRASE = 'sql-secret'",
                bad.display()
            ),
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    assert!(!bad.exists());
    // Not into the live database, not inside a transaction.
    let src = tmp.path().join("src");
    let e = root
        .execute(&format!("RESTORE FROM '{bks}' TO '{}'", src.display()), &[])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    root.execute("BEGIN", &[]).unwrap();
    let e = root
        .execute(
            &format!("BACKUP TO '{}'", tmp.path().join("t").display()),
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::SqlMisuse);
    root.execute("ROLLBACK", &[]).unwrap();
    // Audited, with the passphrase redacted.
    let lines = audit_lines(&db);
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"backup\"") && l.contains("<redacted>")));
    assert!(lines.iter().any(|l| l.contains("\"event\":\"restore\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"denied\"") && l.contains("BACKUP TO")));
    assert!(!lines.iter().any(|l| l.contains("sql-secret")));
}

#[test]
fn a_plaintext_store_backs_up_with_a_passphrase_and_restores_encrypted() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("plain");
    let db = Db::open_with(&src, UnencryptedKeyProvider::dangerous_new(), options()).unwrap();
    populate(&db);
    let before = dump(&db);
    let e = db
        .backup(tmp.path().join("x"), &cheap(), |_| {})
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    let bk = tmp.path().join("bk");
    db.backup(
        &bk,
        &BackupOptions {
            store_key_wrap: false,
            ..cheap().with_passphrase(PASS)
        },
        |_| {},
    )
    .unwrap();
    drop(db);
    let dst = tmp.path().join("enc");
    Db::restore(
        &bk,
        &dst,
        key(5),
        &restore_opts(BackupKeys::passphrase(PASS)),
        |_| {},
    )
    .unwrap();
    let r = open(&dst, 5);
    assert_eq!(dump(&r), before);
    check_restored_behaviour(&r);
}

#[test]
fn a_checkpoint_opens_as_a_copy_of_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    let before = dump(&db);
    let audit = audit_lines(&db);
    let cp: PathBuf = tmp.path().join("cp");
    db.checkpoint(&cp).unwrap();
    db.root_session()
        .execute("INSERT INTO log VALUES ('later')", &[])
        .unwrap();
    let c = open(&cp, 1);
    assert_eq!(dump(&c), before);
    assert_eq!(audit_lines(&c)[..audit.len()], audit[..]);
    check_restored_behaviour(&c);
}

#[test]
fn sql_verify_backup_names_a_tampered_file_and_is_for_admins() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    db.engine().flush().unwrap();
    let root = db.root_session();
    let bk = tmp.path().join("vbk");
    let bks = bk.to_string_lossy().into_owned();
    root.execute(
        &format!(
            "BACKUP TO '{bks}' WITH PASSPHRASE = 'v-secret', KDF_MEMORY_KIB = 8, KDF_ITERATIONS = 1"
        ),
        &[],
    )
    .unwrap();
    root.execute("INSERT INTO log VALUES ('later')", &[])
        .unwrap();
    let inc = tmp.path().join("vinc");
    let incs = inc.to_string_lossy().into_owned();
    root.execute(&format!("BACKUP TO '{incs}' INCREMENTAL FROM '{bks}'"), &[])
        .unwrap();
    // The chain, newest first: one row per backup.
    let out = rows(&root, &format!("VERIFY BACKUP '{incs}'"));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0][0], Value::Text(incs.clone()));
    assert_eq!(out[1][0], Value::Text(bks.clone()));
    let report =
        backup::verify(&inc, &BackupKeys::provider(Arc::new(key(1))), None, |_| {}).unwrap();
    assert_eq!(out[0][1], Value::Text(report.backups[0].id.clone()));
    assert_eq!(out[1][2], Value::Integer(report.backups[1].files as i64));
    assert_eq!(out[1][3], Value::Integer(report.backups[1].bytes as i64));
    // By passphrase, as a parameter.
    let out = rows_with(
        &root,
        "VERIFY BACKUP $1 WITH PASSPHRASE = $2",
        &[&bks, &"v-secret"],
    );
    assert_eq!(out.len(), 1);
    // A tampered table is named.
    let bad = tmp.path().join("vbad");
    copy_dir(&bk, &bad);
    let table = names(&bad, "table-").remove(0);
    let p = bad.join(&table);
    let mut b = std::fs::read(&p).unwrap();
    b[300] ^= 1;
    std::fs::write(&p, b).unwrap();
    let e = root
        .query(&format!("VERIFY BACKUP '{}'", bad.display()), &[])
        .err()
        .unwrap();
    assert!(e.is_corruption(), "{e}");
    assert!(e.to_string().contains(&table), "{e}");
    // A wrong passphrase names the wrap (the store key is another here).
    let other = open(&tmp.path().join("other"), 2);
    let e = other
        .root_session()
        .query(
            &format!("VERIFY BACKUP '{bks}' WITH PASSPHRASE = 'nope'"),
            &[],
        )
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::BackupKey, "{e}");
    assert!(e.to_string().contains("passphrase"), "{e}");
    // Only admins.
    let alice = login(&db, "alice", "alice-pw").unwrap();
    let e = alice
        .query(&format!("VERIFY BACKUP '{bks}'"), &[])
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    // Audited: the runs, the failure naming the file, the refusal, no
    // passphrase.
    let lines = audit_lines(&db);
    let verifies: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"event\":\"verify_backup\""))
        .collect();
    assert!(verifies.len() >= 3, "{verifies:?}");
    assert!(verifies
        .iter()
        .any(|l| l.contains("\"outcome\":\"error\"") && l.contains(&table)));
    assert!(verifies.iter().any(|l| l.contains("<redacted>")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"denied\"") && l.contains("VERIFY BACKUP")));
    assert!(!lines.iter().any(|l| l.contains("v-secret")));
}

#[test]
fn sql_checkpoint_makes_a_copy_that_opens_and_is_for_admins() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("src"), 1);
    populate(&db);
    let root = db.root_session();
    let before = dump(&db);
    let cp = tmp.path().join("sqlcp");
    let out = rows_with(
        &root,
        "CHECKPOINT TO ?",
        &[&cp.to_string_lossy().into_owned()],
    );
    assert_eq!(out[0][0], Value::Text(cp.display().to_string()));
    root.execute("INSERT INTO log VALUES ('after the checkpoint')", &[])
        .unwrap();
    // Not into a directory that holds files, not inside a transaction.
    let e = root
        .execute(&format!("CHECKPOINT TO '{}'", cp.display()), &[])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    root.execute("BEGIN", &[]).unwrap();
    let e = root
        .execute(
            &format!("CHECKPOINT TO '{}'", tmp.path().join("t").display()),
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::SqlMisuse);
    root.execute("ROLLBACK", &[]).unwrap();
    // Only admins.
    let alice = login(&db, "alice", "alice-pw").unwrap();
    let denied_dir = tmp.path().join("alice-cp");
    let e = alice
        .execute(&format!("CHECKPOINT TO '{}'", denied_dir.display()), &[])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    assert!(!denied_dir.exists());
    let lines = audit_lines(&db);
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"checkpoint\"") && l.contains("\"outcome\":\"ok\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"denied\"") && l.contains("CHECKPOINT TO")));
    drop(alice);
    drop(root);
    drop(db);
    // The copy opens under the same key and holds the state of its moment.
    let c = open(&cp, 1);
    assert_eq!(dump(&c), before);
    check_restored_behaviour(&c);
}
