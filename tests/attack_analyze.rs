//! Attacks through ANALYZE and `sqlite_stat1`, as an ordinary user (issue
//! 18): `sqlite_stat1` shows rows only for the tables she may see (as
//! `sqlite_schema` does) and whose every row and column she may read (the
//! numbers count them all: not with column grants only, not under a row
//! policy), ANALYZE of everything is for admins, ANALYZE of
//! one table or index for its owner (or an admin), a hidden table, index
//! or view answers exactly like a missing one, the statistics table is
//! read-only, and every refusal is audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `secret` (and its index `secret_pay`, view `secret_v`) is hidden from
/// alice; `shared` she may read but does not own.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, pay INTEGER, who TEXT);
CREATE INDEX secret_pay ON secret (pay);
CREATE UNIQUE INDEX secret_who ON secret (who);
INSERT INTO secret VALUES (1, 10, 'a'), (2, 10, 'b'), (3, 20, 'c');
CREATE VIEW secret_v AS SELECT pay FROM secret;
CREATE TABLE shared (k, v);
CREATE INDEX shared_k ON shared (k);
INSERT INTO shared VALUES (1, 'x'), (1, 'y'), (2, 'z');
ANALYZE;
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT ON shared TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab.ok("alice", "CREATE TABLE mine (a, b)");
    lab.ok("alice", "CREATE INDEX mine_a ON mine (a)");
    lab.ok(
        "alice",
        "INSERT INTO mine VALUES (1, 1), (1, 2), (2, 3), (3, 4)",
    );
    lab
}

const ALL: &str = "SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx";

#[test]
fn stat1_shows_only_visible_tables() {
    let mut lab = lab();
    let mut n = Attacks::new("analyze: reading sqlite_stat1");
    lab.as_root("ANALYZE");
    assert_eq!(
        lab.root_rows(ALL),
        "mine|mine_a|4 2;secret|secret_pay|3 2;secret|secret_who|3 1;shared|shared_k|3 2"
    );
    assert_eq!(lab.ok("alice", ALL), "mine|mine_a|4 2;shared|shared_k|3 2");
    n.tried();
    for sql in [
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'secret'",
        "SELECT count(*) FROM sqlite_stat1 WHERE idx LIKE 'secret%'",
        "SELECT count(*) FROM sqlite_stat1 WHERE stat LIKE '3 %' AND tbl <> 'shared'",
        "SELECT count(*) FROM (SELECT * FROM sqlite_stat1) WHERE tbl = 'secret'",
        "WITH s AS (SELECT * FROM sqlite_stat1) SELECT count(*) FROM s WHERE tbl = 'secret'",
        "SELECT count(*) FROM sqlite_stat1 s JOIN sqlite_schema m ON m.name = s.idx WHERE m.tbl_name = 'secret'",
    ] {
        assert_eq!(lab.ok("alice", sql), "0", "{sql}");
        n.tried();
    }
    // Losing her grant on `shared` hides its statistics too.
    lab.as_root("REVOKE SELECT ON shared FROM alice");
    assert_eq!(lab.ok("alice", ALL), "mine|mine_a|4 2");
    n.tried();
    // A principal without any table sees no rows.
    lab.user("bob");
    assert_eq!(lab.ok("bob", ALL), "");
    n.tried();
}

#[test]
fn no_statistics_of_rows_or_columns_she_may_not_read() {
    let mut lab = lab();
    let mut n = Attacks::new("analyze: counts over unreadable rows and columns");
    lab.as_root(
        "CREATE TABLE pay (id INTEGER PRIMARY KEY, owner TEXT, amount INTEGER);
         CREATE INDEX pay_owner ON pay (owner);
         CREATE INDEX pay_amount ON pay (amount);
         INSERT INTO pay VALUES (1, 'alice', 5), (2, 'bob', 7), (3, 'bob', 7), (4, 'carol', 9);
         CREATE TABLE cols (id INTEGER PRIMARY KEY, open INTEGER, closed INTEGER);
         CREATE INDEX cols_closed ON cols (closed);
         INSERT INTO cols VALUES (1, 1, 1), (2, 2, 1), (3, 3, 2);
         ALTER TABLE pay ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON pay FOR SELECT USING (owner = current_user);
         GRANT SELECT ON pay TO alice;
         GRANT SELECT (id, open) ON cols TO alice;
         ANALYZE",
    );
    assert!(lab.root_rows(ALL).contains("pay|pay_owner|4 2"));
    assert!(lab.root_rows(ALL).contains("cols|cols_closed|3 2"));
    // She sees the tables in sqlite_schema, but no statistics of them.
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT count(*) FROM sqlite_schema WHERE tbl_name IN ('pay', 'cols')"
        ),
        "5"
    );
    for sql in [
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'pay'",
        "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'cols'",
        "SELECT count(*) FROM sqlite_stat1 WHERE idx IN ('pay_owner', 'pay_amount', 'cols_closed')",
    ] {
        assert_eq!(lab.ok("alice", sql), "0", "{sql}");
        n.tried();
    }
    // Nor may she measure them herself.
    for sql in ["ANALYZE pay", "ANALYZE cols_closed"] {
        lab.denied("alice", sql);
        n.tried();
    }
    // With the whole table granted and no policy, she does.
    lab.as_root("GRANT SELECT ON cols TO alice");
    assert_eq!(
        lab.ok("alice", "SELECT stat FROM sqlite_stat1 WHERE tbl = 'cols'"),
        "3 2"
    );
    n.tried();
}

#[test]
fn analyze_needs_ownership_and_hides_what_she_cannot_see() {
    let mut lab = lab();
    let mut n = Attacks::new("analyze: running it");
    // New rows after root's ANALYZE: any successful ANALYZE would change
    // the numbers.
    lab.as_root(
        "INSERT INTO secret VALUES (4, 10, 'd'), (5, 10, 'e');
         INSERT INTO shared VALUES (3, 'w')",
    );
    let before = lab.root_rows(ALL);
    let mark = lab.mark();
    for sql in ["ANALYZE", "ANALYZE main", "analyze \"main\""] {
        let e = lab.denied("alice", sql);
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{sql}: {e}");
        n.tried();
    }
    // Visible but not hers.
    for sql in ["ANALYZE shared", "ANALYZE main.shared", "ANALYZE shared_k"] {
        let e = lab.denied("alice", sql);
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{sql}: {e}");
        assert!(e.to_string().contains("owner"), "{sql}: {e}");
        n.tried();
    }
    // Hidden objects answer as missing ones, with the name she wrote.
    for (sql, name) in [
        ("ANALYZE secret", "secret"),
        ("ANALYZE main.secret", "secret"),
        ("ANALYZE secret_pay", "secret_pay"),
        ("ANALYZE \"secret_who\"", "secret_who"),
        ("ANALYZE secret_v", "secret_v"),
        ("ANALYZE nosuch", "nosuch"),
    ] {
        let e = lab.denied("alice", sql).to_string();
        assert!(e.contains(&format!("no such table: {name}")), "{sql}: {e}");
        assert!(
            !e.contains("owner") && !e.contains("permission"),
            "{sql}: {e}"
        );
        n.tried();
    }
    assert_eq!(lab.root_rows(ALL), before, "nothing measured");
    let denied = lab
        .audit_since(mark)
        .into_iter()
        .filter(|r| r.event == "denied" && r.user == "alice")
        .count();
    // Every refusal is on record; the missing `nosuch` is a plain error.
    assert_eq!(denied, 11, "every refusal audited");
    // Her own table she may analyse; it measures only that table.
    lab.ok("alice", "INSERT INTO mine VALUES (1, 5)");
    lab.ok("alice", "ANALYZE mine");
    assert_eq!(lab.root_rows(ALL), format!("mine|mine_a|5 2;{before}"));
    lab.ok("alice", "ANALYZE mine_a");
    n.tried();
}

#[test]
fn stat1_is_read_only() {
    let mut lab = lab();
    let mut n = Attacks::new("analyze: writing sqlite_stat1");
    let before = lab.root_rows(ALL);
    for who in ["alice", "root"] {
        for sql in [
            "INSERT INTO sqlite_stat1 VALUES ('mine', 'mine_a', '1000000 1')",
            "UPDATE sqlite_stat1 SET stat = '1 1'",
            "DELETE FROM sqlite_stat1",
            "DROP TABLE sqlite_stat1",
            "CREATE TABLE sqlite_stat1 (tbl, idx, stat)",
            "CREATE INDEX s1 ON sqlite_stat1 (tbl)",
            "ALTER TABLE sqlite_stat1 ADD COLUMN x",
            "CREATE TRIGGER s1 AFTER INSERT ON sqlite_stat1 BEGIN SELECT 1; END",
        ] {
            lab.refused(who, sql);
            n.tried();
        }
    }
    assert_eq!(lab.root_rows(ALL), before);
}

#[test]
fn audited_like_other_ddl() {
    let mut lab = lab();
    lab.as_root("ALTER TABLE shared EXPERIMENTAL_AUDIT SET WRITE");
    let mark = lab.mark();
    lab.ok("root", "ANALYZE shared");
    let recs = lab.audit_since(mark);
    assert!(
        recs.iter()
            .any(|r| r.event == "statement" && r.statement == "ANALYZE shared"),
        "{recs:?}"
    );
    // A table not audited leaves no record of an admin's ANALYZE of it.
    let mark = lab.mark();
    lab.ok("root", "ANALYZE secret");
    assert!(
        lab.audit_since(mark).is_empty(),
        "{:?}",
        lab.audit_since(mark)
    );
}
