//! Attacks through introspection (issue 18), as an ordinary user through
//! SQL: `sqlite_schema` / `sqlite_master`, the table-valued pragmas and
//! their PRAGMA forms must never show a table, view, index or trigger the
//! user may not see — not by name, not as `tbl_name`, not inside the SQL
//! text of a view or trigger — and a pragma naming a hidden object must
//! answer exactly as for a missing one. Writing `PRAGMA user_version`
//! needs CREATE on the database and is audited; a denied write changes
//! nothing and is audited as denied.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `Secret` (index, trigger, a UNIQUE constraint) and `audit_trail` are
/// hidden from alice. `pub_t` she may read; root's trigger on it and root's
/// view `leak_v` (granted to her) name `Secret`. `colt` she may read one
/// column of. `gift` names `Secret` and is handed to her.
const SETUP: &str = "
CREATE TABLE Secret (a INTEGER, b TEXT UNIQUE);
INSERT INTO Secret VALUES (1, 'classified');
CREATE INDEX secret_idx ON Secret (b);
CREATE TABLE audit_trail (n);
CREATE TRIGGER secret_trg AFTER INSERT ON Secret BEGIN INSERT INTO audit_trail VALUES (1); END;
CREATE TABLE pub_t (x INTEGER);
CREATE INDEX pub_idx ON pub_t (x);
CREATE TRIGGER pub_trg AFTER INSERT ON pub_t BEGIN INSERT INTO audit_trail SELECT count(*) FROM Secret; END;
CREATE VIEW leak_v AS SELECT a FROM Secret;
CREATE VIEW gift AS SELECT b FROM Secret;
CREATE TABLE colt (id INTEGER, pay INTEGER);
";

/// Every name alice must never see, in any column or text.
const HIDDEN: [&str; 5] = [
    "secret",
    "audit_trail",
    "secret_idx",
    "secret_trg",
    "classified",
];

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("carol");
    lab.as_root(
        "GRANT SELECT, INSERT ON pub_t TO alice;
         GRANT SELECT ON leak_v TO alice;
         GRANT SELECT (id) ON colt TO alice;
         GRANT CREATE ON DATABASE main TO alice;
         ALTER TABLE gift OWNER TO alice",
    );
    lab.ok("alice", "CREATE TABLE mine (y INTEGER, z TEXT)");
    lab.ok("alice", "CREATE VIEW my_v AS SELECT y FROM mine");
    lab.ok(
        "alice",
        "CREATE TRIGGER my_trg AFTER INSERT ON mine BEGIN INSERT INTO pub_t VALUES (new.y); END",
    );
    lab
}

fn assert_nothing_hidden(what: &str, out: &str) {
    let lower = out.to_lowercase();
    for h in HIDDEN {
        assert!(!lower.contains(h), "{what} shows {h}: {out}");
    }
}

#[test]
fn the_schema_table_shows_only_what_the_user_may_see() {
    let mut lab = lab();
    let mut n = Attacks::new("introspection: schema table");
    for q in [
        "SELECT * FROM sqlite_master",
        "SELECT * FROM sqlite_schema",
        "SELECT * FROM main.SQLITE_MASTER",
        "SELECT * FROM sqlite_temp_master",
        "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema ORDER BY name",
        "SELECT group_concat(name || tbl_name || coalesce(sql, ''), ',') FROM sqlite_schema",
        "SELECT name FROM sqlite_master WHERE name LIKE '%ecret%' OR tbl_name LIKE '%ecret%' OR sql LIKE '%ecret%'",
        "SELECT (SELECT count(*) FROM sqlite_schema WHERE lower(name) = 'secret')",
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE lower(tbl_name) = 'secret')",
        "WITH RECURSIVE r(n) AS (SELECT name FROM sqlite_schema UNION SELECT n FROM r) SELECT * FROM r",
        "SELECT * FROM (SELECT * FROM sqlite_master) WHERE type = 'index'",
        "SELECT m.name FROM sqlite_master m JOIN sqlite_schema s ON m.tbl_name = s.name",
        "EXPLAIN SELECT * FROM sqlite_master WHERE name = 'Secret'",
    ] {
        n.tried();
        let out = lab.ok("alice", q);
        assert_nothing_hidden(q, &out);
    }
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%ecret%'"
        ),
        "0"
    );
    // Exactly her objects and those she holds a privilege on, with their
    // indexes and triggers.
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT type, name, tbl_name FROM sqlite_schema ORDER BY name"
        ),
        "table|colt|colt;view|gift|gift;view|leak_v|leak_v;table|mine|mine;\
         trigger|my_trg|mine;view|my_v|my_v;index|pub_idx|pub_t;table|pub_t|pub_t;\
         trigger|pub_trg|pub_t"
    );
    // Root sees everything.
    assert!(lab
        .root_rows("SELECT count(*) FROM sqlite_schema WHERE lower(tbl_name) = 'secret'")
        .starts_with('4'));
}

#[test]
fn definitions_are_shown_only_to_their_owner_and_only_if_they_name_nothing_hidden() {
    let mut lab = lab();
    let mut n = Attacks::new("introspection: definitions");
    let sql_of = |lab: &mut Lab, name: &str| {
        lab.ok(
            "alice",
            &format!("SELECT coalesce(sql, 'NULL') FROM sqlite_schema WHERE name = '{name}'"),
        )
    };
    // Another's view and trigger (both name Secret): no text.
    for name in ["leak_v", "pub_trg"] {
        n.tried();
        assert_eq!(sql_of(&mut lab, name), "NULL", "{name}");
    }
    // Her own view, but it names a table she cannot see (it was handed
    // to her): no text.
    n.tried();
    assert_eq!(sql_of(&mut lab, "gift"), "NULL");
    // Her own definitions, tables and indexes she may see: their text.
    assert!(sql_of(&mut lab, "my_v").starts_with("CREATE VIEW"));
    assert!(sql_of(&mut lab, "my_trg").starts_with("CREATE TRIGGER"));
    assert!(sql_of(&mut lab, "pub_t").starts_with("CREATE TABLE"));
    assert!(sql_of(&mut lab, "pub_idx").starts_with("CREATE INDEX"));
    // Her trigger names pub_t: once pub_t is hidden from her, its text
    // goes too (and pub_t's rows with it).
    lab.as_root("REVOKE SELECT, INSERT ON pub_t FROM alice");
    n.tried();
    assert_eq!(sql_of(&mut lab, "my_trg"), "NULL");
    let out = lab.ok("alice", "SELECT * FROM sqlite_schema");
    assert!(
        !out.contains("pub_t") && !out.contains("pub_idx") && !out.contains("pub_trg"),
        "{out}"
    );
}

#[test]
fn pragmas_on_hidden_objects_answer_as_for_missing_ones() {
    let mut lab = lab();
    let mut n = Attacks::new("introspection: pragmas");
    let templates = [
        "PRAGMA table_info({})",
        "PRAGMA table_xinfo({})",
        "PRAGMA index_list({})",
        "PRAGMA index_info({})",
        "PRAGMA index_xinfo({})",
        "PRAGMA foreign_key_list({})",
        "PRAGMA main.table_info({})",
        "PRAGMA table_info = {}",
        "SELECT * FROM pragma_table_info('{}')",
        "SELECT * FROM pragma_index_list('{}')",
        "SELECT count(*) FROM pragma_table_xinfo('{}', 'main')",
        "SELECT arg FROM pragma_index_info('{}')",
        "SELECT p.* FROM sqlite_schema m LEFT JOIN pragma_table_info('{}') p",
    ];
    // Hidden names, each against a missing one, in several spellings.
    for (hidden, missing) in [
        ("Secret", "Nothing"),
        ("audit_trail", "no_trail"),
        ("secret_idx", "nosuch_idx"),
        ("sqlite_autoindex_Secret_1", "sqlite_autoindex_Nothing_1"),
    ] {
        for tpl in templates {
            for (h, m) in [
                (hidden.to_string(), missing.to_string()),
                (hidden.to_uppercase(), missing.to_uppercase()),
                (format!("\"{hidden}\""), format!("\"{missing}\"")),
            ] {
                n.tried();
                let quoted = |x: &str| {
                    if tpl.contains("'{}'") {
                        x.trim_matches('"').to_string()
                    } else {
                        x.to_string()
                    }
                };
                let with_hidden = lab.try_run("alice", &tpl.replace("{}", &quoted(&h)));
                let with_missing = lab.try_run("alice", &tpl.replace("{}", &quoted(&m)));
                let show = |r: Result<String, sealdb::Error>| match r {
                    Ok(v) => v,
                    Err(e) => format!("{:?}: {e}", e.code()),
                };
                let (wh, wm) = (show(with_hidden), show(with_missing));
                assert_eq!(wh, wm.replace(missing, hidden), "{tpl} with {h}");
                assert_nothing_hidden(tpl, &wh);
            }
        }
    }
    // What she may see, she sees (columns are not hidden: see
    // sql::introspect), while reading a column she lacks is still refused.
    assert_eq!(
        lab.ok("alice", "SELECT name FROM pragma_table_info('colt')"),
        "id;pay"
    );
    lab.denied("alice", "SELECT pay FROM colt");
    assert_eq!(
        lab.ok("alice", "PRAGMA index_list(pub_t)"),
        "0|pub_idx|0|c|0"
    );
    // A view's columns: their names and affinities; the declared types
    // of what it reads only to whom may read its definition (root's view
    // over Secret: its owner sees INTEGER, alice the affinity's INT).
    assert_eq!(
        lab.ok("alice", "PRAGMA table_info(leak_v)"),
        "0|a|INT|0|NULL|0"
    );
    assert_eq!(
        lab.root_rows("PRAGMA table_info(leak_v)"),
        "0|a|INTEGER|0|NULL|0"
    );
    assert_eq!(
        lab.ok("alice", "PRAGMA table_info(gift)"),
        "0|b|TEXT|0|NULL|0"
    );
    assert_eq!(
        lab.ok("alice", "PRAGMA table_info(my_v)"),
        "0|y|INTEGER|0|NULL|0"
    );
    // A join over every table she may see names only those.
    let out = lab.ok(
        "alice",
        "SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p",
    );
    assert_nothing_hidden("join", &out);
    assert!(out.contains("mine|z"), "{out}");
}

#[test]
fn a_cached_plan_follows_a_revoke() {
    let lab = lab();
    let db = lab.db.clone();
    let s = db
        .connect(
            sealdb::Credentials::password("alice", "pw-alice"),
            sealdb::ClientInfo::local("attack"),
        )
        .unwrap();
    let st = s
        .prepare("SELECT group_concat(name, ',') FROM sqlite_schema WHERE type = 'table'")
        .unwrap();
    let names = |st: &sealdb::Statement| -> String {
        st.query(&[])
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
    };
    assert!(names(&st).contains("pub_t"));
    lab.root
        .execute("REVOKE SELECT, INSERT ON pub_t FROM alice", &[])
        .unwrap();
    assert!(!names(&st).contains("pub_t"), "{}", names(&st));
    // Her own view over the schema table shows her view of it.
    s.execute(
        "CREATE VIEW my_schema AS SELECT name FROM sqlite_schema",
        &[],
    )
    .unwrap();
    let out = run(&s, "SELECT * FROM my_schema").unwrap();
    assert_nothing_hidden("her view", &out);
    assert!(!out.contains("pub_t"), "{out}");
}

#[test]
fn user_version_needs_create_on_the_database_and_is_audited() {
    let mut lab = lab();
    let mut n = Attacks::new("introspection: user_version");
    lab.as_root("PRAGMA user_version = 5");
    // Anyone may read it.
    assert_eq!(lab.ok("carol", "PRAGMA user_version"), "5");
    for sql in [
        "PRAGMA user_version = 6",
        "PRAGMA user_version(6)",
        "PRAGMA main.user_version = -1",
    ] {
        n.tried();
        let mark = lab.mark();
        let e = lab.refused("carol", sql);
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{sql}: {e}");
        assert!(e.to_string().contains("CREATE"), "{e}");
        let denied = lab.audit_since(mark);
        assert!(
            denied
                .iter()
                .any(|r| r.event == "denied" && r.statement.contains("user_version")),
            "{sql}: {denied:?}"
        );
        let _ = lab.try_run("carol", "ROLLBACK");
        assert_eq!(lab.root_rows("PRAGMA user_version"), "5", "{sql}");
    }
    // With CREATE on the database: allowed, and on record.
    let mark = lab.mark();
    lab.ok("alice", "PRAGMA user_version = 9");
    assert_eq!(lab.root_rows("PRAGMA user_version"), "9");
    let recs = lab.audit_since(mark);
    assert!(
        recs.iter().any(|r| r.event == "statement"
            && r.user == "alice"
            && r.statement == "PRAGMA user_version = 9"
            && r.outcome == "ok"),
        "{recs:?}"
    );
    // Admin-only and session pragmas.
    n.tried();
    lab.denied("carol", "PRAGMA integrity_check");
    assert_eq!(lab.ok("carol", "PRAGMA busy_timeout = 1"), "1");
    assert_ne!(lab.root_rows("PRAGMA busy_timeout"), "1");
}
