//! RAISE() in trigger programs, beyond the differential script
//! (`tests/difftest/regress/trigger-raise.test`, which checks outcomes and
//! rows against SQLite): the error a user sees (SQLite's message, kind
//! `Raised`, a constraint code, SQLSTATE P0001), and attacks by an ordinary
//! user that try to use RAISE where no trigger program runs — a view, a
//! row policy, a CHECK, a DEFAULT, a generated column, an index — or to
//! make someone else's statement skip rows. Each must be refused and
//! change nothing, or do exactly what SQLite's trigger semantics say.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::{Db, Error, ErrorCode, SqlErrorKind};

#[test]
fn raised_errors_carry_sqlites_message_and_a_constraint_code() {
    let messages = [
        "'plain words'",
        "'negative: ' || new.x",
        "new.x",
        "new.x * 1.5",
        "NULL",
        "x'4142'",
        "printf('%d rows', (SELECT count(*) FROM t))",
    ];
    for (i, m) in messages.iter().enumerate() {
        for action in ["ABORT", "FAIL", "ROLLBACK"] {
            let setup = format!(
                "CREATE TABLE t (x);
                 CREATE TRIGGER tr BEFORE INSERT ON t WHEN new.x < 0 BEGIN SELECT RAISE({action}, {m}); END;"
            );
            let fire = format!("INSERT INTO t VALUES ({})", -(i as i64) - 2);
            let lite = rusqlite::Connection::open_in_memory().unwrap();
            lite.execute_batch(&setup).unwrap();
            let want = sqlite_error(&lite, &fire);
            let db = Db::open_in_memory().unwrap();
            let s = db.root_session();
            s.run_script(&setup, |_, _| {}).unwrap();
            let e = s.execute(&fire, &[]).unwrap_err();
            match &e {
                Error::Sql {
                    kind: SqlErrorKind::Raised,
                    message,
                    ..
                } => assert_eq!(message, &want, "RAISE({action}, {m})"),
                other => panic!("RAISE({action}, {m}): {other:?}"),
            }
            assert_eq!(e.code(), ErrorCode::SqlConstraint);
            assert_eq!(e.sqlstate(), "P0001");
            // Nothing of the failed statement stays.
            assert_eq!(run(&s, "SELECT count(*) FROM t").unwrap(), "0");
        }
    }
}

const SETUP: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, secret TEXT);
INSERT INTO t VALUES (1, 'apple'), (2, 'mango');
CREATE TABLE pub (id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, v TEXT);
CREATE TRIGGER pub_log AFTER INSERT ON pub BEGIN INSERT INTO audit_log (v) VALUES (new.v); END;
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root(
        "GRANT CREATE ON DATABASE main TO alice;
         GRANT SELECT, INSERT ON pub TO alice, bob;
         GRANT SELECT (id) ON t TO alice;",
    );
    lab
}

/// RAISE where no trigger program runs is refused (SQLite: "RAISE() may
/// only be used within a trigger-program"), whether written directly or
/// hidden in an object that a statement or trigger later reads.
#[test]
fn raise_outside_a_trigger_program_is_refused() {
    let mut lab = lab();
    let mut attacks = Attacks::new("RAISE outside a trigger program");
    for sql in [
        "SELECT RAISE(IGNORE)",
        "SELECT RAISE(ABORT, 'x')",
        "SELECT * FROM pub WHERE RAISE(IGNORE)",
        "INSERT INTO pub (v) VALUES (RAISE(IGNORE))",
        "INSERT INTO pub (v) SELECT RAISE(FAIL, 'x')",
        "WITH c AS (SELECT RAISE(ROLLBACK, 'x')) SELECT * FROM c",
        "SELECT (SELECT RAISE(IGNORE))",
    ] {
        let e = lab.refused("alice", sql);
        assert_eq!(e.code(), ErrorCode::SqlMisuse, "{sql}: {e}");
        assert!(
            e.to_string().contains("RAISE() may only be used"),
            "{sql}: {e}"
        );
        attacks.tried();
    }
    // Objects alice owns, whose expressions run outside trigger programs
    // (or inside someone's): refused when made, or when used.
    lab.ok("alice", "CREATE TABLE mine (a INTEGER, b TEXT)");
    for (make, used) in [
        (
            "CREATE VIEW v_ign AS SELECT RAISE(IGNORE) AS r",
            "SELECT * FROM v_ign",
        ),
        (
            "CREATE TABLE c_chk (a CHECK (RAISE(IGNORE)))",
            "INSERT INTO c_chk VALUES (1)",
        ),
        (
            "CREATE TABLE c_def (a DEFAULT (RAISE(IGNORE)))",
            "INSERT INTO c_def DEFAULT VALUES",
        ),
        (
            "CREATE TABLE c_gen (a, b AS (RAISE(IGNORE)))",
            "INSERT INTO c_gen (a) VALUES (1)",
        ),
        (
            "CREATE INDEX i_raise ON mine (RAISE(IGNORE))",
            "INSERT INTO mine VALUES (1, 'x')",
        ),
        (
            "CREATE INDEX i_part ON mine (a) WHERE RAISE(IGNORE)",
            "INSERT INTO mine VALUES (2, 'y')",
        ),
        (
            "CREATE POLICY p_raise ON mine FOR SELECT USING (RAISE(IGNORE))",
            "SELECT * FROM mine",
        ),
    ] {
        match lab.try_run("alice", make) {
            Err(e) => {
                assert!(
                    matches!(e.code(), ErrorCode::SqlMisuse | ErrorCode::SqlSyntax),
                    "{make}: {e}"
                );
            }
            Ok(_) => {
                let e = lab.refused("alice", used);
                assert!(
                    e.to_string().contains("RAISE() may only be used"),
                    "{used}: {e}"
                );
            }
        }
        attacks.tried();
    }
    assert!(attacks.count() >= 14);
}

/// A trigger's RAISE(IGNORE) skips only the rows of the statement that
/// fired it, and only where SQLite would: bob's insert into the shared
/// table still runs the table owner's logging trigger; alice's trigger on
/// her own table cannot make root's trigger on `pub` skip its work.
#[test]
fn raise_ignore_skips_only_the_firing_rows() {
    let mut lab = lab();
    lab.ok("alice", "CREATE TABLE inbox (v TEXT)");
    lab.ok(
        "alice",
        "CREATE TRIGGER drop_secret BEFORE INSERT ON inbox WHEN new.v LIKE 'secret%' \
         BEGIN SELECT RAISE(IGNORE); END",
    );
    lab.ok(
        "alice",
        "CREATE TRIGGER copy AFTER INSERT ON inbox BEGIN INSERT INTO pub (v) VALUES (new.v); END",
    );
    lab.as_root("GRANT INSERT ON inbox TO bob");
    assert_eq!(
        lab.ok(
            "bob",
            "INSERT INTO inbox VALUES ('hello'), ('secret plan'), ('bye')"
        ),
        "ok 2"
    );
    assert_eq!(lab.root_rows("SELECT v FROM inbox ORDER BY v"), "bye;hello");
    // root's logging trigger on pub ran for each row alice's trigger copied.
    assert_eq!(
        lab.root_rows("SELECT v FROM audit_log ORDER BY v"),
        "bye;hello"
    );
    // RAISE(ROLLBACK) in alice's trigger ends bob's transaction, as in
    // SQLite: the trigger runs as part of his statement.
    lab.ok(
        "alice",
        "CREATE TRIGGER stop BEFORE INSERT ON inbox WHEN new.v = 'stop' \
         BEGIN SELECT RAISE(ROLLBACK, 'stopped'); END",
    );
    let bob = lab.s("bob");
    bob.execute("BEGIN", &[]).unwrap();
    bob.execute("INSERT INTO pub (v) VALUES ('in txn')", &[])
        .unwrap();
    let e = bob
        .execute("INSERT INTO inbox VALUES ('stop')", &[])
        .unwrap_err();
    assert_eq!(e.to_string(), "stopped");
    assert!(
        bob.execute("COMMIT", &[]).is_err(),
        "the transaction is gone"
    );
    assert_eq!(
        lab.root_rows("SELECT count(*) FROM pub WHERE v = 'in txn'"),
        "0"
    );
}

/// A DEFAULT holding RAISE (or a subquery that does) is refused when the
/// table is made, with SQLite's message: an INSERT inside a trigger
/// program would otherwise run it.
#[test]
fn raise_in_a_default_is_refused_as_sqlite_refuses_it() {
    for ddl in [
        "CREATE TABLE c_def (a DEFAULT (RAISE(IGNORE)), b)",
        "CREATE TABLE c_def (a DEFAULT (RAISE(ABORT, 'x') || 1), b)",
        "CREATE TABLE c_def (a DEFAULT ((SELECT RAISE(IGNORE))), b)",
        "CREATE TABLE c_def (a DEFAULT ((SELECT 1)), b)",
    ] {
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        let want = sqlite_error(&lite, ddl);
        let db = Db::open_in_memory().unwrap();
        let e = db.root_session().execute(ddl, &[]).unwrap_err();
        assert_eq!(e.to_string(), want, "{ddl}");
        assert!(db.root_session().table_names().is_empty(), "{ddl}");
    }
}

/// A RAISE message is an error message the user reads: reading a column
/// the trigger's owner may not read through it is refused like any other
/// read (no oracle through the message), in the body and in WHEN, fired by
/// the owner or by root.
#[test]
fn a_raise_message_is_no_oracle() {
    let mut lab = lab();
    let mut attacks = Attacks::new("RAISE message oracle");
    lab.ok("alice", "CREATE TABLE mine (x INTEGER)");
    for (name, trigger) in [
        (
            "body",
            "CREATE TRIGGER leak BEFORE INSERT ON mine \
             BEGIN SELECT RAISE(ABORT, (SELECT secret FROM t WHERE id = 2)); END",
        ),
        (
            "when",
            "CREATE TRIGGER leak BEFORE INSERT ON mine \
             WHEN RAISE(FAIL, 'x' || (SELECT secret FROM t WHERE id = new.x)) BEGIN SELECT 1; END",
        ),
        (
            "ignore oracle",
            "CREATE TRIGGER leak BEFORE INSERT ON mine \
             WHEN (SELECT secret FROM t WHERE id = 2) = 'mango' BEGIN SELECT RAISE(IGNORE); END",
        ),
    ] {
        // Refused when made is as good (as a permission error).
        if let Err(e) = lab.try_run("alice", trigger) {
            assert!(
                e.code() == ErrorCode::PermissionDenied || e.to_string().contains("no such"),
                "{name}: {e}"
            );
            attacks.tried();
            continue;
        }
        for who in ["alice", "root"] {
            let e = if who == "root" {
                let before = dump(&lab.db);
                let e = lab
                    .root
                    .execute("INSERT INTO mine VALUES (2)", &[])
                    .unwrap_err();
                assert_eq!(
                    before,
                    dump(&lab.db),
                    "{name}: root's insert changed something"
                );
                e
            } else {
                lab.denied(who, "INSERT INTO mine VALUES (2)")
            };
            assert!(!e.to_string().contains("mango"), "{name} ({who}): {e}");
            assert!(
                e.code() == ErrorCode::PermissionDenied || e.to_string().contains("no such"),
                "{name} ({who}): {e}"
            );
            attacks.tried();
        }
        lab.ok("alice", "DROP TRIGGER leak");
    }
    assert_eq!(lab.root_rows("SELECT count(*) FROM mine"), "0");
    assert!(attacks.count() >= 6);
}
