//! A row's rowid is unique however the uniqueness check finds out. In a
//! transaction of many writes the check trusts the table's largest rowid
//! (kept current from the transaction's own writes) and reads nothing for
//! a rowid above it; these tests hold that to an oracle of the live
//! rowids through long transactions that insert above, at and below the
//! largest, delete the largest and others, roll back to savepoints, move
//! rowids with UPDATE, and write another table in between (so the kept
//! largest belongs to one table while the other is checked).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::Rng;

use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, PasswordCost, Session};

fn open(dir: &std::path::Path) -> Db {
    Db::open_with(
        dir,
        MemoryKeyProvider::new(KeyBytes::from_slice(&[3u8; 32])).unwrap(),
        Options {
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .unwrap()
}

fn ids(s: &Session, table: &str) -> BTreeSet<i64> {
    let mut r = s
        .query(&format!("SELECT id FROM {table} ORDER BY id"), &[])
        .unwrap();
    let mut out = BTreeSet::new();
    while let Some(row) = r.next().unwrap() {
        out.insert(row.get::<i64>(0).unwrap());
    }
    out
}

/// Half the time `max` itself, else any rowid from 0 to `max`.
fn largest_or_below(rng: &mut Rng, max: i64) -> i64 {
    if rng.below(2) == 0 {
        max
    } else {
        rng.below(max as u64 + 1) as i64
    }
}

#[test]
fn duplicates_are_refused_in_long_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let s = db.root_session();
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    s.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    // Committed rows the transactions must see as taken.
    let mut live: BTreeSet<i64> = (0..50).map(|i| i * 3).collect();
    for &i in &live {
        s.execute("INSERT INTO t VALUES (?, 'old')", &[&i]).unwrap();
    }
    let mut u_live = BTreeSet::new();
    let mut rng = Rng(0x00C0_FFEE);
    let mut next_high = 200i64;
    for round in 0..8 {
        s.execute("BEGIN", &[]).unwrap();
        let committed_t = live.clone();
        let committed_u = u_live.clone();
        let mut saved: Option<(BTreeSet<i64>, BTreeSet<i64>)> = None;
        // Enough writes that the check trusts the largest rowid.
        for step in 0..300 {
            let max = live.iter().next_back().copied().unwrap_or(0);
            match rng.below(20) {
                // Ascending inserts above the largest (the bulk-load case).
                0..=6 => {
                    next_high = next_high.max(max + 1) + rng.below(3) as i64;
                    let id = next_high;
                    s.execute("INSERT INTO t VALUES (?, 'hi')", &[&id]).unwrap();
                    live.insert(id);
                }
                // Exactly the largest, and anything below it.
                7 | 8 => {
                    let id = largest_or_below(&mut rng, max);
                    let r = s.execute("INSERT INTO t VALUES (?, 'lo')", &[&id]);
                    assert_eq!(
                        r.is_err(),
                        live.contains(&id),
                        "round {round} step {step}: insert of {id} (largest {max}): {r:?}"
                    );
                    live.insert(id);
                }
                // Delete the largest, or another row.
                9 | 10 => {
                    let id = largest_or_below(&mut rng, max);
                    s.execute("DELETE FROM t WHERE id = ?", &[&id]).unwrap();
                    live.remove(&id);
                }
                // Re-insert at the largest right after deleting it.
                11 => {
                    s.execute("DELETE FROM t WHERE id = ?", &[&max]).unwrap();
                    live.remove(&max);
                    s.execute("INSERT INTO t VALUES (?, 'again')", &[&max])
                        .unwrap();
                    live.insert(max);
                }
                // Move a row's rowid above or onto another.
                12 => {
                    let from = rng.below(max as u64 + 1) as i64;
                    let to = if rng.below(2) == 0 {
                        max + 1 + rng.below(4) as i64
                    } else {
                        rng.below(max as u64 + 1) as i64
                    };
                    let r = s.execute("UPDATE t SET id = ? WHERE id = ?", &[&to, &from]);
                    let clash = from != to && live.contains(&from) && live.contains(&to);
                    assert_eq!(
                        r.is_err(),
                        clash,
                        "round {round}: move {from} → {to}: {r:?}"
                    );
                    if !clash && live.remove(&from) {
                        live.insert(to);
                    }
                }
                13 => {
                    let id = rng.below(max as u64 + 3) as i64;
                    s.execute("INSERT OR IGNORE INTO t VALUES (?, 'ign')", &[&id])
                        .unwrap();
                    live.insert(id);
                }
                14 => {
                    let id = rng.below(max as u64 + 3) as i64;
                    s.execute("INSERT OR REPLACE INTO t VALUES (?, 'rep')", &[&id])
                        .unwrap();
                    live.insert(id);
                }
                // The other table, in between.
                15 | 16 => {
                    let id = rng.below(400) as i64;
                    let r = s.execute("INSERT INTO u VALUES (?, 'u')", &[&id]);
                    assert_eq!(r.is_err(), u_live.contains(&id), "u {id}: {r:?}");
                    u_live.insert(id);
                }
                17 => {
                    if saved.is_none() {
                        s.execute("SAVEPOINT sp", &[]).unwrap();
                        saved = Some((live.clone(), u_live.clone()));
                    }
                }
                18 => {
                    if let Some((t_was, u_was)) = saved.take() {
                        s.execute("ROLLBACK TO sp", &[]).unwrap();
                        s.execute("RELEASE sp", &[]).unwrap();
                        live = t_was;
                        u_live = u_was;
                    }
                }
                _ => {
                    // A rowid-less insert takes the largest + 1.
                    s.execute("INSERT INTO t (v) VALUES ('auto')", &[]).unwrap();
                    live.insert(max + 1);
                }
            }
        }
        assert_eq!(
            ids(&s, "t"),
            live,
            "round {round}: t inside the transaction"
        );
        assert_eq!(
            ids(&s, "u"),
            u_live,
            "round {round}: u inside the transaction"
        );
        if round % 3 == 2 {
            s.execute("ROLLBACK", &[]).unwrap();
            live = committed_t;
            u_live = committed_u;
        } else {
            s.execute("COMMIT", &[]).unwrap();
        }
        assert_eq!(ids(&s, "t"), live, "round {round}: t after it");
        assert_eq!(ids(&s, "u"), u_live, "round {round}: u after it");
    }
    drop(s);
    drop(db);
    let db = open(dir.path());
    let s = db.root_session();
    assert_eq!(ids(&s, "t"), live, "after reopening");
}

/// A committed transaction leaves the table's largest rowid to the next
/// transaction that reads at exactly its commit (no inserts of a few rows
/// read the table's end again). Two sessions take turns with short
/// transactions and autocommit statements that insert at, above and below
/// the largest rowid and delete it: every duplicate is refused and every
/// rowid-less insert takes the largest + 1, whichever session committed
/// last.
#[test]
fn short_transactions_of_two_sessions_see_each_others_rowids() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let sessions = [db.root_session(), db.root_session()];
    sessions[0]
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    let mut live: BTreeSet<i64> = BTreeSet::new();
    let mut rng = Rng(0x5EED_0042);
    for step in 0..600 {
        let s = &sessions[rng.below(2) as usize];
        let explicit = rng.below(3) != 0;
        let committed = live.clone();
        if explicit {
            s.execute("BEGIN", &[]).unwrap();
        }
        for _ in 0..1 + rng.below(3) {
            let max = live.iter().next_back().copied().unwrap_or(0);
            match rng.below(6) {
                0 | 1 => {
                    let id = max + 1 + rng.below(2) as i64;
                    s.execute("INSERT INTO t VALUES (?, 'hi')", &[&id]).unwrap();
                    live.insert(id);
                }
                2 => {
                    let id = largest_or_below(&mut rng, max);
                    let r = s.execute("INSERT INTO t VALUES (?, 'lo')", &[&id]);
                    assert_eq!(
                        r.is_err(),
                        live.contains(&id),
                        "step {step}: insert of {id} (largest {max}): {r:?}"
                    );
                    live.insert(id);
                }
                3 => {
                    s.execute("DELETE FROM t WHERE id = ?", &[&max]).unwrap();
                    live.remove(&max);
                }
                _ => {
                    s.execute("INSERT INTO t (v) VALUES ('auto')", &[]).unwrap();
                    assert_eq!(s.last_insert_rowid(), max + 1, "step {step}: auto rowid");
                    live.insert(max + 1);
                }
            }
        }
        if explicit {
            if rng.below(5) == 0 {
                s.execute("ROLLBACK", &[]).unwrap();
                live = committed;
            } else {
                s.execute("COMMIT", &[]).unwrap();
            }
        }
    }
    assert_eq!(ids(&sessions[1], "t"), live);
}
