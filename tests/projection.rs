//! Result columns taken straight from the row read (bare columns, the
//! rowid, in any order, repeated, mixed with expressions) against SQLite
//! answering the same SELECTs over the same rows: the executor moves
//! such columns out of the row instead of copying them, and for a narrow
//! enough row turns the row itself into the result; neither may change
//! a value, its order, or a row kept by ORDER BY, DISTINCT, a compound
//! or a subquery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sqlite_values;

use sealdb::{Db, Value};
use sqlite_values::from_sqlite;

const SCHEMA: &[&str] = &[
    "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b BLOB, c INTEGER)",
    "CREATE TABLE w (a, b, c, d, e, f, g, h)",
    "CREATE TABLE n (x TEXT, y TEXT)",
];

fn data() -> Vec<String> {
    let mut out = Vec::new();
    for i in 1..=40 {
        let a = if i % 7 == 0 {
            "NULL".to_string()
        } else {
            format!("'a{}'", i % 9)
        };
        out.push(format!(
            "INSERT INTO t VALUES ({i}, {a}, x'{i:02x}ff', {})",
            (i * 37) % 11
        ));
        out.push(format!(
            "INSERT INTO w VALUES ({i}, 'b{i}', {}, x'0{}', {}.5, NULL, 'g', {})",
            i % 3,
            i % 10,
            i,
            40 - i
        ));
    }
    out.push("INSERT INTO n VALUES ('p', 'q'), (NULL, 'r'), ('s', NULL)".into());
    out
}

const QUERIES: &[&str] = &[
    "SELECT id, a FROM t",
    "SELECT a, b FROM t",
    "SELECT b, c FROM t",
    "SELECT c, b, a, id FROM t",
    "SELECT a, id FROM t",
    "SELECT rowid, a FROM t",
    "SELECT id, b FROM t WHERE c = 3",
    "SELECT id, a FROM t WHERE id >= 5 AND id < 17",
    "SELECT a, a FROM t",
    "SELECT a, a || 'x', b FROM t",
    "SELECT b, length(a), id FROM t",
    "SELECT a, c FROM t ORDER BY c, id",
    "SELECT a, b FROM t ORDER BY a DESC, id",
    "SELECT DISTINCT a, c FROM t ORDER BY 1, 2",
    "SELECT a FROM t UNION ALL SELECT y FROM n",
    "SELECT a, c FROM t UNION SELECT x, y FROM n ORDER BY 1, 2",
    "SELECT x FROM (SELECT c AS x, a AS y FROM t) WHERE y IS NOT NULL ORDER BY x",
    "SELECT h, g FROM w",
    "SELECT a, b FROM w",
    "SELECT b, a FROM w ORDER BY a",
    "SELECT g, h, a FROM w WHERE c = 1",
    "SELECT y, x FROM n",
    "SELECT x, y FROM n",
    "SELECT t.a, w.b FROM t JOIN w ON w.a = t.id WHERE t.id < 6",
    "SELECT w.h, t.c FROM w LEFT JOIN t ON t.id = w.h ORDER BY w.a",
    "SELECT (SELECT a FROM t WHERE id = w.a), b FROM w",
];

#[test]
fn result_columns_taken_from_the_row_match_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(
        tmp.path().join("db"),
        sealdb::UnencryptedKeyProvider::dangerous_new(),
    )
    .unwrap();
    let s = db.root_session();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    for stmt in SCHEMA.iter().map(|s| s.to_string()).chain(data()) {
        s.execute(&stmt, &[]).unwrap();
        lite.execute_batch(&stmt).unwrap();
    }
    for q in QUERIES {
        let got: Vec<Vec<Value>> = s
            .query(q, &[])
            .unwrap()
            .collect_all()
            .unwrap()
            .into_iter()
            .map(|r| r.into_values())
            .collect();
        let mut st = lite.prepare(q).unwrap();
        let n = st.column_count();
        let want: Vec<Vec<Value>> = st
            .query_map([], |r| {
                Ok((0..n).map(|i| from_sqlite(r.get_ref(i).unwrap())).collect())
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got, want, "{q}");
        assert!(!got.is_empty(), "{q}: no rows");
    }
}
