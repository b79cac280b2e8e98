//! Attacks on triggers, as an ordinary user (issue 13, items 1, 3, 4):
//!
//! - fail closed: trigger chains deeper than the analysis used to follow
//!   (16) or than execution allows (32) never run unchecked bodies; every
//!   trigger is authorized again when it fires, also for admins (whose
//!   statements skip the analysis);
//! - WHEN clauses are authorized (and audited) like bodies: no value oracle;
//! - trojan triggers: a trigger runs with its owner's rights, so planting
//!   one on one's own table gains nothing when an admin fires it, and
//!   creating one on another's table needs the TRIGGER privilege.
//!
//! Every refused attack must also change nothing (`Lab::refused`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

const SETUP: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT, secret TEXT);
INSERT INTO t VALUES (1, 'root', 'apple'), (2, 'root', 'mango'), (3, 'root', 'zebra');
CREATE TABLE pub (id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE log (id INTEGER PRIMARY KEY, msg TEXT);
CREATE VIEW tv AS SELECT id, secret FROM t;
";

/// alice (the attacker) may create tables and use `pub`; bob is another
/// user; `ad` is an admin.
fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob").user("ad");
    lab.as_root(
        "GRANT CREATE ON DATABASE main TO alice;
         GRANT SELECT, INSERT, UPDATE, DELETE ON pub TO alice, bob;
         GRANT SELECT (id) ON t TO alice;
         GRANT admin TO ad;",
    );
    lab
}

/// A chain of `n` tables c1..cn owned by alice: a row inserted into c1
/// makes each trigger insert into the next; the last trigger runs `tail`.
fn chain(lab: &mut Lab, n: usize, tail: &str) {
    for i in 1..=n {
        lab.ok("alice", &format!("CREATE TABLE c{i} (x INTEGER)"));
    }
    lab.ok("alice", "CREATE TABLE loot (v TEXT)");
    for i in 1..n {
        lab.ok(
            "alice",
            &format!(
                "CREATE TRIGGER k{i} AFTER INSERT ON c{i} BEGIN INSERT INTO c{} VALUES (NEW.x); END",
                i + 1
            ),
        );
    }
    lab.ok(
        "alice",
        &format!("CREATE TRIGGER k{n} AFTER INSERT ON c{n} BEGIN {tail}; END"),
    );
}

const STEAL: &str = "INSERT INTO loot SELECT secret FROM t";

#[test]
fn deep_trigger_chains_fail_closed() {
    let mut n = Attacks::new("triggers/fail closed (item 1)");
    // 17 levels: past the old analysis limit of 16, within execution's 32.
    for depth in [17, 20, 31, 32] {
        let mut lab = lab();
        chain(&mut lab, depth, STEAL);
        lab.denied("alice", "INSERT INTO c1 VALUES (1)");
        // Fired by an admin (whose statements skip the analysis): the
        // bodies still run as alice, checked when they fire.
        lab.denied("ad", "INSERT INTO c1 VALUES (1)");
        lab.denied("root", "INSERT INTO c1 VALUES (1)");
        assert_eq!(lab.root_rows("SELECT count(*) FROM loot"), "0");
        n.tried();
        n.tried();
        n.tried();
    }
    // Deeper than execution allows: refused as a whole, whatever the tail.
    for (depth, tail) in [(33, STEAL), (33, "DELETE FROM loot"), (40, STEAL)] {
        let mut lab = lab();
        chain(&mut lab, depth, tail);
        let e = lab.refused("alice", "INSERT INTO c1 VALUES (1)");
        assert!(e.to_string().contains("trigger"), "{e}");
        lab.refused("ad", "INSERT INTO c1 VALUES (1)");
        n.tried();
        n.tried();
    }
    // The limit is the same number in analysis and execution: 32 levels
    // of harmless triggers run.
    let mut lab = lab();
    chain(&mut lab, 32, "INSERT INTO loot VALUES ('end')");
    assert_eq!(lab.ok("alice", "INSERT INTO c1 VALUES (1)"), "ok 1");
    assert_eq!(lab.root_rows("SELECT v FROM loot"), "end");
}

#[test]
fn recursive_and_mutual_triggers_fail_closed() {
    let mut n = Attacks::new("triggers/recursion (item 1)");
    // A trigger that re-fires itself 20 times, then steals.
    let mut lab = lab();
    lab.ok("alice", "CREATE TABLE r (x INTEGER)");
    lab.ok("alice", "CREATE TABLE loot (v TEXT)");
    lab.ok(
        "alice",
        "CREATE TRIGGER again AFTER INSERT ON r WHEN NEW.x < 20 BEGIN INSERT INTO r VALUES (NEW.x + 1); END",
    );
    lab.ok(
        "alice",
        &format!("CREATE TRIGGER steal AFTER INSERT ON r WHEN NEW.x = 20 BEGIN {STEAL}; END"),
    );
    for who in ["alice", "ad", "root"] {
        lab.denied(who, "INSERT INTO r VALUES (0)");
        n.tried();
    }
    // Two tables updating each other, stealing at depth 18.
    let mut lab = self::lab();
    lab.ok("alice", "CREATE TABLE a1 (x INTEGER)");
    lab.ok("alice", "CREATE TABLE a2 (x INTEGER)");
    lab.ok("alice", "CREATE TABLE loot (v TEXT)");
    lab.ok("alice", "INSERT INTO a1 VALUES (0)");
    lab.ok("alice", "INSERT INTO a2 VALUES (0)");
    lab.ok(
        "alice",
        "CREATE TRIGGER p1 AFTER UPDATE ON a1 WHEN NEW.x < 18 BEGIN UPDATE a2 SET x = NEW.x + 1; END",
    );
    lab.ok(
        "alice",
        "CREATE TRIGGER p2 AFTER UPDATE ON a2 BEGIN UPDATE a1 SET x = NEW.x + 1; END",
    );
    lab.ok(
        "alice",
        &format!("CREATE TRIGGER p3 AFTER UPDATE ON a1 WHEN NEW.x = 18 BEGIN {STEAL}; END"),
    );
    for who in ["alice", "ad"] {
        lab.denied(who, "UPDATE a1 SET x = 1");
        n.tried();
    }
    // A trigger does not fire itself (SQLite's default, recursive
    // triggers off): the row and the trigger's one row, no loop.
    let mut lab = self::lab();
    lab.ok("alice", "CREATE TABLE inf (x INTEGER)");
    lab.ok(
        "alice",
        "CREATE TRIGGER forever AFTER INSERT ON inf BEGIN INSERT INTO inf VALUES (NEW.x + 1); END",
    );
    lab.ok("alice", "INSERT INTO inf VALUES (0)");
    assert_eq!(lab.root_rows("SELECT x FROM inf ORDER BY x"), "0;1");
    n.tried();
    // A chain of distinct triggers deeper than the limit stops with an
    // error, nothing kept.
    let mut lab = self::lab();
    for i in 0..=40 {
        lab.ok("alice", &format!("CREATE TABLE c{i} (x INTEGER)"));
    }
    for i in 0..40 {
        lab.ok(
            "alice",
            &format!(
                "CREATE TRIGGER f{i} AFTER INSERT ON c{i} BEGIN INSERT INTO c{} VALUES (NEW.x + 1); END",
                i + 1
            ),
        );
    }
    let e = lab.refused("alice", "INSERT INTO c0 VALUES (0)");
    assert!(
        e.to_string()
            .contains("too many levels of trigger recursion"),
        "{e}"
    );
    n.tried();
}

#[test]
fn when_clauses_are_authorized_and_give_no_oracle() {
    let mut n = Attacks::new("triggers/WHEN (item 3)");
    // alice may plant triggers on pub and owns `hits`.
    let whens = [
        "(SELECT secret FROM t WHERE id = 2) > 'm'",
        "EXISTS (SELECT 1 FROM t WHERE secret LIKE 'm%')",
        "(SELECT count(*) FROM t WHERE secret > 'b') > 1",
        "(SELECT length(secret) FROM t WHERE id = 1) = 5",
        "1 IN (SELECT id FROM t WHERE secret = 'apple')",
        "(SELECT secret FROM tv WHERE id = 3) = 'zebra'",
        "(SELECT max(secret) FROM t) IS NOT NULL",
        "(SELECT 1 / (CASE WHEN secret = 'apple' THEN 0 ELSE 1 END) FROM t WHERE id = 1) = 1",
        "(SELECT substr(secret, 1, 1) FROM t WHERE id = 3) BETWEEN 'a' AND 'm'",
        "CASE WHEN (SELECT secret FROM t WHERE id = 1) = 'apple' THEN 1 ELSE 0 END",
    ];
    for w in whens {
        let mut lab = lab();
        lab.as_root("GRANT TRIGGER ON pub TO alice");
        lab.ok("alice", "CREATE TABLE hits (n INTEGER)");
        lab.ok(
            "alice",
            &format!("CREATE TRIGGER spy AFTER INSERT ON pub WHEN {w} BEGIN INSERT INTO hits VALUES (1); END"),
        );
        // Whoever fires it (alice herself, bob, an admin): refused the
        // same way whatever the secret, before the WHEN runs.
        let e1 = lab.denied("bob", "INSERT INTO pub VALUES (10, 'x')");
        let e2 = lab.denied("alice", "INSERT INTO pub VALUES (11, 'y')");
        lab.denied("ad", "INSERT INTO pub VALUES (12, 'z')");
        assert_eq!(
            e1.to_string(),
            e2.to_string().replace("user alice", "user bob")
        );
        assert_eq!(lab.root_rows("SELECT count(*) FROM hits"), "0");
        n.tried();
    }
    // WHEN on a table alice may trigger but whose column she may not read.
    for (event, when) in [
        ("INSERT", "NEW.secret > 'm'"),
        ("UPDATE", "OLD.secret > 'm'"),
        ("UPDATE", "NEW.secret = OLD.secret"),
        ("DELETE", "OLD.secret LIKE 'a%'"),
        ("INSERT", "length(NEW.secret) > 3"),
        ("INSERT", "NEW.secret IS NULL"),
    ] {
        let mut lab = lab();
        lab.as_root(
            "GRANT TRIGGER ON t TO alice; GRANT INSERT, UPDATE, DELETE, SELECT (id) ON t TO bob",
        );
        lab.ok("alice", "CREATE TABLE hits (n INTEGER)");
        lab.ok(
            "alice",
            &format!("CREATE TRIGGER spy AFTER {event} ON t WHEN {when} BEGIN INSERT INTO hits VALUES (1); END"),
        );
        let stmt = match event {
            "INSERT" => "INSERT INTO t VALUES (9, 'bob', 'kiwi')",
            "UPDATE" => "UPDATE t SET owner = 'x' WHERE id = 2",
            _ => "DELETE FROM t WHERE id = 1",
        };
        let e = lab.denied("bob", stmt);
        assert!(e.to_string().contains("trigger spy"), "{e}");
        lab.denied("root", stmt);
        n.tried();
    }
}

#[test]
fn when_clauses_are_audited() {
    let mut n = Attacks::new("triggers/WHEN audit (item 3)");
    let mut lab = lab();
    lab.as_root(
        "CREATE TABLE watched (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO watched VALUES (1, 'w');
         ALTER TABLE watched EXPERIMENTAL_AUDIT SET READ;
         CREATE TRIGGER peek AFTER INSERT ON pub WHEN (SELECT v FROM watched WHERE id = 1) = 'w'
           BEGIN INSERT INTO log (msg) VALUES ('peeked'); END;",
    );
    let mark = lab.mark();
    lab.ok("bob", "INSERT INTO pub VALUES (5, 'x')");
    let recs = lab.audit_since(mark);
    assert!(
        recs.iter()
            .any(|r| r.user == "bob" && r.objects.iter().any(|o| o == "watched")),
        "a WHEN clause reading an audited table must be logged: {:?}",
        recs.iter()
            .map(|r| (&r.user, &r.objects))
            .collect::<Vec<_>>()
    );
    assert_eq!(lab.root_rows("SELECT msg FROM log"), "peeked");
    n.tried();
}

#[test]
fn trojan_triggers_run_with_their_owners_rights() {
    let mut n = Attacks::new("triggers/trojan (item 4)");
    let bodies = [
        "INSERT INTO loot SELECT secret FROM t",
        "INSERT INTO loot SELECT secret FROM tv",
        "INSERT INTO loot VALUES ((SELECT secret FROM t WHERE id = 1))",
        "UPDATE t SET owner = 'alice'",
        "DELETE FROM t",
        "INSERT INTO t VALUES (99, 'alice', 'planted')",
        "INSERT INTO log (msg) VALUES ('forged')",
        "DELETE FROM log",
        "UPDATE pub SET v = (SELECT secret FROM t WHERE id = 2)",
    ];
    for body in bodies {
        for (timing, event, fire) in [
            ("AFTER", "INSERT", "INSERT INTO mine VALUES (2)"),
            ("BEFORE", "INSERT", "INSERT INTO mine VALUES (2)"),
            ("AFTER", "UPDATE", "UPDATE mine SET x = 5"),
            ("BEFORE", "DELETE", "DELETE FROM mine"),
        ] {
            let mut lab = lab();
            lab.ok("alice", "CREATE TABLE mine (x INTEGER)");
            lab.ok("alice", "CREATE TABLE loot (v TEXT)");
            lab.ok("alice", "INSERT INTO mine VALUES (1)");
            lab.ok("alice", "GRANT ALL ON mine TO public");
            lab.ok(
                "alice",
                &format!("CREATE TRIGGER trojan {timing} {event} ON mine BEGIN {body}; END"),
            );
            // The admin (and root) fire it: it runs as alice, who may not.
            lab.denied("ad", fire);
            lab.denied("root", fire);
            lab.denied("bob", fire);
            assert_eq!(lab.root_rows("SELECT count(*) FROM loot"), "0");
            n.tried();
        }
    }
}

#[test]
fn current_user_in_a_trigger_is_its_owner() {
    let mut n = Attacks::new("triggers/identity (item 4)");
    let mut lab = lab();
    lab.ok("alice", "CREATE TABLE mine (x INTEGER)");
    lab.ok("alice", "CREATE TABLE seen (cu TEXT, su TEXT)");
    lab.ok("alice", "GRANT INSERT ON mine TO public");
    lab.ok(
        "alice",
        "CREATE TRIGGER who AFTER INSERT ON mine BEGIN INSERT INTO seen VALUES (current_user, session_user); END",
    );
    // A trigger cannot tell it is running for an admin to do more: it
    // is alice whatever fires it (session_user names the session).
    lab.ok("ad", "INSERT INTO mine VALUES (1)");
    assert_eq!(lab.ok("alice", "SELECT cu, su FROM seen"), "alice|ad");
    n.tried();
    // Giving the table away does not change who the trigger runs as.
    lab.as_root("ALTER TABLE mine OWNER TO bob");
    lab.ok("root", "INSERT INTO mine VALUES (2)");
    assert_eq!(
        lab.root_rows("SELECT cu FROM seen ORDER BY rowid DESC LIMIT 1"),
        "alice"
    );
    n.tried();
    // A trigger body may hold data changes and queries only.
    lab.as_root("GRANT TRIGGER ON pub TO alice");
    for body in [
        "GRANT SELECT ON t TO alice",
        "CREATE TABLE x (y INTEGER)",
        "DROP TABLE log",
    ] {
        let r = lab.try_run(
            "alice",
            &format!("CREATE TRIGGER bad AFTER INSERT ON pub BEGIN {body}; END"),
        );
        if r.is_ok() {
            lab.refused("bob", "INSERT INTO pub VALUES (50, 'x')");
            lab.ok("alice", "DROP TRIGGER bad");
        }
        n.tried();
    }
}

#[test]
fn creating_and_dropping_triggers_needs_the_right_privilege() {
    let mut n = Attacks::new("triggers/TRIGGER privilege (item 4)");
    let create =
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log (msg) VALUES ('x'); END";
    for grant in [
        "GRANT CREATE ON t TO alice",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON t TO alice",
        "GRANT DROP ON t TO alice",
        "GRANT ALL ON DATABASE main TO alice",
        "GRANT TRIGGER ON pub TO alice",
    ] {
        let mut lab = lab();
        lab.as_root(grant);
        lab.denied("alice", create);
        n.tried();
    }
    // TRIGGER is granted per table, never on the whole database.
    let mut lab = lab();
    lab.refused("root", "GRANT TRIGGER ON DATABASE main TO alice");
    n.tried();
    // With TRIGGER: allowed; its body then runs as alice.
    lab.as_root("GRANT TRIGGER ON t TO alice; GRANT INSERT ON t TO bob");
    lab.ok("alice", create);
    lab.denied("bob", "INSERT INTO t VALUES (7, 'b', 'b')");
    n.tried();
    // A TRIGGER holder cannot drop the owner's triggers (an audit trigger).
    lab.as_root(
        "CREATE TRIGGER audit_t AFTER UPDATE ON t BEGIN INSERT INTO log (msg) VALUES ('upd'); END",
    );
    lab.denied("alice", "DROP TRIGGER audit_t");
    n.tried();
    // Nor see that triggers on hidden tables exist.
    lab.as_root(
        "CREATE TABLE hid (x INTEGER); CREATE TRIGGER hid_t AFTER INSERT ON hid BEGIN DELETE FROM log; END",
    );
    let e = lab.refused("alice", "DROP TRIGGER hid_t");
    assert_eq!(
        e.to_string(),
        lab.refused("alice", "DROP TRIGGER nosuch_t")
            .to_string()
            .replace("nosuch_t", "hid_t")
    );
    assert_eq!(lab.ok("alice", "DROP TRIGGER IF EXISTS hid_t"), "ok 0");
    assert_eq!(lab.root_rows("SELECT count(*) FROM hid"), "0");
    n.tried();
    n.tried();
    // Revoking what the trigger's body needs stops it.
    let mut lab = self::lab();
    lab.as_root("GRANT TRIGGER ON pub TO alice");
    lab.ok("alice", "CREATE TABLE copy (v TEXT)");
    lab.ok(
        "alice",
        "CREATE TRIGGER cp AFTER INSERT ON pub BEGIN INSERT INTO copy VALUES (NEW.v); END",
    );
    lab.ok("bob", "INSERT INTO pub VALUES (20, 'one')");
    lab.as_root("REVOKE SELECT ON pub FROM alice");
    lab.denied("bob", "INSERT INTO pub VALUES (21, 'two')");
    assert_eq!(lab.root_rows("SELECT v FROM copy"), "one");
    n.tried();
    // The owner of triggers cannot be dropped; REASSIGN moves them.
    lab.denied("root", "DROP USER alice");
    lab.as_root("REASSIGN OWNED BY alice TO bob; DROP USER alice");
    lab.ok("bob", "INSERT INTO pub VALUES (22, 'three')");
    assert_eq!(lab.root_rows("SELECT count(*) FROM copy"), "2");
    n.tried();
}
