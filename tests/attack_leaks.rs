//! Information leaks to ordinary users (issue 13, classes 13 and 14):
//! objects a user holds no privilege on must be indistinguishable from
//! objects that do not exist, in every statement and every error; and
//! SHOW USERS / SHOW ROLES show a non-admin only itself and its roles.
//!
//! The oracle: for each statement template, the error mallory gets naming
//! a hidden object must be exactly the error she gets naming an object
//! that does not exist (same code, same message with the name swapped),
//! for several spellings of the name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;

use sealdb::{ClientInfo, Credentials, Db, Error, Session, Value};

/// Root owns `Secret` (columns a, b; index `secret_idx`, trigger
/// `secret_trg`) and the view `pub_view` over it (SELECT granted to
/// mallory). mallory owns `mine` (x) and may create tables.
fn setup() -> Db {
    let db = attack_common::open_db();
    let root = db.root_session();
    for sql in [
        "CREATE TABLE Secret (a INTEGER, b TEXT)",
        "INSERT INTO Secret VALUES (1, 'classified')",
        "CREATE INDEX secret_idx ON Secret (b)",
        "CREATE TABLE audit_trail (n)",
        "CREATE TRIGGER secret_trg AFTER INSERT ON Secret BEGIN INSERT INTO audit_trail VALUES (1); END",
        "CREATE VIEW pub_view AS SELECT a FROM Secret WHERE b = 'classified'",
        "CREATE USER mallory WITH PASSWORD 'm'",
        "CREATE USER bob WITH PASSWORD 'b'",
        "CREATE ROLE staff",
        "CREATE ROLE payroll",
        "GRANT staff TO bob",
        "GRANT payroll TO staff",
        "GRANT CREATE ON DATABASE main TO mallory",
        "GRANT SELECT ON pub_view TO mallory",
        "CREATE TABLE ro (x INTEGER)",
        "GRANT SELECT ON ro TO mallory",
    ] {
        root.execute(sql, &[]).unwrap();
    }
    let m = mallory(&db);
    m.execute("CREATE TABLE mine (x INTEGER)", &[]).unwrap();
    m.execute("INSERT INTO mine VALUES (1)", &[]).unwrap();
    db
}

fn mallory(db: &Db) -> Session {
    db.connect(
        Credentials::password("mallory", "m"),
        ClientInfo::local("attack"),
    )
    .unwrap()
}

/// The outcome of `sql` as mallory: the error's code and message, or "ok".
fn outcome(s: &Session, sql: &str) -> String {
    let r = s.query(sql, &[]).and_then(|r| r.collect_all());
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{:?}: {e}", e.code()),
    }
}

/// Every template, run with a hidden name and with a missing one (in
/// several spellings), must fail the same way. `{}` is the name.
fn indistinguishable(db: &Db, hidden: &str, missing: &str, templates: &[&str]) -> usize {
    let s = mallory(db);
    let mut n = 0;
    for tpl in templates {
        for (h, m) in [
            (hidden.to_string(), missing.to_string()),
            (hidden.to_uppercase(), missing.to_uppercase()),
            (hidden.to_lowercase(), missing.to_lowercase()),
            (format!("\"{hidden}\""), format!("\"{missing}\"")),
        ] {
            // `{u}` names an object the statement creates: a fresh one
            // per run, so that one run's success does not fail the next.
            n += 1;
            let (uh, um) = (format!("h{n}"), format!("m{n}"));
            let with_hidden = outcome(&s, &tpl.replace("{}", &h).replace("{u}", &uh));
            let with_missing = outcome(&s, &tpl.replace("{}", &m).replace("{u}", &um));
            let (hb, mb) = (h.trim_matches('"'), m.trim_matches('"'));
            let expected = with_missing
                .replace(mb, hb)
                .replace(&mb.to_lowercase(), &hb.to_lowercase())
                .replace(&um, &uh);
            if with_missing != "ok" {
                assert_ne!(with_hidden, "ok", "{tpl} with {h} succeeded");
            }
            assert_eq!(
                with_hidden, expected,
                "\n{tpl}: a hidden object answers differently from a missing one\n  hidden:  {with_hidden}\n  missing: {with_missing}"
            );
            assert!(!with_hidden.contains("classified"), "{tpl}: {with_hidden}");
        }
    }
    n
}

#[test]
fn hidden_tables_in_queries() {
    let db = setup();
    let n = indistinguishable(
        &db,
        "Secret",
        "Nothing",
        &[
            "SELECT * FROM {}",
            "SELECT a FROM {}",
            "SELECT nosuchcol FROM {}",
            "SELECT {}.a FROM mine",
            "SELECT count(*) FROM {}",
            "SELECT * FROM mine, {}",
            "SELECT * FROM mine JOIN {} ON 1",
            "SELECT * FROM mine LEFT JOIN {} USING (x)",
            "SELECT * FROM mine WHERE x IN (SELECT a FROM {})",
            "SELECT * FROM mine WHERE x IN (SELECT zz FROM {})",
            "SELECT (SELECT zz FROM {})",
            "SELECT EXISTS (SELECT b FROM {} WHERE a = 1)",
            "SELECT * FROM (SELECT * FROM {})",
            "SELECT x FROM mine UNION SELECT a FROM {}",
            "SELECT x FROM mine WHERE x IN {}",
            "EXPLAIN SELECT * FROM {}",
            "EXPLAIN SELECT zz FROM {}",
        ],
    );
    println!("hidden tables in queries: {n} attacks");
}

#[test]
fn hidden_tables_in_data_changes() {
    let db = setup();
    let n = indistinguishable(
        &db,
        "Secret",
        "Nothing",
        &[
            "INSERT INTO {} VALUES (1, 'x')",
            "INSERT INTO {} (zz) VALUES (1)",
            "INSERT INTO {} (a) SELECT x FROM mine",
            "INSERT INTO mine SELECT a FROM {}",
            "INSERT INTO mine SELECT zz FROM {}",
            "INSERT INTO mine VALUES ((SELECT zz FROM {}))",
            "INSERT INTO mine VALUES (1) RETURNING (SELECT zz FROM {})",
            "REPLACE INTO {} VALUES (1, 'x')",
            "UPDATE {} SET a = 1",
            "UPDATE {} SET zz = 1",
            "UPDATE mine SET x = (SELECT a FROM {})",
            "UPDATE mine SET x = (SELECT zz FROM {})",
            "UPDATE mine SET x = 1 WHERE x IN (SELECT zz FROM {})",
            "UPDATE mine SET x = 1 RETURNING (SELECT zz FROM {})",
            "DELETE FROM {}",
            "DELETE FROM {} WHERE zz = 1",
            "DELETE FROM mine WHERE x IN (SELECT zz FROM {})",
            "DELETE FROM mine WHERE EXISTS (SELECT a, zz FROM {})",
            // Statements mallory may not run anyway (no privilege on ro
            // to change it): the hidden table must still answer first.
            "DELETE FROM ro WHERE x IN (SELECT a FROM {})",
            "UPDATE ro SET x = (SELECT a FROM {})",
            "INSERT INTO ro SELECT a FROM {}",
            "INSERT INTO ro VALUES ((SELECT b FROM {}))",
        ],
    );
    println!("hidden tables in data changes: {n} attacks");
}

#[test]
fn hidden_tables_in_ddl_and_security_statements() {
    let db = setup();
    let n = indistinguishable(
        &db,
        "Secret",
        "Nothing",
        &[
            "CREATE VIEW v{u} AS SELECT * FROM {}",
            "CREATE VIEW w{u} AS SELECT zz FROM {}",
            "CREATE TABLE t{u} AS SELECT * FROM {}",
            "CREATE INDEX i{u} ON {} (a)",
            "CREATE INDEX j{u} ON {} (zz)",
            "CREATE TRIGGER tr{u} AFTER INSERT ON {} BEGIN SELECT 1; END",
            "CREATE TRIGGER ts{u} AFTER INSERT ON mine BEGIN INSERT INTO {} VALUES (1, 'x'); END",
            "CREATE TRIGGER tt{u} AFTER INSERT ON mine BEGIN UPDATE mine SET x = (SELECT zz FROM {}); END",
            "ALTER TABLE {} ADD COLUMN c",
            "ALTER TABLE {} RENAME TO other",
            "ALTER TABLE {} RENAME COLUMN a TO c",
            "ALTER TABLE {} DROP COLUMN b",
            "DROP TABLE {}",
            "DROP VIEW {}",
            "DROP TABLE IF EXISTS {}",
            "DROP VIEW IF EXISTS {}",
            "DROP TABLE mine, {}",
            "REINDEX {}",
            "GRANT SELECT ON {} TO bob",
            "REVOKE SELECT ON {} FROM bob",
            "SHOW GRANTS ON {}",
            "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
            "CREATE POLICY p{u} ON {} USING (1)",
            "DROP POLICY p ON {}",
            "ALTER TABLE {} OWNER TO mallory",
            "ALTER TABLE {} EXPERIMENTAL_AUDIT SET READ",
        ],
    );
    println!("hidden tables in DDL and security statements: {n} attacks");
}

#[test]
fn hidden_indexes_and_triggers() {
    let db = setup();
    let mut n = indistinguishable(
        &db,
        "secret_idx",
        "nothing_idx",
        &["DROP INDEX {}", "REINDEX {}", "DROP INDEX IF EXISTS {}"],
    );
    n += indistinguishable(
        &db,
        "secret_trg",
        "nothing_trg",
        &["DROP TRIGGER {}", "DROP TRIGGER IF EXISTS {}"],
    );
    // Nothing was dropped.
    let root = db.root_session();
    root.execute("REINDEX secret_idx", &[]).unwrap();
    root.execute("INSERT INTO Secret VALUES (2, 'y')", &[])
        .unwrap();
    let r = root
        .query("SELECT count(*) FROM audit_trail", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(
        r[0].values(),
        &[Value::Integer(1)],
        "the trigger still fires"
    );
    println!("hidden indexes and triggers: {n} attacks");
}

#[test]
fn explain_of_a_view_hides_its_base_tables() {
    let db = setup();
    let s = mallory(&db);
    let mut n = 0;
    for sql in [
        "EXPLAIN SELECT * FROM pub_view",
        "EXPLAIN SELECT a FROM pub_view WHERE a = 1",
        "EXPLAIN SELECT * FROM mine JOIN pub_view ON x = a",
        "EXPLAIN SELECT (SELECT count(*) FROM pub_view)",
    ] {
        let lines: Vec<String> = s
            .query(sql, &[])
            .unwrap()
            .collect_all()
            .unwrap()
            .into_iter()
            .map(|r| r.get::<String>(0).unwrap())
            .collect();
        let text = lines.join("\n").to_lowercase();
        assert!(!text.contains("secret"), "{sql}:\n{text}");
        assert!(!lines.is_empty());
        n += 1;
    }
    // The view itself works, and an admin still sees everything.
    let r = s
        .query("SELECT a FROM pub_view", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(r.len(), 1);
    let lines = db
        .root_session()
        .query("EXPLAIN SELECT * FROM pub_view", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert!(lines
        .iter()
        .any(|r| r.get::<String>(0).unwrap().contains("Secret")));
    // mallory's own tables are named in her plans.
    let lines = s
        .query("EXPLAIN SELECT * FROM mine", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert!(lines
        .iter()
        .any(|r| r.get::<String>(0).unwrap().contains("mine")));
    println!("EXPLAIN through views: {n} attacks");
}

fn show(s: &Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

fn names(rows: &[Vec<Value>]) -> Vec<String> {
    rows.iter()
        .map(|r| match &r[0] {
            Value::Text(t) => t.clone(),
            v => panic!("{v:?}"),
        })
        .collect()
}

#[test]
fn show_users_shows_a_non_admin_only_itself_and_its_roles() {
    let db = setup();
    let mut n = 0;
    for sql in ["SHOW USERS", "SHOW ROLES"] {
        let m = show(&mallory(&db), sql);
        assert_eq!(names(&m), vec!["mallory".to_string()], "{sql}");
        // mallory's member_of is empty: she is in no role.
        assert_eq!(m[0][2], Value::Text(String::new()));
        let bob = db
            .connect(Credentials::password("bob", "b"), ClientInfo::local("x"))
            .unwrap();
        let b = show(&bob, sql);
        let mut got = names(&b);
        got.sort();
        assert_eq!(got, vec!["bob", "payroll", "staff"], "{sql}");
        for row in &b {
            let member_of = match &row[2] {
                Value::Text(t) => t.clone(),
                v => panic!("{v:?}"),
            };
            assert!(!member_of.contains("admin") && !member_of.contains("mallory"));
        }
        let all = show(&db.root_session(), sql);
        assert!(names(&all).contains(&"mallory".to_string()));
        assert!(names(&all).contains(&"root".to_string()));
        n += 2;
    }
    // Grants to others stay private too.
    let m = show(&mallory(&db), "SHOW GRANTS");
    for row in &m {
        assert_ne!(row[2], Value::Text("bob".into()));
    }
    println!("SHOW USERS/ROLES as non-admins: {n} attacks");
}

#[test]
fn hidden_objects_in_triggers_fired_later() {
    // A trigger mallory plants on her own table that reads a hidden table
    // fails when it fires exactly like one reading a missing table.
    let db = setup();
    let s = mallory(&db);
    let mut errors = Vec::new();
    for (name, table) in [("t_hidden", "Secret"), ("t_missing", "Nothing")] {
        s.execute(&format!("CREATE TABLE {name} (x)"), &[]).unwrap();
        let r = s.execute(
            &format!(
                "CREATE TRIGGER {name}_tr AFTER INSERT ON {name} BEGIN INSERT INTO mine SELECT a FROM {table}; END"
            ),
            &[],
        );
        let r = r.and_then(|_| s.execute(&format!("INSERT INTO {name} VALUES (1)"), &[]));
        let e: Error = r.unwrap_err();
        errors.push(format!("{:?}: {e}", e.code()).replace(table, "T"));
    }
    assert_eq!(errors[0], errors[1]);
}

#[test]
fn hidden_objects_behind_other_owners_triggers_and_views() {
    // bob owns a trigger on his table and a view; both name a table
    // bob may not see (Secret), or one that does not exist (Nothing).
    // mallory, who may use bob's table and view but cannot see either
    // name, gets the missing-table error for both: she cannot tell that
    // Secret exists. An admin, who can see Secret, is told what is wrong.
    let mut n = 0;
    let db = setup();
    let root = db.root_session();
    root.execute("GRANT CREATE ON DATABASE main TO bob", &[])
        .unwrap();
    let bob = db
        .connect(Credentials::password("bob", "b"), ClientInfo::local("t"))
        .unwrap();
    let mut triggers = Vec::new();
    let mut views = Vec::new();
    for (name, table) in [("hid", "Secret"), ("mis", "Nothing")] {
        // The view is made while bob can see Secret, and Nothing exists;
        // then both go away from bob's side (Nothing is dropped, which
        // views survive). The trigger is made after.
        root.execute("CREATE TABLE Nothing (a INTEGER, b TEXT)", &[])
            .unwrap();
        root.execute("GRANT SELECT ON Secret TO bob", &[]).unwrap();
        root.execute("GRANT SELECT ON Nothing TO bob", &[]).unwrap();
        bob.execute(&format!("CREATE TABLE {name}_t (x INTEGER)"), &[])
            .unwrap();
        bob.execute(&format!("CREATE TABLE {name}_log (b TEXT)"), &[])
            .unwrap();
        bob.execute(
            &format!("CREATE VIEW {name}_v AS SELECT x, (SELECT count(*) FROM {table}) AS c FROM {name}_t"),
            &[],
        )
        .unwrap();
        root.execute("REVOKE SELECT ON Secret FROM bob", &[])
            .unwrap();
        root.execute("DROP TABLE Nothing", &[]).unwrap();
        bob.execute(
            &format!(
                "CREATE TRIGGER {name}_tr AFTER INSERT ON {name}_t BEGIN INSERT INTO {name}_log SELECT b FROM {table}; END"
            ),
            &[],
        )
        .unwrap();
        bob.execute(&format!("GRANT INSERT, SELECT ON {name}_t TO mallory"), &[])
            .unwrap();
        bob.execute(&format!("GRANT SELECT ON {name}_v TO mallory"), &[])
            .unwrap();
        let m = mallory(&db);
        let fire = format!("INSERT INTO {name}_t VALUES (1)");
        triggers.push(outcome(&m, &fire).replace(table, "T").replace(name, "N"));
        views.push(
            outcome(&m, &format!("SELECT * FROM {name}_v"))
                .replace(table, "T")
                .replace(name, "N"),
        );
        n += 2;
        if name == "hid" {
            // The admin sees Secret: a permission error names the gap.
            let e = root.execute(&fire, &[]).unwrap_err();
            assert_eq!(e.code(), sealdb::ErrorCode::PermissionDenied, "{e}");
            assert!(e.to_string().contains("secret"), "{e}");
            n += 1;
        }
    }
    assert_eq!(triggers[0], triggers[1]);
    assert!(triggers[0].contains("no such table: T"), "{}", triggers[0]);
    assert_eq!(views[0], views[1]);
    assert!(views[0].contains("no such table: T"), "{}", views[0]);
    println!("hidden objects behind others' triggers and views: {n} attacks");
}
