//! ORDER BY under a LIMIT keeps only the rows it may return while it reads
//! (`exec::open_sorted`): the rows must be exactly the first rows of the
//! full, stable sort, whatever the ties, NULLs, directions, collations,
//! OFFSETs and LIMITs (0, 1, past the end, negative, from parameters),
//! and the sort keys' errors must still be raised. Each top-N query is
//! compared with the full sort of the same query run without a LIMIT,
//! sliced in Rust. Against SQLite: `tests/difftest/regress/order-limit.test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sealdb::{Db, Value};

fn rows(s: &sealdb::Session, sql: &str, params: &[&dyn sealdb::ToValue]) -> Vec<Vec<Value>> {
    s.query(sql, params)
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

#[test]
fn top_rows_are_the_first_rows_of_the_full_sort() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT COLLATE NOCASE, c REAL)",
        &[],
    )
    .unwrap();
    // Many ties (a has 7 values), NULLs in every column, mixed case.
    let mut x: u64 = 7;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    s.execute("BEGIN", &[]).unwrap();
    for id in 1..=3000i64 {
        let a = rnd(8);
        let b = ["x", "X", "y", "Y", "z", ""][rnd(6) as usize];
        let c = rnd(50) as f64 / 4.0;
        let a: Value = if a == 7 {
            Value::Null
        } else {
            Value::Integer(a as i64)
        };
        let b: Value = if rnd(10) == 0 {
            Value::Null
        } else {
            Value::Text(b.into())
        };
        let c: Value = if rnd(12) == 0 {
            Value::Null
        } else {
            Value::Real(c)
        };
        s.execute("INSERT INTO t VALUES (?, ?, ?, ?)", &[&id, &a, &b, &c])
            .unwrap();
    }
    s.execute("COMMIT", &[]).unwrap();
    let orders = [
        "a",
        "a DESC",
        "a NULLS LAST, b",
        "b, a DESC",
        "b COLLATE BINARY DESC, c",
        "c DESC NULLS FIRST",
        "a + c",
        "length(b), id DESC",
    ];
    for order in orders {
        // The same ORDER BY in a query that keeps its sort keys as
        // columns and in one whose keys are hidden (then trimmed).
        for select in ["id, a, b, c", "id"] {
            let full = rows(&s, &format!("SELECT {select} FROM t ORDER BY {order}"), &[]);
            assert_eq!(full.len(), 3000);
            for (limit, offset) in [
                (0i64, 0i64),
                (1, 0),
                (5, 0),
                (31, 0),
                (32, 1),
                (100, 17),
                (1000, 500),
                (2999, 0),
                (3000, 0),
                (5000, 0),
                (10, 2995),
                (10, 4000),
                (-1, 2990),
            ] {
                let got = rows(
                    &s,
                    &format!("SELECT {select} FROM t ORDER BY {order} LIMIT ? OFFSET ?"),
                    &[&limit, &offset],
                );
                let from = (offset as usize).min(full.len());
                let to = if limit < 0 {
                    full.len()
                } else {
                    (from + limit as usize).min(full.len())
                };
                assert_eq!(
                    got,
                    full[from..to].to_vec(),
                    "ORDER BY {order} LIMIT {limit} OFFSET {offset} ({select})"
                );
            }
        }
    }
}

#[test]
fn a_sort_key_error_is_raised_under_a_limit_too() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    s.execute("CREATE TABLE t (x INTEGER)", &[]).unwrap();
    s.execute(
        "INSERT INTO t VALUES (1), (2), (-9223372036854775808), (3)",
        &[],
    )
    .unwrap();
    for limit in ["", " LIMIT 0", " LIMIT 1", " LIMIT 2 OFFSET 1"] {
        let err = s
            .query(&format!("SELECT x FROM t ORDER BY abs(x){limit}"), &[])
            .and_then(|r| r.collect_all())
            .expect_err(limit);
        assert!(
            err.to_string().contains("integer overflow"),
            "{limit}: {err}"
        );
    }
}
