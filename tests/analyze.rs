//! ANALYZE beyond the differential script (`tests/difftest/regress/
//! analyze.test`): statistics survive a reopen and follow a rename, a
//! rolled-back ANALYZE leaves none, and the planner's use of them — an
//! EXPLAIN QUERY PLAN that changes after ANALYZE where the rule without
//! statistics picks the worse index — never changes a query's rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, Value};

fn open(vfs: &Arc<sealdb::vfs::MemVfs>) -> Db {
    Db::open_with(
        "/analyze",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[3u8; 32])).unwrap(),
        Options {
            vfs: Some(vfs.clone()),
            ..Options::default()
        },
    )
    .unwrap()
}

fn rows(s: &sealdb::Session, sql: &str) -> Vec<String> {
    s.query(sql, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| {
            r.values()
                .iter()
                .map(|v| match v {
                    Value::Null => "NULL".to_string(),
                    Value::Integer(i) => i.to_string(),
                    Value::Real(r) => r.to_string(),
                    Value::Text(t) => t.clone(),
                    Value::Blob(b) => format!("{b:?}"),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

const STATS: &str = "SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx";

/// `t`: `a` nearly unique, `b` two values. Without statistics the later
/// of two equally good indexes wins (SQLite's tie rule): `t_b`.
const SETUP: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c TEXT);
CREATE INDEX t_a ON t (a);
CREATE INDEX t_b ON t (b);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
  INSERT INTO t SELECT i, i / 3, i % 2, 'c' || (i % 5) FROM n;
CREATE TABLE plain (x);
INSERT INTO plain VALUES (1), (2), (3);
";

fn eqp(s: &sealdb::Session, sql: &str) -> String {
    rows(s, &format!("EXPLAIN QUERY PLAN {sql}"))
        .into_iter()
        .map(|r| r.rsplit('|').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn statistics_survive_reopen_and_follow_a_rename() {
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    {
        let db = open(&vfs);
        let s = db.root_session();
        s.run_script(SETUP, |_, _| {}).unwrap();
        assert!(rows(&s, STATS).is_empty(), "nothing before ANALYZE");
        s.execute("ANALYZE", &[]).unwrap();
    }
    let db = open(&vfs);
    let s = db.root_session();
    let want = ["plain|NULL|3", "t|t_a|300 3", "t|t_b|300 150"];
    assert_eq!(rows(&s, STATS), want);
    // Kept by table and index id: a rename carries them (SQLite leaves
    // the old name's rows behind).
    s.execute("ALTER TABLE plain RENAME TO plain2", &[])
        .unwrap();
    assert_eq!(
        rows(&s, STATS),
        ["plain2|NULL|3", "t|t_a|300 3", "t|t_b|300 150"]
    );
    // An index created since has none until analysed; dropping one takes
    // its row.
    s.execute("CREATE INDEX t_c ON t (c)", &[]).unwrap();
    assert_eq!(rows(&s, STATS).len(), 3);
    s.execute("ANALYZE t_c", &[]).unwrap();
    s.execute("DROP INDEX t_b", &[]).unwrap();
    assert_eq!(
        rows(&s, STATS),
        ["plain2|NULL|3", "t|t_a|300 3", "t|t_c|300 60"]
    );
    drop(s);
    drop(db);
    let db = open(&vfs);
    let s = db.root_session();
    assert_eq!(
        rows(&s, STATS),
        ["plain2|NULL|3", "t|t_a|300 3", "t|t_c|300 60"]
    );
    s.execute("DROP TABLE t", &[]).unwrap();
    assert_eq!(rows(&s, STATS), ["plain2|NULL|3"]);
}

#[test]
fn a_rolled_back_analyze_leaves_nothing() {
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    let db = open(&vfs);
    let s = db.root_session();
    s.run_script(SETUP, |_, _| {}).unwrap();
    s.execute("BEGIN", &[]).unwrap();
    s.execute("ANALYZE", &[]).unwrap();
    assert_eq!(rows(&s, STATS).len(), 3, "seen inside its transaction");
    s.execute("ROLLBACK", &[]).unwrap();
    assert!(rows(&s, STATS).is_empty());
    s.execute("SAVEPOINT sp", &[]).unwrap();
    s.execute("ANALYZE t", &[]).unwrap();
    s.execute("ROLLBACK TO sp", &[]).unwrap();
    s.execute("RELEASE sp", &[]).unwrap();
    assert!(rows(&s, STATS).is_empty());
    // Refused forms.
    for (sql, want) in [
        ("ANALYZE temp", "not supported"),
        ("ANALYZE other.t", "unknown database other"),
        ("ANALYZE a.b.c", "syntax error"),
        ("ANALYZE nosuch", "no such table: nosuch"),
    ] {
        let e = s.execute(sql, &[]).unwrap_err().to_string();
        assert!(e.contains(want), "{sql}: {e}");
    }
}

#[test]
fn the_planner_prefers_the_measured_better_index_and_rows_never_change() {
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    let db = open(&vfs);
    let s = db.root_session();
    s.run_script(SETUP, |_, _| {}).unwrap();
    let q = "SELECT id FROM t WHERE a = 7 AND b = 1";
    assert_eq!(eqp(&s, q), "SEARCH t USING INDEX t_b (b=?)");
    let queries = [
        q,
        "SELECT id, c FROM t WHERE b = 0 AND a = 50",
        "SELECT count(*) FROM t WHERE a = 3 AND b = 1",
        "SELECT id FROM t WHERE b = 1 AND a > 95",
        "SELECT t1.id, t2.id FROM t t1 JOIN t t2 ON t2.a = t1.a AND t2.b = t1.b WHERE t1.id < 20",
        "SELECT id FROM t WHERE a IN (1, 2, 3) AND b = 0",
        "SELECT * FROM t INDEXED BY t_b WHERE a = 7 AND b = 1",
        "SELECT * FROM t NOT INDEXED WHERE a = 7 AND b = 1",
        "SELECT a, count(*) FROM t WHERE b = 1 GROUP BY a",
    ];
    let before: Vec<Vec<String>> = queries.iter().map(|q| rows(&s, q)).collect();
    s.execute("ANALYZE", &[]).unwrap();
    assert_eq!(eqp(&s, q), "SEARCH t USING INDEX t_a (a=?)");
    // The hint still decides.
    assert_eq!(
        eqp(&s, "SELECT * FROM t INDEXED BY t_b WHERE a = 7 AND b = 1"),
        "SEARCH t USING INDEX t_b (b=?)"
    );
    let after: Vec<Vec<String>> = queries.iter().map(|q| rows(&s, q)).collect();
    for ((q, b), a) in queries.iter().zip(&before).zip(&after) {
        let (mut b, mut a) = (b.clone(), a.clone());
        b.sort();
        a.sort();
        assert_eq!(b, a, "{q}");
    }
    // UPDATE and DELETE keep the rule without statistics (their visit
    // order decides some outcomes); their results are the same either way.
    s.execute("UPDATE t SET c = 'u' WHERE a = 7 AND b = 1", &[])
        .unwrap();
    assert_eq!(s.changes(), 2);
    // Dropping the statistics brings the old plan back.
    s.execute("DELETE FROM t", &[]).unwrap();
    s.execute("ANALYZE t", &[]).unwrap();
    assert_eq!(eqp(&s, q), "SEARCH t USING INDEX t_b (b=?)");
}
