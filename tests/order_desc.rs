//! Reverse scans: which ORDER BY the planner serves by reading the rowid,
//! an index or a WITHOUT ROWID key backwards (no sort step in the plan),
//! which it still sorts, and that the rows come out right, also through
//! a transaction's uncommitted writes and after the data moved to table
//! files. The results themselves are checked against SQLite in
//! `tests/difftest/regress/order-desc-reverse-scan.test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sealdb::{Db, Value};

fn rows(s: &sealdb::Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

fn ints(s: &sealdb::Session, sql: &str) -> Vec<i64> {
    rows(s, sql)
        .into_iter()
        .map(|r| match r[0] {
            Value::Integer(i) => i,
            ref v => panic!("{sql}: not an integer: {v:?}"),
        })
        .collect()
}

/// sealdb's own EXPLAIN tree, one line per node.
fn plan(s: &sealdb::Session, sql: &str) -> String {
    rows(s, &format!("EXPLAIN {sql}"))
        .into_iter()
        .map(|r| r[0].to_text().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn setup(db: &Db) -> sealdb::Session {
    let s = db.root_session();
    for sql in [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c INTEGER)",
        "CREATE INDEX t_a ON t (a)",
        "CREATE INDEX t_ab ON t (a, b)",
        "CREATE INDEX t_c ON t (c DESC)",
        "CREATE INDEX t_bn ON t (b COLLATE NOCASE)",
        "CREATE INDEX t_part ON t (c) WHERE c > 0",
        "CREATE TABLE w (k1 INTEGER, k2 TEXT, v, PRIMARY KEY (k1, k2 DESC)) WITHOUT ROWID",
    ] {
        s.execute(sql, &[]).unwrap();
    }
    s.execute("BEGIN", &[]).unwrap();
    for i in 1..=300i64 {
        let a = if i % 17 == 0 {
            Value::Null
        } else {
            Value::Integer(i % 7)
        };
        s.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            &[&i, &a, &format!("b{}", i % 13), &(i % 11)],
        )
        .unwrap();
        s.execute(
            "INSERT INTO w VALUES (?, ?, ?)",
            &[&(i % 10), &format!("k{i}"), &i],
        )
        .unwrap();
    }
    s.execute("COMMIT", &[]).unwrap();
    s
}

#[test]
fn reverse_plans_have_no_sort() {
    let db = Db::open_in_memory().unwrap();
    let s = setup(&db);
    // (query, the access line expected, read backwards)
    let served = [
        ("SELECT id FROM t ORDER BY id DESC", "SCAN t", true),
        (
            "SELECT id FROM t ORDER BY rowid DESC LIMIT 10",
            "SCAN t",
            true,
        ),
        ("SELECT id FROM t ORDER BY id", "SCAN t", false),
        (
            "SELECT id FROM t WHERE id > 10 ORDER BY id DESC",
            "SEARCH t USING ROWID RANGE",
            true,
        ),
        (
            "SELECT id FROM t WHERE id IN (1, 5, 3) ORDER BY id DESC",
            "SEARCH t USING ROWID (3 value(s))",
            true,
        ),
        (
            "SELECT id FROM t ORDER BY a DESC",
            "SEARCH t USING INDEX t_a (",
            true,
        ),
        (
            "SELECT id FROM t ORDER BY a DESC, b DESC",
            "SEARCH t USING INDEX t_ab (",
            true,
        ),
        (
            "SELECT id FROM t WHERE a = 3 ORDER BY b DESC",
            "SEARCH t USING INDEX t_ab (a=?)",
            true,
        ),
        (
            "SELECT id FROM t WHERE a = 3 ORDER BY a DESC, b",
            "SEARCH t USING INDEX t_ab (a=?)",
            false,
        ),
        (
            "SELECT id FROM t WHERE a > 3 ORDER BY a DESC",
            "SEARCH t USING INDEX t_a (a range)",
            true,
        ),
        (
            "SELECT id FROM t ORDER BY c",
            "SEARCH t USING INDEX t_c (",
            true,
        ),
        (
            "SELECT id FROM t ORDER BY c DESC",
            "SEARCH t USING INDEX t_c (",
            false,
        ),
        (
            "SELECT id FROM t ORDER BY b COLLATE NOCASE DESC",
            "SEARCH t USING INDEX t_bn (",
            true,
        ),
        (
            "SELECT k1 FROM w ORDER BY k1 DESC, k2",
            "SEARCH w USING INDEX",
            true,
        ),
        (
            "SELECT k1 FROM w ORDER BY k1, k2 DESC",
            "SEARCH w USING INDEX",
            false,
        ),
        (
            "SELECT k1 FROM w WHERE k1 = 3 ORDER BY k2",
            "SEARCH w USING INDEX",
            true,
        ),
    ];
    for (sql, access, backwards) in served {
        let p = plan(&s, sql);
        assert!(!p.contains("SORT"), "{sql}: sorts\n{p}");
        let line = p
            .lines()
            .find(|l| l.trim_start().starts_with("S"))
            .unwrap_or_else(|| panic!("{sql}: no table read\n{p}"));
        assert!(line.trim_start().starts_with(access), "{sql}\n{p}");
        assert_eq!(line.ends_with(" BACKWARDS"), backwards, "{sql}\n{p}");
    }
    // Orders a reversed index does not give: sorted.
    let sorted = [
        "SELECT id FROM t ORDER BY a DESC NULLS FIRST",
        "SELECT id FROM t ORDER BY a NULLS LAST",
        "SELECT id FROM t ORDER BY a DESC, b",
        "SELECT id FROM t ORDER BY b DESC",
        "SELECT id FROM t ORDER BY c NULLS LAST",
        "SELECT id FROM t ORDER BY +id DESC",
        "SELECT id FROM t NOT INDEXED ORDER BY a DESC",
        "SELECT id FROM t INDEXED BY t_a WHERE a = 3 ORDER BY b DESC",
        "SELECT id FROM t WHERE b = 'b1' COLLATE NOCASE ORDER BY b DESC",
        "SELECT k1 FROM w ORDER BY k1 DESC, k2 DESC",
    ];
    for sql in sorted {
        let p = plan(&s, sql);
        assert!(p.contains("SORT"), "{sql}: no sort\n{p}");
    }
    // A partial index never serves an order (its rows are not all rows).
    let p = plan(&s, "SELECT id FROM t WHERE c > 5 ORDER BY c");
    assert!(!p.contains("t_part"), "{p}");
}

#[test]
fn reverse_scans_return_the_rows_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let key = || sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[3; 32])).unwrap();
    {
        let db = Db::open_with(dir.path(), key(), sealdb::Options::default()).unwrap();
        setup(&db);
    }
    // Reopened: the rows are in table files as well as the memtable.
    let db = Db::open_with(dir.path(), key(), sealdb::Options::default()).unwrap();
    let s = db.root_session();
    s.execute("DELETE FROM t WHERE id % 3 = 0", &[]).unwrap();
    let all: Vec<i64> = (1..=300).filter(|i| i % 3 != 0).collect();
    let desc: Vec<i64> = all.iter().rev().copied().collect();
    assert_eq!(ints(&s, "SELECT id FROM t ORDER BY id DESC"), desc);
    assert_eq!(
        ints(&s, "SELECT id FROM t ORDER BY id DESC LIMIT 10"),
        desc[..10]
    );
    assert_eq!(
        ints(&s, "SELECT id FROM t ORDER BY id DESC LIMIT 5 OFFSET 7"),
        desc[7..12]
    );
    // Inside a transaction: own inserts above and between stored rows,
    // own deletes, a changed index key.
    s.execute("BEGIN", &[]).unwrap();
    s.execute("INSERT INTO t VALUES (500, 6, 'z', 1), (3, 6, 'y', 2)", &[])
        .unwrap();
    s.execute("DELETE FROM t WHERE id IN (299, 298)", &[])
        .unwrap();
    s.execute("UPDATE t SET a = 100 WHERE id = 1", &[]).unwrap();
    assert_eq!(
        ints(&s, "SELECT id FROM t ORDER BY id DESC LIMIT 4"),
        vec![500, 296, 295, 293]
    );
    assert_eq!(
        ints(&s, "SELECT id FROM t ORDER BY a DESC LIMIT 1"),
        vec![1]
    );
    let by_a = ints(&s, "SELECT a FROM t WHERE a IS NOT NULL ORDER BY a DESC");
    assert!(by_a.windows(2).all(|w| w[0] >= w[1]), "{by_a:?}");
    let sixes = ints(&s, "SELECT id FROM t WHERE a = 6 ORDER BY b DESC, id DESC");
    let mut sorted = ints(&s, "SELECT id FROM t WHERE a = 6 ORDER BY +b DESC, id DESC");
    assert_eq!(sixes, std::mem::take(&mut sorted));
    assert!(sixes.contains(&500) && sixes.contains(&3));
    s.execute("ROLLBACK", &[]).unwrap();
    assert_eq!(ints(&s, "SELECT id FROM t ORDER BY id DESC"), desc);
    // Every served order equals the same order sorted.
    for (served, sorted) in [
        (
            "SELECT id FROM t ORDER BY a DESC, b DESC, id DESC",
            "SELECT id FROM t ORDER BY +a DESC, +b DESC, id DESC",
        ),
        (
            "SELECT id FROM t ORDER BY c, id DESC",
            "SELECT id FROM t ORDER BY +c, id DESC",
        ),
        (
            "SELECT v FROM w ORDER BY k1 DESC, k2",
            "SELECT v FROM w ORDER BY +k1 DESC, +k2",
        ),
    ] {
        assert_eq!(ints(&s, served), ints(&s, sorted), "{served}");
    }
}
