//! EXPLAIN QUERY PLAN in SQLite's format: golden plans for the shapes a
//! tool meets (the details describe sealdb's plan, which differs from
//! SQLite's, so these are not differential), and the format itself
//! checked as a parser of SQLite's output reads it: four columns `id`,
//! `parent`, `notused`, `detail`; ids unique and positive; every parent
//! 0 or an earlier id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sealdb::{Db, Value};

fn setup() -> (Db, sealdb::Session) {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    s.run_script(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c);
         CREATE INDEX t_a ON t (a);
         CREATE INDEX t_ab ON t (a, b);
         CREATE TABLE u (x INTEGER, y TEXT);
         CREATE TABLE w (k1 INTEGER, k2 TEXT, v, PRIMARY KEY (k1, k2)) WITHOUT ROWID;
         CREATE VIEW v AS SELECT a, count(*) AS n FROM t GROUP BY a;
         INSERT INTO t VALUES (1, 1, 'x', 0), (2, 2, 'y', 0);
         INSERT INTO u VALUES (1, 'p');",
        |_, _| {},
    )
    .unwrap();
    (db, s)
}

/// The plan as SQLite's shell draws it (`.eqp`), after checking the
/// columns and the id/parent invariants.
fn eqp(s: &sealdb::Session, sql: &str) -> String {
    let rows = s.query(&format!("EXPLAIN QUERY PLAN {sql}"), &[]).unwrap();
    assert_eq!(
        rows.columns().to_vec(),
        ["id", "parent", "notused", "detail"]
            .map(String::from)
            .to_vec(),
        "{sql}"
    );
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for r in rows.collect_all().unwrap() {
        let v = r.into_values();
        let (Value::Integer(id), Value::Integer(parent), Value::Integer(0), Value::Text(d)) =
            (&v[0], &v[1], &v[2], &v[3])
        else {
            panic!("{sql}: bad row {v:?}");
        };
        assert!(*id > 0 && !seen.contains(id), "{sql}: id {id}");
        assert!(
            *parent == 0 || seen.contains(parent),
            "{sql}: parent {parent}"
        );
        let depth = {
            let mut d = 0;
            let mut p = *parent;
            while p != 0 {
                d += 1;
                p = out
                    .iter()
                    .find(|(i, _, _)| *i == p)
                    .map_or(0, |(_, pp, _): &(i64, i64, String)| *pp);
            }
            d
        };
        seen.push(*id);
        out.push((*id, *parent, format!("{}{d}", "  ".repeat(depth))));
    }
    out.into_iter()
        .map(|(_, _, l)| l)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn golden_plans() {
    let (_db, s) = setup();
    let cases: &[(&str, &str)] = &[
        ("SELECT * FROM t", "SCAN t"),
        (
            "SELECT * FROM t WHERE id = 5",
            "SEARCH t USING INTEGER PRIMARY KEY (rowid=?)",
        ),
        (
            "SELECT * FROM t WHERE rowid IN (1, 2)",
            "SEARCH t USING INTEGER PRIMARY KEY (rowid=?)",
        ),
        (
            "SELECT * FROM t WHERE id > 5",
            "SEARCH t USING INTEGER PRIMARY KEY (rowid>?)",
        ),
        (
            "SELECT * FROM t WHERE id > 5 AND id <= 9",
            "SEARCH t USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
        ),
        ("SELECT * FROM t WHERE a = 1", "SEARCH t USING INDEX t_a (a=?)"),
        (
            "SELECT * FROM t WHERE a = 1 AND b = 'x'",
            "SEARCH t USING INDEX t_ab (a=? AND b=?)",
        ),
        (
            "SELECT * FROM t WHERE a = 1 AND b > 'x'",
            "SEARCH t USING INDEX t_ab (a=? AND b>?)",
        ),
        (
            "SELECT * FROM t WHERE a BETWEEN 1 AND 3",
            "SEARCH t USING INDEX t_a (a>? AND a<?)",
        ),
        ("SELECT * FROM t ORDER BY a DESC", "SCAN t USING INDEX t_a"),
        ("SELECT * FROM t ORDER BY id DESC LIMIT 10", "SCAN t"),
        (
            "SELECT * FROM t ORDER BY c",
            "SCAN t\nUSE TEMP B-TREE FOR ORDER BY",
        ),
        (
            "SELECT DISTINCT c FROM t",
            "SCAN t\nUSE TEMP B-TREE FOR DISTINCT",
        ),
        (
            "SELECT c, count(*) FROM t GROUP BY c ORDER BY 2",
            "SCAN t\nUSE TEMP B-TREE FOR GROUP BY\nUSE TEMP B-TREE FOR ORDER BY",
        ),
        ("SELECT * FROM w", "SCAN w"),
        (
            "SELECT * FROM w WHERE k1 = 1",
            "SEARCH w USING PRIMARY KEY (k1=?)",
        ),
        ("SELECT 1", "SCAN CONSTANT ROW"),
        ("VALUES (1), (2), (3)", "SCAN 3 CONSTANT ROWS"),
        (
            "SELECT * FROM u, t WHERE t.id = u.x",
            "SCAN u\nSEARCH t USING INTEGER PRIMARY KEY (rowid=?)",
        ),
        (
            "SELECT * FROM u LEFT JOIN t ON t.a = u.x",
            "SCAN u\nSEARCH t USING INDEX t_a (a=?)",
        ),
        (
            "SELECT (SELECT max(x) FROM u) FROM t",
            "SCAN t\nSCALAR SUBQUERY 1\n  SCAN u",
        ),
        (
            "SELECT (SELECT max(x) FROM u WHERE u.x = t.a) FROM t",
            "SCAN t\nCORRELATED SCALAR SUBQUERY 1\n  SCAN u",
        ),
        (
            "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x = t.id)",
            "SCAN t\nCORRELATED SCALAR SUBQUERY 1\n  SCAN u",
        ),
        (
            "SELECT * FROM t WHERE c IN (SELECT x FROM u)",
            "SCAN t\nLIST SUBQUERY 1\n  SCAN u",
        ),
        (
            "SELECT * FROM t WHERE c IN (SELECT x FROM u WHERE y = t.b)",
            "SCAN t\nCORRELATED LIST SUBQUERY 1\n  SCAN u",
        ),
        (
            "SELECT a FROM t UNION SELECT x FROM u",
            "COMPOUND QUERY\n  LEFT-MOST SUBQUERY\n    SCAN t\n  UNION USING TEMP B-TREE\n    SCAN u",
        ),
        (
            "SELECT a FROM t UNION ALL SELECT x FROM u EXCEPT SELECT 1",
            "COMPOUND QUERY\n  LEFT-MOST SUBQUERY\n    SCAN t\n  UNION ALL\n    SCAN u\n  EXCEPT USING TEMP B-TREE\n    SCAN CONSTANT ROW",
        ),
        (
            "SELECT a FROM t INTERSECT SELECT x FROM u",
            "COMPOUND QUERY\n  LEFT-MOST SUBQUERY\n    SCAN t\n  INTERSECT USING TEMP B-TREE\n    SCAN u",
        ),
        (
            "SELECT * FROM (SELECT a FROM t LIMIT 3) AS s, u",
            "CO-ROUTINE (subquery-1)\n  SCAN t\nSCAN (subquery-1)\nSCAN u",
        ),
        (
            "SELECT * FROM v",
            "CO-ROUTINE v\n  SCAN t\n  USE TEMP B-TREE FOR GROUP BY\nSCAN v",
        ),
        (
            "WITH c AS MATERIALIZED (SELECT * FROM t) SELECT * FROM c, c AS d",
            "MATERIALIZE c\n  SCAN t\nSCAN c\nSCAN c",
        ),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
            "CO-ROUTINE r\n  SETUP\n    SCAN CONSTANT ROW\n  RECURSIVE STEP\n    SCAN r\nSCAN r",
        ),
        (
            "SELECT a, row_number() OVER (ORDER BY b) FROM t",
            "CO-ROUTINE (subquery-1)\n  SCAN t\n  USE TEMP B-TREE FOR ORDER BY\nSCAN (subquery-1)",
        ),
        ("SELECT name FROM sqlite_schema", "SCAN sqlite_schema"),
        (
            "SELECT * FROM pragma_table_info('t')",
            "SCAN pragma_table_info VIRTUAL TABLE",
        ),
    ];
    let mut wrong = Vec::new();
    for (sql, want) in cases {
        let got = eqp(&s, sql);
        if got != *want {
            wrong.push(format!("{sql}\n--- got\n{got}\n--- want\n{want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    println!("EXPLAIN QUERY PLAN: {} golden plans", cases.len());
}

#[test]
fn only_queries_and_the_plan_runs_nothing() {
    let (_db, s) = setup();
    // Of a data change: refused, naming the feature; nothing happens.
    for sql in [
        "EXPLAIN QUERY PLAN DELETE FROM t",
        "EXPLAIN QUERY PLAN UPDATE t SET a = 0",
        "EXPLAIN QUERY PLAN INSERT INTO u VALUES (9, 'z')",
    ] {
        let e = s.query(sql, &[]).err().expect(sql).to_string();
        assert!(e.contains("not supported"), "{sql}: {e}");
    }
    let n = s
        .query("SELECT count(*) FROM t", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(n[0].values()[0], Value::Integer(2));
    // Errors of the query are the query's.
    let e = s
        .query("EXPLAIN QUERY PLAN SELECT * FROM nosuch", &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no such table: nosuch"), "{e}");
    // Plain EXPLAIN keeps sealdb's own tree.
    let rows = s.query("EXPLAIN SELECT * FROM t", &[]).unwrap();
    assert_eq!(rows.columns().to_vec(), vec!["detail".to_string()]);
}
