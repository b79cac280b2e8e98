//! A prepared INSERT run many times against SQLite running the same
//! statement prepared the same way: the plan and the parts of it kept
//! between runs (constant defaults, the order of the uniqueness checks,
//! a source row taken whole as the new row) must give SQLite's rows, and
//! what a run must compute afresh (a default that calls a function, a
//! schema that changed under the statement) is computed afresh.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sqlite_values;

use sealdb::{Db, Session, ToValue, Value};
use sqlite_values::{from_sqlite, to_sqlite};

/// One shape: the tables, the prepared INSERT, its parameter rows.
struct Shape {
    schema: &'static str,
    insert: &'static str,
    rows: Vec<Vec<Value>>,
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn shapes() -> Vec<Shape> {
    let ids = |n: i64| (1..=n).map(|i| vec![int(i), text(&format!("n{i}"))]);
    vec![
        // Every column, in order, the rowid alias among them.
        Shape {
            schema: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
            insert: "INSERT INTO t VALUES (?, ?)",
            rows: ids(5).collect(),
        },
        // NULL for the rowid alias: a new rowid each run.
        Shape {
            schema: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
            insert: "INSERT INTO t VALUES (?, ?)",
            rows: vec![
                vec![Value::Null, text("a")],
                vec![int(10), text("b")],
                vec![Value::Null, text("c")],
            ],
        },
        // Columns named out of order, defaults for the rest (constant
        // ones, one per type), affinity applied to what is given.
        Shape {
            schema: "CREATE TABLE t (a INTEGER, b TEXT DEFAULT 'dflt', c REAL DEFAULT 2.5, \
                     d BLOB DEFAULT x'0102', e INTEGER DEFAULT -7, f NUMERIC)",
            insert: "INSERT INTO t (f, a) VALUES (?, ?)",
            rows: vec![
                vec![text("12"), text("34")],
                vec![text("1.0"), int(5)],
                vec![text("x"), Value::Real(2.0)],
            ],
        },
        // The rowid named as a column.
        Shape {
            schema: "CREATE TABLE t (a TEXT, b TEXT DEFAULT 'q')",
            insert: "INSERT INTO t (rowid, a) VALUES (?, ?)",
            rows: vec![
                vec![int(7), text("x")],
                vec![Value::Null, text("y")],
                vec![int(3), text("z")],
            ],
        },
        // NOT NULL with a default under OR REPLACE: the default replaces
        // the NULL given.
        Shape {
            schema: "CREATE TABLE t (a INTEGER, b TEXT NOT NULL DEFAULT 'was null')",
            insert: "INSERT OR REPLACE INTO t VALUES (?, ?)",
            rows: vec![vec![int(1), Value::Null], vec![int(2), text("given")]],
        },
        // Uniqueness checks, in their order, with an upsert target and
        // OR IGNORE, run after run.
        Shape {
            schema: "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE, v INTEGER); \
                     CREATE UNIQUE INDEX tv ON t(v)",
            insert:
                "INSERT INTO t VALUES (?, ?, ?) ON CONFLICT(u) DO UPDATE SET v = excluded.v + 100",
            rows: vec![
                vec![int(1), text("a"), int(1)],
                vec![int(2), text("a"), int(2)],
                vec![int(3), text("b"), int(3)],
                vec![int(4), text("b"), int(4)],
            ],
        },
        Shape {
            schema: "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE)",
            insert: "INSERT OR IGNORE INTO t VALUES (?, ?)",
            rows: vec![
                vec![int(1), text("a")],
                vec![int(1), text("b")],
                vec![int(2), text("a")],
                vec![int(3), text("c")],
            ],
        },
        // A generated column: the source gives fewer columns than the
        // table has.
        Shape {
            schema: "CREATE TABLE t (a INTEGER, b INTEGER AS (a * 2), c TEXT)",
            insert: "INSERT INTO t (a, c) VALUES (?, ?)",
            rows: vec![vec![int(1), text("x")], vec![int(2), text("y")]],
        },
        // AUTOINCREMENT on two tables, one written by a trigger: both
        // sequences are written when each run ends.
        Shape {
            schema: "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT); \
                     CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT); \
                     CREATE TRIGGER tl AFTER INSERT ON t BEGIN \
                       INSERT INTO log (what) VALUES ('added ' || new.a); END",
            insert: "INSERT INTO t VALUES (?, ?)",
            rows: vec![
                vec![Value::Null, text("x")],
                vec![int(50), text("y")],
                vec![Value::Null, text("z")],
            ],
        },
        // Values of every kind in turn in the same places: a run writes
        // into the row and the texts and blobs the run before left
        // (longer, shorter, empty, one past the size kept, a text where a
        // blob was and back), through a column list in another order, a
        // parameter used twice and one inside an expression.
        Shape {
            schema: "CREATE TABLE t (a, b TEXT, c BLOB, d)",
            insert: "INSERT INTO t (c, a, b, d) VALUES (?1, ?2, ?2 || '!', ?3)",
            rows: {
                let long = "L".repeat(5000);
                let kinds = [
                    text("a longer text than the next"),
                    text("short"),
                    text(""),
                    Value::Blob(vec![1, 2, 3, 4, 5, 6]),
                    Value::Blob(vec![9]),
                    Value::Blob(Vec::new()),
                    text(&long),
                    text("after the long one"),
                    Value::Blob(vec![7; 5000]),
                    Value::Blob(vec![8, 8]),
                    int(-3),
                    Value::Real(2.5),
                    Value::Null,
                    text("back to text"),
                ];
                (0..kinds.len())
                    .map(|i| {
                        vec![
                            kinds[i].clone(),
                            kinds[(i + 5) % kinds.len()].clone(),
                            kinds[(i + 9) % kinds.len()].clone(),
                        ]
                    })
                    .collect()
            },
        },
        // Two VALUES rows per run.
        Shape {
            schema: "CREATE TABLE t (a INTEGER, b TEXT DEFAULT 'd')",
            insert: "INSERT INTO t (a) VALUES (?), (? + 1)",
            rows: vec![vec![int(1), int(10)], vec![int(2), int(20)]],
        },
    ]
}

/// Every table's rows with their rowids, and what each run returned
/// (rows changed, or the error's presence), from sealdb.
fn run_sealdb(shape: &Shape, tables: &[String]) -> (Vec<Option<u64>>, Vec<Vec<Value>>) {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    batch(&s, shape.schema);
    let st = s.prepare(shape.insert).unwrap();
    let runs = shape
        .rows
        .iter()
        .map(|r| {
            let refs: Vec<&dyn ToValue> = r.iter().map(|v| v as &dyn ToValue).collect();
            st.execute(&refs).ok()
        })
        .collect();
    (runs, dump_sealdb(&s, tables))
}

fn batch(s: &Session, sql: &str) {
    s.execute(sql, &[]).unwrap();
}

/// The rows of a query, as values.
fn rows(s: &Session, sql: &str) -> Vec<Vec<Value>> {
    let rows = s.query(sql, &[]).unwrap().collect_all().unwrap();
    rows.into_iter().map(|r| r.into_values()).collect()
}

fn dump_sealdb(s: &Session, tables: &[String]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in tables {
        out.push(vec![text(t)]);
        out.extend(rows(s, &format!("SELECT rowid, * FROM {t} ORDER BY rowid")));
    }
    out
}

fn run_sqlite(shape: &Shape, tables: &[String]) -> (Vec<Option<u64>>, Vec<Vec<Value>>) {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    c.execute_batch(shape.schema).unwrap();
    let runs = {
        let mut st = c.prepare(shape.insert).unwrap();
        shape
            .rows
            .iter()
            .map(|r| {
                let vals: Vec<rusqlite::types::Value> = r.iter().map(to_sqlite).collect();
                st.execute(rusqlite::params_from_iter(vals))
                    .ok()
                    .map(|n| n as u64)
            })
            .collect()
    };
    let mut out = Vec::new();
    for t in tables {
        let mut q = c
            .prepare(&format!("SELECT rowid, * FROM {t} ORDER BY rowid"))
            .unwrap();
        let n = q.column_count();
        let rows = q
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| from_sqlite(r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>())
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        out.push(vec![text(t)]);
        out.extend(rows);
    }
    (runs, out)
}

#[test]
fn prepared_inserts_run_many_times_match_sqlite() {
    for shape in shapes() {
        let mut tables: Vec<String> = vec!["t".into()];
        if shape.schema.contains("TABLE log") {
            tables.push("log".into());
        }
        if shape.schema.contains("AUTOINCREMENT") {
            tables.push("sqlite_sequence".into());
        }
        let seal = run_sealdb(&shape, &tables);
        let lite = run_sqlite(&shape, &tables);
        assert_eq!(seal, lite, "{}\n{}", shape.schema, shape.insert);
    }
}

/// The Rust types a parameter is bound from, in turn in the same place:
/// each run binds into the values the run before left (a text's buffer
/// refilled, not appended to; a blob's likewise), and stores exactly what
/// it was given.
#[test]
fn typed_parameters_bound_again_and_again_store_what_they_were_given() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    batch(&s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
    let st = s.prepare("INSERT INTO t VALUES (?, ?)").unwrap();
    let long = "x".repeat(6000);
    let owned = String::from("an owned string");
    let bytes = vec![0u8, 255, 7];
    let slice: &[u8] = b"\x01";
    let (some, none, long_str) = (Some("some"), None::<&str>, long.as_str());
    let (vt, vb) = (Value::Text("a value".into()), Value::Blob(vec![3; 10]));
    let cases: Vec<(&dyn ToValue, Value)> = vec![
        (&"a fairly long text", text("a fairly long text")),
        (&"tiny", text("tiny")),
        (&owned, text("an owned string")),
        (&"", text("")),
        (&bytes, Value::Blob(vec![0, 255, 7])),
        (&slice, Value::Blob(b"\x01".to_vec())),
        (&some, text("some")),
        (&none, Value::Null),
        (&long_str, text(&long)),
        (&"after", text("after")),
        (&42i64, int(42)),
        (&1.5f64, Value::Real(1.5)),
        (&vt, text("a value")),
        (&vb, Value::Blob(vec![3; 10])),
        (&"last", text("last")),
    ];
    for (i, (p, _)) in cases.iter().enumerate() {
        st.execute(&[&(i as i64), *p]).unwrap();
    }
    let got = rows(&s, "SELECT v FROM t ORDER BY id");
    let want: Vec<Vec<Value>> = cases.into_iter().map(|(_, v)| vec![v]).collect();
    assert_eq!(got, want);
}

#[test]
fn a_default_that_calls_a_function_is_evaluated_each_run() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    batch(
        &s,
        "CREATE TABLE t (a INTEGER, r TEXT DEFAULT (hex(randomblob(8))), k TEXT DEFAULT 'k')",
    );
    let st = s.prepare("INSERT INTO t (a) VALUES (?)").unwrap();
    for i in 0..20i64 {
        st.execute(&[&i]).unwrap();
    }
    assert_eq!(
        rows(
            &s,
            "SELECT count(DISTINCT r), count(*), min(k), max(k) FROM t"
        ),
        [[int(20), int(20), text("k"), text("k")]],
        "every run drew its own random default; the constant one is the same"
    );
}

#[test]
fn a_prepared_insert_follows_its_table_becoming_a_view() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    batch(
        &s,
        "CREATE TABLE t (a INTEGER, b TEXT); CREATE TABLE under (a INTEGER, b TEXT)",
    );
    let st = s.prepare("INSERT INTO t VALUES (?, ?)").unwrap();
    st.execute(&[&1i64, &"into the table"]).unwrap();
    st.execute(&[&2i64, &"again"]).unwrap();
    batch(
        &s,
        "DROP TABLE t; CREATE VIEW t AS SELECT a, b FROM under; \
         CREATE TRIGGER ti INSTEAD OF INSERT ON t BEGIN \
           INSERT INTO under VALUES (new.a * 10, new.b); END",
    );
    st.execute(&[&3i64, &"through the view"]).unwrap();
    assert_eq!(
        rows(&s, "SELECT a, b FROM under"),
        [[int(30), text("through the view")]]
    );
    // And back to a table of another shape: planned again, not the old plan.
    batch(
        &s,
        "DROP VIEW t; CREATE TABLE t (b TEXT, a INTEGER DEFAULT 9)",
    );
    st.execute(&[&"b first", &4i64]).unwrap();
    assert_eq!(rows(&s, "SELECT b, a FROM t"), [[text("b first"), int(4)]]);
}
