//! `Rows::step` lends one row whose buffers the next step reuses (the
//! scan decodes into them, a projection swaps columns through them, an
//! aggregate reads every row into one): the rows it gives must be those
//! of `Rows::next` and of SQLite, whatever the previous row held in each
//! slot (a longer or shorter text, a blob, NULL, a number, a column the
//! row was written without), through filters, projections that compute
//! and move columns, joins, subqueries, sorting, grouping with bare
//! columns, point and index lookups, and prepared statements run again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sqlite_values;

use sealdb::storage::StorageOptions;
use sealdb::{Db, Options, Session, ToValue, Value};
use sqlite_values::{from_sqlite, to_sqlite};

const SCHEMA: &[&str] = &[
    "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b TEXT, c INTEGER)",
    "CREATE TABLE u (x INTEGER PRIMARY KEY, y TEXT)",
    "CREATE INDEX t_c ON t(c)",
];

/// Rows whose untyped column `a` changes kind and size from row to row.
fn data() -> Vec<String> {
    let mut out = Vec::new();
    for i in 1..=60i64 {
        let a = match i % 6 {
            0 => "NULL".to_string(),
            1 => format!("'{}'", "x".repeat((i * 7 % 40) as usize)),
            2 => format!("x'{}'", "ab".repeat((i % 9) as usize)),
            3 => format!("{}", i * 1000),
            4 => format!("{}.25", i),
            _ => "''".to_string(),
        };
        let b = if i % 5 == 0 {
            "NULL".to_string()
        } else {
            format!(
                "'{}{}'",
                "é".repeat((i % 4) as usize),
                "b".repeat((60 - i) as usize % 13)
            )
        };
        out.push(format!(
            "INSERT INTO t (id, a, b, c) VALUES ({i}, {a}, {b}, {})",
            i % 7
        ));
        if i == 30 {
            // Rows before this were written without `d`: they read NULL.
            out.push("ALTER TABLE t ADD COLUMN d TEXT DEFAULT NULL".into());
        }
        if i > 30 && i % 3 == 0 {
            out.push(format!(
                "UPDATE t SET d = 'd{}' WHERE id = {i}",
                "z".repeat(i as usize % 5)
            ));
        }
    }
    for x in 1..=12 {
        out.push(format!(
            "INSERT INTO u VALUES ({x}, 'u{}')",
            "q".repeat(x % 4)
        ));
    }
    out
}

const QUERIES: &[&str] = &[
    "SELECT * FROM t",
    "SELECT id, a FROM t",
    "SELECT a, b, d FROM t",
    "SELECT d, a FROM t",
    "SELECT b, a, id FROM t",
    "SELECT a, a FROM t",
    "SELECT CASE WHEN typeof(a) = 'blob' THEN hex(a) ELSE a || '-' END, b, length(a), typeof(a) FROM t",
    "SELECT id, b FROM t WHERE id >= 10 AND id < 40",
    "SELECT id, a FROM t WHERE c = 3",
    "SELECT a, d FROM t WHERE typeof(a) = 'text' OR d IS NOT NULL",
    "SELECT id, a, b FROM t WHERE id IN (3, 9, 14, 45, 59)",
    "SELECT id FROM t WHERE b LIKE 'é%'",
    "SELECT a, b FROM t ORDER BY b, id",
    "SELECT c, count(*), max(a), b FROM t GROUP BY c ORDER BY c",
    "SELECT c, min(length(b)), b, id FROM t GROUP BY c ORDER BY c",
    "SELECT count(*), sum(c), sum(length(b)), max(d) FROM t",
    "SELECT max(id), a, b FROM t",
    "SELECT DISTINCT typeof(a), c FROM t ORDER BY 1, 2",
    "SELECT t.id, u.y, t.a FROM t JOIN u ON u.x = t.c ORDER BY t.id",
    "SELECT u.y, t.b FROM u LEFT JOIN t ON t.id = u.x * 5 ORDER BY u.x",
    "SELECT (SELECT y FROM u WHERE x = t.c), a FROM t",
    "SELECT a FROM t UNION ALL SELECT y FROM u",
    "SELECT s.b FROM (SELECT b, a FROM t WHERE c > 2) AS s ORDER BY s.b LIMIT 9",
    "SELECT id, a FROM t ORDER BY id DESC LIMIT 7",
];

fn refs(params: &[Value]) -> Vec<&dyn ToValue> {
    params.iter().map(|v| v as &dyn ToValue).collect()
}

fn stepped(s: &Session, q: &str, params: &[Value]) -> Vec<Vec<Value>> {
    let mut rows = s.query(q, &refs(params)).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.step().unwrap() {
        out.push(r.values().to_vec());
    }
    // After the end, the end again.
    assert!(rows.step().unwrap().is_none(), "{q}");
    out
}

fn nexted(s: &Session, q: &str, params: &[Value]) -> Vec<Vec<Value>> {
    let mut rows = s.query(q, &refs(params)).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.into_values());
    }
    out
}

fn sqlite(lite: &rusqlite::Connection, q: &str, params: &[Value]) -> Vec<Vec<Value>> {
    let mut st = lite.prepare(q).unwrap();
    let n = st.column_count();
    let ps: Vec<_> = params.iter().map(to_sqlite).collect();
    st.query_map(rusqlite::params_from_iter(ps), |r| {
        Ok((0..n).map(|i| from_sqlite(r.get_ref(i).unwrap())).collect())
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// With `small`, a memtable and blocks so small that the rows are read
/// from many table files and blocks, not the memtable.
fn open(small: bool) -> (tempfile::TempDir, Db, rusqlite::Connection) {
    let tmp = tempfile::tempdir().unwrap();
    let mut options = Options::default();
    if small {
        options.storage = StorageOptions {
            memtable_bytes: 2048,
            block_bytes: 512,
            ..StorageOptions::default()
        };
    }
    let db = Db::open_with(
        tmp.path().join("db"),
        sealdb::UnencryptedKeyProvider::dangerous_new(),
        options,
    )
    .unwrap();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    {
        let s = db.root_session();
        for stmt in SCHEMA.iter().map(|s| s.to_string()).chain(data()) {
            s.execute(&stmt, &[]).unwrap();
            lite.execute_batch(&stmt).unwrap();
        }
    }
    (tmp, db, lite)
}

#[test]
fn stepped_rows_are_the_rows_next_gives_and_sqlite_gives() {
    for small in [false, true] {
        let (_tmp, db, lite) = open(small);
        let s = db.root_session();
        for q in QUERIES {
            let got = stepped(&s, q, &[]);
            assert_eq!(got, nexted(&s, q, &[]), "{q}: step vs next");
            assert_eq!(got, sqlite(&lite, q, &[]), "{q}: vs SQLite");
            assert!(!got.is_empty(), "{q}: no rows");
        }
    }
}

#[test]
fn a_prepared_statement_stepped_run_after_run_gives_each_runs_rows() {
    let (_tmp, db, lite) = open(true);
    let s = db.root_session();
    let queries = [
        "SELECT id, a, b FROM t WHERE id >= ? AND id < ?",
        "SELECT a, id, d FROM t WHERE c = ? AND id > ?",
        "SELECT b FROM t WHERE id = ? OR id = ?",
    ];
    for q in queries {
        let st = s.prepare(q).unwrap();
        for (lo, hi) in [(1i64, 9i64), (5, 6), (20, 45), (2, 3), (0, 61), (50, 40)] {
            let params = [Value::Integer(lo % 7), Value::Integer(hi)];
            let params: &[Value] = if q.contains("c = ?") {
                &params
            } else {
                &[Value::Integer(lo), Value::Integer(hi)]
            };
            let mut rows = st.query(&refs(params)).unwrap();
            let mut got = Vec::new();
            while let Some(r) = rows.step().unwrap() {
                got.push(r.values().to_vec());
            }
            assert_eq!(got, sqlite(&lite, q, params), "{q} {params:?}");
        }
    }
}

#[test]
fn step_and_next_mixed_on_one_result_set_read_every_row_once() {
    let (_tmp, db, lite) = open(false);
    let s = db.root_session();
    let q = "SELECT id, a, b FROM t ORDER BY id";
    let mut rows = s.query(q, &[]).unwrap();
    let mut got = Vec::new();
    let mut i = 0;
    loop {
        let r = if i % 3 == 0 {
            rows.next().unwrap().map(|r| r.into_values())
        } else {
            rows.step().unwrap().map(|r| r.values().to_vec())
        };
        match r {
            Some(v) => got.push(v),
            None => break,
        }
        i += 1;
    }
    assert_eq!(got, sqlite(&lite, q, &[]));
}

/// Every row of one result, and the subquery results it read at open,
/// see the statement's one moment (`'now'`), whether the rows are
/// stepped or taken; a later statement may see a later one.
#[test]
fn the_rows_of_one_result_share_the_statements_moment() {
    let (_tmp, db, _lite) = open(false);
    let s = db.root_session();
    let q = "SELECT julianday('now') - (SELECT julianday('now')), \
             strftime('%Y-%m-%d %H:%M:%f', 'now') FROM t, u";
    let mut rows = s.query(q, &[]).unwrap();
    let mut moments = std::collections::BTreeSet::new();
    let mut n = 0;
    while let Some(r) = rows.step().unwrap() {
        assert_eq!(r.get::<f64>(0).unwrap(), 0.0);
        moments.insert(r.get::<String>(1).unwrap());
        n += 1;
    }
    assert_eq!(n, 60 * 12);
    assert_eq!(moments.len(), 1, "{moments:?}");
    let taken: Vec<String> = s
        .query(q, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .iter()
        .map(|r| r.get(1).unwrap())
        .collect();
    assert!(taken.windows(2).all(|w| w[0] == w[1]));
}
