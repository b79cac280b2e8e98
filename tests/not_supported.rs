//! What the parser accepts is honoured or refused (issue 12, item 10).
//!
//! sqlparser knows many dialects; each form below is one it parses that
//! sealdb does not implement. Every one must fail with an `Unsupported`
//! error whose message says "not supported", and change nothing: a clause
//! that is parsed and then dropped would give a wrong answer with no error.
//! The list is the audit's result; a new refusal belongs here.
//!
//! The last tests check forms that are honoured rather than refused:
//! `BEGIN IMMEDIATE` takes the writer slot at once, `main.` names work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::{Db, Error, Options, Session, SqlErrorKind};

/// Each statement sealdb refuses, with what it would have ignored.
const REFUSED: &[(&str, &str)] = &[
    // Transactions.
    ("START TRANSACTION READ ONLY", "access mode"),
    (
        "BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "isolation level",
    ),
    ("COMMIT AND CHAIN", "chained transaction"),
    ("ROLLBACK AND CHAIN", "chained transaction"),
    // PRAGMA integrity_check with a value (every pragma sealdb lacks is
    // refused by name: tests/introspection.rs).
    ("PRAGMA integrity_check(1)", "error limit"),
    ("PRAGMA integrity_check = 5", "error limit"),
    ("PRAGMA other.integrity_check", "schema"),
    // Schemas other than main.
    ("CREATE TABLE other.w (a)", "schema"),
    ("SELECT * FROM other.t", "schema"),
    ("SELECT other.t.a FROM t", "schema"),
    ("INSERT INTO temp.t VALUES (1, 'x', 2)", "schema"),
    ("SELECT a.b.c.d FROM t", "four-part name"),
    // DDL options.
    ("DROP TABLE t CASCADE", "CASCADE"),
    ("DROP TABLE IF EXISTS nosuch RESTRICT", "RESTRICT"),
    ("DROP INDEX IF EXISTS nosuch ON t", "ON table"),
    ("DROP TRIGGER IF EXISTS nosuch CASCADE", "CASCADE"),
    ("CREATE TEMP VIEW v AS SELECT 1", "TEMP"),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "OR REPLACE"),
    (
        "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
        "TEMP",
    ),
    ("ALTER TABLE IF EXISTS t ADD COLUMN f INT", "IF EXISTS"),
    ("ALTER TABLE t DROP COLUMN c CASCADE", "CASCADE"),
    ("CREATE TEMP TABLE w (a)", "TEMP"),
    (
        "CREATE TABLE w (a INT PRIMARY KEY ON CONFLICT REPLACE)",
        "constraint conflict clause",
    ),
    ("ALTER TABLE t ADD COLUMN w INT CHECK (w > 0)", "CHECK"),
    (
        "CREATE TABLE w (a INT CHECK (a > 0) NOT ENFORCED)",
        "ENFORCED",
    ),
    ("CREATE TABLE w (a INT REFERENCES t (a))", "FOREIGN KEY"),
    (
        "CREATE TABLE w (a INT GENERATED ALWAYS AS (1) STORED, b)",
        "generated column",
    ),
    ("CREATE INDEX i ON t (lower(b))", "expression index"),
    // EXPLAIN options.
    ("EXPLAIN ANALYZE SELECT 1", "ANALYZE"),
    // Statistics (the planner keeps none).
    ("ANALYZE", "ANALYZE"),
    ("ANALYZE t", "ANALYZE"),
    ("analyze main.t", "ANALYZE"),
    ("ANALYZE;", "ANALYZE"),
    // SELECT clauses of other dialects.
    ("SELECT a FROM t SORT BY a", "SORT BY"),
    ("SELECT a FROM t CLUSTER BY a", "CLUSTER BY"),
    ("SELECT a FROM t DISTRIBUTE BY a", "DISTRIBUTE BY"),
    ("SELECT a FROM t QUALIFY a > 1", "QUALIFY"),
    ("SELECT TOP 1 a FROM t", "TOP"),
    ("SELECT a INTO t2 FROM t", "SELECT INTO"),
    ("SELECT a FROM t FOR UPDATE", "FOR UPDATE"),
    ("SELECT a FROM t FETCH FIRST 1 ROWS ONLY", "FETCH"),
    (
        "WITH x(a INTEGER) AS (SELECT 1) SELECT * FROM x",
        "typed CTE column",
    ),
    ("SELECT DISTINCT ON (a) a FROM t", "DISTINCT ON"),
    // Compound selects: only UNION has ALL; BY NAME matches by name.
    ("SELECT 1 INTERSECT ALL SELECT 1", "INTERSECT ALL"),
    ("SELECT 1 EXCEPT ALL SELECT 1", "EXCEPT ALL"),
    ("SELECT 1 UNION BY NAME SELECT 1", "BY NAME"),
    ("SELECT 1 UNION ALL BY NAME SELECT 1", "BY NAME"),
    // FROM items.
    ("SELECT x FROM (SELECT 1) AS s(x)", "alias columns"),
    ("SELECT * FROM t AS x(p, q, r)", "alias columns"),
    (
        "SELECT q.a FROM (t JOIN t AS u USING (a)) AS q",
        "join alias",
    ),
    ("SELECT * FROM t, LATERAL (SELECT t.a) AS s", "LATERAL"),
    ("SELECT t.a FROM t RIGHT JOIN t AS u ON 1", "RIGHT JOIN"),
    ("SELECT t.a FROM t FULL OUTER JOIN t AS u ON 1", "FULL JOIN"),
    ("SELECT 1 FROM t AS x TABLESAMPLE (1)", "TABLESAMPLE"),
    // Function calls.
    (
        "SELECT group_concat(b ORDER BY a DESC) FROM t",
        "ordered aggregate",
    ),
    (
        "SELECT group_concat(b, ',' ORDER BY a DESC) FROM t",
        "ordered aggregate",
    ),
    ("SELECT max(a) IGNORE NULLS FROM t", "IGNORE NULLS"),
    (
        "SELECT sum(a) WITHIN GROUP (ORDER BY a) FROM t",
        "WITHIN GROUP",
    ),
    ("SELECT count(*) FILTER (WHERE a > 1) FROM t", "FILTER"),
    (
        "SELECT json_group_array(a) OVER () FROM t",
        "JSON aggregate as a window function",
    ),
    (
        "SELECT first_value(a) IGNORE NULLS OVER (ORDER BY a) FROM t",
        "IGNORE NULLS",
    ),
    // Casts other than CAST(x AS type).
    ("SELECT TRY_CAST('x' AS INTEGER)", "TRY_CAST"),
    ("SELECT '12'::INTEGER", "::"),
    // Other expressions.
    ("SELECT a FROM t WHERE (a, b) = (1, 'x')", "row values"),
    ("SELECT a FROM t WHERE a = ANY (SELECT 1)", "ANY"),
    ("SELECT 1 WHERE 'a' SIMILAR TO 'a'", "SIMILAR TO"),
    // DML forms.
    ("UPDATE t SET b = 'z' FROM t AS u", "UPDATE FROM"),
    ("DELETE FROM t ORDER BY a LIMIT 1", "DELETE LIMIT"),
    ("UPDATE t AS x SET b = 'z'", "target alias"),
];

fn db_with(busy: Duration) -> Db {
    Db::open_with(
        "/not_supported",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[7u8; 32])).unwrap(),
        Options {
            vfs: Some(std::sync::Arc::new(sealdb::vfs::MemVfs::new())),
            busy_timeout: busy,
            ..Options::default()
        },
    )
    .unwrap()
}

fn count(s: &Session, sql: &str) -> i64 {
    s.query(sql, &[])
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .get::<i64>(0)
        .unwrap()
}

#[test]
fn every_accepted_but_unimplemented_form_is_refused() {
    let db = db_with(Duration::from_secs(5));
    let s = db.root_session();
    s.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c)", &[])
        .unwrap();
    s.execute("INSERT INTO t VALUES (1, 'x', 3), (2, 'y', 4)", &[])
        .unwrap();
    let mut wrong = Vec::new();
    for (sql, what) in REFUSED {
        match s.execute(sql, &[]) {
            Err(Error::Sql {
                kind: SqlErrorKind::Unsupported,
                message,
                ..
            }) if message.contains("not supported") => {}
            other => wrong.push(format!("{sql} ({what}): {other:?}")),
        }
        // Nothing changed, and no transaction was left open.
        assert_eq!(count(&s, "SELECT count(*) FROM t"), 2, "{sql}");
        s.execute("BEGIN", &[])
            .and_then(|_| s.execute("COMMIT", &[]))
            .unwrap_or_else(|e| panic!("{sql} left a transaction open: {e}"));
    }
    assert!(
        wrong.is_empty(),
        "accepted or refused unclearly:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn begin_immediate_takes_the_writer_slot_at_once() {
    let db = db_with(Duration::from_millis(50));
    let a = db.root_session();
    let b = db.root_session();
    a.execute("CREATE TABLE t (x)", &[]).unwrap();
    for begin in ["BEGIN IMMEDIATE", "BEGIN EXCLUSIVE TRANSACTION"] {
        a.execute(begin, &[]).unwrap();
        let e = b.execute("INSERT INTO t VALUES (2)", &[]).unwrap_err();
        assert!(matches!(e, Error::Busy { .. }), "{begin}: {e:?}");
        a.execute("COMMIT", &[]).unwrap();
    }
    // DEFERRED (the default) takes it at the first write only.
    a.execute("BEGIN DEFERRED", &[]).unwrap();
    b.execute("INSERT INTO t VALUES (3)", &[]).unwrap();
    a.execute("INSERT INTO t VALUES (4)", &[]).unwrap();
    a.execute("COMMIT", &[]).unwrap();
    assert_eq!(count(&a, "SELECT count(*) FROM t"), 2);
}

#[test]
fn the_main_schema_is_this_database() {
    let db = db_with(Duration::from_secs(5));
    let s = db.root_session();
    s.execute("CREATE TABLE main.t (a)", &[]).unwrap();
    s.execute("INSERT INTO MAIN.t VALUES (1), (2)", &[])
        .unwrap();
    assert_eq!(count(&s, "SELECT count(main.t.a) FROM main.t"), 2);
    // EXPLAIN QUERY PLAN describes the plan (in SQLite's format).
    assert!(s
        .query("EXPLAIN QUERY PLAN SELECT a FROM t", &[])
        .unwrap()
        .next()
        .unwrap()
        .is_some());
}
