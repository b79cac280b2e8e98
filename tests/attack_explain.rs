//! Attacks through EXPLAIN QUERY PLAN, as an ordinary user (issue 18):
//! the plan of a query must reveal nothing the user could not learn from
//! `sqlite_schema` — no table, index or column they may not see (reached
//! through a view), nothing of the body of a view that is not theirs, no
//! trace of a row-level security policy (its subqueries, the tables they
//! read) — and EXPLAIN must be refused exactly where the query is (a
//! column without privilege, a hidden table named directly, a hidden
//! index in INDEXED BY), changing nothing. Admins see every plan (the
//! positive controls, so a mask that hid everything would fail too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

/// `secret`: alice may read id, owner and note (not pay) of her own rows
/// and of those `acl` (hidden from her) lists. `hidden` and its index are
/// invisible to her; `open_notes` (root's) reads both; `gift` is a view
/// over `hidden` handed to alice.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, owner TEXT, pay INTEGER, note TEXT);
CREATE INDEX secret_pay_idx ON secret (pay);
CREATE INDEX secret_owner_idx ON secret (owner);
INSERT INTO secret VALUES (1, 'alice', 100, 'a1'), (2, 'bob', 900, 'b2'), (3, 'carol', 500, 'c3');
CREATE TABLE acl_list (id INTEGER);
INSERT INTO acl_list VALUES (3);
CREATE TABLE hidden_tab (x INTEGER, y TEXT);
CREATE INDEX hidden_x_idx ON hidden_tab (x);
INSERT INTO hidden_tab VALUES (42, 'h');
CREATE TABLE pub (id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO pub VALUES (1, 'p1');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secret FOR SELECT USING (owner = current_user OR id IN (SELECT id FROM acl_list WHERE id > 0));
CREATE VIEW open_notes AS
  SELECT s.id, s.note, (SELECT max(y) FROM hidden_tab h WHERE h.x = s.id) AS extra
  FROM secret s WHERE s.pay > 200 AND s.id IN (SELECT x FROM hidden_tab WHERE x BETWEEN 1 AND 99);
CREATE VIEW gift AS SELECT x FROM hidden_tab WHERE x = 42;
CREATE VIEW pub_v AS SELECT id FROM pub WHERE v > 'a';
";

/// Every name alice must never see in a plan of hers.
const HIDDEN: [&str; 6] = [
    "hidden_tab",
    "hidden_x_idx",
    "acl_list",
    "secret_pay_idx",
    "pay",
    "(x",
];

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT (id, owner, note) ON secret TO alice;
         GRANT SELECT ON open_notes TO alice;
         GRANT SELECT ON pub_v TO alice;
         GRANT SELECT ON pub TO alice;
         GRANT CREATE ON DATABASE main TO alice;
         ALTER TABLE gift OWNER TO alice",
    );
    lab.ok(
        "alice",
        "CREATE VIEW my_v AS SELECT id, v FROM pub WHERE id > 0",
    );
    lab.ok("alice", "CREATE VIEW my_notes AS SELECT id FROM open_notes");
    lab
}

fn eqp(lab: &mut Lab, who: &str, sql: &str) -> String {
    lab.ok(who, &format!("EXPLAIN QUERY PLAN {sql}"))
}

fn assert_nothing_hidden(sql: &str, out: &str) {
    let lower = out.to_lowercase();
    for h in HIDDEN {
        assert!(!lower.contains(h), "`{sql}` shows {h}: {out}");
    }
    // No subquery but the user's own (a view's or a policy's is not).
    let shown = out
        .split(';')
        .filter(|l| l.contains("SUBQUERY") && !l.contains("LEFT-MOST"))
        .count();
    assert!(
        shown <= sql.matches("(SELECT").count(),
        "`{sql}` shows subqueries not its own: {out}"
    );
}

#[test]
fn plans_through_views_show_nothing_of_their_bodies() {
    let mut lab = lab();
    let mut n = Attacks::new("explain: views");
    for sql in [
        "SELECT * FROM open_notes",
        "SELECT note FROM open_notes WHERE id = 3",
        "SELECT * FROM open_notes ORDER BY extra DESC",
        "SELECT count(*) FROM open_notes GROUP BY note",
        "SELECT (SELECT count(*) FROM open_notes)",
        "SELECT * FROM pub WHERE id IN (SELECT id FROM open_notes)",
        "SELECT * FROM pub WHERE EXISTS (SELECT 1 FROM open_notes o WHERE o.id = pub.id)",
        "WITH c AS (SELECT * FROM open_notes) SELECT * FROM c",
        "WITH c AS MATERIALIZED (SELECT * FROM open_notes) SELECT * FROM c, c AS d",
        "WITH RECURSIVE r(n) AS (SELECT id FROM open_notes UNION SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "SELECT id FROM open_notes UNION SELECT id FROM pub",
        "SELECT * FROM (SELECT * FROM open_notes LIMIT 1)",
        "SELECT * FROM open_notes a JOIN open_notes b ON a.id = b.id",
        "SELECT id, row_number() OVER (ORDER BY note) FROM open_notes",
        "SELECT * FROM my_notes",
        "SELECT * FROM pub_v",
    ] {
        let out = eqp(&mut lab, "alice", sql);
        assert_nothing_hidden(sql, &out);
        n.tried();
    }
    // A view that is not hers is one line: its name.
    assert_eq!(
        eqp(&mut lab, "alice", "SELECT * FROM open_notes"),
        "1|0|0|SCAN open_notes"
    );
    assert_eq!(
        eqp(&mut lab, "alice", "SELECT * FROM pub_v"),
        "1|0|0|SCAN pub_v"
    );
    // Hers, over a view that is not: her body, the other view one line.
    assert_eq!(
        eqp(&mut lab, "alice", "SELECT * FROM my_notes"),
        "1|0|0|CO-ROUTINE my_notes;2|1|0|SCAN open_notes;3|0|0|SCAN my_notes"
    );
    // Hers over tables she may read: shown.
    assert_eq!(
        eqp(&mut lab, "alice", "SELECT * FROM my_v"),
        "1|0|0|CO-ROUTINE my_v;2|1|0|SEARCH pub USING INTEGER PRIMARY KEY (rowid>?);3|0|0|SCAN my_v"
    );
    // Hers, but reading a table she may not read (handed to her): the
    // view runs with her rights, so EXPLAIN fails as reading it does.
    let read = lab.refused("alice", "SELECT * FROM gift").to_string();
    let explained = lab
        .refused("alice", "EXPLAIN QUERY PLAN SELECT * FROM gift")
        .to_string();
    assert_eq!(read, explained);
    n.tried();
    // Positive control: root sees the bodies, hidden names included.
    let root = eqp(&mut lab, "root", "SELECT * FROM open_notes");
    assert!(
        root.contains("hidden_tab") && root.contains("secret_pay_idx"),
        "{root}"
    );
}

#[test]
fn row_policies_leave_no_trace_in_plans() {
    let mut lab = lab();
    let mut n = Attacks::new("explain: row policies");
    for sql in [
        "SELECT id FROM secret",
        "SELECT id, note FROM secret WHERE id = 3",
        "SELECT id FROM secret WHERE owner = 'alice'",
        "SELECT id FROM secret ORDER BY id DESC",
        "SELECT (SELECT count(*) FROM secret)",
        "SELECT * FROM pub WHERE id IN (SELECT id FROM secret)",
        "SELECT s.id FROM secret s JOIN pub p ON p.id = s.id",
    ] {
        let out = eqp(&mut lab, "alice", sql);
        assert_nothing_hidden(sql, &out);
        assert!(
            !out.contains("SUBQUERY") || sql.contains("(SELECT"),
            "{sql}: {out}"
        );
        n.tried();
    }
    // The policy's subquery is not a line; the user's own one is.
    assert_eq!(
        eqp(&mut lab, "alice", "SELECT id FROM secret"),
        "1|0|0|SCAN secret"
    );
    assert_eq!(
        eqp(&mut lab, "alice", "SELECT (SELECT count(*) FROM secret)"),
        "1|0|0|SCAN CONSTANT ROW;2|0|0|SCALAR SUBQUERY 1;3|2|0|SCAN secret"
    );
    // Root is not under the policy: no subquery either way (control: the
    // same statement for a user the policy applies to differs only there).
    assert_eq!(
        eqp(&mut lab, "root", "SELECT id FROM secret"),
        "1|0|0|SCAN secret"
    );
}

#[test]
fn explain_is_refused_where_the_query_is() {
    let mut lab = lab();
    let mut n = Attacks::new("explain: refusals");
    for sql in [
        // A column without privilege, directly and through a subquery.
        "EXPLAIN QUERY PLAN SELECT pay FROM secret",
        "EXPLAIN QUERY PLAN SELECT id FROM secret WHERE pay > 100",
        "EXPLAIN QUERY PLAN SELECT id FROM secret ORDER BY pay",
        "EXPLAIN QUERY PLAN SELECT (SELECT max(pay) FROM secret)",
        "EXPLAIN QUERY PLAN SELECT * FROM secret",
        // Hidden objects named directly.
        "EXPLAIN QUERY PLAN SELECT * FROM hidden_tab",
        "EXPLAIN QUERY PLAN SELECT * FROM acl_list",
        "EXPLAIN QUERY PLAN SELECT id FROM pub WHERE id IN (SELECT x FROM hidden_tab)",
        "EXPLAIN QUERY PLAN WITH c AS (SELECT * FROM acl_list) SELECT * FROM c",
    ] {
        lab.denied("alice", sql);
        n.tried();
    }
    // A hidden table and a missing one: the same error.
    let hidden = lab
        .refused("alice", "EXPLAIN QUERY PLAN SELECT * FROM hidden_tab")
        .to_string();
    let missing = lab
        .refused("alice", "EXPLAIN QUERY PLAN SELECT * FROM nosuch_tab")
        .to_string();
    assert_eq!(
        hidden.replace("hidden_tab", "X"),
        missing.replace("nosuch_tab", "X")
    );
    n.tried();
    // A hidden index in INDEXED BY: as a missing one.
    let hidden = lab
        .refused(
            "alice",
            "EXPLAIN QUERY PLAN SELECT id FROM secret INDEXED BY hidden_x_idx",
        )
        .to_string();
    let missing = lab
        .refused(
            "alice",
            "EXPLAIN QUERY PLAN SELECT id FROM secret INDEXED BY nosuch_idx",
        )
        .to_string();
    assert_eq!(
        hidden.replace("hidden_x_idx", "X"),
        missing.replace("nosuch_idx", "X")
    );
    n.tried();
    // Data changes are not explained (and not run).
    for sql in [
        "EXPLAIN QUERY PLAN DELETE FROM pub",
        "EXPLAIN QUERY PLAN UPDATE secret SET note = 'x'",
        "EXPLAIN QUERY PLAN INSERT INTO pub VALUES (9, 'x')",
    ] {
        let e = lab.refused("alice", sql).to_string();
        assert!(e.contains("not supported"), "{sql}: {e}");
        n.tried();
    }
}

#[test]
fn deep_and_wide_plans_end_in_errors_or_lines_not_crashes() {
    let mut lab = lab();
    let mut n = Attacks::new("explain: resource");
    // Nested subqueries as deep as a statement may go: a plan or a clear
    // error, never a crash.
    for depth in [50, 400, 5000] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {}1{}",
            "(SELECT ".repeat(depth),
            ")".repeat(depth)
        );
        match lab.try_run("alice", &sql) {
            Ok(out) => assert!(out.contains("SCALAR SUBQUERY"), "{depth}"),
            Err(e) => assert!(
                e.to_string().contains("too") || e.to_string().contains("deep"),
                "{depth}: {e}"
            ),
        }
        n.tried();
    }
    // Many views of views: each a line, the bodies not shown.
    let mut prev = "pub".to_string();
    for i in 0..20 {
        lab.ok(
            "alice",
            &format!("CREATE VIEW chain{i} AS SELECT * FROM {prev}"),
        );
        prev = format!("chain{i}");
    }
    let out = eqp(&mut lab, "alice", &format!("SELECT * FROM {prev}"));
    assert_eq!(out.matches("CO-ROUTINE").count(), 20, "{out}");
    n.tried();
}
