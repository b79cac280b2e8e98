//! `SELECT count(*) FROM t` counts rows without decoding them (the
//! executor's count path for an aggregate of only `count(*)` straight over
//! a table scan). These tests hold it to the general path and to an
//! oracle of the live rowids, through every way a row's versions can be
//! spread over the store: overwrites, deletes and re-inserts across
//! flushes and compactions (tiny memtables and tables, so every statement
//! meets several levels), uncommitted writes of the counting transaction,
//! rollbacks and savepoints, older snapshots held by another session, and
//! reopens. Row-level security must still filter: a policy puts a filter
//! between scan and aggregate, so the count is of visible rows only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::Rng;
use sealdb::storage::StorageOptions;
use sealdb::vfs::MemVfs;
use sealdb::{Db, Options, PasswordCost, Session, Value};

/// Small enough that a few hundred rows make several tables and levels,
/// writing tables of `format` (1: without the block facts the count passes
/// blocks by with).
fn storage_format(format: u32) -> StorageOptions {
    StorageOptions {
        table_format: format,
        memtable_bytes: 4096,
        block_bytes: 256,
        target_file_bytes: 4096,
        level_base_bytes: 16 << 10,
        l0_compaction_trigger: 3,
        block_cache_bytes: 32 << 10,
        ..StorageOptions::default()
    }
}

fn open(vfs: &MemVfs) -> Db {
    open_format(vfs, 3)
}

fn open_format(vfs: &MemVfs, format: u32) -> Db {
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[9u8; 32])).unwrap(),
        Options {
            vfs: Some(Arc::new(vfs.clone())),
            password_cost: PasswordCost::dangerous_minimal(),
            storage: storage_format(format),
            ..Options::default()
        },
    )
    .unwrap()
}

fn int(s: &Session, sql: &str) -> i64 {
    let mut r = s.query(sql, &[]).unwrap();
    let row = r.next().unwrap().expect("one row");
    row.get::<i64>(0).unwrap()
}

fn values(s: &Session, sql: &str) -> Vec<Value> {
    let mut r = s.query(sql, &[]).unwrap();
    let row = r.next().unwrap().expect("one row");
    assert!(r.next().unwrap().is_none(), "{sql}: more than one row");
    row.into_values()
}

/// The count path against the general one (a WHERE that keeps every row
/// forces it), a count of the scanned rows, and the oracle; the bare
/// column reads the first row in both paths.
fn check(s: &Session, live: &BTreeSet<i64>, what: &str) {
    let n = live.len() as i64;
    assert_eq!(int(s, "SELECT count(*) FROM t"), n, "{what}: count(*)");
    assert_eq!(
        int(s, "SELECT count(*) FROM t WHERE 1"),
        n,
        "{what}: filtered"
    );
    assert_eq!(int(s, "SELECT count(id) FROM t"), n, "{what}: count(id)");
    let mut r = s.query("SELECT id FROM t", &[]).unwrap();
    let mut seen = Vec::new();
    while let Some(row) = r.next().unwrap() {
        seen.push(row.get::<i64>(0).unwrap());
    }
    assert_eq!(
        seen,
        live.iter().copied().collect::<Vec<_>>(),
        "{what}: scan"
    );
    let first = live
        .iter()
        .next()
        .map_or(Value::Null, |&i| Value::Integer(i));
    assert_eq!(
        values(s, "SELECT count(*), id, count(*) FROM t"),
        vec![Value::Integer(n), first.clone(), Value::Integer(n)],
        "{what}: bare column"
    );
    assert_eq!(
        values(s, "SELECT count(*), id, count(*) FROM t WHERE 1"),
        vec![Value::Integer(n), first, Value::Integer(n)],
        "{what}: bare column, general path"
    );
}

#[test]
fn count_matches_the_rows_through_overwrites_deletes_flushes_and_reopens() {
    let vfs = MemVfs::new();
    let mut db = open(&vfs);
    let mut s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)",
        &[],
    )
    .unwrap();
    // Another table around it, so scans of `t` meet foreign keys in the
    // same blocks and tables.
    s.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    let mut live = BTreeSet::new();
    let mut rng = Rng(0x5EA1_C0DE);
    let pad = "x".repeat(40);
    for step in 0..600 {
        let id = rng.below(400) as i64;
        match rng.below(14) {
            0..=3 => {
                let r = s.execute(
                    "INSERT INTO t VALUES (?, ?, ?)",
                    &[&id, &(step as i64), &pad.as_str()],
                );
                if live.contains(&id) {
                    assert!(r.is_err(), "duplicate id {id} accepted");
                } else {
                    r.unwrap();
                    live.insert(id);
                }
            }
            4 => {
                s.execute(
                    "INSERT OR REPLACE INTO t VALUES (?, ?, ?)",
                    &[&id, &(step as i64), &"replaced"],
                )
                .unwrap();
                live.insert(id);
            }
            5 | 6 => {
                s.execute("DELETE FROM t WHERE id = ?", &[&id]).unwrap();
                live.remove(&id);
            }
            7 => {
                s.execute("UPDATE t SET v = v || 'u', k = k + 1 WHERE id = ?", &[&id])
                    .unwrap();
            }
            8 => {
                let hi = id + rng.below(30) as i64;
                s.execute("DELETE FROM t WHERE id BETWEEN ? AND ?", &[&id, &hi])
                    .unwrap();
                live.retain(|&x| x < id || x > hi);
            }
            9 => {
                // A rowid moved: one key deleted, another written.
                let to = 1000 + step as i64;
                s.execute("UPDATE t SET id = ? WHERE id = ?", &[&to, &id])
                    .unwrap();
                if live.remove(&id) {
                    live.insert(to);
                }
            }
            10 => {
                s.execute("INSERT INTO u VALUES (?, 'other')", &[&(step as i64)])
                    .unwrap();
            }
            11 => db.engine().flush().unwrap(),
            12 => db.engine().compact().unwrap(),
            _ => {
                if rng.below(4) == 0 {
                    drop(s);
                    drop(db);
                    db = open(&vfs);
                    s = db.root_session();
                }
            }
        }
        if step % 7 == 0 {
            check(&s, &live, &format!("step {step}"));
        }
    }
    check(&s, &live, "end");
    db.engine().compact().unwrap();
    check(&s, &live, "after a full compaction");
}

#[test]
fn count_sees_own_uncommitted_writes_and_not_others() {
    let vfs = MemVfs::new();
    let db = open(&vfs);
    let a = db.root_session();
    let b = db.root_session();
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    let mut live = BTreeSet::new();
    for i in 0..200i64 {
        a.execute("INSERT INTO t VALUES (?, 'committed')", &[&i])
            .unwrap();
        live.insert(i);
    }
    db.engine().flush().unwrap();

    // Uncommitted inserts, deletes (of stored and of own rows) and
    // overwrites are counted by the writer only.
    a.execute("BEGIN", &[]).unwrap();
    let mut mine = live.clone();
    for i in 200..260i64 {
        a.execute("INSERT INTO t VALUES (?, 'mine')", &[&i])
            .unwrap();
        mine.insert(i);
    }
    a.execute("DELETE FROM t WHERE id < 50", &[]).unwrap();
    mine.retain(|&x| x >= 50);
    a.execute("DELETE FROM t WHERE id BETWEEN 250 AND 255", &[])
        .unwrap();
    mine.retain(|&x| !(250..=255).contains(&x));
    a.execute("INSERT OR REPLACE INTO t VALUES (100, 'over')", &[])
        .unwrap();
    a.execute("INSERT INTO t VALUES (10, 'back')", &[]).unwrap();
    mine.insert(10);
    check(&a, &mine, "writer, open transaction");
    check(&b, &live, "other session, during");

    // A savepoint rolled back takes its writes out of the count.
    a.execute("SAVEPOINT sp", &[]).unwrap();
    a.execute("DELETE FROM t", &[]).unwrap();
    check(&a, &BTreeSet::new(), "after DELETE FROM t in a savepoint");
    a.execute("ROLLBACK TO sp", &[]).unwrap();
    check(&a, &mine, "after ROLLBACK TO");

    // Rolled back: nothing happened.
    a.execute("ROLLBACK", &[]).unwrap();
    check(&a, &live, "after rollback");
    check(&b, &live, "other session, after rollback");

    // Committed: both see it.
    a.execute("BEGIN", &[]).unwrap();
    a.execute("DELETE FROM t WHERE id % 3 = 0", &[]).unwrap();
    a.execute("COMMIT", &[]).unwrap();
    live.retain(|&x| x % 3 != 0);
    check(&a, &live, "writer, after commit");
    check(&b, &live, "other session, after commit");
}

#[test]
fn count_of_an_older_snapshot_survives_flushes_and_compactions() {
    let vfs = MemVfs::new();
    let db = open(&vfs);
    let w = db.root_session();
    let r = db.root_session();
    w.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    let mut before = BTreeSet::new();
    for i in 0..300i64 {
        w.execute("INSERT INTO t VALUES (?, 'a fairly long value')", &[&i])
            .unwrap();
        before.insert(i);
    }
    // The reader's transaction reads once: its snapshot is fixed.
    r.execute("BEGIN", &[]).unwrap();
    check(&r, &before, "reader, before");
    let mut after = before.clone();
    w.execute("DELETE FROM t WHERE id % 2 = 0", &[]).unwrap();
    after.retain(|&x| x % 2 != 0);
    for i in 300..400i64 {
        w.execute("INSERT INTO t VALUES (?, 'new')", &[&i]).unwrap();
        after.insert(i);
    }
    w.execute("UPDATE t SET v = 'changed' WHERE id > 100", &[])
        .unwrap();
    db.engine().flush().unwrap();
    db.engine().compact().unwrap();
    check(
        &r,
        &before,
        "reader, after the writer's changes were compacted",
    );
    check(&w, &after, "writer");
    r.execute("COMMIT", &[]).unwrap();
    check(&r, &after, "reader, new transaction");
}

#[test]
fn count_under_row_level_security_counts_visible_rows_only() {
    let mut lab = attack_common::Lab::new(
        "CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT, body TEXT);
         ALTER TABLE doc ENABLE ROW LEVEL SECURITY;",
    );
    lab.user("alice").user("bob").user("carol");
    lab.as_root("GRANT SELECT, INSERT, DELETE ON doc TO alice, bob, carol");
    lab.as_root("CREATE POLICY own ON doc FOR ALL TO alice, bob USING (owner = current_user)");
    for i in 0..120 {
        let owner = ["alice", "bob", "root"][i % 3];
        lab.as_root(&format!(
            "INSERT INTO doc VALUES ({i}, '{owner}', 'body {i}')"
        ));
    }
    lab.db.engine().flush().unwrap();
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM doc"), "40");
    assert_eq!(lab.ok("bob", "SELECT count(*) FROM doc"), "40");
    // No policy names carol: she sees no row, and counts none.
    assert_eq!(lab.ok("carol", "SELECT count(*) FROM doc"), "0");
    // The bare column comes from a visible row.
    assert_eq!(lab.ok("bob", "SELECT count(*), id FROM doc"), "40|1");
    // Her own uncommitted rows are counted as any rows: through the policy.
    lab.ok("alice", "BEGIN");
    lab.ok("alice", "INSERT INTO doc VALUES (500, 'alice', 'new')");
    lab.ok("alice", "DELETE FROM doc WHERE id = 0");
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM doc"), "40");
    lab.ok("alice", "INSERT INTO doc VALUES (501, 'alice', 'new')");
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM doc"), "41");
    lab.ok("alice", "ROLLBACK");
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM doc"), "40");
    assert_eq!(lab.root_rows("SELECT count(*) FROM doc"), "120");
}

/// Tables written before the block facts (format 1), with them in one
/// index (format 2) and in index partitions (format 3) in one store: blocks
/// of format 1 are read, of the others counted from the index, and keys
/// overwritten or deleted in any are counted once.
#[test]
fn count_over_tables_of_every_format() {
    let vfs = MemVfs::new();
    let mut live = BTreeSet::new();
    let pad = "p".repeat(30);
    let mut format = 1;
    for round in 0..9i64 {
        let db = open_format(&vfs, format);
        let s = db.root_session();
        if round == 0 {
            s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
                .unwrap();
        }
        // New rows in order (clean blocks), then overwrites and deletes
        // reaching into the rows earlier rounds wrote.
        for i in 0..120 {
            let id = round * 100 + i;
            s.execute(
                "INSERT OR REPLACE INTO t VALUES (?, ?)",
                &[&id, &pad.as_str()],
            )
            .unwrap();
            live.insert(id);
        }
        s.execute(
            "DELETE FROM t WHERE id % 7 = ? AND id < ?",
            &[&round, &(round * 100)],
        )
        .unwrap();
        live.retain(|&x| !(x % 7 == round && x < round * 100));
        s.execute("UPDATE t SET v = 'u' WHERE id % 5 = 0", &[])
            .unwrap();
        check(
            &s,
            &live,
            &format!("round {round}, format {format}, unflushed"),
        );
        db.engine().flush().unwrap();
        check(
            &s,
            &live,
            &format!("round {round}, format {format}, flushed"),
        );
        if round % 2 == 1 {
            db.engine().compact().unwrap();
            check(
                &s,
                &live,
                &format!("round {round}, format {format}, compacted"),
            );
        }
        format = format % 3 + 1;
    }
}
