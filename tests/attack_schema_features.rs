//! Attacks through generated columns, indexes on expressions and INSTEAD
//! OF triggers on views, as an ordinary user (issue 18). The rule
//! (docs/security.md, "Generated columns and indexes on expressions"): a
//! generated column is part of its table's definition, so reading it needs
//! SELECT on that column only (the table's owner chose what it exposes, as
//! with a view), and nobody writes it; defining an expression over a
//! table's values that is not the owner's — a generated column added by
//! ALTER TABLE, an index's key expressions or WHERE — needs SELECT on
//! every column it reads, since a UNIQUE or NOT NULL failure on it would
//! be an oracle for those values. Row-level security hides rows of
//! generated columns as of any other; grants hang on column ids, so
//! dropping a generated column and adding another with the same name and
//! a new expression carries no grant over. Writing through a view needs
//! the privilege on the view; its INSTEAD OF triggers run with their
//! owners' rights, as every trigger ("Triggers run with their owner's
//! rights").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `staff`: `ssn_last4` and `band` expose what the owner chose of `ssn`
/// and `pay`; alice may read id, owner and ssn_last4 of her own rows,
/// insert her rows and update their pay, and (CREATE on the table) make
/// indexes and alter it. `hidden` is invisible to her.
const SETUP: &str = "
CREATE TABLE staff (id INTEGER PRIMARY KEY, owner TEXT, ssn TEXT, pay INTEGER,
                    ssn_last4 TEXT AS (substr(ssn, -4)) VIRTUAL,
                    band TEXT GENERATED ALWAYS AS (CASE WHEN pay > 500 THEN 'high' ELSE 'low' END) STORED,
                    pay2 INTEGER AS (pay * 2));
INSERT INTO staff (owner, ssn, pay) VALUES ('alice', '111-22-3333', 100), ('bob', '444-55-6666', 900),
                                           ('alice', '777-88-9999', 150), ('carol', '000-11-2222', 500);
CREATE TABLE hidden (x INTEGER, s TEXT);
INSERT INTO hidden VALUES (42, 'top');
ALTER TABLE staff ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_read ON staff FOR SELECT USING (owner = current_user);
CREATE POLICY own_write ON staff FOR INSERT WITH CHECK (owner = current_user);
CREATE POLICY own_update ON staff FOR UPDATE USING (owner = current_user);
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT (id, owner, ssn_last4) ON staff TO alice;
         GRANT INSERT (owner, ssn, pay), UPDATE (pay) ON staff TO alice;
         GRANT CREATE ON staff TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab
}

/// Values alice must never see: the other rows' and the hidden columns'.
const SECRETS: &[&str] = &[
    "444-55-6666",
    "111-22",
    "900",
    "1800",
    "6666",
    "high",
    "2222",
    "42",
    "top",
];

fn no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what}: {text} reveals {s}");
    }
}

#[test]
fn a_generated_column_is_read_with_its_own_privilege_only() {
    let mut n = Attacks::new("generated/column privileges");
    let mut lab = lab();
    // What the owner exposed: the last four digits of her own rows.
    assert_eq!(
        lab.ok("alice", "SELECT id, ssn_last4 FROM staff ORDER BY id"),
        "1|3333;3|9999"
    );
    n.tried();
    // Every place that would read a generated column she holds no
    // SELECT on, or the columns behind the one she does.
    for a in [
        "SELECT band FROM staff",
        "SELECT pay2 FROM staff",
        "SELECT ssn FROM staff",
        "SELECT * FROM staff",
        "SELECT id FROM staff WHERE band = 'high'",
        "SELECT id FROM staff WHERE pay2 > 1000",
        "SELECT id FROM staff ORDER BY band",
        "SELECT count(*) FROM staff GROUP BY band",
        "SELECT id FROM staff WHERE ssn_last4 = substr(ssn, -4)",
        "SELECT (SELECT max(pay2) FROM staff)",
        "SELECT id, sum(pay2) OVER () FROM staff",
        "WITH c AS (SELECT band FROM staff) SELECT * FROM c",
        "CREATE VIEW leak AS SELECT band FROM staff",
        "UPDATE staff SET pay = pay WHERE band = 'low'",
        "UPDATE staff SET pay = 1 RETURNING band",
        "UPDATE staff SET pay = pay2 WHERE id = 1",
        "INSERT INTO staff (owner, ssn, pay) VALUES ('alice', 'x', 1) RETURNING pay2",
        "DELETE FROM staff WHERE pay2 = 200",
        "SELECT id FROM staff WHERE band IN (SELECT s FROM hidden)",
    ] {
        let e = lab.denied("alice", a);
        no_secret(a, &e.to_string());
        n.tried();
    }
}

#[test]
fn a_generated_column_cannot_be_written_by_anyone() {
    let mut n = Attacks::new("generated/writes");
    let mut lab = lab();
    lab.as_root("GRANT INSERT, UPDATE ON staff TO alice");
    for a in [
        "INSERT INTO staff (owner, ssn, pay, band) VALUES ('alice', 'x', 1, 'low')",
        "INSERT INTO staff (owner, ssn, pay, ssn_last4) VALUES ('alice', 'x', 1, '0000')",
        "INSERT INTO staff VALUES (9, 'alice', 'x', 1, '0000', 'low', 2)",
        "UPDATE staff SET band = 'high' WHERE id = 1",
        "UPDATE staff SET pay = 1, pay2 = 5 WHERE id = 1",
        "INSERT INTO staff (id, owner, ssn, pay) VALUES (1, 'alice', 'x', 1) ON CONFLICT (id) DO UPDATE SET band = 'x'",
    ] {
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("generated column") || e.to_string().contains("values were supplied"), "{a}: {e}");
        n.tried();
    }
    // Root cannot either: the value is the expression's, always.
    for a in [
        "UPDATE staff SET band = 'low'",
        "INSERT INTO staff (owner, ssn, pay, band) VALUES ('x', 'x', 1, 'low')",
    ] {
        lab.refused("root", a);
        n.tried();
    }
    // Without a column list her values go to the columns she may write
    // (all but the generated ones): allowed with INSERT on those only.
    lab.as_root("REVOKE INSERT, UPDATE ON staff FROM alice");
    lab.as_root("GRANT INSERT (id, owner, ssn, pay), UPDATE (pay) ON staff TO alice");
    lab.ok(
        "alice",
        "INSERT INTO staff VALUES (9, 'alice', '123-45-0009', 10)",
    );
    assert_eq!(
        lab.root_rows("SELECT ssn_last4, band, pay2 FROM staff WHERE id = 9"),
        "0009|low|20"
    );
    lab.as_root("DELETE FROM staff WHERE id = 9");
    n.tried();
    // Writing the inputs she may write recomputes them, within her rows.
    lab.ok("alice", "UPDATE staff SET pay = 700 WHERE id = 1");
    assert_eq!(
        lab.root_rows("SELECT band, pay2 FROM staff WHERE id = 1"),
        "high|1400"
    );
    assert_eq!(lab.root_rows("SELECT band FROM staff WHERE id = 2"), "high");
    n.tried();
}

#[test]
fn row_level_security_hides_generated_values_of_hidden_rows() {
    let mut n = Attacks::new("generated/row-level security");
    let mut lab = lab();
    for (sql, want) in [
        ("SELECT count(*) FROM staff", "2"),
        ("SELECT group_concat(ssn_last4) FROM staff", "3333,9999"),
        ("SELECT id FROM staff WHERE ssn_last4 = '6666'", ""),
        ("SELECT id FROM staff WHERE ssn_last4 > '0'", "1;3"),
    ] {
        assert_eq!(lab.ok("alice", sql), want, "{sql}");
        n.tried();
    }
    // Her UPDATE cannot reach bob's row to recompute it either.
    lab.ok("alice", "UPDATE staff SET pay = 1");
    assert_eq!(
        lab.root_rows("SELECT pay, pay2 FROM staff WHERE id = 2"),
        "900|1800"
    );
    n.tried();
}

#[test]
fn an_expression_over_values_she_cannot_read_is_refused() {
    let mut n = Attacks::new("generated+index/definitions");
    let mut lab = lab();
    // She holds CREATE on the table (indexes, ALTER), but no SELECT on
    // ssn or pay: a UNIQUE index or a NOT NULL generated column over them
    // would tell her whether hidden values are equal or what they are.
    for a in [
        "CREATE UNIQUE INDEX o1 ON staff (pay > 500)",
        "CREATE UNIQUE INDEX o2 ON staff (substr(ssn, 1, 3))",
        "CREATE INDEX o4 ON staff (owner) WHERE pay > 500",
        "CREATE UNIQUE INDEX o5 ON staff (owner, band || '')",
        "CREATE UNIQUE INDEX o6 ON staff (lower(owner) || ssn)",
        "CREATE INDEX o7 ON staff ((pay2 + 0) COLLATE NOCASE DESC)",
        "ALTER TABLE staff ADD COLUMN leak AS (CASE WHEN pay > 500 THEN NULL ELSE 1 END) NOT NULL",
        "ALTER TABLE staff ADD COLUMN leak AS (ssn)",
        "ALTER TABLE staff ADD COLUMN leak AS (band || '')",
    ] {
        let e = lab.denied("alice", a);
        no_secret(a, &e.to_string());
        n.tried();
    }
    // Over what she may read, the same is allowed.
    lab.ok("alice", "CREATE INDEX ok1 ON staff (lower(owner))");
    lab.ok("alice", "ALTER TABLE staff ADD COLUMN up AS (upper(owner))");
    n.tried();
    // A hidden table stays missing; a subquery or another table's column
    // in an expression is refused before anything is read.
    for a in [
        "CREATE INDEX h1 ON hidden (x + 1)",
        "ALTER TABLE hidden ADD COLUMN y AS (x)",
    ] {
        let e = lab.denied("alice", a);
        assert!(e.to_string().contains("no such table: hidden"), "{a}: {e}");
        n.tried();
    }
    for a in [
        "CREATE TABLE mine (a, g AS ((SELECT x FROM hidden)))",
        "CREATE TABLE mine (a, g AS (hidden.x))",
        "CREATE TABLE mine (a, g AS (staff.pay))",
        "CREATE TABLE mine (a, g AS (a IN (SELECT pay FROM staff)))",
        "CREATE INDEX m1 ON staff ((SELECT x FROM hidden))",
        "CREATE INDEX m2 ON staff (owner IN (SELECT s FROM hidden))",
    ] {
        let e = lab.refused("alice", a);
        no_secret(a, &e.to_string());
        n.tried();
    }
}

#[test]
fn a_grant_on_a_generated_column_does_not_survive_its_redefinition() {
    let mut n = Attacks::new("generated/identities");
    let mut lab = lab();
    assert_eq!(
        lab.ok("alice", "SELECT ssn_last4 FROM staff WHERE id = 1"),
        "3333"
    );
    // The owner drops it and adds one with the same name exposing all of
    // ssn: alice's grant was on the old column's id, not on the name.
    lab.as_root(
        "ALTER TABLE staff DROP COLUMN ssn_last4;
         ALTER TABLE staff ADD COLUMN ssn_last4 AS (ssn)",
    );
    let e = lab.denied("alice", "SELECT ssn_last4 FROM staff WHERE id = 1");
    no_secret("redefined", &e.to_string());
    n.tried();
    // Renaming a column a generated column reads is refused (the
    // expression would read another column), not silently rebound.
    lab.as_root("CREATE TABLE r (a, b, g AS (a))");
    let e = lab.refused("root", "ALTER TABLE r RENAME COLUMN a TO z");
    assert!(e.to_string().contains("not supported"), "{e}");
    lab.as_root("ALTER TABLE r RENAME COLUMN b TO c");
    n.tried();
}

#[test]
fn introspection_and_errors_name_no_hidden_value() {
    let mut n = Attacks::new("generated+index/introspection and errors");
    let mut lab = lab();
    lab.as_root(
        "CREATE UNIQUE INDEX staff_last4 ON staff (ssn_last4);
         CREATE UNIQUE INDEX staff_payband ON staff (pay / 10, owner)",
    );
    // A UNIQUE failure names the index, never a value.
    let e = lab.refused(
        "alice",
        "INSERT INTO staff (owner, ssn, pay) VALUES ('alice', '999-99-6666', 1)",
    );
    assert_eq!(e.code(), ErrorCode::SqlConstraint, "{e}");
    no_secret("unique on generated", &e.to_string());
    n.tried();
    let e = lab.refused(
        "alice",
        "INSERT INTO staff (owner, ssn, pay) VALUES ('alice', '1', 101)",
    );
    assert!(e.to_string().contains("index 'staff_payband'"), "{e}");
    no_secret("unique on expression", &e.to_string());
    n.tried();
    // The pragmas show her the table's shape (she may see the table), an
    // expression key as cid -2 without its text; a hidden table's nothing.
    let xinfo = lab.ok(
        "alice",
        "SELECT name, hidden FROM pragma_table_xinfo('staff')",
    );
    assert!(
        xinfo.contains("ssn_last4|2") && xinfo.contains("band|3"),
        "{xinfo}"
    );
    let info = lab.ok(
        "alice",
        "SELECT group_concat(name) FROM pragma_table_info('staff')",
    );
    assert_eq!(
        info, "id,owner,ssn,pay",
        "generated columns are hidden in table_info"
    );
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT cid, name FROM pragma_index_info('staff_payband')"
        ),
        "-2|NULL;1|owner"
    );
    assert_eq!(lab.ok("alice", "PRAGMA table_xinfo(hidden)"), "");
    n.tried();
    // EXPLAIN shows an expression key as <expr>, and only for tables she
    // may read through.
    let plan = lab.ok("root", "EXPLAIN SELECT id FROM staff WHERE pay / 10 = 10");
    assert!(
        plan.contains("USING INDEX staff_payband (<expr>=?)"),
        "{plan}"
    );
    n.tried();
}

#[test]
fn the_planner_reads_an_expression_index_only_for_its_expression() {
    let mut n = Attacks::new("index/planner");
    let mut lab = lab();
    lab.as_root(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, a INT, b INT);
         INSERT INTO p (name, a, b) VALUES ('Alice', 1, 2), ('bob', 3, 4), (NULL, 5, 6);
         CREATE INDEX p_lower ON p (lower(name));
         CREATE INDEX p_sum ON p (a + b);",
    );
    for (sql, uses) in [
        (
            "SELECT id FROM p WHERE lower(name) = 'alice'",
            Some("p_lower"),
        ),
        (
            "SELECT id FROM p WHERE lower(p.name) IN ('alice', 'bob')",
            Some("p_lower"),
        ),
        ("SELECT id FROM p WHERE a + b > 3", Some("p_sum")),
        // Not the same expression: no index (SQLite needs it exact).
        ("SELECT id FROM p WHERE b + a > 3", None),
        ("SELECT id FROM p WHERE upper(name) = 'ALICE'", None),
        // A comparison that would convert the probe: not served.
        (
            "SELECT id FROM p WHERE lower(name) = 'alice' COLLATE NOCASE",
            None,
        ),
    ] {
        let plan = lab.ok("root", &format!("EXPLAIN {sql}"));
        match uses {
            Some(i) => assert!(plan.contains(&format!("USING INDEX {i}")), "{sql}: {plan}"),
            None => assert!(!plan.contains("USING INDEX"), "{sql}: {plan}"),
        }
        n.tried();
    }
}

#[test]
fn deep_or_long_expressions_fail_cleanly() {
    let mut n = Attacks::new("generated+index/resource limits");
    let mut lab = lab();
    // Nesting deeper than the parser allows: an error, no crash.
    let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
    for a in [
        format!("CREATE TABLE d1 (a, g AS ({deep}))"),
        format!("CREATE INDEX d2 ON staff (({deep}))"),
    ] {
        lab.refused("alice", &a);
        n.tried();
    }
    // A long chain of generated columns, each reading the one before.
    let mut cols = vec!["c0".to_string()];
    for i in 1..300 {
        cols.push(format!("c{i} AS (c{} + 1)", i - 1));
    }
    lab.ok(
        "alice",
        &format!("CREATE TABLE chain ({})", cols.join(", ")),
    );
    lab.ok("alice", "INSERT INTO chain (c0) VALUES (1)");
    assert_eq!(lab.ok("alice", "SELECT c299 FROM chain"), "300");
    n.tried();
    // A loop, however long, is refused when the table is made.
    let mut cols = vec!["x".to_string()];
    for i in 0..200 {
        cols.push(format!("l{i} AS (l{} + 1)", (i + 1) % 200));
    }
    let e = lab.refused("alice", &format!("CREATE TABLE lp ({})", cols.join(", ")));
    assert!(e.to_string().contains("generated column loop"), "{e}");
    n.tried();
}

/// Views over `staff` with INSTEAD OF triggers made by root: `names`
/// lets writes through to `staff`; alice holds only what is granted.
fn view_lab() -> Lab {
    let mut lab = lab();
    lab.user("bob");
    lab.as_root(
        "CREATE VIEW names AS SELECT id, owner, pay FROM staff;
         CREATE TABLE audit_log (who TEXT, what TEXT, v);
         CREATE TRIGGER names_ins INSTEAD OF INSERT ON names BEGIN
           INSERT INTO staff (id, owner, ssn, pay) VALUES (NEW.id, NEW.owner, 'n/a', NEW.pay);
           INSERT INTO audit_log VALUES (session_user, 'ins', NEW.id);
         END;
         CREATE TRIGGER names_upd INSTEAD OF UPDATE OF pay ON names BEGIN
           UPDATE staff SET pay = NEW.pay WHERE id = OLD.id;
         END;
         CREATE TRIGGER names_del INSTEAD OF DELETE ON names BEGIN
           DELETE FROM staff WHERE id = OLD.id;
         END;",
    );
    lab
}

#[test]
fn writing_through_a_view_needs_the_privilege_on_the_view() {
    let mut n = Attacks::new("instead-of/privileges on the view");
    let mut lab = view_lab();
    // Nothing on the view: every write is refused, nothing fires.
    for a in [
        "INSERT INTO names VALUES (20, 'alice', 1)",
        "UPDATE names SET pay = 1",
        "DELETE FROM names",
        "DELETE FROM names WHERE id = 2",
    ] {
        lab.denied("alice", a);
        n.tried();
    }
    // INSERT on the view only: the trigger writes staff and audit_log
    // with its owner's rights (she holds nothing on audit_log).
    lab.as_root("GRANT INSERT ON names TO alice");
    lab.ok("alice", "INSERT INTO names VALUES (20, 'alice', 1)");
    assert_eq!(
        lab.root_rows("SELECT who, what, v FROM audit_log"),
        "alice|ins|20"
    );
    n.tried();
    // UPDATE on one column of the view: its WHERE may read only what she
    // may SELECT of the view; SET only the granted column.
    lab.as_root("GRANT UPDATE (pay), SELECT (id) ON names TO alice");
    for a in [
        "UPDATE names SET pay = 1 WHERE pay > 500",
        "UPDATE names SET pay = pay + 1 WHERE id = 2",
        "UPDATE names SET owner = 'alice' WHERE id = 2",
        "DELETE FROM names WHERE id = 2",
        "INSERT INTO names SELECT id + 100, owner, pay FROM names",
    ] {
        let e = lab.denied("alice", a);
        no_secret(a, &e.to_string());
        n.tried();
    }
    lab.ok("alice", "UPDATE names SET pay = 7 WHERE id = 20");
    assert_eq!(lab.root_rows("SELECT pay FROM staff WHERE id = 20"), "7");
    n.tried();
    // RETURNING on a view is refused before anything runs.
    lab.refused(
        "alice",
        "INSERT INTO names VALUES (21, 'alice', 1) RETURNING id",
    );
    n.tried();
}

#[test]
fn an_instead_of_trigger_runs_with_its_owners_rights() {
    let mut n = Attacks::new("instead-of/definer rights");
    let mut lab = view_lab();
    // Alice may make views (CREATE on the database) over what she reads,
    // and triggers on her own views; the body runs as alice, so writing
    // staff (no INSERT on ssn... she has it) or reading hidden fails when
    // it fires, whoever fires it.
    lab.ok("alice", "CREATE VIEW mine AS SELECT id, owner FROM staff");
    lab.ok(
        "alice",
        "CREATE TRIGGER mine_ins INSTEAD OF INSERT ON mine BEGIN
           INSERT INTO staff (owner, ssn, pay) SELECT NEW.owner, s, x FROM hidden;
         END",
    );
    lab.ok("alice", "GRANT INSERT ON mine TO bob");
    for who in ["alice", "bob", "root"] {
        let e = lab.refused(who, "INSERT INTO mine VALUES (1, 'alice')");
        no_secret(who, &e.to_string());
        n.tried();
    }
    // A trigger on another's view needs TRIGGER on it; on a hidden view
    // it is missing; BEFORE/AFTER on a view and INSTEAD OF on a table are
    // refused whatever the rights.
    let e = lab.denied(
        "alice",
        "CREATE TRIGGER steal INSTEAD OF UPDATE ON names BEGIN INSERT INTO audit_log VALUES (1, OLD.pay, NEW.pay); END",
    );
    no_secret("trigger on names", &e.to_string());
    n.tried();
    lab.as_root("CREATE VIEW secret_view AS SELECT * FROM hidden");
    let e = lab.denied(
        "alice",
        "CREATE TRIGGER s INSTEAD OF DELETE ON secret_view BEGIN SELECT 1; END",
    );
    assert!(e.to_string().contains("no such table"), "{e}");
    n.tried();
    for a in [
        "CREATE TRIGGER b BEFORE INSERT ON mine BEGIN SELECT 1; END",
        "CREATE TRIGGER b INSTEAD OF INSERT ON staff BEGIN SELECT 1; END",
    ] {
        lab.refused("alice", a);
        n.tried();
    }
    // Her trigger reading OLD columns of her view she may read works,
    // fired by bob; it cannot reach values beyond its owner's rights.
    lab.ok("alice", "CREATE TABLE seen (id, owner)");
    lab.ok(
        "alice",
        "CREATE TRIGGER mine_del INSTEAD OF DELETE ON mine BEGIN INSERT INTO seen VALUES (OLD.id, OLD.owner); END",
    );
    lab.ok("alice", "GRANT DELETE, SELECT ON mine TO bob");
    lab.ok("bob", "DELETE FROM mine WHERE id > 0");
    // The trigger saw exactly the rows reading the view shows bob (the
    // view reads as its owner; the policy's current_user is bob's).
    let shown = lab.ok("bob", "SELECT id, owner FROM mine ORDER BY id");
    assert_eq!(
        lab.ok("alice", "SELECT id, owner FROM seen ORDER BY id"),
        shown
    );
    assert!(!shown.contains("carol"), "{shown}");
    assert_eq!(lab.root_rows("SELECT count(*) FROM staff"), "4");
    n.tried();
}

#[test]
fn instead_of_trigger_loops_stop() {
    let mut n = Attacks::new("instead-of/loops");
    let mut lab = view_lab();
    // A view whose trigger inserts into itself: recursive triggers are
    // off, so it does not fire again; two views feeding each other stop
    // at the trigger depth limit or the recursion rule, never hang.
    for sql in [
        "CREATE TABLE sink (x)",
        "CREATE VIEW a1 AS SELECT x FROM sink",
        "CREATE VIEW a2 AS SELECT x FROM sink",
        "CREATE TRIGGER a1_ins INSTEAD OF INSERT ON a1 BEGIN INSERT INTO sink VALUES (NEW.x); INSERT INTO a2 VALUES (NEW.x + 1); END",
        "CREATE TRIGGER a2_ins INSTEAD OF INSERT ON a2 BEGIN INSERT INTO a1 VALUES (NEW.x + 1); END",
    ] {
        lab.ok("alice", sql);
    }
    lab.ok("alice", "INSERT INTO a1 VALUES (1)");
    assert_eq!(lab.ok("alice", "SELECT group_concat(x) FROM sink"), "1");
    n.tried();
}
