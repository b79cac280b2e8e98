//! Attacks through window functions, as an ordinary user (issue 18): a
//! window call's arguments, PARTITION BY, ORDER BY, FILTER and named
//! windows are bound like any other expression, so a column without
//! SELECT privilege is refused wherever it appears in them; row-level
//! security filters rows before the window sees them, so hidden rows
//! never move a row_number, rank, lag, lead, sum or count; a hidden table
//! stays missing; and a window that would hold unbounded rows stops with
//! an error instead of exhausting memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `secret`: alice may read id, owner and note (not pay) of her own rows
/// and the shared one (a row policy). `hidden` is invisible to her.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, owner TEXT, pay INTEGER, note TEXT);
INSERT INTO secret VALUES (1, 'alice', 100, 'a1'), (2, 'bob', 900, 'b2'),
                          (3, 'alice', 150, 'a3'), (4, 'bob', 950, 'b4'), (5, 'carol', 500, 'c5');
CREATE TABLE shared (id INTEGER);
INSERT INTO shared VALUES (5);
CREATE TABLE hidden (x INTEGER);
INSERT INTO hidden VALUES (42);
CREATE TABLE pub (id INTEGER PRIMARY KEY, v);
INSERT INTO pub VALUES (1, 'p1'), (2, 'p2');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secret FOR SELECT USING (owner = current_user OR id IN (SELECT id FROM shared));
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT (id, owner, note) ON secret TO alice;
         GRANT SELECT, INSERT ON pub TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab
}

/// Every place a window call can read `pay` (no privilege) or `hidden`.
const REFUSED: &[&str] = &[
    "SELECT id, sum(pay) OVER () FROM secret",
    "SELECT id, row_number() OVER (ORDER BY pay) FROM secret",
    "SELECT id, rank() OVER (PARTITION BY pay ORDER BY id) FROM secret",
    "SELECT id, count(*) OVER (PARTITION BY pay > 500) FROM secret",
    "SELECT id, lag(pay) OVER (ORDER BY id) FROM secret",
    "SELECT id, lead(note, 1, pay) OVER (ORDER BY id) FROM secret",
    "SELECT id, first_value(id) OVER (ORDER BY pay DESC) FROM secret",
    "SELECT id, max(note) OVER (ORDER BY pay RANGE BETWEEN 100 PRECEDING AND CURRENT ROW) FROM secret",
    "SELECT id, ntile(2) OVER (ORDER BY pay, id) FROM secret",
    "SELECT id, count(*) FILTER (WHERE pay > 500) OVER () FROM secret",
    "SELECT id, sum(id) OVER w FROM secret WINDOW w AS (ORDER BY pay)",
    "SELECT id, sum(id) OVER (w ROWS 1 PRECEDING) FROM secret WINDOW w AS (PARTITION BY pay)",
    "SELECT id FROM secret ORDER BY row_number() OVER (ORDER BY pay)",
    "SELECT owner, sum(sum(pay)) OVER () FROM secret GROUP BY owner",
    "SELECT owner, rank() OVER (ORDER BY max(pay)) FROM secret GROUP BY owner",
    "SELECT * FROM (SELECT id, percent_rank() OVER (ORDER BY pay) AS p FROM secret)",
    "SELECT id, (SELECT count(*) OVER (ORDER BY x) FROM hidden) FROM secret",
    "SELECT x, row_number() OVER () FROM hidden",
    "SELECT id, sum((SELECT x FROM hidden)) OVER () FROM secret",
    "INSERT INTO pub SELECT id + 10, sum(pay) OVER () FROM secret",
    "CREATE VIEW leak AS SELECT id, cume_dist() OVER (ORDER BY pay) AS c FROM secret",
];

#[test]
fn a_column_without_privilege_is_refused_everywhere_in_a_window() {
    let mut n = Attacks::new("window/column privileges");
    let mut lab = lab();
    for a in REFUSED {
        let e = lab.denied("alice", a);
        for v in ["900", "950", "100", "150", "500", "42"] {
            assert!(!e.to_string().contains(v), "{a}: {e}");
        }
        n.tried();
    }
    // A frame offset is a constant: a column there is NULL (as in
    // SQLite), which fails when the query runs, reading nothing.
    let e = lab.refused(
        "alice",
        "SELECT id, nth_value(note, 1) OVER (ORDER BY id ROWS BETWEEN pay PRECEDING AND CURRENT ROW) FROM secret",
    );
    assert!(e.to_string().contains("frame starting offset"), "{e}");
    n.tried();
    // A WINDOW definition no call uses is never evaluated (SQLite does
    // not even resolve its names): it reads nothing and tells nothing.
    for a in [
        "SELECT id FROM secret WINDOW w AS (ORDER BY pay)",
        "SELECT id FROM secret WINDOW w AS (ORDER BY (SELECT x FROM hidden))",
        "SELECT id FROM secret WINDOW w AS (ORDER BY (SELECT x FROM nosuch))",
    ] {
        assert_eq!(lab.ok("alice", a), "1;3;5", "{a}");
        n.tried();
    }
    // The same windows over columns she may read work.
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT id, row_number() OVER (ORDER BY id) FROM secret"
        ),
        "1|1;3|2;5|3"
    );
    n.tried();
}

#[test]
fn row_level_security_filters_rows_before_the_window() {
    let mut n = Attacks::new("window/row-level security");
    let mut lab = lab();
    // Root sees 5 rows; alice her two and the shared one: every window
    // value is computed over those three only.
    for (sql, want) in [
        (
            "SELECT id, row_number() OVER (ORDER BY id) FROM secret",
            "1|1;3|2;5|3",
        ),
        (
            "SELECT id, count(*) OVER (), sum(id) OVER () FROM secret",
            "1|3|9;3|3|9;5|3|9",
        ),
        (
            "SELECT id, lag(id) OVER (ORDER BY id), lead(id) OVER (ORDER BY id) FROM secret",
            "1|NULL|3;3|1|5;5|3|NULL",
        ),
        (
            "SELECT id, rank() OVER (ORDER BY owner), dense_rank() OVER (ORDER BY owner) FROM secret ORDER BY id",
            "1|1|1;3|1|1;5|3|2",
        ),
        (
            "SELECT id, percent_rank() OVER (ORDER BY id), cume_dist() OVER (ORDER BY id) FROM secret",
            "1|0|0.3333333333333333;3|0.5|0.6666666666666666;5|1|1",
        ),
        (
            "SELECT id, ntile(3) OVER (ORDER BY id) FROM secret",
            "1|1;3|2;5|3",
        ),
        (
            "SELECT id, group_concat(id) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM secret",
            "1|1,3;3|1,3,5;5|3,5",
        ),
        (
            "SELECT id, first_value(note) OVER (ORDER BY id DESC ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), nth_value(id, 2) OVER () FROM secret ORDER BY id",
            "1|a3|3;3|c5|3;5|c5|3",
        ),
        (
            "SELECT owner, count(*), sum(count(*)) OVER () FROM secret GROUP BY owner",
            "alice|2|3;carol|1|3",
        ),
        (
            "SELECT id, count(*) OVER (PARTITION BY owner) FROM secret",
            "1|2;3|2;5|1",
        ),
        (
            "SELECT id, max(id) OVER (ORDER BY id RANGE BETWEEN 1 FOLLOWING AND 3 FOLLOWING) FROM secret",
            "1|3;3|5;5|NULL",
        ),
    ] {
        assert_eq!(lab.ok("alice", sql), want, "{sql}");
        n.tried();
    }
    // Root's answer differs: the policy, not the window, decided.
    assert_eq!(
        lab.root_rows("SELECT id, row_number() OVER (ORDER BY id) FROM secret WHERE id = 5"),
        "5|1"
    );
    assert_eq!(
        lab.root_rows("SELECT count(*) OVER () FROM secret LIMIT 1"),
        "5"
    );
    n.tried();
}

#[test]
fn a_hidden_table_stays_missing_through_windows() {
    let mut n = Attacks::new("window/hidden names");
    let mut lab = lab();
    for a in [
        "SELECT row_number() OVER (ORDER BY x) FROM hidden",
        "SELECT id, count(*) OVER (PARTITION BY (SELECT x FROM hidden)) FROM secret",
    ] {
        let e = lab.denied("alice", a);
        assert!(e.to_string().contains("no such table: hidden"), "{a}: {e}");
        n.tried();
    }
}

#[test]
fn a_window_over_too_many_rows_stops_at_its_memory_limit() {
    let mut n = Attacks::new("window/memory limit");
    let mut lab = lab();
    for a in [
        // 300 rows of 1 MiB: more than the window node keeps.
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 300) \
         SELECT i, count(*) OVER () FROM (SELECT i, zeroblob(1048576) AS b FROM g)",
        // Small rows, but each value a growing text.
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 40000) \
         SELECT length(group_concat(hex(zeroblob(50))) OVER (ORDER BY i)) FROM g",
    ] {
        let e = lab.refused("alice", a);
        assert_eq!(e.code(), ErrorCode::SqlTooComplex, "{a}: {e}");
        assert!(e.to_string().contains("window functions"), "{e}");
        n.tried();
    }
    // Under the limit, the same shape runs.
    assert_eq!(
        lab.ok(
            "alice",
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 3) \
             SELECT i, count(*) OVER () FROM (SELECT i, zeroblob(1048576) AS b FROM g)"
        ),
        "1|3;2|3;3|3"
    );
    n.tried();
}
