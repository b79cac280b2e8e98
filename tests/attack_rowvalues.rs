//! Attacks through row values and aggregate FILTER clauses, as an
//! ordinary user (issue 18). Every term of a row value, a row subquery,
//! the VALUES rows an `IN ((..), (..))` list becomes, `SET (a, b) =
//! (SELECT ...)` and a FILTER condition are bound like any other
//! expression, so a column without SELECT privilege is refused wherever
//! it stands in them (`(pay, id) > (500, 0)` cannot probe `pay` one
//! comparison at a time); row-level security filters rows before a row
//! comparison, an IN or a FILTER sees them, also when an index serves a
//! keyset page; a hidden table stays missing (never a column-count error
//! that would show its shape); and huge row values fail or work without
//! exhausting anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

/// `secret`: alice may read id, owner and note (not pay) of her own rows
/// and the shared one (a row policy). `hidden` is invisible to her.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, owner TEXT, pay INTEGER, note TEXT);
INSERT INTO secret VALUES (1, 'alice', 100, 'a1'), (2, 'bob', 900, 'b2'),
                          (3, 'alice', 150, 'a3'), (4, 'bob', 950, 'b4'), (5, 'carol', 500, 'c5');
CREATE INDEX secret_owner_id ON secret (owner, id);
CREATE TABLE shared (id INTEGER);
INSERT INTO shared VALUES (5);
CREATE TABLE hidden (x INTEGER, y INTEGER, z INTEGER);
INSERT INTO hidden VALUES (42, 43, 44);
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
         GRANT SELECT, INSERT, UPDATE ON pub TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab
}

/// Every place a row value or a FILTER can read `pay` (no privilege).
const REFUSED: &[&str] = &[
    "SELECT id FROM secret WHERE (pay, id) > (500, 0)",
    "SELECT id FROM secret WHERE (id, pay) = (1, 100)",
    "SELECT id FROM secret WHERE (id, pay) <> (1, 100)",
    "SELECT id FROM secret WHERE (pay, 1) IS (100, 1)",
    "SELECT id FROM secret WHERE (owner, pay) IS NOT ('alice', 100)",
    "SELECT (id, pay) < (3, 0) FROM secret",
    "SELECT id FROM secret WHERE (owner, id) > ('a', 0) AND (pay, id) > (0, 0)",
    "SELECT (id, pay) IN (SELECT 1, 100) FROM secret",
    "SELECT id FROM secret WHERE (id, pay) IN ((1, 100), (2, 900))",
    "SELECT id FROM secret WHERE (id, pay) NOT IN ((1, 100))",
    "SELECT id FROM pub WHERE (id, 100) IN (SELECT id, pay FROM secret)",
    "SELECT id FROM pub WHERE (id, 'x') = (SELECT id, pay FROM secret WHERE id = 1)",
    "SELECT id FROM pub WHERE (SELECT pay, note FROM secret WHERE id = 1) > (0, '')",
    "SELECT id FROM secret WHERE (id, 0) BETWEEN (0, pay) AND (9, 9)",
    "SELECT id FROM secret WHERE (id, pay) NOT BETWEEN (0, 0) AND (9, 9)",
    "SELECT CASE (id, pay) WHEN (1, 100) THEN 'y' END FROM secret",
    "SELECT CASE (id, 1) WHEN (1, pay) THEN 'y' END FROM secret",
    "SELECT p.id FROM pub AS p JOIN secret AS s ON (s.id, s.pay) = (p.id, 100)",
    "SELECT p.id FROM pub AS p LEFT JOIN secret AS s ON (s.id, s.pay) > (p.id, 0)",
    "SELECT owner FROM secret GROUP BY owner HAVING (max(pay), 1) > (0, 0)",
    "SELECT count(*) FILTER (WHERE pay > 500) FROM secret",
    "SELECT count(note) FILTER (WHERE pay IS NULL) FROM secret",
    "SELECT owner, count(*) FILTER (WHERE pay > 500) FROM secret GROUP BY owner",
    "SELECT owner FROM secret GROUP BY owner HAVING sum(id) FILTER (WHERE pay > 100) > 0",
    "SELECT max(note) FILTER (WHERE pay > 500) FROM secret",
    "SELECT count(DISTINCT owner) FILTER (WHERE pay > 500) FROM secret",
    "SELECT count(*) FILTER (WHERE (pay, id) > (0, 0)) FROM secret",
    "SELECT count(*) FILTER (WHERE id IN (SELECT id FROM secret WHERE pay > 0)) FROM secret",
    "SELECT id, (SELECT count(*) FILTER (WHERE s.pay > 0) FROM secret AS s) FROM pub",
    "SELECT * FROM (SELECT owner, sum(id) FILTER (WHERE pay > 0) AS t FROM secret GROUP BY owner)",
    "UPDATE pub SET (id, v) = (SELECT id, pay FROM secret WHERE id = 1) WHERE id = 1",
    "UPDATE pub SET (v, id) = (SELECT pay, 7 FROM secret WHERE id = 1) WHERE id = 1",
    "UPDATE pub SET (v) = (SELECT pay FROM secret WHERE id = 1)",
    "UPDATE pub SET (id, v) = (id, (SELECT pay FROM secret WHERE id = 1))",
    "UPDATE pub SET v = 'x' WHERE (id, 100) IN (SELECT id, pay FROM secret)",
    "UPDATE pub SET v = 'x' WHERE (SELECT count(*) FILTER (WHERE pay > 0) FROM secret) > 0",
    "INSERT INTO pub SELECT id + 10, count(*) FILTER (WHERE pay > 0) FROM secret GROUP BY id",
    "INSERT INTO pub VALUES (3, 'v') ON CONFLICT (id) DO UPDATE SET (v, id) = (SELECT pay, 3 FROM secret WHERE id = 1)",
    "INSERT INTO pub VALUES (1, 'v') ON CONFLICT (id) DO UPDATE SET (v, id) = (SELECT pay, 9 FROM secret WHERE id = 1)",
    "DELETE FROM pub WHERE (id, 100) IN (SELECT id, pay FROM secret)",
    "CREATE VIEW leak AS SELECT id FROM secret WHERE (pay, id) > (0, 0)",
    "CREATE VIEW leak2 AS SELECT count(*) FILTER (WHERE pay > 500) AS n FROM secret",
];

#[test]
fn a_column_without_privilege_is_refused_in_every_row_value_and_filter() {
    let mut n = Attacks::new("rowvalues/column privileges");
    let mut lab = lab();
    for a in REFUSED {
        let e = lab.denied("alice", a);
        for v in ["900", "950", "100", "150", "500", "42"] {
            assert!(!e.to_string().contains(v), "{a}: {e}");
        }
        n.tried();
    }
    // The same shapes over columns she may read work.
    for (sql, want) in [
        (
            "SELECT id FROM secret WHERE (owner, id) > ('alice', 1)",
            "3;5",
        ),
        (
            "SELECT count(*) FILTER (WHERE note > 'a1') FROM secret",
            "2",
        ),
        (
            "SELECT id FROM pub WHERE (id, 'a1') IN (SELECT id, note FROM secret)",
            "1",
        ),
    ] {
        assert_eq!(lab.ok("alice", sql), want, "{sql}");
        n.tried();
    }
}

#[test]
fn a_trigger_reading_a_column_through_a_row_value_runs_with_its_owners_rights() {
    let mut n = Attacks::new("rowvalues/triggers");
    let mut lab = lab();
    lab.ok("alice", "CREATE TABLE mine (a INTEGER)");
    for (name, trigger) in [
        (
            "mine_probe",
            "CREATE TRIGGER mine_probe AFTER INSERT ON mine \
             WHEN (new.a, 0) < (SELECT pay, 0 FROM secret WHERE id = 1) \
             BEGIN INSERT INTO pub VALUES (new.a, 'below'); END",
        ),
        (
            "mine_set",
            "CREATE TRIGGER mine_set AFTER INSERT ON mine BEGIN \
             UPDATE pub SET (id, v) = (SELECT id, pay FROM secret WHERE id = new.a) WHERE id = 2; END",
        ),
        (
            "mine_filter",
            "CREATE TRIGGER mine_filter AFTER INSERT ON mine BEGIN \
             INSERT INTO pub SELECT new.a + 100, count(*) FILTER (WHERE pay > new.a) FROM secret; END",
        ),
    ] {
        // Refused when created, or else when it fires (its owner, alice,
        // may not read pay): either way nothing is read or written.
        match lab.try_run("alice", trigger) {
            Err(e) => assert!(
                e.code() == sealdb::ErrorCode::PermissionDenied,
                "{name}: {e}"
            ),
            Ok(_) => {
                lab.denied("alice", "INSERT INTO mine VALUES (1)");
                lab.ok("alice", &format!("DROP TRIGGER {name}"));
            }
        }
        n.tried();
    }
    assert_eq!(lab.root_rows("SELECT count(*) FROM mine"), "0");
    assert_eq!(
        lab.root_rows("SELECT id, v FROM pub ORDER BY id"),
        "1|p1;2|p2"
    );
}

#[test]
fn row_level_security_filters_rows_before_row_values_and_filters() {
    let mut n = Attacks::new("rowvalues/row-level security");
    let mut lab = lab();
    for (sql, want) in [
        ("SELECT count(*) FILTER (WHERE owner = 'bob') FROM secret", "0"),
        ("SELECT count(*) FILTER (WHERE 1), count(*) FROM secret", "3|3"),
        (
            "SELECT group_concat(id) FILTER (WHERE id > 1) FROM (SELECT id FROM secret ORDER BY id)",
            "3,5",
        ),
        ("SELECT id FROM secret WHERE (owner, id) >= ('bob', 0)", "5"),
        (
            "SELECT id FROM secret WHERE (owner, id) > ('a', 0) ORDER BY owner, id",
            "1;3;5",
        ),
        (
            "SELECT id FROM secret INDEXED BY secret_owner_id WHERE (owner, id) > ('alice', 1) ORDER BY owner, id LIMIT 5",
            "3;5",
        ),
        (
            "SELECT id FROM secret WHERE (owner, id) = ('bob', 2) OR (owner, id) = ('bob', 4)",
            "",
        ),
        ("SELECT (2, 'bob') IN (SELECT id, owner FROM secret)", "0"),
        ("SELECT (1, 'alice') IN (SELECT id, owner FROM secret)", "1"),
        (
            "SELECT ('x', 2) = (SELECT 'x', id FROM secret WHERE id = 2)",
            "NULL",
        ),
        (
            "SELECT (owner, id) IN (VALUES ('bob', 2), ('bob', 4), ('carol', 5)) FROM secret ORDER BY id",
            "0;0;1",
        ),
        (
            "SELECT owner, count(*) FILTER (WHERE id > 0) FROM secret GROUP BY owner",
            "alice|2;carol|1",
        ),
    ] {
        assert_eq!(lab.ok("alice", sql), want, "{sql}");
        n.tried();
    }
    // A row subquery assigns only what the policy lets her see.
    lab.ok(
        "alice",
        "UPDATE pub SET (id, v) = (SELECT count(*), group_concat(owner) FROM secret) WHERE id = 2",
    );
    assert_eq!(
        lab.root_rows("SELECT id, v FROM pub ORDER BY id"),
        "1|p1;3|alice,alice,carol"
    );
    n.tried();
    // Root sees every row: the policy, not the row value, decided.
    assert_eq!(
        lab.root_rows("SELECT count(*) FILTER (WHERE owner = 'bob') FROM secret"),
        "2"
    );
}

#[test]
fn a_hidden_table_stays_missing_through_row_values() {
    let mut n = Attacks::new("rowvalues/hidden names");
    let mut lab = lab();
    // A count of columns would show the shape of a table she may not
    // know exists: every one fails as a missing table, whatever the
    // width asked for.
    for a in [
        "SELECT (1, 2) IN (SELECT * FROM hidden)",
        "SELECT (1, 2, 3) IN (SELECT * FROM hidden)",
        "SELECT (1, 2) = (SELECT * FROM hidden)",
        "SELECT (1, 2, 3) = (SELECT * FROM hidden)",
        "SELECT id FROM secret WHERE (id, 1) IN (SELECT x, 1 FROM hidden)",
        "SELECT count(*) FILTER (WHERE EXISTS (SELECT x FROM hidden)) FROM pub",
        "SELECT count(*) FILTER (WHERE id IN (SELECT x FROM hidden)) FROM pub",
        "UPDATE pub SET (id, v) = (SELECT * FROM hidden)",
        "UPDATE pub SET (id, v, id) = (SELECT * FROM hidden)",
        "SELECT CASE (1, 2) WHEN (SELECT * FROM hidden) THEN 1 END",
        "SELECT (1, 2) BETWEEN (SELECT * FROM hidden) AND (3, 4)",
    ] {
        let e = lab.denied("alice", a);
        assert!(e.to_string().contains("no such table: hidden"), "{a}: {e}");
        n.tried();
    }
}

#[test]
fn huge_row_values_neither_crash_nor_exhaust() {
    let mut n = Attacks::new("rowvalues/resources");
    let mut lab = lab();
    let terms = |k: usize| vec!["1"; k].join(", ");
    // A wide row value is a flat list: it works.
    let wide = format!("SELECT ({}) = ({})", terms(2000), terms(2000));
    assert_eq!(lab.ok("alice", &wide), "1");
    n.tried();
    let wide_in = format!(
        "SELECT ({}) IN (VALUES ({}), ({}))",
        terms(500),
        terms(500),
        terms(500)
    );
    assert_eq!(lab.ok("alice", &wide_in), "1");
    n.tried();
    // Mismatched widths and nested rows are errors, not panics.
    for a in [
        format!("SELECT ({}) = ({})", terms(2000), terms(1999)),
        format!("SELECT ({}) IN (SELECT {})", terms(300), terms(299)),
        format!("SELECT {}(1, 2){}", "(".repeat(50), ")".repeat(50)),
        format!(
            "SELECT ({}(1, 2){}, 3) = (1, 2)",
            "(".repeat(50),
            ")".repeat(50)
        ),
        format!("UPDATE pub SET (id, v) = ({})", terms(1000)),
    ] {
        let e = lab.refused("alice", &a);
        assert!(
            e.to_string().contains("row value misused")
                || e.to_string().contains("sub-select returns")
                || e.to_string().contains("columns assigned"),
            "{e}"
        );
        n.tried();
    }
    // Deep nesting inside a term goes through the depth guard.
    let deep = format!(
        "SELECT ({}1{}, 2) = (1, 2)",
        "abs(".repeat(5000),
        ")".repeat(5000)
    );
    let r = lab.try_run("alice", &deep);
    assert!(r.is_err(), "deep nesting accepted: {r:?}");
    n.tried();
    // A FILTER over a large derived input counts without holding it.
    assert_eq!(
        lab.ok(
            "alice",
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 100000) \
             SELECT count(*) FILTER (WHERE i % 3 = 0) FROM g"
        ),
        "33333"
    );
    n.tried();
}
