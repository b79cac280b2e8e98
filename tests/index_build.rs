//! CREATE INDEX on a filled table fails as SQLite's does: SQLite computes
//! every row's key (and a partial index's WHERE) in one pass over the
//! table and checks uniqueness afterwards, in the sorted entries, so an
//! error evaluating any row's key comes before a duplicate found earlier
//! in the table. sealdb builds an index in one pass too and must report the
//! same error, with SQLite's message, and keep nothing of the index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::sqlite_error;

use sealdb::{Db, Error};

fn count(s: &sealdb::Session, sql: &str) -> i64 {
    let rows = s.query(sql, &[]).unwrap().collect_all().unwrap();
    rows[0].get(0).unwrap()
}

const SMALLEST: &str = "-9223372036854775808";

#[test]
fn a_key_error_comes_before_an_earlier_duplicate_as_in_sqlite() {
    let cases = [
        // A duplicate (rows 1 and 2), then a row whose key overflows.
        (
            format!("INSERT INTO t (x, y) VALUES (1, 0), (-1, 0), ({SMALLEST}, 0)"),
            "CREATE UNIQUE INDEX i ON t (abs(x))",
        ),
        // The same with the key's second part failing.
        (
            format!("INSERT INTO t (x, y) VALUES (5, 1), (5, 1), (5, {SMALLEST})"),
            "CREATE UNIQUE INDEX i ON t (x, abs(y))",
        ),
        // A partial index whose WHERE fails on a later row.
        (
            format!("INSERT INTO t (x, y) VALUES (7, 1), (7, 1), (7, {SMALLEST})"),
            "CREATE UNIQUE INDEX i ON t (x) WHERE abs(y) > 0",
        ),
        // Only a duplicate: the uniqueness error, SQLite's message.
        (
            "INSERT INTO t (x, y) VALUES (1, 0), (-1, 0), (2, 0)".to_string(),
            "CREATE UNIQUE INDEX i ON t (abs(x))",
        ),
        (
            "INSERT INTO t (x, y) VALUES (3, 'a'), (3, 'b'), (4, 'c')".to_string(),
            "CREATE UNIQUE INDEX i ON t (x)",
        ),
        // Only a key error, the last row.
        (
            format!("INSERT INTO t (x, y) VALUES (1, 0), (2, 0), ({SMALLEST}, 0)"),
            "CREATE INDEX i ON t (abs(x))",
        ),
    ];
    for (fill, create) in &cases {
        let setup = format!("CREATE TABLE t (x, y); {fill};");
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        lite.execute_batch(&setup).unwrap();
        let want = sqlite_error(&lite, create);
        let db = Db::open_in_memory().unwrap();
        let s = db.root_session();
        s.run_script(&setup, |_, _| {}).unwrap();
        let e = s.execute(create, &[]).unwrap_err();
        match &e {
            Error::Sql { message, .. } => assert_eq!(message, &want, "{fill}; {create}"),
            other => panic!("{fill}; {create}: {other:?}"),
        }
        // Nothing of the index stays: the name is free, the table whole.
        assert_eq!(
            count(&s, "SELECT count(*) FROM sqlite_schema WHERE name = 'i'"),
            0
        );
        s.execute("CREATE INDEX i ON t (y)", &[]).unwrap();
        let n = count(
            &s,
            "SELECT count(*) FROM t INDEXED BY i WHERE y IS NOT NULL",
        );
        assert_eq!(n, 3, "{create}");
    }
}

/// An index built inside a transaction is undone with what undoes it (a
/// rolled-back savepoint, the transaction's rollback), whatever was
/// written around it: its entries go with it and nothing else does. The
/// build's entries are one undo entry when their range holds none of the
/// transaction's writes (a new index), else one per key.
#[test]
fn an_index_built_in_a_transaction_is_undone_with_it() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    let run = |sql: &str| s.run_script(sql, |_, _| {}).unwrap();
    let check = |want_rows: i64| {
        let rows = s
            .query("PRAGMA integrity_check", &[])
            .unwrap()
            .collect_all()
            .unwrap();
        let text: String = rows[0].get(0).unwrap();
        assert_eq!(text, "ok");
        assert_eq!(count(&s, "SELECT count(*) FROM t"), want_rows);
    };
    run("CREATE TABLE t (x, y); CREATE TABLE u (a);");
    run(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) \
         INSERT INTO t SELECT i, i % 7 FROM n",
    );
    run(
        "BEGIN; INSERT INTO u VALUES (1); INSERT INTO t VALUES (1000, 3); SAVEPOINT a; \
         CREATE INDEX iy ON t (y); INSERT INTO t VALUES (1001, 3); INSERT INTO u VALUES (2);",
    );
    assert_eq!(
        count(&s, "SELECT count(*) FROM t INDEXED BY iy WHERE y = 3"),
        74
    );
    run("ROLLBACK TO a;");
    // The index is gone, the writes before the savepoint stay.
    assert_eq!(
        count(&s, "SELECT count(*) FROM sqlite_schema WHERE name = 'iy'"),
        0
    );
    assert_eq!(count(&s, "SELECT count(*) FROM u"), 1);
    check(501);
    // Built again in the same transaction, dropped and built again (over
    // the entries the drop deleted, if the new index takes the old one's
    // id: the key-by-key path), rebuilt, then a second index, and the
    // whole transaction kept.
    run("CREATE INDEX iy ON t (y); DROP INDEX iy; CREATE INDEX iy ON t (y);");
    // REINDEX deletes the entries, then builds them again over the
    // deletions (one undo entry per key), inside a savepoint undone.
    run("SAVEPOINT r;");
    s.execute("REINDEX iy", &[]).unwrap();
    run("ROLLBACK TO r;");
    s.execute("REINDEX iy", &[]).unwrap();
    run(
        "SAVEPOINT b; CREATE INDEX ix ON t (x); ROLLBACK TO b; CREATE INDEX ix2 ON t (x, y); \
         COMMIT;",
    );
    check(501);
    assert_eq!(
        count(&s, "SELECT count(*) FROM t INDEXED BY iy WHERE y = 3"),
        73
    );
    assert_eq!(
        count(&s, "SELECT count(*) FROM t INDEXED BY ix2 WHERE x > 400"),
        101
    );
    // A transaction rolled back whole takes its index along.
    run("BEGIN; CREATE INDEX iz ON t (y, x); INSERT INTO t VALUES (2000, 1); ROLLBACK;");
    assert_eq!(
        count(&s, "SELECT count(*) FROM sqlite_schema WHERE name = 'iz'"),
        0
    );
    check(501);
}
