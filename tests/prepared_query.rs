//! A prepared query run many times against SQLite running the same
//! statement: a run after the first reuses the operators and buffers the
//! last run left (`Rows` gives them back to the statement when dropped),
//! so every run must give what a fresh statement gives, whatever the last
//! run read, stopped at, failed on, or was bound to; and what a run must
//! see afresh (rows written since, a schema or security catalog changed
//! since) it sees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sqlite_values;

use sealdb::{Db, ErrorCode, Session, ToValue, Value};
use sqlite_values::{from_sqlite, to_sqlite};

const SCHEMA: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT, name TEXT COLLATE NOCASE);
CREATE INDEX tk ON t(k);
CREATE INDEX tn ON t(name);
CREATE TABLE w (a TEXT, b INTEGER, c TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
";

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// The rows of `t`: ids 1..=60, k cycling through 0..7 (several rows per
/// key), texts of varying length (one past the size a statement keeps),
/// names differing in case; and `w`.
fn fill(sql: &mut dyn FnMut(&str)) {
    for i in 1..=60i64 {
        let v = match i % 5 {
            0 => "NULL".to_string(),
            1 => format!("'{}'", "x".repeat(5000)),
            _ => format!("'v{}{}'", i, "y".repeat((i % 13) as usize)),
        };
        let name = if i % 2 == 0 { "Ann" } else { "ann" };
        sql(&format!(
            "INSERT INTO t VALUES ({i}, {}, {v}, '{name}{}')",
            i % 7,
            i % 3
        ));
        sql(&format!("INSERT INTO w VALUES ('a{}', {i}, 'c{i}')", i % 4));
    }
}

/// One prepared query and the parameter sets it runs with, in order.
struct Shape {
    query: &'static str,
    params: Vec<Vec<Value>>,
    /// The query has an ORDER BY fixing the order (else rows are compared
    /// as sorted lists).
    ordered: bool,
}

fn shapes() -> Vec<Shape> {
    let ks = || (0..9).map(|k| vec![int(k % 8)]).collect::<Vec<_>>();
    vec![
        // A rowid lookup: present, absent, NULL, a text and reals that
        // are (or are not) a rowid.
        Shape {
            query: "SELECT id, v, k FROM t WHERE id = ?",
            params: vec![
                vec![int(5)],
                vec![int(61)],
                vec![Value::Null],
                vec![text("7")],
                vec![Value::Real(8.0)],
                vec![Value::Real(8.5)],
                vec![int(1)],
                vec![int(5)],
            ],
            ordered: false,
        },
        // Index lookups: several rows per key, none for 7+.
        Shape {
            query: "SELECT id, v FROM t WHERE k = ?",
            params: ks(),
            ordered: false,
        },
        // The same through a collation.
        Shape {
            query: "SELECT id, name FROM t WHERE name = ?",
            params: vec![
                vec![text("ANN1")],
                vec![text("ann2")],
                vec![text("nobody")],
                vec![text("Ann0")],
            ],
            ordered: false,
        },
        // IN lists: repeated values (one row each), rowids and keys.
        Shape {
            query: "SELECT id FROM t WHERE k IN (?, ?, ?)",
            params: vec![
                vec![int(1), int(1), int(2)],
                vec![int(3), int(9), Value::Null],
                vec![int(2), int(2), int(2)],
            ],
            ordered: false,
        },
        Shape {
            query: "SELECT id, k FROM t WHERE id IN (?, ?, ?) ORDER BY id",
            params: vec![
                vec![int(3), int(1), int(3)],
                vec![int(70), int(2), int(59)],
                vec![Value::Null, int(4), int(4)],
            ],
            ordered: true,
        },
        // Ranges of rowids and of keys, forwards and backwards.
        Shape {
            query: "SELECT id, v FROM t WHERE id > ? AND id <= ? ORDER BY id DESC",
            params: vec![
                vec![int(10), int(20)],
                vec![int(55), int(100)],
                vec![int(20), int(10)],
                vec![Value::Real(3.5), Value::Real(7.5)],
                vec![int(-5), int(3)],
            ],
            ordered: true,
        },
        Shape {
            query: "SELECT id, k FROM t WHERE k >= ? AND k < ? ORDER BY k DESC, id DESC",
            params: vec![
                vec![int(2), int(4)],
                vec![int(6), int(100)],
                vec![int(4), int(2)],
                vec![int(0), int(1)],
            ],
            ordered: true,
        },
        Shape {
            query: "SELECT id, k FROM t WHERE k > ? ORDER BY k, id",
            params: vec![vec![int(5)], vec![int(2)], vec![int(6)], vec![int(5)]],
            ordered: true,
        },
        // Computed outputs and a filter with parameters of its own.
        Shape {
            query:
                "SELECT upper(name), id * 2, length(v) FROM t WHERE k = ? AND id > ? AND v IS NOT ?",
            params: vec![
                vec![int(1), int(10), Value::Null],
                vec![int(2), int(0), text("v2yy")],
                vec![int(1), int(100), Value::Null],
                vec![int(3), int(-1), Value::Null],
            ],
            ordered: false,
        },
        // A full scan with a filter.
        Shape {
            query: "SELECT id FROM t WHERE v LIKE ? ORDER BY id",
            params: vec![vec![text("v1%")], vec![text("%yyy%")], vec![text("zz")]],
            ordered: true,
        },
        // Operators that are opened afresh every run (aggregate, LIMIT,
        // sort, join), between the reused ones.
        Shape {
            query: "SELECT count(*), sum(id) FROM t WHERE k = ?",
            params: ks(),
            ordered: true,
        },
        Shape {
            query: "SELECT id FROM t WHERE k = ? ORDER BY id LIMIT 2",
            params: ks(),
            ordered: true,
        },
        Shape {
            query: "SELECT t.id, w.c FROM t JOIN w ON w.b = t.id WHERE t.k = ? ORDER BY t.id",
            params: ks(),
            ordered: true,
        },
        // A WITHOUT ROWID table by its primary key, and by its first column.
        Shape {
            query: "SELECT a, b, c FROM w WHERE a = ? AND b = ?",
            params: vec![
                vec![text("a1"), int(5)],
                vec![text("a1"), int(6)],
                vec![text("a2"), int(6)],
            ],
            ordered: false,
        },
        Shape {
            query: "SELECT b, c FROM w WHERE a = ? ORDER BY b",
            params: vec![vec![text("a3")], vec![text("zz")], vec![text("a0")]],
            ordered: true,
        },
    ]
}

fn sealdb_rows(
    st: &sealdb::Statement<'_>,
    params: &[Value],
    limit: Option<usize>,
) -> Vec<Vec<Value>> {
    let refs: Vec<&dyn ToValue> = params.iter().map(|v| v as &dyn ToValue).collect();
    let mut rows = st.query(&refs).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.step().unwrap() {
        out.push(r.values().to_vec());
        if limit.is_some_and(|n| out.len() >= n) {
            break;
        }
    }
    out
}

fn sqlite_rows(st: &mut rusqlite::Statement<'_>, params: &[Value]) -> Vec<Vec<Value>> {
    let n = st.column_count();
    let ps: Vec<_> = params.iter().map(to_sqlite).collect();
    let mut rows = st.query(rusqlite::params_from_iter(ps)).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push((0..n).map(|i| from_sqlite(r.get_ref(i).unwrap())).collect());
    }
    out
}

fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

fn setup() -> (Db, rusqlite::Connection) {
    let db = Db::open_in_memory().unwrap();
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    {
        let s = db.root_session();
        s.run_script(SCHEMA, |_, _| {}).unwrap();
        lite.execute_batch(SCHEMA).unwrap();
        fill(&mut |q| {
            s.execute(q, &[]).unwrap();
            lite.execute(q, []).unwrap();
        });
    }
    (db, lite)
}

#[test]
fn every_run_gives_sqlites_rows() {
    let (db, lite) = setup();
    let s = db.root_session();
    let mut runs = 0;
    for shape in shapes() {
        let st = s.prepare(shape.query).unwrap();
        let mut ls = lite.prepare(shape.query).unwrap();
        let cmp = |a: Vec<Vec<Value>>, b: Vec<Vec<Value>>| {
            if shape.ordered {
                (a, b)
            } else {
                (sorted(a), sorted(b))
            }
        };
        // Forwards, backwards, and each set twice in a row; every other
        // run first abandoned after one row.
        let order: Vec<usize> = (0..shape.params.len())
            .chain((0..shape.params.len()).rev())
            .flat_map(|i| [i, i])
            .collect();
        for (n, &i) in order.iter().enumerate() {
            let p = &shape.params[i];
            if n % 2 == 1 {
                let first = sealdb_rows(&st, p, Some(1));
                let want = sqlite_rows(&mut ls, p);
                assert_eq!(first.len(), want.len().min(1), "{} {p:?}", shape.query);
            }
            let (got, want) = cmp(sealdb_rows(&st, p, None), sqlite_rows(&mut ls, p));
            assert_eq!(got, want, "{} with {p:?} (run {n})", shape.query);
            runs += 1;
        }
    }
    assert!(runs > 200, "{runs}");
}

#[test]
fn rows_written_between_runs_are_seen() {
    let (db, _lite) = setup();
    let s = db.root_session();
    let st = s
        .prepare("SELECT id FROM t WHERE k = ? ORDER BY id")
        .unwrap();
    let ids = |st: &sealdb::Statement<'_>| -> Vec<i64> {
        sealdb_rows(st, &[int(100)], None)
            .into_iter()
            .map(|r| match r[0] {
                Value::Integer(i) => i,
                _ => panic!(),
            })
            .collect()
    };
    assert!(ids(&st).is_empty());
    s.execute("INSERT INTO t VALUES (100, 100, 'n', 'n')", &[])
        .unwrap();
    assert_eq!(ids(&st), vec![100]);
    s.execute("BEGIN", &[]).unwrap();
    s.execute("INSERT INTO t VALUES (101, 100, 'n', 'n')", &[])
        .unwrap();
    assert_eq!(ids(&st), vec![100, 101]);
    s.execute("DELETE FROM t WHERE id = 100", &[]).unwrap();
    assert_eq!(ids(&st), vec![101]);
    s.execute("ROLLBACK", &[]).unwrap();
    assert_eq!(ids(&st), vec![100]);
    let by_id = s.prepare("SELECT v FROM t WHERE id = ?").unwrap();
    assert_eq!(
        sealdb_rows(&by_id, &[int(100)], None),
        vec![vec![text("n")]]
    );
    s.execute("UPDATE t SET v = 'changed' WHERE id = 100", &[])
        .unwrap();
    assert_eq!(
        sealdb_rows(&by_id, &[int(100)], None),
        vec![vec![text("changed")]]
    );
}

#[test]
fn a_schema_changed_between_runs_is_planned_afresh() {
    let (db, _lite) = setup();
    let s = db.root_session();
    let st = s.prepare("SELECT * FROM t WHERE id = ?").unwrap();
    assert_eq!(sealdb_rows(&st, &[int(2)], None)[0].len(), 4);
    s.execute("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'd'", &[])
        .unwrap();
    assert_eq!(
        sealdb_rows(&st, &[int(2)], None),
        vec![vec![int(2), int(2), text("v2yy"), text("Ann2"), text("d")]]
    );
    let by_k = s
        .prepare("SELECT id FROM t WHERE k = ? ORDER BY id")
        .unwrap();
    let before = sealdb_rows(&by_k, &[int(3)], None);
    s.execute("DROP INDEX tk", &[]).unwrap();
    assert_eq!(sealdb_rows(&by_k, &[int(3)], None), before);
    s.execute("CREATE INDEX tk2 ON t(k, id)", &[]).unwrap();
    assert_eq!(sealdb_rows(&by_k, &[int(3)], None), before);
    s.execute("DROP TABLE w", &[]).unwrap();
    s.execute("DROP TABLE t", &[]).unwrap();
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER)", &[])
        .unwrap();
    s.execute("INSERT INTO t VALUES (1, 3)", &[]).unwrap();
    assert_eq!(sealdb_rows(&by_k, &[int(3)], None), vec![vec![int(1)]]);
}

#[test]
fn two_result_sets_of_one_statement_at_once() {
    let (db, _lite) = setup();
    let s = db.root_session();
    let st = s
        .prepare("SELECT id FROM t WHERE k = ? ORDER BY id")
        .unwrap();
    let want = |k: i64| -> Vec<Value> { (1..=60).filter(|i| i % 7 == k).map(int).collect() };
    // Warm: the next run reuses, the one opened while it is open does not.
    sealdb_rows(&st, &[int(0)], None);
    for _ in 0..3 {
        let mut a = st.query(&[&1i64]).unwrap();
        let mut b = st.query(&[&2i64]).unwrap();
        let (mut ga, mut gb) = (Vec::new(), Vec::new());
        loop {
            let ra = a.step().unwrap().map(|r| r.values()[0].clone());
            let rb = b.step().unwrap().map(|r| r.values()[0].clone());
            ga.extend(ra.clone());
            gb.extend(rb.clone());
            if ra.is_none() && rb.is_none() {
                break;
            }
        }
        assert_eq!(ga, want(1));
        assert_eq!(gb, want(2));
        drop(b);
        drop(a);
        assert_eq!(
            sealdb_rows(&st, &[int(3)], None),
            want(3).into_iter().map(|v| vec![v]).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_run_that_failed_leaves_nothing_behind() {
    let (db, _lite) = setup();
    let s = db.root_session();
    // abs() of the smallest integer fails ("integer overflow") on the
    // first row the filter reads.
    let st = s
        .prepare("SELECT id FROM t WHERE k = ? AND abs(? + 0 * id) >= 0 ORDER BY id")
        .unwrap();
    let ok = |st: &sealdb::Statement<'_>| sealdb_rows(st, &[int(4), int(1)], None);
    let want: Vec<Vec<Value>> = (1..=60)
        .filter(|i| i % 7 == 4)
        .map(|i| vec![int(i)])
        .collect();
    assert_eq!(ok(&st), want);
    for _ in 0..2 {
        // (Where the query reads its first row is the executor's choice.)
        let e = match st.query(&[&4i64, &i64::MIN]) {
            Ok(mut rows) => rows.step().map(|_| ()).unwrap_err(),
            Err(e) => e,
        };
        assert!(e.to_string().contains("overflow"), "{e}");
        assert_eq!(ok(&st), want);
        // Failing before the operators open: a wrong parameter count.
        let e = st.query(&[&4i64]).map(|_| ()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::SqlMisuse, "{e}");
        assert_eq!(ok(&st), want);
    }
}

#[test]
fn runs_in_another_session_and_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = || sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[7; 32])).unwrap();
    {
        let db = Db::open(dir.path(), key()).unwrap();
        let s = db.root_session();
        s.run_script(SCHEMA, |_, _| {}).unwrap();
        fill(&mut |q| {
            s.execute(q, &[]).unwrap();
        });
        let st = s
            .prepare("SELECT id FROM t WHERE k = ? ORDER BY id")
            .unwrap();
        let first = sealdb_rows(&st, &[int(5)], None);
        // Another session writes; this session's statement sees it.
        let other = db.root_session();
        other
            .execute("INSERT INTO t VALUES (200, 5, 'o', 'o')", &[])
            .unwrap();
        let mut with = first.clone();
        with.push(vec![int(200)]);
        assert_eq!(sealdb_rows(&st, &[int(5)], None), with);
        // A flush moves the rows from memory to tables under the kept
        // operators.
        db.engine().flush().unwrap();
        assert_eq!(sealdb_rows(&st, &[int(5)], None), with);
    }
    let db = Db::open(dir.path(), key()).unwrap();
    let s: Session = db.root_session();
    let st = s
        .prepare("SELECT id FROM t WHERE k = ? ORDER BY id")
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            sealdb_rows(&st, &[int(5)], None).last(),
            Some(&vec![int(200)])
        );
    }
}
