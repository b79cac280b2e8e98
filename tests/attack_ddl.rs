//! Attacks through ALTER TABLE RENAME and the table-valued `json_each` /
//! `json_tree`, as an ordinary user (issue 18):
//!
//! - a rename needs the right to alter the table; a hidden table is
//!   missing (the same error as one that does not exist);
//! - a rename rewrites the views and triggers that name what it renames,
//!   so they go on reading and writing exactly the same tables and
//!   columns (by id): renaming one's own table or columns, then creating
//!   new ones under the old names, never turns another user's definer
//!   view or trigger onto them; a shadowing CTE is left alone; a rename
//!   that would change a view's meaning (make a name ambiguous) is
//!   refused without naming a view the renamer may not see;
//! - grants and row policies follow the table and column across renames;
//! - `json_each` reads only its arguments, checked as any expression: a
//!   column without privilege, a hidden table, rows a policy hides are
//!   out of reach; deep or huge documents fail cleanly or stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

/// `t`: alice may read id and pub. `docs`: alice may read id and body, not
/// private. `hidden` is invisible to her. She may create tables.
const SETUP: &str = r#"
CREATE TABLE t (id INTEGER PRIMARY KEY, pub TEXT, secret TEXT);
INSERT INTO t VALUES (1, 'p1', 's1'), (2, 'p2', 's2');
CREATE TABLE hidden (x INTEGER, y TEXT);
INSERT INTO hidden VALUES (42, '["h"]');
CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, private TEXT);
INSERT INTO docs VALUES (1, '{"a":[1,2]}', '{"pin":"1234"}'), (2, '{"a":[3]}', '{"pin":"9999"}');
CREATE TABLE log (v TEXT);
"#;

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root(
        "GRANT SELECT (id, pub) ON t TO alice;
         GRANT SELECT (id, body) ON docs TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab
}

#[test]
fn rename_needs_the_right_and_hidden_tables_are_missing() {
    let mut n = Attacks::new("ddl/rename by a non-owner");
    let mut lab = lab();
    for a in [
        "ALTER TABLE t RENAME TO t2",
        "ALTER TABLE t RENAME COLUMN secret TO pub2",
        "ALTER TABLE t RENAME COLUMN pub TO p",
        "ALTER TABLE log RENAME TO mine",
        "ALTER TABLE docs RENAME COLUMN private TO body2",
    ] {
        lab.denied("alice", a);
        n.tried();
    }
    for a in [
        "ALTER TABLE hidden RENAME TO h2",
        "ALTER TABLE hidden RENAME COLUMN x TO z",
    ] {
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("no such table: hidden"), "{a}: {e}");
        let e2 = lab.refused("alice", &a.replace("hidden", "nosuch"));
        assert_eq!(
            e.to_string().replace("hidden", "X"),
            e2.to_string().replace("nosuch", "X"),
            "{a}"
        );
        n.tried();
    }
    // Renaming one's own table onto a name in use fails whatever the name.
    lab.ok("alice", "CREATE TABLE mine (k INTEGER)");
    lab.refused("alice", "ALTER TABLE mine RENAME TO t");
    n.tried();
}

#[test]
fn renames_keep_definer_views_on_what_they_read() {
    let mut n = Attacks::new("ddl/rename and another user's views");
    let mut lab = lab();
    lab.ok("alice", "CREATE TABLE mine (k INTEGER, v TEXT)");
    lab.ok("alice", "INSERT INTO mine VALUES (1, 'old')");
    // root's views over alice's table, granted to bob; one has a CTE
    // named like alice's table.
    lab.as_root(
        "CREATE VIEW rv AS SELECT m.k, m.v FROM mine AS m;
         CREATE VIEW cv AS WITH mine AS (SELECT secret FROM t) SELECT count(*) AS n FROM mine;
         GRANT SELECT ON rv TO bob; GRANT SELECT ON cv TO bob",
    );
    assert_eq!(lab.ok("bob", "SELECT v FROM rv"), "old");
    // alice renames her table and columns away and plants new ones under
    // the old names: the view still reads the table it was made on.
    lab.ok("alice", "ALTER TABLE mine RENAME COLUMN v TO w");
    lab.ok("alice", "ALTER TABLE mine RENAME TO mine_old");
    lab.ok("alice", "CREATE TABLE mine (k INTEGER, v TEXT)");
    lab.ok("alice", "INSERT INTO mine VALUES (1, 'planted')");
    assert_eq!(lab.ok("bob", "SELECT w FROM rv"), "old");
    lab.refused("bob", "SELECT v FROM rv");
    n.tried();
    n.tried();
    // The CTE shadowing the name was left alone: still root's count.
    assert_eq!(lab.ok("bob", "SELECT n FROM cv"), "2");
    assert!(lab
        .root_rows("SELECT sql FROM sqlite_schema WHERE name = 'cv'")
        .contains("WITH mine AS"));
    n.tried();
    // A rename that would make a root view's name ambiguous (and so
    // change or break it) is refused, naming nothing alice may not see.
    lab.as_root(
        "CREATE TABLE rt (a INTEGER); INSERT INTO rt VALUES (7);
         CREATE VIEW hv AS SELECT a FROM rt, mine_old",
    );
    let e = lab.refused("alice", "ALTER TABLE mine_old RENAME COLUMN w TO a");
    let msg = e.to_string();
    assert!(msg.contains("may not see"), "{msg}");
    assert!(!msg.contains("hv") && !msg.contains("rt"), "{msg}");
    assert_eq!(lab.root_rows("SELECT a FROM hv"), "7");
    n.tried();
    // root sees the view and is told which one.
    let e = lab
        .root
        .execute("ALTER TABLE mine_old RENAME COLUMN w TO a", &[]);
    let msg = e.unwrap_err().to_string();
    assert!(msg.contains("error in view hv"), "{msg}");
    n.tried();
}

#[test]
fn renames_keep_definer_triggers_on_what_they_write() {
    let mut n = Attacks::new("ddl/rename and another user's triggers");
    let mut lab = lab();
    lab.ok("alice", "CREATE TABLE inbox (v TEXT)");
    // root's trigger copies t.pub into alice's inbox on every update.
    lab.as_root(
        "CREATE TRIGGER copy AFTER UPDATE ON t BEGIN INSERT INTO inbox (v) VALUES (new.pub); END",
    );
    lab.as_root("UPDATE t SET pub = 'u1' WHERE id = 1");
    assert_eq!(lab.ok("alice", "SELECT v FROM inbox"), "u1");
    // alice renames her table and its column and plants a new inbox: the
    // trigger keeps writing the same table and column.
    lab.ok("alice", "ALTER TABLE inbox RENAME COLUMN v TO w");
    lab.ok("alice", "ALTER TABLE inbox ADD COLUMN v TEXT");
    lab.ok("alice", "ALTER TABLE inbox RENAME TO inbox_old");
    lab.ok("alice", "CREATE TABLE inbox (v TEXT)");
    lab.as_root("UPDATE t SET pub = 'u2' WHERE id = 1");
    assert_eq!(
        lab.ok("alice", "SELECT w, v FROM inbox_old ORDER BY w"),
        "u1|NULL;u2|NULL"
    );
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM inbox"), "0");
    n.tried();
    n.tried();
    n.tried();
    // The trigger's owner (root) is unchanged: alice cannot drop it.
    lab.refused("alice", "DROP TRIGGER copy");
    n.tried();
}

#[test]
fn grants_and_policies_follow_renames() {
    let mut n = Attacks::new("ddl/rename keeps grants and policies");
    let mut lab = lab();
    lab.as_root(
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
         CREATE POLICY first ON docs FOR SELECT USING (id = 1)",
    );
    assert_eq!(lab.ok("alice", "SELECT id FROM docs"), "1");
    lab.as_root("ALTER TABLE docs RENAME TO docs2");
    lab.as_root("ALTER TABLE docs2 RENAME COLUMN body TO content");
    lab.as_root("ALTER TABLE docs2 RENAME COLUMN private TO body");
    // The column grant followed `body` (now `content`); the new `body` is
    // the old private column, still unreadable; the policy still filters.
    assert_eq!(
        lab.ok("alice", "SELECT id, content FROM docs2"),
        "1|{\"a\":[1,2]}"
    );
    lab.denied("alice", "SELECT body FROM docs2");
    lab.denied("alice", "SELECT * FROM docs2");
    n.tried();
    n.tried();
    // A column the policy names cannot be renamed under it.
    let e = lab
        .root
        .execute("ALTER TABLE docs2 RENAME COLUMN id TO ident", &[])
        .unwrap_err();
    assert!(e.to_string().contains("policy first"), "{e}");
    n.tried();
}

#[test]
fn json_each_reads_only_what_its_arguments_may() {
    let mut n = Attacks::new("ddl/json_each and json_tree");
    let mut lab = lab();
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT value FROM docs, json_each(docs.body, '$.a') ORDER BY value"
        ),
        "1;2;3"
    );
    for a in [
        "SELECT * FROM docs, json_each(docs.private)",
        "SELECT key FROM docs, json_tree(docs.private) WHERE 0",
        "SELECT * FROM json_each((SELECT private FROM docs WHERE id = 1))",
        "SELECT d.id FROM docs AS d JOIN json_each(d.private) AS j ON j.key = 'pin'",
        "SELECT (SELECT count(*) FROM json_each(private)) FROM docs",
        "SELECT id FROM docs WHERE EXISTS (SELECT 1 FROM json_tree(docs.private) WHERE atom = '1234')",
        "SELECT * FROM t, json_each(json_array(t.secret))",
        "SELECT * FROM t, json_each('[1]', t.secret)",
    ] {
        lab.denied("alice", a);
        n.tried();
    }
    // A hidden table inside the argument is missing.
    for a in [
        "SELECT * FROM json_each((SELECT y FROM hidden))",
        "SELECT * FROM hidden, json_each(hidden.y)",
    ] {
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("no such table: hidden"), "{e}");
        n.tried();
    }
    // Rows a policy hides are never walked.
    lab.as_root(
        "GRANT SELECT ON docs TO alice;
         ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
         CREATE POLICY first ON docs FOR SELECT USING (id = 1)",
    );
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT j.atom FROM docs, json_tree(docs.private) AS j WHERE j.key = 'pin'"
        ),
        "1234"
    );
    n.tried();
}

#[test]
fn json_each_bad_input_fails_cleanly() {
    let mut n = Attacks::new("ddl/json_each resource limits");
    let mut lab = lab();
    // Nesting past SQLite's limit: an error, not a crash.
    for depth in [1001usize, 100_000] {
        let doc = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let e = lab.refused("alice", &format!("SELECT count(*) FROM json_tree('{doc}')"));
        assert!(e.to_string().contains("malformed JSON"), "{e}");
        n.tried();
    }
    // The deepest allowed nesting walks.
    let doc = format!("{}{}", "[".repeat(999), "]".repeat(999));
    assert_eq!(
        lab.ok(
            "alice",
            &format!("SELECT count(*), max(length(fullkey)) FROM json_tree('{doc}')")
        ),
        "999|2995"
    );
    n.tried();
    // A large document streams (rows are made as they are pulled).
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT count(*), sum(value) FROM json_each('[' || replace(hex(zeroblob(50000)), '00', '1,') || '1]')"
        ),
        "50001|50001"
    );
    n.tried();
    // Malformed JSON, a bad path, too many arguments: clear errors.
    for a in [
        "SELECT * FROM json_each('{')",
        "SELECT * FROM json_each('[1]', 'x')",
        "SELECT * FROM json_each('[1]', '$', 1)",
        "SELECT * FROM json_each(x'ff')",
    ] {
        lab.refused("alice", a);
        n.tried();
    }
}

/// `DROP ... IF EXISTS` of something missing succeeds for an ordinary
/// user, as in SQLite and PostgreSQL (a migration script that drops and
/// recreates its tables runs twice), and one the user may not see is
/// skipped exactly like a missing one: nothing dropped, nothing told, the
/// refusal audited. Without IF EXISTS both are "no such table".
#[test]
fn drop_if_exists_skips_missing_and_hidden_alike() {
    let mut lab = lab();
    let mut n = Attacks::new("ddl/drop if exists");
    let script = "DROP TABLE IF EXISTS mig; DROP VIEW IF EXISTS mig_v;
                  DROP INDEX IF EXISTS mig_i; DROP TRIGGER IF EXISTS mig_t;
                  CREATE TABLE mig (a INTEGER); CREATE INDEX mig_i ON mig (a);
                  CREATE VIEW mig_v AS SELECT a FROM mig;
                  CREATE TRIGGER mig_t AFTER INSERT ON mig BEGIN SELECT 1; END;
                  INSERT INTO mig VALUES (1)";
    for _ in 0..3 {
        let s = lab.s("alice");
        s.run_script(script, |_, _| {})
            .unwrap_or_else(|e| panic!("migration script: {e}"));
        assert_eq!(lab.ok("alice", "SELECT count(*) FROM mig_v"), "1");
    }
    for missing in ["nothing", "hidden"] {
        let mark = lab.mark();
        for sql in [
            "DROP TABLE IF EXISTS {}",
            "DROP VIEW IF EXISTS {}",
            "DROP TABLE IF EXISTS mig_v2, {}",
        ] {
            let sql = sql.replace("{}", missing);
            assert_eq!(lab.ok("alice", &sql), "ok 0", "{sql}");
            n.tried();
        }
        for sql in ["DROP TABLE {}", "DROP VIEW {}"] {
            let sql = sql.replace("{}", missing);
            let e = lab.refused("alice", &sql);
            assert_eq!(e.to_string(), format!("no such table: {missing}"), "{sql}");
            n.tried();
        }
        let denied = lab
            .audit_since(mark)
            .iter()
            .filter(|r| r.event == "denied")
            .count();
        assert_eq!(denied, if missing == "hidden" { 5 } else { 2 }, "{missing}");
    }
    assert_eq!(lab.root_rows("SELECT x FROM hidden"), "42");
    // The skip drops what the user may drop and nothing else.
    lab.ok("alice", "CREATE TABLE mine2 (a INTEGER)");
    lab.ok("alice", "DROP TABLE IF EXISTS hidden, mine2");
    assert_eq!(lab.root_rows("SELECT x FROM hidden"), "42");
    lab.refused("alice", "SELECT * FROM mine2");
    n.tried();
}
