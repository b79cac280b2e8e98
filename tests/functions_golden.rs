//! SQL functions through the public API where SQLite cannot be the
//! oracle: non-deterministic results (`random`, `randomblob`, `'now'`),
//! the session's counters (`last_insert_rowid`, `changes`,
//! `total_changes`), `CURRENT_TIMESTAMP` as a column default, and
//! refusals. The deterministic functions are compared with SQLite in
//! tests/functions_vs_sqlite.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sealdb::{Db, Session, Value};

fn one(s: &Session, sql: &str) -> Value {
    let rows = s.query(sql, &[]).unwrap().collect_all().unwrap();
    rows.into_iter()
        .next()
        .and_then(|r| r.into_values().into_iter().next())
        .unwrap_or(Value::Null)
}

fn int(v: Value) -> i64 {
    match v {
        Value::Integer(i) => i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn random_is_an_integer_that_varies_and_abs_never_overflows() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let r = int(one(&s, "SELECT random()"));
        assert_ne!(r, i64::MIN);
        seen.insert(r);
        assert!(int(one(&s, "SELECT abs(random()) >= 0")) == 1);
    }
    assert!(seen.len() > 45, "random() repeats: {}", seen.len());
    assert_eq!(
        one(&s, "SELECT typeof(randomblob(16))"),
        Value::Text("blob".into())
    );
    assert_eq!(int(one(&s, "SELECT length(randomblob(16))")), 16);
    assert_eq!(int(one(&s, "SELECT length(randomblob(0))")), 1);
    assert_eq!(int(one(&s, "SELECT length(randomblob(-5))")), 1);
    assert_ne!(
        one(&s, "SELECT hex(randomblob(16))"),
        one(&s, "SELECT hex(randomblob(16))")
    );
}

#[test]
fn now_is_the_current_time_and_stable_within_a_statement() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let now = int(one(&s, "SELECT unixepoch('now')"));
    assert!((now - unix).abs() <= 5, "{now} vs {unix}");
    assert_eq!(int(one(&s, "SELECT unixepoch()")) / 10, now / 10);
    // Every call in one statement sees the same moment.
    s.execute("CREATE TABLE t (x)", &[]).unwrap();
    for i in 0..300 {
        s.execute(&format!("INSERT INTO t VALUES ({i})"), &[])
            .unwrap();
    }
    let distinct = int(one(
        &s,
        "SELECT count(DISTINCT strftime('%f', 'now') || julianday('now')) FROM t",
    ));
    assert_eq!(distinct, 1);
    assert_eq!(
        int(one(
            &s,
            "SELECT datetime('now') = CURRENT_TIMESTAMP AND date('now') = CURRENT_DATE \
             AND time('now') = current_time"
        )),
        1
    );
    let ts = text(one(&s, "SELECT CURRENT_TIMESTAMP"));
    assert_eq!(ts.len(), 19, "{ts}");
    assert_eq!(text(one(&s, "SELECT datetime('now', 'subsec')")).len(), 23);
}

/// A query's rows, pulled one at a time with time passing between them,
/// all see the moment of the first: each row's evaluation works on a copy
/// of the statement's snapshot, and the moment is fixed before the first
/// copy (it is read from the clock at its first use, not at the start).
#[test]
fn now_is_stable_across_the_rows_of_a_result_pulled_slowly() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    s.execute("CREATE TABLE t (x)", &[]).unwrap();
    for i in 0..5 {
        s.execute(&format!("INSERT INTO t VALUES ({i})"), &[])
            .unwrap();
    }
    let mut rows = s
        .query(
            "SELECT x, strftime('%Y-%m-%d %H:%M:%f', 'now'), julianday('now') FROM t",
            &[],
        )
        .unwrap();
    let mut seen = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        seen.push((r.get::<String>(1).unwrap(), r.get::<f64>(2).unwrap()));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|x| *x == seen[0]), "{seen:?}");
    // A second statement has a later moment of its own.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let later = text(one(&s, "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"));
    assert!(later > seen[0].0, "{later} after {}", seen[0].0);
}

#[test]
fn current_timestamp_as_a_column_default() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE log (id INTEGER PRIMARY KEY, msg TEXT, \
         at TEXT DEFAULT CURRENT_TIMESTAMP, day TEXT DEFAULT CURRENT_DATE, \
         t TEXT DEFAULT (time('now')))",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO log (msg) VALUES ('hello')", &[])
        .unwrap();
    let at = text(one(&s, "SELECT at FROM log"));
    assert_eq!(at.len(), 19, "{at}");
    assert_eq!(
        int(one(
            &s,
            "SELECT abs(unixepoch(at) - unixepoch()) < 10 FROM log"
        )),
        1
    );
    assert_eq!(
        int(one(&s, "SELECT day = date(at) AND t = time(at) FROM log")),
        1
    );
}

#[test]
fn session_counters() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    assert_eq!(int(one(&s, "SELECT last_insert_rowid()")), 0);
    assert_eq!(int(one(&s, "SELECT changes()")), 0);
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x)", &[])
        .unwrap();
    s.execute("INSERT INTO t (x) VALUES (1), (2), (3)", &[])
        .unwrap();
    assert_eq!(int(one(&s, "SELECT last_insert_rowid()")), 3);
    assert_eq!(int(one(&s, "SELECT changes()")), 3);
    s.execute("INSERT INTO t (id, x) VALUES (10, 4)", &[])
        .unwrap();
    s.execute("UPDATE t SET x = x + 1 WHERE id < 3", &[])
        .unwrap();
    assert_eq!(int(one(&s, "SELECT changes()")), 2);
    assert_eq!(int(one(&s, "SELECT last_insert_rowid()")), 10);
    // A query or DDL leaves changes() alone, as in SQLite.
    s.execute("CREATE TABLE u (y)", &[]).unwrap();
    assert_eq!(int(one(&s, "SELECT changes()")), 2);
    s.execute("DELETE FROM t", &[]).unwrap();
    assert_eq!(int(one(&s, "SELECT changes()")), 4);
    assert_eq!(int(one(&s, "SELECT total_changes()")), 3 + 1 + 2 + 4);
    // Each session has its own.
    let other = db.root_session();
    assert_eq!(int(one(&other, "SELECT total_changes()")), 0);
    assert_eq!(int(one(&other, "SELECT last_insert_rowid()")), 0);
    assert_eq!(text(one(&s, "SELECT sqlite_version()")), "3.54.1");
}

#[test]
fn json_subtype_follows_nested_calls_and_aggregates() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, tags TEXT)",
        &[],
    )
    .unwrap();
    s.execute(
        "INSERT INTO p (name, tags) VALUES ('a', '[1,2]'), ('b', '[]')",
        &[],
    )
    .unwrap();
    assert_eq!(
        text(one(
            &s,
            "SELECT json_group_array(json_object('name', name, 'tags', json(tags))) FROM p"
        )),
        r#"[{"name":"a","tags":[1,2]},{"name":"b","tags":[]}]"#
    );
    // A stored JSON text is a string unless json() marks it.
    assert_eq!(
        text(one(&s, "SELECT json_object('t', tags) FROM p WHERE id = 1")),
        r#"{"t":"[1,2]"}"#
    );
    assert_eq!(
        text(one(
            &s,
            "SELECT json_object('all', json_group_array(name)) FROM p"
        )),
        r#"{"all":["a","b"]}"#
    );
    assert_eq!(
        int(one(&s, "SELECT tags ->> '$[1]' FROM p WHERE id = 1")),
        2
    );
    assert_eq!(
        text(one(&s, "SELECT tags -> '$[1]' FROM p WHERE id = 1")),
        "2"
    );
}

#[test]
fn refusals_are_clear() {
    let db = Db::open_in_memory().unwrap();
    let s = db.root_session();
    let err = |sql: &str| {
        s.query(sql, &[])
            .and_then(|r| r.collect_all())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(err("SELECT nosuch(1)"), "no such function: nosuch");
    // Names whose first bytes are parts of wider characters (the
    // evaluator asks whether a name starts with "json").
    assert_eq!(err("SELECT aéé(1)"), "no such function: aéé");
    assert_eq!(err("SELECT \"jsoné\"(1)"), "no such function: jsoné");
    assert!(err("SELECT json_object('a')").contains("even number"));
    assert!(err("SELECT json('{')").contains("malformed JSON"));
    assert!(err("SELECT json_extract('{}', 'a')").contains("bad JSON path"));
    assert!(err("SELECT unistr('\\q')").contains("invalid Unicode escape"));
    assert_eq!(
        err("SELECT * FROM generate_series(1, 2)"),
        "the table-valued function generate_series() is not supported"
    );
    assert!(err("SELECT * FROM json_each('[1]', 'x')").contains("bad JSON path"));
}
