//! Row values and aggregate FILTER beyond what the differential scripts
//! check (`tests/difftest/regress/row-values.test` and
//! `aggregate-filter.test` compare results and that an error happens):
//! SQLite's exact messages, the index range a keyset page reads, and a
//! row subquery of `SET (a, b) = (SELECT ...)` running once per row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

fn db() -> sealdb::Session {
    let db = open_db();
    let s = db.root_session();
    s.run_script(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT);
         CREATE INDEX t_ab ON t (a, b);
         INSERT INTO t VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'x'), (4, 3, 'z');",
        |_, _| {},
    )
    .unwrap();
    s
}

#[test]
fn misuse_errors_have_sqlites_messages() {
    let s = db();
    for (sql, msg) in [
        ("SELECT (1, 2)", "row value misused"),
        ("SELECT (1, 2) + 1", "row value misused"),
        ("SELECT 1 = (1, 2)", "row value misused"),
        ("SELECT (1, 2) = (1, 2, 3)", "row value misused"),
        ("SELECT 1 = (SELECT 1, 2)", "row value misused"),
        ("SELECT (1, 2) = (SELECT 1)", "row value misused"),
        ("SELECT (1, 2) IS NULL", "row value misused"),
        ("SELECT (1, 2) BETWEEN 1 AND 2", "row value misused"),
        ("SELECT CASE (1, 2) WHEN 1 THEN 1 END", "row value misused"),
        ("SELECT 1 IN ((1, 2))", "row value misused"),
        ("SELECT (SELECT 1, 2) IN ((1, 2))", "row value misused"),
        ("SELECT a FROM t ORDER BY (a, b)", "row value misused"),
        (
            "SELECT (1, 2) IN (SELECT 1)",
            "sub-select returns 1 columns - expected 2",
        ),
        (
            "SELECT 1 IN (SELECT 1, 2)",
            "sub-select returns 2 columns - expected 1",
        ),
        (
            "SELECT (SELECT 1, 2)",
            "sub-select returns 2 columns - expected 1",
        ),
        (
            "SELECT (1, 2) IN ((1, 2), (3))",
            "IN(...) element has 1 term - expected 2",
        ),
        (
            "SELECT (1, 2) IN ((1, 2), (3, 4, 5))",
            "IN(...) element has 3 terms - expected 2",
        ),
        (
            "UPDATE t SET (a, b) = (1, 2, 3)",
            "2 columns assigned 3 values",
        ),
        ("UPDATE t SET (a, b) = 5", "2 columns assigned 1 values"),
        (
            "UPDATE t SET (a, b) = (SELECT 1)",
            "2 columns assigned 1 values",
        ),
        (
            "UPDATE t SET (a) = (SELECT 1, 2)",
            "1 columns assigned 2 values",
        ),
        (
            "SELECT abs(a) FILTER (WHERE a > 1) FROM t",
            "FILTER may not be used with non-aggregate abs()",
        ),
        (
            "SELECT count(*) FILTER (WHERE max(a) > 1) FROM t",
            "misuse of aggregate function max()",
        ),
        (
            "SELECT count(*) FILTER (WHERE count(*) OVER () > 1) FROM t",
            "misuse of window function count()",
        ),
        (
            "SELECT id FROM t WHERE count(*) FILTER (WHERE a > 1) > 0",
            "misuse of aggregate function count()",
        ),
        (
            "SELECT nosuch(a) FILTER (WHERE 1) FROM t",
            "no such function",
        ),
    ] {
        let e = run(&s, sql).expect_err(sql);
        assert!(e.to_string().contains(msg), "{sql}: {e}");
    }
}

fn plan(s: &sealdb::Session, sql: &str) -> String {
    run(s, &format!("EXPLAIN {sql}")).unwrap()
}

#[test]
fn a_keyset_page_reads_an_index_range() {
    let s = db();
    for sql in [
        "SELECT id FROM t WHERE (a, b) > (1, 'x') ORDER BY a, b LIMIT 2",
        "SELECT id FROM t WHERE (a, b) <= (2, 'x')",
    ] {
        let p = plan(&s, sql);
        assert!(p.contains("USING INDEX t_ab (a range)"), "{sql}: {p}");
    }
    let p = plan(&s, "SELECT id FROM t WHERE (a, b) = (1, 'y')");
    assert!(p.contains("USING INDEX t_ab (a=? AND b=?)"), "{p}");
    let p = plan(&s, "SELECT id FROM t WHERE (id, a) >= (3, 0)");
    assert!(p.contains("USING ROWID RANGE"), "{p}");
    // The range is only where to start: the row comparison still decides.
    assert_eq!(
        run(
            &s,
            "SELECT id FROM t WHERE (a, b) > (1, 'x') ORDER BY a, b LIMIT 2"
        )
        .unwrap(),
        "2;3"
    );
    assert_eq!(
        run(&s, "SELECT id FROM t WHERE (a, b) <= (2, 'x') ORDER BY id").unwrap(),
        "1;2;3"
    );
    // A comparison whose affinity the index cannot serve reads no range.
    let p = plan(&s, "SELECT id FROM t WHERE (b, a) > (1, 0)");
    assert!(!p.contains("range"), "{p}");
}

#[test]
fn a_row_subquery_runs_once_per_row_for_all_its_columns() {
    let s = db();
    s.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, x, y)", &[])
        .unwrap();
    s.execute(
        "INSERT INTO r VALUES (1, 0, 0), (2, 0, 0), (3, 0, 0), (4, 0, 0)",
        &[],
    )
    .unwrap();
    // Correlated (reads r.id): run per row, one random() for both.
    s.execute(
        "UPDATE r SET (x, y) = (SELECT v, v FROM (SELECT random() + r.id - r.id AS v))",
        &[],
    )
    .unwrap();
    assert_eq!(run(&s, "SELECT count(*) FROM r WHERE x = y").unwrap(), "4");
    assert_eq!(
        run(&s, "SELECT count(DISTINCT x) FROM r").unwrap(),
        "4",
        "every row its own run"
    );
    // Uncorrelated: one run for the statement.
    s.execute(
        "UPDATE r SET (y, x) = (SELECT v, v + 1 FROM (SELECT random() AS v))",
        &[],
    )
    .unwrap();
    assert_eq!(
        run(
            &s,
            "SELECT count(DISTINCT y), min(x - y), max(x - y) FROM r"
        )
        .unwrap(),
        "1|1|1"
    );
}

#[test]
fn result_columns_are_named_as_written() {
    let s = db();
    for (sql, name) in [
        (
            "SELECT count(*) FILTER (WHERE a > 1) FROM t",
            "count(*) FILTER (WHERE a > 1)",
        ),
        ("SELECT (a, b) = (1, 'x') FROM t", "(a, b) = (1, 'x')"),
        (
            "SELECT (a, b) IN ((1, 'x'), (2, 'y')) FROM t",
            "(a, b) IN ((1, 'x'), (2, 'y'))",
        ),
    ] {
        let rows = s.query(sql, &[]).unwrap();
        assert_eq!(rows.columns(), [name], "{sql}");
    }
}
