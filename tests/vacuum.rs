//! VACUUM: full compaction. Deleted rows and dropped tables leave every
//! file of the store (checked on a plaintext store, whose files can be
//! searched for a marker string, and on an encrypted one through the
//! storage layer's own view: its table files and sizes); the data that
//! stays is intact; only admins may run it, never inside a transaction,
//! and it is audited like other statements (refusals too).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use std::path::Path;

use sealdb::{Db, Options, UnencryptedKeyProvider, Value};

const MARKER: &str = "ZQX-deleted-marker-7731";

/// The store's files (not the audit log, which keeps what it recorded by
/// design) that hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("AUDIT") || !e.file_type().unwrap().is_file() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            out.push(name);
        }
    }
    out
}

fn count(s: &sealdb::Session, sql: &str) -> i64 {
    match s.query(sql, &[]).unwrap().collect_all().unwrap()[0].values()[0] {
        Value::Integer(i) => i,
        ref v => panic!("{sql}: {v:?}"),
    }
}

fn fill(s: &sealdb::Session) {
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT, pad TEXT)",
        &[],
    )
    .unwrap();
    s.execute("CREATE TABLE gone (x TEXT)", &[]).unwrap();
    s.execute("BEGIN", &[]).unwrap();
    for i in 0..3000i64 {
        let note = if i % 100 == 7 {
            format!("{MARKER}-{i}")
        } else {
            format!("keep-{i}")
        };
        s.execute(
            "INSERT INTO t VALUES (?, ?, ?)",
            &[&i, &note.as_str(), &"p".repeat(200).as_str()],
        )
        .unwrap();
    }
    s.execute(
        "INSERT INTO gone VALUES (?)",
        &[&format!("{MARKER}-dropped").as_str()],
    )
    .unwrap();
    s.execute("COMMIT", &[]).unwrap();
}

#[test]
fn deleted_data_leaves_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(
        dir.path(),
        UnencryptedKeyProvider::dangerous_new(),
        Options::default(),
    )
    .unwrap();
    let s = db.root_session();
    fill(&s);
    // Into table files, the log switched: the marker is on disk.
    s.execute("VACUUM", &[]).unwrap();
    let before = files_holding(dir.path(), MARKER);
    assert!(
        before.iter().any(|f| f.ends_with(".sst")),
        "control: the marker should be in a table file: {before:?}"
    );
    s.execute("DELETE FROM t WHERE note LIKE 'ZQX%'", &[])
        .unwrap();
    s.execute("DROP TABLE gone", &[]).unwrap();
    // Deleted but not vacuumed: still somewhere in the files.
    assert!(!files_holding(dir.path(), MARKER).is_empty());
    s.execute("VACUUM", &[]).unwrap();
    assert_eq!(files_holding(dir.path(), MARKER), Vec::<String>::new());
    // What stays is intact, also after a reopen.
    assert_eq!(count(&s, "SELECT count(*) FROM t"), 2970);
    assert_eq!(
        count(&s, "SELECT count(*) FROM t WHERE note LIKE 'keep-%'"),
        2970
    );
    drop(s);
    drop(db);
    let db = Db::open_with(
        dir.path(),
        UnencryptedKeyProvider::dangerous_new(),
        Options::default(),
    )
    .unwrap();
    let s = db.root_session();
    assert_eq!(count(&s, "SELECT count(*) FROM t"), 2970);
    assert_eq!(
        count(&s, "SELECT sum(id) FROM t WHERE id % 100 = 8"),
        (0..30).map(|k| k * 100 + 8).sum::<i64>()
    );
    assert_eq!(files_holding(dir.path(), MARKER), Vec::<String>::new());
}

#[test]
fn an_encrypted_store_shrinks_and_every_table_file_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let key = || sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[5; 32])).unwrap();
    let db = Db::open_with(dir.path(), key(), Options::default()).unwrap();
    let s = db.root_session();
    fill(&s);
    s.execute("VACUUM", &[]).unwrap();
    let tables = |dir: &Path| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sst"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let full = tables(dir.path());
    let full_bytes: u64 = full.iter().map(|t| t.1).sum();
    // The encrypted files do not show the marker in any case.
    assert_eq!(files_holding(dir.path(), MARKER), Vec::<String>::new());
    s.execute("DELETE FROM t WHERE id % 10 <> 0", &[]).unwrap();
    s.execute("VACUUM", &[]).unwrap();
    let after = tables(dir.path());
    let after_bytes: u64 = after.iter().map(|t| t.1).sum();
    assert!(
        after_bytes * 4 < full_bytes,
        "a tenth of the rows should take far less room: {full_bytes} -> {after_bytes}"
    );
    // No table file from before survives.
    for (name, _) in &after {
        assert!(!full.iter().any(|(n, _)| n == name), "{name} survived");
    }
    // The storage layer's own view: everything in the bottom level.
    let stats = db.engine().stats();
    assert_eq!(stats.levels[0].files, 0, "{stats:?}");
    assert_eq!(count(&s, "SELECT count(*) FROM t"), 300);
    // Nothing to do is fine too.
    s.execute("VACUUM main", &[]).unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM t"), 300);
}

#[test]
fn only_admins_outside_transactions_and_audited() {
    let mut lab = Lab::new("CREATE TABLE t (a); INSERT INTO t VALUES (1);");
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT, INSERT, DELETE ON t TO alice; GRANT CREATE ON DATABASE main TO alice",
    );
    let mut n = Attacks::new("vacuum");
    let mark = lab.mark();
    for sql in ["VACUUM", "VACUUM main", "vacuum \"main\""] {
        lab.denied("alice", sql);
        n.tried();
    }
    let denied: Vec<_> = lab
        .audit_since(mark)
        .into_iter()
        .filter(|r| r.event == "denied" && r.user == "alice")
        .collect();
    assert_eq!(denied.len(), 3, "every refusal audited");
    // Refused clearly: INTO, another schema, extra words.
    for (sql, want) in [
        ("VACUUM INTO '/tmp/copy.db'", "not supported"),
        ("VACUUM main INTO '/tmp/copy.db'", "not supported"),
        ("VACUUM other", "unknown database other"),
        ("VACUUM main extra", "syntax error"),
    ] {
        let e = lab.refused("root", sql).to_string();
        assert!(e.contains(want), "{sql}: {e}");
    }
    // Not inside a transaction.
    lab.as_root("BEGIN");
    let e = lab.refused("root", "VACUUM").to_string();
    assert!(e.contains("within a transaction"), "{e}");
    lab.as_root("ROLLBACK");
    // An admin's VACUUM is audited.
    let mark = lab.mark();
    lab.ok("root", "VACUUM");
    assert!(
        lab.audit_since(mark)
            .iter()
            .any(|r| r.event == "statement" && r.statement == "VACUUM"),
        "{:?}",
        lab.audit_since(mark)
    );
    assert_eq!(lab.root_rows("SELECT a FROM t"), "1");
}
