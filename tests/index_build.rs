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
