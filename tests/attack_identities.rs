//! Attacks on names standing in for identities, as an ordinary user
//! (issue 13, item 8): grants, owners, policies and sessions are keyed by
//! ids that are never reused, so
//!
//! - renaming, dropping and re-adding columns or tables never moves a
//!   grant onto another column or table, and a new object inherits
//!   nothing from an old one of the same name (even after a reopen);
//! - views, triggers and policies keep meaning what they meant: a rename
//!   rewrites the views and triggers that name what it renames (they go
//!   on reading the same columns by id), a rename or drop that would
//!   change a policy, and a drop under a view or trigger, are refused,
//!   and `current_user` is always the function, never a column;
//! - a session (or token) of a dropped user gains nothing when a new
//!   user takes the name;
//! - a store written with the name-keyed security catalog (version 1) is
//!   converted at open, and an unknown version is refused clearly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use std::sync::Arc;
use std::time::Duration;

use sealdb::{ClientInfo, Credentials, Db, ErrorCode, Options, PasswordCost};

const SETUP: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, pub TEXT, secret TEXT, owner TEXT);
INSERT INTO t VALUES (1, 'p1', 's1', 'alice'), (2, 'p2', 's2', 'bob');
CREATE TABLE other (id INTEGER PRIMARY KEY, hidden TEXT);
INSERT INTO other VALUES (1, 'h1');
";

/// alice may read `t.id`, `t.pub` and alter `t` (CREATE on it).
fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root("GRANT SELECT (id, pub) ON t TO alice; GRANT CREATE ON t TO alice");
    lab
}

#[test]
fn column_grants_follow_the_column_not_its_name() {
    let mut n = Attacks::new("identities/columns (item 8)");
    // Swap names: the grant stays on the old `pub` column.
    let swaps: &[&[&str]] = &[
        &[
            "ALTER TABLE t RENAME COLUMN pub TO tmp",
            "ALTER TABLE t RENAME COLUMN secret TO pub",
        ],
        &[
            "ALTER TABLE t DROP COLUMN pub",
            "ALTER TABLE t RENAME COLUMN secret TO pub",
        ],
        &[
            "ALTER TABLE t DROP COLUMN pub",
            "ALTER TABLE t ADD COLUMN pub TEXT",
        ],
        &[
            "ALTER TABLE t RENAME COLUMN pub TO p0",
            "ALTER TABLE t RENAME COLUMN secret TO pub",
            "ALTER TABLE t RENAME COLUMN p0 TO secret",
        ],
        &[
            "ALTER TABLE t RENAME COLUMN pub TO Secret2",
            "ALTER TABLE t RENAME COLUMN secret TO PUB",
        ],
    ];
    for steps in swaps {
        let mut lab = lab();
        for s in *steps {
            lab.ok("alice", s);
        }
        lab.denied("alice", "SELECT pub FROM t");
        lab.denied("alice", "SELECT * FROM t");
        lab.denied("alice", "SELECT count(*) FROM t WHERE pub = 's1'");
        n.tried();
        n.tried();
        n.tried();
    }
    // The grant followed the column: alice reads it under its new name.
    let mut lab = lab();
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN pub TO renamed");
    assert_eq!(
        lab.ok("alice", "SELECT renamed FROM t ORDER BY id"),
        "p1;p2"
    );
    assert!(lab
        .root_rows("SHOW GRANTS ON t FOR alice")
        .contains("|renamed|"));
    // A dropped column's grants are gone; a new column of that name
    // gets none.
    lab.ok("alice", "ALTER TABLE t DROP COLUMN renamed");
    assert!(!lab
        .root_rows("SHOW GRANTS ON t FOR alice")
        .contains("renamed"));
    lab.ok("alice", "ALTER TABLE t ADD COLUMN renamed TEXT");
    lab.denied("alice", "SELECT renamed FROM t");
    n.tried();
    // Insert and update grants too.
    let mut lab = self::lab();
    lab.as_root("GRANT UPDATE (pub), INSERT (id, pub) ON t TO alice");
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN pub TO tmp");
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN secret TO pub");
    lab.denied("alice", "UPDATE t SET pub = 'overwritten'");
    lab.denied("alice", "INSERT INTO t (id, pub) VALUES (9, 'forged')");
    n.tried();
    n.tried();
}

#[test]
fn tables_and_views_keep_their_identity() {
    let mut n = Attacks::new("identities/objects (item 8)");
    // A table dropped and created again (by its owner) is a new table.
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root("GRANT CREATE ON DATABASE main TO bob");
    lab.ok("bob", "CREATE TABLE diary (d TEXT)");
    lab.ok("bob", "GRANT SELECT ON diary TO alice");
    lab.ok("bob", "DROP TABLE diary");
    lab.ok("bob", "CREATE TABLE diary (d TEXT)");
    lab.ok("bob", "INSERT INTO diary VALUES ('private')");
    lab.denied("alice", "SELECT * FROM diary");
    n.tried();
    // Renaming tables: the grant follows the table, not the name.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root("GRANT SELECT ON t TO alice; GRANT CREATE ON t, other TO alice");
    lab.ok("alice", "ALTER TABLE t RENAME TO t_old");
    lab.ok("alice", "ALTER TABLE other RENAME TO t");
    lab.denied("alice", "SELECT * FROM t");
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM t_old"), "2");
    n.tried();
    // Audit settings and RLS follow the table too.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT ON t TO alice; GRANT CREATE ON t TO alice;
         ALTER TABLE t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON t FOR SELECT USING (owner = current_user);
         ALTER TABLE t EXPERIMENTAL_AUDIT SET READ",
    );
    lab.ok("alice", "ALTER TABLE t RENAME TO t2");
    assert_eq!(lab.ok("alice", "SELECT id FROM t2"), "1");
    let mark = lab.mark();
    lab.ok("alice", "SELECT id FROM t2");
    assert!(lab
        .audit_since(mark)
        .iter()
        .any(|r| r.objects.contains(&"t2".to_string())));
    n.tried();
    n.tried();
    // A definer view cannot be turned onto another column or table.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "CREATE VIEW pv AS SELECT id, pub FROM t;
         GRANT SELECT ON pv TO alice; GRANT CREATE ON t, other TO alice",
    );
    let e = lab.refused("alice", "ALTER TABLE t DROP COLUMN pub");
    assert!(e.to_string().contains("view pv"), "{e}");
    n.tried();
    // Renames rewrite the view (as SQLite does): it goes on reading the
    // same column of the same table, whatever takes the old names.
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN pub TO tmp");
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN secret TO pub");
    lab.ok("alice", "ALTER TABLE t RENAME TO t_away");
    assert_eq!(lab.ok("alice", "SELECT tmp FROM pv ORDER BY id"), "p1;p2");
    lab.refused("alice", "SELECT pub FROM pv");
    n.tried();
    n.tried();
    n.tried();
    // Nor dropped and replaced by another table of that name, which the
    // view (run with root's rights) would pick up.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "CREATE TABLE acl (who TEXT, id INTEGER); INSERT INTO acl VALUES ('alice', 1);
         CREATE VIEW mine AS SELECT t.id, t.secret FROM t JOIN acl ON acl.id = t.id AND acl.who = current_user;
         GRANT SELECT ON mine TO alice; GRANT DROP ON acl TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    assert_eq!(lab.ok("alice", "SELECT secret FROM mine"), "s1");
    lab.ok("alice", "DROP TABLE acl");
    lab.ok("alice", "CREATE TABLE acl (who TEXT, id INTEGER)");
    lab.ok("alice", "INSERT INTO acl VALUES ('alice', 1), ('alice', 2)");
    lab.ok("alice", "GRANT SELECT ON acl TO public");
    let e = lab.refused("alice", "SELECT secret FROM mine");
    assert!(e.to_string().contains("dropped and replaced"), "{e}");
    lab.refused("root", "SELECT secret FROM mine");
    // Through a view of the view, too.
    lab.as_root("DROP TABLE acl; CREATE TABLE acl (who TEXT, id INTEGER)");
    lab.refused("alice", "SELECT secret FROM mine");
    n.tried();
    n.tried();
    n.tried();
    // Nor a trigger (which runs with its owner's rights).
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "CREATE TABLE log (v TEXT);
         CREATE TRIGGER tt AFTER UPDATE OF pub ON t BEGIN INSERT INTO log VALUES (NEW.pub); END;
         GRANT CREATE ON t TO alice",
    );
    let e = lab.refused("alice", "ALTER TABLE t DROP COLUMN pub");
    assert!(e.to_string().contains("trigger tt"), "{e}");
    n.tried();
    // Renames rewrite the trigger: it fires on the same column and logs
    // the same value, whatever column takes the old name.
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN pub TO tmp");
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN secret TO pub");
    lab.ok("alice", "ALTER TABLE t RENAME TO t_away");
    lab.as_root("UPDATE t_away SET pub = 'x' WHERE id = 1");
    assert_eq!(lab.root_rows("SELECT count(*) FROM log"), "0");
    lab.as_root("UPDATE t_away SET tmp = 'q1' WHERE id = 1");
    assert_eq!(lab.root_rows("SELECT v FROM log"), "q1");
    n.tried();
    n.tried();
    n.tried();
    // The table a trigger writes cannot be swapped for another one (the
    // trigger would then copy rows into whoever's table took the name):
    // dropping it is refused, renaming it rewrites the trigger.
    lab.as_root("GRANT DROP ON log TO alice; GRANT CREATE ON DATABASE main TO alice");
    let e = lab.refused("alice", "DROP TABLE log");
    assert!(e.to_string().contains("trigger tt"), "{e}");
    lab.as_root("ALTER TABLE log RENAME TO log_old");
    lab.ok("alice", "CREATE TABLE log (v TEXT)");
    lab.as_root("UPDATE t_away SET tmp = 'q2' WHERE id = 1");
    assert_eq!(lab.root_rows("SELECT v FROM log_old ORDER BY v"), "q1;q2");
    assert_eq!(lab.ok("alice", "SELECT count(*) FROM log"), "0");
    n.tried();
    n.tried();
}

#[test]
fn policies_keep_their_meaning() {
    let mut n = Attacks::new("identities/policies (item 8)");
    let policy = "GRANT SELECT ON t TO alice; GRANT CREATE ON t TO alice;
                  ALTER TABLE t ENABLE ROW LEVEL SECURITY;
                  CREATE POLICY own ON t FOR SELECT USING (owner = current_user)";
    // `current_user` can never be a column.
    for a in [
        "ALTER TABLE t ADD COLUMN current_user TEXT",
        "ALTER TABLE t ADD COLUMN CURRENT_USER TEXT DEFAULT 'bob'",
        "ALTER TABLE t ADD COLUMN session_user TEXT",
        "ALTER TABLE t RENAME COLUMN pub TO current_user",
    ] {
        let mut lab = Lab::new(SETUP);
        lab.user("alice");
        lab.as_root(policy);
        lab.refused("alice", a);
        assert_eq!(lab.ok("alice", "SELECT id FROM t"), "1");
        n.tried();
    }
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(policy);
    lab.as_root("GRANT CREATE ON DATABASE main TO alice");
    for a in [
        "CREATE TABLE cu (current_user TEXT)",
        "CREATE TABLE cu2 AS SELECT 'bob' AS current_user",
    ] {
        lab.refused("alice", a);
        n.tried();
    }
    // In a query, the word is the function even where a column could be.
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT current_user FROM (SELECT 'bob' AS current_user)"
        ),
        "alice"
    );
    // The columns a policy reads cannot be renamed or dropped under it.
    for a in [
        "ALTER TABLE t RENAME COLUMN owner TO o2",
        "ALTER TABLE t DROP COLUMN owner",
    ] {
        let mut lab = Lab::new(SETUP);
        lab.user("alice");
        lab.as_root(policy);
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("policy own"), "{e}");
        n.tried();
    }
    // Swapping column names around a policy: refused at the first step.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(policy);
    lab.ok("alice", "ALTER TABLE t RENAME COLUMN pub TO pub2");
    lab.refused("alice", "ALTER TABLE t RENAME COLUMN owner TO pub");
    assert_eq!(lab.ok("alice", "SELECT id FROM t"), "1");
    n.tried();
    // A table another table's policy reads cannot be dropped, renamed or
    // recreated under it (which would hand the policy someone's data).
    let acl = "CREATE TABLE acl (who TEXT, id INTEGER);
               INSERT INTO acl VALUES ('alice', 1);
               GRANT SELECT ON t TO alice;
               ALTER TABLE t ENABLE ROW LEVEL SECURITY;
               CREATE POLICY via ON t FOR SELECT USING (EXISTS (SELECT 1 FROM acl WHERE acl.who = current_user AND acl.id = t.id));
               GRANT CREATE, DROP ON acl TO alice";
    for a in [
        "DROP TABLE acl",
        "ALTER TABLE acl RENAME TO acl_old",
        "ALTER TABLE acl RENAME COLUMN who TO w",
        "ALTER TABLE acl DROP COLUMN id",
    ] {
        let mut lab = Lab::new(SETUP);
        lab.user("alice");
        lab.as_root(acl);
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("policy via"), "{e}");
        assert_eq!(lab.ok("alice", "SELECT id FROM t"), "1");
        n.tried();
    }
    // The owner's own rename of the policy's table keeps the policy.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(policy);
    lab.as_root("ALTER TABLE t RENAME TO t9");
    assert_eq!(lab.ok("alice", "SELECT id FROM t9"), "1");
    // A policy may read only what its table's owner may read.
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root("GRANT CREATE ON DATABASE main TO alice; GRANT SELECT (id) ON other TO alice");
    lab.ok("alice", "CREATE TABLE mine (id INTEGER, v TEXT)");
    lab.ok("alice", "ALTER TABLE mine ENABLE ROW LEVEL SECURITY");
    lab.denied(
        "alice",
        "CREATE POLICY spy ON mine FOR SELECT USING (EXISTS (SELECT 1 FROM other WHERE hidden = 'h1'))",
    );
    lab.denied(
        "alice",
        "CREATE POLICY spy ON mine FOR SELECT USING ((SELECT secret FROM t WHERE id = 1) = 's1')",
    );
    n.tried();
    n.tried();
}

#[test]
fn sessions_and_tokens_of_dropped_users_end() {
    let mut n = Attacks::new("identities/sessions (item 8)");
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root("GRANT SELECT ON other TO alice");
    let old = lab
        .db
        .connect(
            Credentials::password("alice", "pw-alice"),
            ClientInfo::local("old"),
        )
        .unwrap();
    let token = old.create_login_token(Duration::from_secs(3600)).unwrap();
    let token_text = token.token().to_string();
    assert_eq!(run(&old, "SELECT hidden FROM other").unwrap(), "h1");
    // alice is dropped; a new alice is created with rights on t.
    lab.as_root(
        "DROP USER alice; CREATE USER alice WITH PASSWORD 'new-pw'; GRANT SELECT ON t TO alice",
    );
    for sql in ["SELECT * FROM t", "SELECT hidden FROM other", "SELECT 1"] {
        let e = run(&old, sql).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
        assert!(e.to_string().contains("no longer exists"), "{e}");
        n.tried();
    }
    assert!(old
        .execute("INSERT INTO t VALUES (5, 'x', 'y', 'z')", &[])
        .is_err());
    assert!(old.create_login_token(Duration::from_secs(60)).is_err());
    n.tried();
    n.tried();
    // The old token does not log in as the new alice.
    let r = lab.db.connect(
        Credentials::token("alice", &token_text),
        ClientInfo::local("token"),
    );
    assert!(r.is_err());
    n.tried();
    // The new alice has only her own grants.
    let new = lab
        .db
        .connect(
            Credentials::password("alice", "new-pw"),
            ClientInfo::local("new"),
        )
        .unwrap();
    assert!(run(&new, "SELECT hidden FROM other").is_err());
    assert_eq!(run(&new, "SELECT count(*) FROM t").unwrap(), "2");
    n.tried();
    // Roles: a dropped role's members and grants do not come back with a
    // new role of that name.
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "CREATE ROLE readers; GRANT SELECT ON t TO readers; GRANT readers TO alice;
         DROP ROLE readers; CREATE ROLE readers; GRANT SELECT ON other TO readers",
    );
    lab.denied("alice", "SELECT * FROM t");
    lab.denied("alice", "SELECT * FROM other");
    n.tried();
    n.tried();
    // Ownership does not pass to a new user of an old owner's name.
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root("GRANT CREATE ON DATABASE main TO alice");
    lab.ok("alice", "CREATE TABLE hers (v TEXT)");
    lab.as_root(
        "REASSIGN OWNED BY alice TO bob; DROP USER alice;
         CREATE USER alice WITH PASSWORD 'pw-alice'",
    );
    lab.relogin("alice");
    lab.denied("alice", "SELECT * FROM hers");
    lab.denied("alice", "DROP TABLE hers");
    n.tried();
    n.tried();
}

fn open(vfs: &Arc<sealdb::vfs::MemVfs>) -> Db {
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[9u8; 32])).unwrap(),
        Options {
            vfs: Some(vfs.clone()),
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .unwrap()
}

#[test]
fn ids_are_never_reused_across_a_reopen() {
    let mut n = Attacks::new("identities/reopen (item 8)");
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    {
        let db = open(&vfs);
        let root = db.root_session();
        root.run_script(
            "CREATE USER alice WITH PASSWORD 'pw';
             CREATE TABLE a (x INTEGER);
             CREATE TABLE newest (x INTEGER);
             GRANT SELECT ON newest TO alice;
             DROP TABLE newest;",
            |_, _| {},
        )
        .unwrap();
    }
    let db = open(&vfs);
    let root = db.root_session();
    root.run_script(
        "CREATE TABLE fresh (v TEXT); INSERT INTO fresh VALUES ('not for alice');",
        |_, _| {},
    )
    .unwrap();
    let alice = db
        .connect(Credentials::password("alice", "pw"), ClientInfo::local("t"))
        .unwrap();
    assert!(run(&alice, "SELECT * FROM fresh").is_err());
    n.tried();
    // The same for the newest column of a table.
    root.run_script(
        "CREATE TABLE c (a TEXT, b TEXT); INSERT INTO c VALUES ('x', 'y');
         GRANT SELECT (a, b) ON c TO alice; ALTER TABLE c DROP COLUMN b",
        |_, _| {},
    )
    .unwrap();
    drop((alice, root, db));
    let db = open(&vfs);
    let root = db.root_session();
    root.execute("ALTER TABLE c ADD COLUMN b TEXT DEFAULT 'secret'", &[])
        .unwrap();
    let alice = db
        .connect(Credentials::password("alice", "pw"), ClientInfo::local("t"))
        .unwrap();
    assert_eq!(run(&alice, "SELECT a FROM c").unwrap(), "x");
    assert!(run(&alice, "SELECT b FROM c").is_err());
    n.tried();
}

#[test]
fn a_version_1_security_catalog_is_converted_at_open() {
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    {
        let db = open(&vfs);
        db.root_session()
            .run_script(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, pub TEXT, secret TEXT);
                 INSERT INTO t VALUES (1, 'p', 's');
                 CREATE TABLE gone_soon (x INTEGER);",
                |_, _| {},
            )
            .unwrap();
        let v1 = sealdb::auth::codec::encode_v1_for_tests(
            &[
                ("root", true),
                ("admin", false),
                ("alice", true),
                ("bob", true),
            ],
            &[("admin", "root")],
            &[
                ("t", "alice", 0, &[("pub", 1), ("id", 1), ("nosuch", 1)]),
                ("nosuch_table", "alice", 1, &[]),
                ("", "bob", 1, &[]),
            ],
            &[("t", "bob")],
        );
        db.engine().put(b"\x00s/auth", &v1).unwrap();
        drop(db);
        let db = open(&vfs);
        let root = db.root_session();
        // The test encoding stores no password hashes.
        root.execute("ALTER USER alice WITH PASSWORD 'pw'", &[])
            .unwrap();
        let grants = run(&root, "SHOW GRANTS ON t").unwrap();
        assert!(
            grants.contains("t|table|alice|SELECT|id|false|bob"),
            "{grants}"
        );
        assert!(
            grants.contains("t|table|alice|SELECT|pub|false|bob"),
            "{grants}"
        );
        let alice = db
            .connect(Credentials::password("alice", "pw"), ClientInfo::local("t"))
            .unwrap();
        assert_eq!(run(&alice, "SELECT pub FROM t").unwrap(), "p");
        assert!(run(&alice, "SELECT secret FROM t").is_err());
        // bob owned t (v1 owner by name): still does.
        root.execute("ALTER USER bob WITH PASSWORD 'pw'", &[])
            .unwrap();
        let bob = db
            .connect(Credentials::password("bob", "pw"), ClientInfo::local("t"))
            .unwrap();
        assert_eq!(run(&bob, "SELECT secret FROM t").unwrap(), "s");
        // And reads every table through his database-wide SELECT.
        assert_eq!(run(&bob, "SELECT count(*) FROM gone_soon").unwrap(), "0");
    }
    // A version this build does not know is refused with a clear error.
    let db = open(&vfs);
    db.engine().put(b"\x00s/auth", &[9, 0, 0]).unwrap();
    drop(db);
    let e = Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[9u8; 32])).unwrap(),
        Options {
            vfs: Some(vfs.clone()),
            ..Options::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("version 9"), "{e}");
}

/// Runs `sql` as `who` (password `pw`) in a new session.
fn as_user(db: &Db, who: &str, sql: &str) -> Result<String, sealdb::Error> {
    let s = db
        .connect(Credentials::password(who, "pw"), ClientInfo::local("t"))
        .unwrap();
    run(&s, sql)
}

/// `sql` as `who` is refused, either as not allowed or as a table this
/// user cannot see (sealdb does not confirm that a hidden table exists).
fn denied_to(db: &Db, who: &str, sql: &str) {
    let e = as_user(db, who, sql).expect_err(sql);
    assert!(
        matches!(
            e.code(),
            ErrorCode::PermissionDenied | ErrorCode::SqlUnknownObject
        ),
        "{sql}: {e}"
    );
}

/// Owners are keys of their own in the security catalog (version 4, one
/// per object id): after a reopen each object is owned by whom it was,
/// a table dropped and made again under its old name is not its old
/// owner's, and `REASSIGN OWNED` moves exactly what it names.
#[test]
fn owners_keyed_by_object_id_survive_reopens() {
    let mut n = Attacks::new("identities/owner keys (catalog v4)");
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    let denied = denied_to;
    {
        let db = open(&vfs);
        db.root_session()
            .run_script(
                "CREATE USER alice WITH PASSWORD 'pw'; CREATE USER bob WITH PASSWORD 'pw';
                 GRANT CREATE ON DATABASE main TO alice, bob;",
                |_, _| {},
            )
            .unwrap();
        as_user(&db, "alice", "CREATE TABLE hers (v TEXT)").unwrap();
        as_user(&db, "alice", "INSERT INTO hers VALUES ('a')").unwrap();
        as_user(&db, "bob", "CREATE TABLE his (v TEXT)").unwrap();
        as_user(&db, "bob", "INSERT INTO his VALUES ('b')").unwrap();
        as_user(&db, "alice", "CREATE TABLE gone (v TEXT)").unwrap();
        as_user(&db, "alice", "DROP TABLE gone").unwrap();
        db.root_session()
            .run_script(
                "CREATE TABLE gone (v TEXT); INSERT INTO gone VALUES ('root''s')",
                |_, _| {},
            )
            .unwrap();
    }
    let db = open(&vfs);
    // Each owner keeps what is theirs, and only that.
    assert_eq!(as_user(&db, "alice", "SELECT v FROM hers").unwrap(), "a");
    for sql in [
        "SELECT v FROM his",
        "DROP TABLE his",
        "ALTER TABLE his RENAME TO mine",
        "GRANT SELECT ON his TO alice",
    ] {
        denied(&db, "alice", sql);
        n.tried();
    }
    // The old owner of a dropped name owns nothing of the new table.
    for sql in [
        "SELECT v FROM gone",
        "DROP TABLE gone",
        "GRANT SELECT ON gone TO bob",
    ] {
        denied(&db, "alice", sql);
        n.tried();
    }
    as_user(&db, "alice", "GRANT SELECT ON hers TO bob").unwrap();
    assert_eq!(as_user(&db, "bob", "SELECT v FROM hers").unwrap(), "a");
    // A table made after the reopen (the CREATE fast path writes only
    // its own owner key) is its creator's alone.
    as_user(&db, "bob", "CREATE TABLE later (v TEXT)").unwrap();
    denied(&db, "alice", "DROP TABLE later");
    n.tried();
    // REASSIGN moves alice's objects, which stay moved after a reopen.
    db.root_session()
        .execute("REASSIGN OWNED BY alice TO bob", &[])
        .unwrap();
    drop(db);
    let db = open(&vfs);
    denied(&db, "alice", "DROP TABLE hers");
    denied(&db, "alice", "GRANT SELECT ON hers TO public");
    n.tried();
    n.tried();
    as_user(&db, "bob", "DROP TABLE hers").unwrap();
    as_user(&db, "bob", "DROP TABLE later").unwrap();
    denied(&db, "bob", "DROP TABLE gone");
    n.tried();
}

/// DROP forgets what hung on the objects it removed (owners, grants,
/// policies, row security, audit settings, its triggers' owners) and
/// nothing else; the shortcut that does this without a pass over the
/// catalog is checked against the full comparison on every DDL statement
/// of a debug build, so this runs it over a catalog holding all of them.
#[test]
fn a_drop_forgets_only_what_hung_on_what_it_dropped() {
    let mut n = Attacks::new("identities/drop forgets (issue 19 shortcut)");
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    let denied = denied_to;
    {
        let db = open(&vfs);
        db.root_session()
            .run_script(
                "CREATE USER alice WITH PASSWORD 'pw'; CREATE USER bob WITH PASSWORD 'pw';
                 CREATE USER carol WITH PASSWORD 'pw';
                 GRANT CREATE ON DATABASE main TO alice;",
                |_, _| {},
            )
            .unwrap();
        for sql in [
            "CREATE TABLE a (x INTEGER, owner TEXT)",
            "CREATE TABLE b (x INTEGER, y TEXT)",
            "CREATE TABLE log (x INTEGER)",
            "INSERT INTO a VALUES (1, 'bob'), (2, 'carol')",
            "INSERT INTO b VALUES (3, 'y')",
            "CREATE TRIGGER ta AFTER INSERT ON a BEGIN INSERT INTO log VALUES (new.x); END",
            "CREATE TRIGGER tb AFTER INSERT ON b BEGIN INSERT INTO log VALUES (new.x); END",
            "CREATE VIEW vb AS SELECT x FROM b",
            "CREATE VIEW va AS SELECT x FROM a",
            "GRANT SELECT, INSERT ON a TO bob WITH GRANT OPTION",
            "GRANT SELECT ON b TO bob",
            "GRANT SELECT (x) ON b TO carol",
            "GRANT SELECT ON vb TO carol",
            "ALTER TABLE a ENABLE ROW LEVEL SECURITY",
            "CREATE POLICY own ON a FOR ALL USING (owner = current_user)",
        ] {
            as_user(&db, "alice", sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        as_user(&db, "bob", "GRANT SELECT ON a TO carol").unwrap();
        db.root_session()
            .run_script("ALTER TABLE a EXPERIMENTAL_AUDIT SET READ", |_, _| {})
            .unwrap();
        assert_eq!(as_user(&db, "carol", "SELECT x FROM a").unwrap(), "2");
        // Drops: a view, then a table with its trigger and everything on it.
        as_user(&db, "alice", "DROP VIEW va").unwrap();
        as_user(&db, "alice", "DROP TABLE a").unwrap();
        // Root makes a table, trigger and view under the dropped names.
        db.root_session()
            .run_script(
                "CREATE TABLE a (x INTEGER, owner TEXT); INSERT INTO a VALUES (9, 'bob');
                 CREATE VIEW va AS SELECT x FROM a;
                 CREATE TRIGGER ta AFTER INSERT ON a BEGIN INSERT INTO log VALUES (-new.x); END",
                |_, _| {},
            )
            .unwrap();
    }
    for _ in 0..2 {
        let db = open(&vfs);
        // The new objects inherit nothing from the dropped ones.
        for (who, sql) in [
            ("bob", "SELECT x FROM a"),
            ("bob", "INSERT INTO a VALUES (5, 'bob')"),
            ("carol", "SELECT x FROM a"),
            ("bob", "SELECT x FROM va"),
            ("alice", "SELECT x FROM a"),
            ("alice", "DROP TABLE a"),
            ("alice", "DROP TRIGGER ta"),
            ("alice", "DROP VIEW va"),
        ] {
            denied(&db, who, sql);
            n.tried();
        }
        // What hung on the objects left stays.
        assert_eq!(as_user(&db, "bob", "SELECT x, y FROM b").unwrap(), "3|y");
        assert_eq!(as_user(&db, "carol", "SELECT x FROM b").unwrap(), "3");
        denied(&db, "carol", "SELECT y FROM b");
        assert_eq!(as_user(&db, "carol", "SELECT x FROM vb").unwrap(), "3");
    }
    // Drop what is left.
    let db = open(&vfs);
    // alice's trigger on b still runs; she still owns b.
    as_user(&db, "alice", "INSERT INTO b VALUES (4, 'z')").unwrap();
    assert_eq!(
        run(&db.root_session(), "SELECT count(*) FROM log WHERE x = 4").unwrap(),
        "1"
    );
    as_user(&db, "alice", "DROP VIEW vb").unwrap();
    as_user(&db, "alice", "DROP TRIGGER tb").unwrap();
    as_user(&db, "alice", "DROP TABLE b").unwrap();
    db.root_session()
        .execute("CREATE TABLE b (x INTEGER, y TEXT)", &[])
        .unwrap();
    denied(&db, "bob", "SELECT x FROM b");
    denied(&db, "carol", "SELECT x FROM b");
    n.tried();
    n.tried();
}
