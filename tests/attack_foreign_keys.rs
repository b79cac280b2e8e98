//! Attacks through FOREIGN KEY constraints, as an ordinary user (issue
//! 18): creating a constraint onto a table one may not read, probing a
//! hidden table or hidden rows through the constraint's errors, cascades
//! reaching rows one may not change, foreign_key_check on others' tables,
//! and cascades deep enough to exhaust the stack.
//!
//! The rules under test (docs/security.md, "Foreign keys"): creating a
//! FOREIGN KEY needs SELECT on the parent key (sealdb's REFERENCES); a
//! parent the constraint's owner may not see is a missing table, at
//! CREATE and at every row change; checks and actions run with the
//! authority of the constraint's owner (the child table's), so what they
//! reveal to the user is only what the FOREIGN KEY error itself says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `secret`: alice may read her own rows only (a row policy). `hidden`:
/// invisible to her. `nosel`: she may insert into it, not read it.
/// `orders` / `lines` / `keep`: root's parent and children; alice may
/// read and delete orders, and has no privilege on `lines` or `keep`.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, owner TEXT, code TEXT UNIQUE);
INSERT INTO secret VALUES (1, 'alice', 'a1'), (2, 'bob', 'b2'), (3, 'bob', 'b3');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secret FOR SELECT USING (owner = current_user);
CREATE TABLE hidden (id INTEGER PRIMARY KEY);
INSERT INTO hidden VALUES (1), (2);
CREATE TABLE nosel (id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO nosel VALUES (7, 'x');
CREATE TABLE orders (id INTEGER PRIMARY KEY);
INSERT INTO orders VALUES (1), (2), (3);
CREATE TABLE lines (id INTEGER PRIMARY KEY, oid INT REFERENCES orders ON DELETE CASCADE);
INSERT INTO lines VALUES (10, 1), (11, 1), (12, 2);
CREATE TABLE keep (id INTEGER PRIMARY KEY, oid INT REFERENCES orders);
INSERT INTO keep VALUES (20, 3);
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT ON secret TO alice;
         GRANT INSERT ON nosel TO alice;
         GRANT SELECT, DELETE ON orders TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab.ok("alice", "PRAGMA foreign_keys = ON");
    lab
}

#[test]
fn a_foreign_key_onto_a_table_one_may_not_read_is_refused() {
    let mut n = Attacks::new("foreign keys/referencing without SELECT");
    let mut lab = lab();
    for sql in [
        "CREATE TABLE a (x REFERENCES nosel)",
        "CREATE TABLE a (x REFERENCES nosel(id) ON DELETE CASCADE)",
        "CREATE TABLE a (x, FOREIGN KEY (x) REFERENCES nosel (id))",
        "CREATE TABLE a (x INTEGER PRIMARY KEY, y, FOREIGN KEY (y) REFERENCES nosel)",
    ] {
        n.tried();
        let e = lab.denied("alice", sql);
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{sql}: {e}");
        assert!(e.to_string().contains("SELECT"), "{sql}: {e}");
    }
    // Through ALTER TABLE too, on her own table.
    lab.ok("alice", "CREATE TABLE mine (id INTEGER PRIMARY KEY)");
    n.tried();
    let e = lab.denied("alice", "ALTER TABLE mine ADD COLUMN r REFERENCES nosel");
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
    // Column-level SELECT on the key is enough, as on the whole table.
    lab.as_root("GRANT SELECT (id) ON nosel TO alice");
    lab.ok("alice", "CREATE TABLE ok1 (x REFERENCES nosel)");
    lab.ok("alice", "INSERT INTO ok1 VALUES (7)");
    n.tried();
    lab.refused("alice", "INSERT INTO ok1 VALUES (8)");
    // ... but not SELECT on another column than the key.
    lab.as_root("REVOKE SELECT (id) ON nosel FROM alice; GRANT SELECT (v) ON nosel TO alice");
    n.tried();
    lab.denied("alice", "CREATE TABLE a (x REFERENCES nosel(id))");
}

#[test]
fn a_hidden_parent_table_is_a_missing_one() {
    let mut n = Attacks::new("foreign keys/hidden parent table");
    let mut lab = lab();
    // Accepted as SQLite accepts a missing parent: refusing would tell
    // the table exists.
    lab.ok("alice", "CREATE TABLE h (x REFERENCES hidden)");
    lab.ok("alice", "CREATE TABLE m (x REFERENCES missing)");
    // Every change names it missing, whatever the key: no probing.
    for (t, parent) in [("h", "hidden"), ("m", "missing")] {
        for v in ["1", "2", "3", "NULL"] {
            n.tried();
            let e = lab.refused("alice", &format!("INSERT INTO {t} VALUES ({v})"));
            assert_eq!(
                e.to_string(),
                format!("no such table: main.{parent}"),
                "{t} {v}: {e}"
            );
        }
    }
    // foreign_key_check treats it as missing too: every non-NULL key is
    // reported, whether the hidden table holds it or not.
    lab.as_root("PRAGMA foreign_keys = OFF");
    let alice = lab.s("alice");
    alice.execute("PRAGMA foreign_keys = OFF", &[]).unwrap();
    alice
        .execute("INSERT INTO h VALUES (1), (3), (NULL)", &[])
        .unwrap();
    n.tried();
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT rowid, parent FROM pragma_foreign_key_check('h')"
        ),
        "1|hidden;2|hidden"
    );
    // Granted INSERT on the table later, she may see it but still not
    // read its key: the constraint she wrote while it was hidden still
    // finds no parent, so it probes nothing.
    lab.as_root("GRANT INSERT ON hidden TO alice");
    lab.ok("alice", "PRAGMA foreign_keys = ON");
    for v in ["1", "3"] {
        n.tried();
        let e = lab.refused("alice", &format!("INSERT INTO h VALUES ({v})"));
        assert_eq!(e.to_string(), "no such table: main.hidden", "{v}: {e}");
    }
    // With SELECT it is live; revoked again, it is missing again.
    lab.as_root("GRANT SELECT ON hidden TO alice");
    lab.ok("alice", "INSERT INTO h VALUES (2)");
    lab.as_root("REVOKE SELECT ON hidden FROM alice");
    n.tried();
    let e = lab.refused("alice", "INSERT INTO h VALUES (2)");
    assert_eq!(e.to_string(), "no such table: main.hidden");
    lab.ok("alice", "PRAGMA foreign_keys = OFF");
    // foreign_key_check with INSERT alone finds no parent either: every
    // non-NULL key is reported (rows 1, 2, 4: keys 1, 3, 2), those
    // `hidden` holds as the one it does not.
    n.tried();
    assert_eq!(
        lab.ok("alice", "SELECT rowid FROM pragma_foreign_key_check('h')"),
        "1;2;4"
    );
    // The hidden table itself cannot be checked, as a missing one.
    lab.as_root("REVOKE INSERT ON hidden FROM alice");
    n.tried();
    let e = lab.refused("alice", "PRAGMA foreign_key_check(hidden)");
    assert_eq!(e.to_string(), "no such table: hidden");
    let e = lab.refused("alice", "PRAGMA foreign_key_check(nosuch)");
    assert_eq!(e.to_string(), "no such table: nosuch");
}

#[test]
fn hidden_rows_reveal_no_more_than_the_constraint_error() {
    let mut n = Attacks::new("foreign keys/row policies");
    let mut lab = lab();
    // ON UPDATE CASCADE would copy the new key of a hidden row into her
    // table: refused under the row policy (as an ALTER too).
    n.tried();
    let e = lab.denied(
        "alice",
        "CREATE TABLE probe (id INTEGER PRIMARY KEY, s REFERENCES secret(code) ON UPDATE CASCADE)",
    );
    assert!(e.to_string().contains("ON UPDATE CASCADE"), "{e}");
    lab.ok("alice", "CREATE TABLE other (id INTEGER PRIMARY KEY)");
    n.tried();
    lab.denied(
        "alice",
        "ALTER TABLE other ADD COLUMN s REFERENCES secret(code) ON UPDATE CASCADE",
    );
    lab.ok(
        "alice",
        "CREATE TABLE probe (id INTEGER PRIMARY KEY, s REFERENCES secret(code) ON DELETE CASCADE ON UPDATE SET NULL)",
    );
    // She sees only her row ...
    assert_eq!(lab.ok("alice", "SELECT code FROM secret"), "a1");
    // ... and the constraint checks the key exists, whoever may see it
    // (as in PostgreSQL): the error says "no such key", no more.
    lab.ok("alice", "INSERT INTO probe VALUES (1, 'a1')");
    lab.ok("alice", "INSERT INTO probe VALUES (2, 'b2')");
    n.tried();
    let e = lab.refused("alice", "INSERT INTO probe VALUES (3, 'zz')");
    assert_eq!(e.to_string(), "FOREIGN KEY constraint failed");
    // The row she referenced stays hidden: no value comes back.
    n.tried();
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT s FROM probe JOIN secret ON secret.code = probe.s"
        ),
        "a1"
    );
    // Her cascades change her own table, never the parent: deleting or
    // changing her rows leaves `secret` as it was.
    let before = lab.root_rows("SELECT * FROM secret ORDER BY id");
    lab.ok("alice", "DELETE FROM probe");
    lab.ok("alice", "INSERT INTO probe VALUES (1, 'a1')");
    n.tried();
    lab.refused("alice", "UPDATE probe SET s = 'zz'");
    n.tried();
    lab.denied("alice", "DELETE FROM secret");
    assert_eq!(lab.root_rows("SELECT * FROM secret ORDER BY id"), before);
    // Root's change of a key runs her constraint's action on her table:
    // SET NULL tells that the key changed, not what it became.
    lab.ok("alice", "INSERT INTO probe VALUES (2, 'b2')");
    lab.as_root("PRAGMA foreign_keys = ON; UPDATE secret SET code = 'B9' WHERE id = 2");
    assert_eq!(
        lab.ok("alice", "SELECT id, s FROM probe ORDER BY id"),
        "1|a1;2|NULL"
    );
    assert!(!lab.ok("alice", "SELECT * FROM probe").contains("B9"));
    // The policy's owner is exempt, as for every read: root may cascade.
    lab.as_root(
        "CREATE TABLE mirror (s REFERENCES secret(code) ON UPDATE CASCADE);
         INSERT INTO mirror VALUES ('a1');
         UPDATE secret SET code = 'A1' WHERE id = 1",
    );
    assert_eq!(lab.root_rows("SELECT s FROM mirror"), "A1");
}

#[test]
fn cascades_run_with_the_constraint_owners_authority() {
    let mut n = Attacks::new("foreign keys/cascades");
    let mut lab = lab();
    // alice may not touch `lines` ...
    n.tried();
    lab.denied("alice", "DELETE FROM lines");
    n.tried();
    lab.denied("alice", "SELECT * FROM lines");
    // ... but deleting an order she may delete runs root's ON DELETE
    // CASCADE on root's table (the action is root's, PostgreSQL's rule).
    lab.ok("alice", "DELETE FROM orders WHERE id = 1");
    assert_eq!(lab.root_rows("SELECT id FROM lines ORDER BY id"), "12");
    // NO ACTION on `keep` refuses the delete, changing nothing (the
    // cascade of another constraint included).
    n.tried();
    let e = lab.refused("alice", "DELETE FROM orders WHERE id IN (2, 3)");
    assert_eq!(e.to_string(), "FOREIGN KEY constraint failed");
    assert_eq!(lab.root_rows("SELECT id FROM lines ORDER BY id"), "12");
    // With enforcement off in her session she skips the constraints of
    // her own changes only (SQLite's per-connection switch): the rows
    // she may delete, leaving root's children dangling, as SQLite does.
    // Root's sessions still enforce theirs.
    lab.ok("alice", "PRAGMA foreign_keys = OFF");
    lab.ok("alice", "DELETE FROM orders WHERE id = 3");
    assert_eq!(
        lab.root_rows("SELECT count(*) FROM pragma_foreign_key_check('keep')"),
        "1"
    );
    n.tried();
    assert!(lab.root.execute("PRAGMA foreign_keys = ON", &[]).is_ok());
    assert!(lab
        .root
        .execute("INSERT INTO keep VALUES (21, 99)", &[])
        .is_err());
}

#[test]
fn foreign_key_check_reads_only_ones_own_tables() {
    let mut n = Attacks::new("foreign keys/foreign_key_check");
    let mut lab = lab();
    lab.as_root("GRANT SELECT ON keep TO alice");
    // She may read `keep`, but checking it lists rowids and which keys
    // exist: only its owner may.
    n.tried();
    let e = lab.denied("alice", "PRAGMA foreign_key_check(keep)");
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    n.tried();
    lab.denied("alice", "SELECT * FROM pragma_foreign_key_check('keep')");
    // A table she may not see is missing.
    n.tried();
    let e = lab.refused("alice", "PRAGMA foreign_key_check(lines)");
    assert_eq!(e.to_string(), "no such table: lines");
    // Without a table it checks hers only.
    lab.ok("alice", "CREATE TABLE mine (x REFERENCES orders)");
    lab.ok("alice", "PRAGMA foreign_keys = OFF");
    lab.ok("alice", "INSERT INTO mine VALUES (42)");
    lab.as_root("PRAGMA foreign_keys = OFF; INSERT INTO keep VALUES (30, 77)");
    n.tried();
    assert_eq!(
        lab.ok("alice", "PRAGMA foreign_key_check"),
        "mine|1|orders|0"
    );
}

#[test]
fn a_deep_cascade_is_stopped_not_overflowed() {
    let mut n = Attacks::new("foreign keys/deep cascades");
    let mut lab = lab();
    lab.ok(
        "alice",
        "CREATE TABLE chain (id INTEGER PRIMARY KEY, up INT REFERENCES chain ON DELETE CASCADE ON UPDATE CASCADE)",
    );
    lab.ok(
        "alice",
        "INSERT INTO chain WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1100) SELECT n, CASE WHEN n > 1 THEN n - 1 END FROM r",
    );
    // 1100 generations: deeper than the limit (SQLite's 1000): refused,
    // nothing deleted, no crash.
    n.tried();
    let e = lab.refused("alice", "DELETE FROM chain WHERE id = 1");
    assert!(e.to_string().contains("too many levels"), "{e}");
    // ON UPDATE CASCADE moves only the children's key: one level.
    lab.ok("alice", "UPDATE chain SET id = 0 WHERE id = 1");
    assert_eq!(lab.ok("alice", "SELECT up FROM chain WHERE id = 2"), "0");
    // Within the limit it runs to the end.
    lab.ok("alice", "DELETE FROM chain WHERE id = 200");
    lab.ok("alice", "DELETE FROM chain WHERE id = 0");
    assert_eq!(
        lab.ok("alice", "SELECT count(*), max(id) FROM chain"),
        "0|NULL"
    );
}
