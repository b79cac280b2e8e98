//! Rowid ranges against SQLite: a comparison of the rowid with a value
//! that bounds the scan is not tested again on the rows read (the scan
//! turns the value into an exact key bound), so the bound must be exact
//! for every kind of value: integers at the ends of the range, reals with
//! and without a fraction, beyond the integers, numeric and other texts,
//! blobs, NULL; as parameters, literals, another table's columns in a
//! join (also LEFT JOIN's ON), subqueries, BETWEEN, both directions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sqlite_values;

use rusqlite::types::Value as LiteValue;
use sealdb::{Db, Session, ToValue, Value};
use sqlite_values::{from_sqlite, to_sqlite};

/// Values a bound takes, as SQL literals and as parameters.
fn bounds() -> Vec<(&'static str, Value)> {
    vec![
        ("5", Value::Integer(5)),
        ("-5", Value::Integer(-5)),
        ("0", Value::Integer(0)),
        ("40", Value::Integer(40)),
        ("9223372036854775807", Value::Integer(i64::MAX)),
        ("-9223372036854775808", Value::Integer(i64::MIN)),
        ("9007199254740992", Value::Integer(1 << 53)),
        ("5.0", Value::Real(5.0)),
        ("5.5", Value::Real(5.5)),
        ("-5.5", Value::Real(-5.5)),
        ("-0.0", Value::Real(-0.0)),
        ("9007199254740992.0", Value::Real(9007199254740992.0)),
        ("9.3e18", Value::Real(9.3e18)),
        ("-9.3e18", Value::Real(-9.3e18)),
        ("9223372036854775807.0", Value::Real(9223372036854775807.0)),
        ("1e300", Value::Real(1e300)),
        ("-1e300", Value::Real(-1e300)),
        ("'7'", Value::Text("7".into())),
        ("'7.5'", Value::Text("7.5".into())),
        ("' 7'", Value::Text(" 7".into())),
        ("'abc'", Value::Text("abc".into())),
        ("''", Value::Text(String::new())),
        ("x'07'", Value::Blob(vec![7])),
        ("NULL", Value::Null),
    ]
}

const SHAPES: &[&str] = &[
    "SELECT id FROM t WHERE id >= {a} AND id < {b} ORDER BY id",
    "SELECT id FROM t WHERE id > {a} AND id <= {b} ORDER BY id DESC",
    "SELECT id, c FROM t WHERE id BETWEEN {a} AND {b} ORDER BY id",
    "SELECT id FROM t WHERE {a} < id AND {b} >= rowid ORDER BY id",
    "SELECT id FROM t WHERE id > {a} ORDER BY id",
    "SELECT id FROM t WHERE id < {b} ORDER BY id DESC",
    "SELECT id FROM t WHERE id >= {a} AND id > {b} AND c > 3 ORDER BY id",
    "SELECT count(*), sum(id) FROM t WHERE id < {a} AND id >= {b}",
    "SELECT id FROM t WHERE id NOT BETWEEN {a} AND {b} ORDER BY id",
    "SELECT id FROM t WHERE id >= {a} OR id < {b} ORDER BY id",
];

fn sealdb_rows(s: &Session, q: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
    let refs: Vec<&dyn ToValue> = params.iter().map(|v| v as &dyn ToValue).collect();
    let rows = s.query(q, &refs).map_err(|e| e.to_string())?;
    Ok(rows
        .collect_all()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.into_values())
        .collect())
}

fn sqlite_rows(
    c: &rusqlite::Connection,
    q: &str,
    params: &[Value],
) -> Result<Vec<Vec<Value>>, String> {
    let mut st = c.prepare(q).map_err(|e| e.to_string())?;
    let n = st.column_count();
    let ps: Vec<LiteValue> = params.iter().map(to_sqlite).collect();
    let rows = st
        .query_map(rusqlite::params_from_iter(ps), |r| {
            Ok((0..n).map(|i| from_sqlite(r.get_ref(i).unwrap())).collect())
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// The same rows, or both an error (an integer overflow in `sum`; the
/// messages differ).
fn same(got: Result<Vec<Vec<Value>>, String>, want: Result<Vec<Vec<Value>>, String>, what: &str) {
    match (got, want) {
        (Ok(g), Ok(w)) => assert_eq!(g, w, "{what}"),
        (Err(_), Err(_)) => {}
        (g, w) => panic!("{what}: sealdb {g:?}, SQLite {w:?}"),
    }
}

fn open() -> (tempfile::TempDir, Db, rusqlite::Connection) {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(
        tmp.path().join("db"),
        sealdb::UnencryptedKeyProvider::dangerous_new(),
    )
    .unwrap();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    let mut setup = vec![
        "CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER)".to_string(),
        "CREATE TABLE u (k INTEGER PRIMARY KEY, lo, hi)".to_string(),
    ];
    let ids = (-8..=42)
        .chain([i64::MAX, i64::MIN, i64::MAX - 1, 1 << 53, (1 << 53) + 1])
        .map(|i| format!("({i}, {})", i.rem_euclid(7)))
        .collect::<Vec<_>>()
        .join(", ");
    setup.push(format!("INSERT INTO t VALUES {ids}"));
    let b = bounds();
    for (i, (lo, _)) in b.iter().enumerate() {
        let (hi, _) = &b[(i * 7 + 3) % b.len()];
        setup.push(format!("INSERT INTO u VALUES ({i}, {lo}, {hi})"));
    }
    // The same bounds stored under TEXT and REAL affinity.
    setup.push("CREATE TABLE v (k INTEGER PRIMARY KEY, lo TEXT, hi TEXT)".into());
    setup.push("CREATE TABLE r (k INTEGER PRIMARY KEY, lo REAL, hi REAL)".into());
    setup.push("INSERT INTO v SELECT * FROM u".into());
    setup.push("INSERT INTO r SELECT * FROM u".into());
    {
        let s = db.root_session();
        for stmt in &setup {
            s.execute(stmt, &[]).unwrap();
            lite.execute_batch(stmt).unwrap();
        }
    }
    (tmp, db, lite)
}

#[test]
fn rowid_ranges_match_sqlite_for_every_kind_of_bound() {
    let (_tmp, db, lite) = open();
    let s = db.root_session();
    let b = bounds();
    let mut compared = 0;
    for shape in SHAPES {
        for (i, (la, va)) in b.iter().enumerate() {
            // Every bound against a few others (all pairs would be slow).
            for (lb, vb) in [0, 3, 9, 13, 17, 20, 23]
                .iter()
                .map(|k| &b[(i + k) % b.len()])
            {
                let literal = shape.replace("{a}", la).replace("{b}", lb);
                same(
                    sealdb_rows(&s, &literal, &[]),
                    sqlite_rows(&lite, &literal, &[]),
                    &literal,
                );
                let param = shape.replace("{a}", "?1").replace("{b}", "?2");
                let params = [va.clone(), vb.clone()];
                same(
                    sealdb_rows(&s, &param, &params),
                    sqlite_rows(&lite, &param, &params),
                    &format!("{param} with {la}, {lb}"),
                );
                compared += 2;
            }
        }
    }
    assert!(compared > 3000);
}

#[test]
fn rowid_ranges_bounded_by_another_table_match_sqlite() {
    let (_tmp, db, lite) = open();
    let s = db.root_session();
    for q in [
        "SELECT u.k, t.id FROM u, t WHERE t.id >= u.lo AND t.id < u.hi ORDER BY u.k, t.id",
        "SELECT u.k, t.id FROM u JOIN t ON t.id > u.lo WHERE t.id <= u.hi ORDER BY u.k, t.id",
        "SELECT u.k, t.id FROM u, t WHERE t.id BETWEEN u.lo AND u.hi ORDER BY u.k, t.id",
        "SELECT u.k, t.id FROM u LEFT JOIN t ON t.id >= u.lo AND t.id < u.hi \
         ORDER BY u.k, t.id",
        "SELECT u.k, (SELECT count(*) FROM t WHERE t.id BETWEEN u.lo AND u.hi) FROM u ORDER BY u.k",
        "SELECT u.k, (SELECT max(id) FROM t WHERE t.id < u.hi AND t.id > u.lo) FROM u \
         ORDER BY u.k",
        "SELECT id FROM t WHERE id >= (SELECT min(k) FROM u) AND id < (SELECT count(*) FROM u) \
         ORDER BY id",
        "SELECT u.k, t.id FROM t, u WHERE t.id >= u.lo AND t.id < u.hi ORDER BY u.k, t.id",
        "SELECT v.k, t.id FROM v, t WHERE t.id >= v.lo AND t.id < v.hi ORDER BY v.k, t.id",
        "SELECT v.k, t.id FROM v, t WHERE t.id BETWEEN v.lo AND v.hi ORDER BY v.k, t.id",
        "SELECT r.k, t.id FROM r, t WHERE t.id > r.lo AND t.id <= r.hi ORDER BY r.k, t.id",
        "SELECT r.k, t.id FROM r LEFT JOIN t ON t.id BETWEEN r.lo AND r.hi ORDER BY r.k, t.id",
        "SELECT v.k, t.id FROM v, t WHERE t.id < v.lo COLLATE NOCASE ORDER BY v.k, t.id",
    ] {
        let want = sqlite_rows(&lite, q, &[]).unwrap();
        assert_eq!(sealdb_rows(&s, q, &[]).unwrap(), want, "{q}");
        assert!(!want.is_empty(), "{q}");
    }
}
