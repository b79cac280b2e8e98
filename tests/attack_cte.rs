//! Attacks through common table expressions (WITH, WITH RECURSIVE), as an
//! ordinary user (issue 18): a CTE is planned under the session's own
//! rights, so reading through one — plain, recursive, kept (MATERIALIZED),
//! in a view, in INSERT / UPDATE / DELETE — is refused exactly like the
//! same read written as a subquery, row-level security filters the rows it
//! reads, a CTE never changes what a name means inside a view, a row
//! policy or a trigger (they run with their owner's rights), a CTE named
//! like a hidden table is no oracle for that table, and a recursion that
//! would hold unbounded rows stops with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `secret`: alice may read id, owner and note (not pay) of her own rows
/// (a row policy; `shared` lists ids everyone may see too). `pub` is
/// alice's to change. `hidden` is invisible to her. `log` records what
/// root's trigger on `pub` reads from `shared`.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, owner TEXT, pay INTEGER, note TEXT);
INSERT INTO secret VALUES (1, 'alice', 100, 'a1'), (2, 'bob', 900, 'b2'),
                          (3, 'alice', 150, 'a3'), (4, 'bob', 950, 'b4'), (5, 'carol', 500, 'c5');
CREATE TABLE shared (id INTEGER);
INSERT INTO shared VALUES (5);
CREATE TABLE pub (id INTEGER PRIMARY KEY, v);
INSERT INTO pub VALUES (1, 'p1'), (2, 'p2'), (3, 'p3'), (4, 'p4'), (5, 'p5');
CREATE TABLE hidden (x INTEGER);
INSERT INTO hidden VALUES (42);
CREATE TABLE log (n INTEGER);
CREATE TRIGGER pub_log AFTER INSERT ON pub BEGIN INSERT INTO log SELECT count(*) FROM shared; END;
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secret FOR SELECT USING (owner = current_user OR id IN (SELECT id FROM shared));
CREATE VIEW open_notes AS SELECT id, note FROM secret WHERE id IN (SELECT id FROM shared);
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT (id, owner, note) ON secret TO alice;
         GRANT SELECT, INSERT, UPDATE, DELETE ON pub TO alice;
         GRANT SELECT ON open_notes TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab
}

/// Each pair: a read through a CTE, and the same read written with a
/// subquery in FROM (or directly). Both must be refused, the same way.
const SAME_AS_SUBQUERY: &[(&str, &str)] = &[
    // A column without privilege.
    (
        "WITH c AS (SELECT pay FROM secret) SELECT * FROM c",
        "SELECT * FROM (SELECT pay FROM secret)",
    ),
    (
        "WITH c AS (SELECT * FROM secret) SELECT id FROM c",
        "SELECT id FROM (SELECT * FROM secret)",
    ),
    (
        "WITH c(a, b) AS (SELECT id, pay FROM secret) SELECT a FROM c",
        "SELECT a FROM (SELECT id AS a, pay AS b FROM secret)",
    ),
    (
        "WITH c AS (SELECT id FROM secret WHERE pay > 120) SELECT count(*) FROM c",
        "SELECT count(*) FROM secret WHERE pay > 120",
    ),
    (
        "WITH c AS (SELECT id FROM secret) SELECT * FROM c WHERE id IN (SELECT id FROM secret WHERE pay > 0)",
        "SELECT id FROM secret WHERE id IN (SELECT id FROM secret WHERE pay > 0)",
    ),
    (
        "WITH c AS (SELECT id FROM secret), d AS (SELECT pay FROM secret JOIN c USING (id)) SELECT 1 FROM d",
        "SELECT 1 FROM (SELECT pay FROM secret)",
    ),
    (
        "WITH c AS MATERIALIZED (SELECT pay FROM secret) SELECT count(*) FROM c AS x, c AS y",
        "SELECT count(*) FROM (SELECT pay FROM secret)",
    ),
    (
        "WITH c AS NOT MATERIALIZED (SELECT pay FROM secret) SELECT 1 FROM c",
        "SELECT 1 FROM (SELECT pay FROM secret)",
    ),
    (
        "SELECT (WITH c AS (SELECT max(pay) AS m FROM secret) SELECT m FROM c)",
        "SELECT (SELECT max(pay) FROM secret)",
    ),
    // Recursive: in the setup, in the recursive SELECT, in its WHERE.
    (
        "WITH RECURSIVE r(n, p) AS (SELECT id, pay FROM secret UNION ALL SELECT n + 1, p FROM r WHERE n < 3) SELECT n FROM r",
        "SELECT id FROM (SELECT id, pay FROM secret)",
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, secret WHERE secret.pay > n AND n < 3) SELECT * FROM r",
        "SELECT 1 FROM secret WHERE secret.pay > 1",
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT secret.pay FROM secret JOIN r ON secret.id = r.n) SELECT count(*) FROM r",
        "SELECT count(*) FROM (SELECT secret.pay FROM secret)",
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT max(pay) FROM secret)) SELECT count(*) FROM r",
        "SELECT (SELECT max(pay) FROM secret)",
    ),
    // A hidden table.
    (
        "WITH c AS (SELECT * FROM hidden) SELECT 1 FROM c",
        "SELECT 1 FROM (SELECT * FROM hidden)",
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT x FROM hidden UNION ALL SELECT n + 1 FROM r WHERE n < 50) SELECT count(*) FROM r",
        "SELECT count(*) FROM (SELECT x FROM hidden)",
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, hidden WHERE n < 3) SELECT count(*) FROM r",
        "SELECT count(*) FROM hidden",
    ),
    (
        "EXPLAIN WITH c AS (SELECT * FROM hidden) SELECT * FROM c",
        "EXPLAIN SELECT * FROM (SELECT * FROM hidden)",
    ),
];

#[test]
fn reads_through_ctes_are_checked_like_subqueries() {
    let mut n = Attacks::new("cte/privileges like subqueries");
    let mut lab = lab();
    for (cte, plain) in SAME_AS_SUBQUERY {
        let e = lab.denied("alice", cte);
        let f = lab.denied("alice", plain);
        assert_eq!(e.code(), f.code(), "{cte}: {e} / {plain}: {f}");
        // A hidden table is missing, in the user's spelling, either way.
        if f.to_string().contains("no such table") {
            assert_eq!(e.to_string(), f.to_string(), "{cte}");
        }
        for v in ["900", "950", "b2", "b4", "42"] {
            assert!(!e.to_string().contains(v), "{cte}: {e}");
        }
        n.tried();
    }
}

#[test]
fn data_changes_with_ctes_need_the_read_privileges() {
    let mut n = Attacks::new("cte/data changes");
    let mut lab = lab();
    for a in [
        "WITH c AS (SELECT pay FROM secret) INSERT INTO pub (v) SELECT pay FROM c",
        "INSERT INTO pub (v) WITH c AS (SELECT pay FROM secret) SELECT pay FROM c",
        "WITH c AS (SELECT pay FROM secret) UPDATE pub SET v = (SELECT max(pay) FROM c)",
        "WITH c AS (SELECT id FROM secret WHERE pay > 100) DELETE FROM pub WHERE id IN c",
        "WITH c AS (SELECT id FROM secret WHERE pay > 100) DELETE FROM pub WHERE id IN (SELECT id FROM c) RETURNING id",
        "WITH c AS (SELECT 1) UPDATE pub SET v = 'x' WHERE id = 1 RETURNING (SELECT max(pay) FROM secret)",
        "WITH RECURSIVE r(n) AS (SELECT pay FROM secret UNION ALL SELECT n + 1 FROM r WHERE n < 0) INSERT INTO pub (v) SELECT n FROM r",
        "WITH c AS (SELECT x FROM hidden) INSERT INTO pub (v) SELECT x FROM c",
        "WITH c AS (SELECT x FROM hidden) UPDATE pub SET v = 1 WHERE id IN c",
        "WITH c(v) AS (SELECT max(pay) FROM secret) INSERT INTO pub VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = (SELECT v FROM c)",
        // A CTE is never the target: the name means the table.
        "WITH pub AS (SELECT 1 AS id) DELETE FROM secret",
    ] {
        let e = lab.denied("alice", a);
        for v in ["900", "950", "42"] {
            assert!(!e.to_string().contains(v), "{a}: {e}");
        }
        n.tried();
    }
    // Allowed columns work, and the rows read are the policy's.
    lab.ok(
        "alice",
        "WITH c AS (SELECT id FROM secret) DELETE FROM pub WHERE id IN c",
    );
    assert_eq!(lab.root_rows("SELECT id FROM pub ORDER BY id"), "2;4");
    lab.ok(
        "alice",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) \
         UPDATE pub SET v = (SELECT count(*) FROM secret WHERE id IN r) WHERE id = 2",
    );
    assert_eq!(lab.root_rows("SELECT v FROM pub WHERE id = 2"), "3");
    n.tried();
}

#[test]
fn row_level_security_filters_rows_read_through_ctes() {
    let mut n = Attacks::new("cte/row-level security");
    let mut lab = lab();
    let direct = lab.ok("alice", "SELECT id FROM secret ORDER BY id");
    assert_eq!(direct, "1;3;5");
    for q in [
        "WITH c AS (SELECT id FROM secret) SELECT id FROM c ORDER BY id",
        "WITH c AS MATERIALIZED (SELECT id FROM secret) SELECT id FROM c ORDER BY id",
        "WITH c AS (SELECT id FROM secret) SELECT x.id FROM c AS x JOIN c AS y USING (id) ORDER BY 1",
        "WITH c AS (SELECT * FROM (SELECT id FROM secret)) SELECT id FROM c ORDER BY id",
        "SELECT id FROM (WITH c AS (SELECT id FROM secret) SELECT id FROM c) ORDER BY id",
        // Walking ids 1..5 through the table: only visible rows join.
        "WITH RECURSIVE r(id) AS (SELECT 0 UNION ALL SELECT r.id + 1 FROM r WHERE r.id < 5) \
         SELECT secret.id FROM r JOIN secret ON secret.id = r.id ORDER BY 1",
        "WITH RECURSIVE r(id) AS (SELECT min(id) FROM secret UNION \
         SELECT (SELECT min(id) FROM secret WHERE id > r.id) FROM r WHERE r.id IS NOT NULL) \
         SELECT id FROM r WHERE id IS NOT NULL ORDER BY id",
        "WITH RECURSIVE r(id) AS (SELECT id FROM secret UNION SELECT s.id FROM secret AS s, r WHERE s.id = r.id + 2) \
         SELECT id FROM r ORDER BY id",
    ] {
        assert_eq!(lab.ok("alice", q), direct, "{q}");
        n.tried();
    }
    // Counting or probing hidden rows through a recursion finds nothing.
    assert_eq!(
        lab.ok(
            "alice",
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) \
             SELECT count(*) FROM r WHERE EXISTS (SELECT 1 FROM secret WHERE id = n AND owner = 'bob')"
        ),
        "0"
    );
    n.tried();
}

#[test]
fn ctes_never_change_what_views_policies_and_triggers_read() {
    let mut n = Attacks::new("cte/shadowing definer objects");
    let mut lab = lab();
    // The policy reads the real `shared` (id 5), not alice's CTE of that
    // name listing every id.
    for q in [
        "WITH shared(id) AS (SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4) SELECT id FROM secret ORDER BY id",
        "WITH RECURSIVE shared(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM shared WHERE id < 5) \
         SELECT id FROM secret ORDER BY id",
        "WITH shared(id) AS (SELECT 2), c AS (SELECT id FROM secret) SELECT id FROM c ORDER BY id",
        "SELECT id FROM (WITH shared(id) AS (SELECT 4) SELECT id FROM secret) ORDER BY id",
    ] {
        assert_eq!(lab.ok("alice", q), "1;3;5", "{q}");
        n.tried();
    }
    // The view reads the real `secret` and `shared`.
    for q in [
        "WITH secret(id, note) AS (SELECT 2, 'forged') SELECT id, note FROM open_notes",
        "WITH shared(id) AS (SELECT 2) SELECT id, note FROM open_notes",
        "WITH open_notes(id, note) AS (SELECT 9, 'own') SELECT id, note FROM main.open_notes",
    ] {
        assert_eq!(lab.ok("alice", q), "5|c5", "{q}");
        n.tried();
    }
    // A CTE of the view's name is the CTE (SQLite's rule), reading nothing
    // of the view.
    assert_eq!(
        lab.ok(
            "alice",
            "WITH open_notes(id, note) AS (SELECT 9, 'own') SELECT id, note FROM open_notes"
        ),
        "9|own"
    );
    // Root's trigger on pub reads the real `shared` (one row).
    lab.ok(
        "alice",
        "WITH shared(id) AS (SELECT 1 UNION SELECT 2) INSERT INTO pub VALUES (10, 'x')",
    );
    lab.ok(
        "alice",
        "INSERT INTO pub WITH shared(id) AS (SELECT 1 UNION SELECT 2) SELECT 10 + id, 'y' FROM shared",
    );
    assert_eq!(lab.root_rows("SELECT n FROM log"), "1;1;1");
    n.tried();
}

#[test]
fn a_cte_named_like_a_hidden_table_is_no_oracle() {
    let mut n = Attacks::new("cte/hidden names");
    let mut lab = lab();
    // The same statement naming the hidden table and a missing one must
    // answer the same (hidden = missing).
    for tpl in [
        "WITH {} AS (SELECT 1 AS x) SELECT x FROM {}",
        "WITH {} AS (SELECT 1 AS x) SELECT nocol FROM {}",
        "WITH {} AS (SELECT 1 AS x) SELECT x FROM {} WHERE nofn(x)",
        "WITH {} AS (SELECT * FROM {}) SELECT * FROM {}",
        "WITH c AS (SELECT * FROM {}) SELECT 1",
        "WITH c AS (SELECT * FROM {}) SELECT * FROM c",
        "WITH {}(a, b) AS (SELECT 1) SELECT * FROM {}",
        "WITH RECURSIVE {}(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM {} WHERE n < 3) SELECT count(*) FROM {}",
        "WITH RECURSIVE {}(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM {}, {} AS z) SELECT 1 FROM {}",
        "WITH {} AS (SELECT 1 AS x) UPDATE pub SET v = v WHERE id IN {} AND nocol",
        "WITH {} AS (SELECT 1 AS x) SELECT x FROM {} INDEXED BY i",
    ] {
        for (h, m) in [("hidden", "nohide"), ("HIDDEN", "NOHIDE"), ("\"hidden\"", "\"nohide\"")] {
            let outcome = |lab: &mut Lab, name: &str| match lab.try_run("alice", &tpl.replace("{}", name)) {
                Ok(rows) => format!("ok {rows}"),
                Err(e) => format!("{:?}: {}", e.code(), e),
            };
            let a = outcome(&mut lab, h);
            let b = outcome(&mut lab, m);
            let unquote = |s: &str| s.trim_matches('"').to_string();
            assert_eq!(
                a.replace(&unquote(h), "N"),
                b.replace(&unquote(m), "N"),
                "{tpl} with {h} / {m}"
            );
            assert!(!a.contains("42"), "{tpl}: {a}");
            n.tried();
        }
    }
}

#[test]
fn views_with_ctes_are_checked_when_created_and_read() {
    let mut n = Attacks::new("cte/views");
    let mut lab = lab();
    for a in [
        "CREATE VIEW mine AS WITH c AS (SELECT pay FROM secret) SELECT * FROM c",
        "CREATE VIEW mine AS WITH RECURSIVE r(n) AS (SELECT pay FROM secret UNION ALL SELECT n - 1 FROM r WHERE n > 0) SELECT * FROM r",
        "CREATE VIEW mine AS WITH c AS (SELECT * FROM hidden) SELECT * FROM c",
    ] {
        lab.denied("alice", a);
        n.tried();
    }
    // A view of her own over what she may read: RLS applies to its rows.
    lab.ok("alice", "CREATE VIEW plain AS SELECT id FROM secret");
    assert_eq!(lab.ok("alice", "SELECT id FROM plain ORDER BY id"), "1;3;5");
    lab.ok(
        "alice",
        "CREATE VIEW mine AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) \
         SELECT id, note FROM secret JOIN r ON id = n",
    );
    assert_eq!(
        lab.ok("alice", "SELECT id, note FROM mine ORDER BY id"),
        "1|a1;3|a3;5|c5"
    );
    // Another user reads her view with her rights, the policy evaluated
    // for that user (as in PostgreSQL: `current_user` is the reader):
    // only the shared row, nothing her rights do not reach.
    assert_eq!(lab.root_rows("SELECT id FROM mine"), "5");
    n.tried();
}

#[test]
fn a_runaway_recursion_stops_at_its_memory_limit() {
    let mut n = Attacks::new("cte/runaway recursion");
    let mut lab = lab();
    for a in [
        // The queue doubles at every step.
        "WITH RECURSIVE r(x, b) AS (SELECT 1, zeroblob(1048576) UNION ALL \
         SELECT x + 1, b FROM r, (SELECT 1 UNION ALL SELECT 2)) SELECT count(*) FROM r",
        // UNION remembers every row it produced.
        "WITH RECURSIVE r(x, b) AS (SELECT 1, zeroblob(200000) UNION SELECT x + 1, b FROM r) \
         SELECT count(*) FROM r",
        // Kept (named twice): the same limits.
        "WITH RECURSIVE r(x, b) AS (SELECT 1, zeroblob(200000) UNION SELECT x + 1, b FROM r) \
         SELECT count(*) FROM r AS p, r AS q WHERE p.x = q.x",
    ] {
        let e = lab.refused("alice", a);
        assert_eq!(e.code(), ErrorCode::SqlTooComplex, "{a}: {e}");
        assert!(
            e.to_string()
                .contains("recursive common table expression r"),
            "{e}"
        );
        n.tried();
    }
    // Endless, but read under a LIMIT: ends, as in SQLite.
    assert_eq!(
        lab.ok(
            "alice",
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) FROM (SELECT x FROM r LIMIT 1000)"
        ),
        "1000"
    );
    n.tried();
}

#[test]
fn a_kept_cte_too_large_to_keep_streams_with_the_same_rows() {
    let mut n = Attacks::new("cte/kept beyond its limit");
    let mut lab = lab();
    // 80 rows of 1 MiB: more than a kept CTE holds (64 MiB), so each use
    // runs it again; the answer is a small one's.
    let q = "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 80), \
             c AS MATERIALIZED (SELECT x, zeroblob(1048576) AS b FROM g) \
             SELECT (SELECT count(*) FROM c), (SELECT sum(length(b)) FROM c), (SELECT sum(x) FROM c)";
    assert_eq!(lab.ok("alice", q), format!("80|{}|3240", 80 * 1048576));
    n.tried();
}
